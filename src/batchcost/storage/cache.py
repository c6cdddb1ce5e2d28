"""``--cache-dir``: a URL's object copied whole into a local folder once, then read there on the fast path.

Without a cache folder nothing is ever copied whole to disk: objects are read by range. With one,
each object is downloaded (in parallel ranges) under a name made from its URL, size and version
tag (ETag, generation or modification time), so a changed object is fetched again and an
unchanged one is read from disk on the next run; the copy is written under a temporary name and
renamed, so a copy that is there is whole. Messages still name the URL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from typing import Any

from ..errors import OutputError
from .locations import is_url, local_path, normalise
from .reading import BlockReader, version

# The folder in use (None: no cache), and the copies this process already made or found.
_state: dict[str, Any] = {"dir": None, "copies": {}}


@contextlib.contextmanager
def cache_dir(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """Within the block, URLs read through :func:`cached` are copied into ``folder`` (None: no cache)."""
    saved = dict(_state)
    _state["dir"] = None if folder is None else local_path(os.fspath(folder))
    _state["copies"] = {}
    try:
        yield
    finally:
        _state.update(saved)


def cached(name: str) -> str | None:
    """The local copy of a URL's object in the cache folder (downloaded now if missing or stale).

    None when no cache folder is in use or ``name`` is a local path.

    Raises:
        InputError: the object cannot be read.
        OutputError: the cache folder cannot be created or written.
    """
    folder = _state["dir"]
    if folder is None or not is_url(name):
        return None
    copies: dict[str, str] = _state["copies"]
    if name in copies:
        return copies[name]
    size, tag = version(name)
    key = hashlib.sha256(f"{normalise(name)}\n{size}\n{tag}".encode()).hexdigest()[:24]
    base = name.rstrip("/").rpartition("/")[2] or "object"
    target = os.path.join(folder, f"{key}-{base}")
    if not (os.path.isfile(target) and os.path.getsize(target) == size):
        _download(name, folder, target, size)
    copies[name] = target
    return target


def _download(name: str, folder: str, target: str, size: int) -> None:
    from .writing import Upload

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise OutputError(folder, f"cannot create the cache folder: {e.strerror or e}") from None
    upload = Upload(target)
    try:
        with BlockReader(name, 0, size) as reader:
            for _, block in reader:
                upload.write(block)
        upload.commit()
    except BaseException:
        upload.abort()
        raise
