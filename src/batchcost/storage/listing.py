"""Names with wildcards: a URL glob expanded into one :class:`~.locations.Location` per object."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from ..errors import InputError
from .backends import failure, filesystem
from .locations import Location, is_url, path_part, protocol_of

_GLOB = re.compile(r"[*?\[]")


def expand(names: Iterable[str | os.PathLike[str]]) -> list[Location]:
    """One :class:`Location` per file: URLs with ``*``, ``?`` or ``[`` are globbed, in sorted order.

    Local names are kept as given (the shell expands local globs; a local file may have ``*`` in
    its name), and so are ``http(s)://`` URLs (``?`` starts their query, as in a signed URL, and a
    web server has no listing to glob). A URL glob that matches nothing is an :class:`InputError`.
    """
    out: list[Location] = []
    for raw in names:
        name = os.fspath(raw)
        if not is_url(name) or protocol_of(name) in ("http", "https") or not _GLOB.search(path_part(name)):
            out.append(Location(name))
            continue
        fs, path = filesystem(name)
        try:
            found = sorted(fs.glob(path))
            found = [p for p in found if not fs.isdir(p)]
        except Exception as e:
            raise failure(name, e) from None
        if not found:
            raise InputError(name, "no object matches this pattern; check the bucket, the prefix and the pattern")
        out += [Location(_unstrip(name, fs, p)) for p in found]
    return out


def _unstrip(pattern: str, fs: object, path: str) -> str:
    """A path the backend returned from a glob, as a URL of the same scheme as the pattern."""
    protocol = protocol_of(pattern)
    if protocol in ("http", "https") or "://" in path:
        return path
    return f"{pattern[: len(protocol)]}://{path.lstrip('/')}"
