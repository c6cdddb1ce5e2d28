"""The shard folder: whether a folder can take a new shard set, and what ``--force`` removes.

A shard run owns its output folder: it writes only into an empty (or new) folder, or, with
``force``, into one whose earlier shard set it first removes, exactly: ``manifest.json`` when it
is a shard manifest, files named like shards (:data:`SHARD_NAME`) and temporary files of a run
that was killed (:data:`TEMP_NAME`). Nothing else is touched, nor ever an input of the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import OutputError
from ..outputs import describe_oserror
from ..storage.locations import is_url
from .shard_manifest import MANIFEST_NAME, MANIFEST_SCHEMA

# The names the writer gives its files. --force removes, and --verify flags when the manifest does
# not list them, files named like this and nothing else: ``<stem>.shard-001.jsonl`` and the
# ``.<name>.<random>.tmp`` files a run writes first (shards and the manifest).
SHARD_NAME = re.compile(r"[^/]+\.shard-[0-9]{3,}\.jsonl")
TEMP_NAME = re.compile(r"\.(?:[^/]+\.shard-[0-9]{3,}\.jsonl|manifest\.json)\.[A-Za-z0-9_]+\.tmp")


def shown_name(name: str) -> str:
    """A file name as a message shows it: escaped when it holds control characters (one line, no escapes)."""
    return name if name.isprintable() else repr(name)


def _file_ids(paths: Iterable[str | os.PathLike[str] | None]) -> dict[tuple[int, int], str]:
    ids: dict[tuple[int, int], str] = {}
    for path in paths:
        if path is None:
            continue
        try:
            st = os.stat(path)  # follows links: a link to an input is that input
        except (OSError, ValueError):
            continue
        ids[(st.st_dev, st.st_ino)] = os.fspath(path)
    return ids


def _is_shard_manifest(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("schema") == MANIFEST_SCHEMA


def is_shard_set_file(name: str) -> bool:
    """Whether a file name is one the writer gives (a shard, or a temporary file of a run)."""
    return bool(SHARD_NAME.fullmatch(name) or TEMP_NAME.fullmatch(name))


def check_out_dir(
    out_dir: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    force: bool = False,
) -> list[str]:
    """Check, changing nothing, that ``out_dir`` can take a new shard set; return what ``force`` removes.

    The folder may be missing (:func:`write_shards` creates it) or empty. With ``force`` it may
    hold an earlier shard set and any other files: the names returned are exactly that set's
    files (``manifest.json`` first, when it is a shard manifest; then every file named like a shard
    or a temporary file of a run, see :func:`is_shard_set_file`). Anything else is left alone.

    Args:
        out_dir: the folder for the shards.
        inputs: every file the run reads (the batch file first); none may be inside the folder.
        force: accept a non-empty folder.

    Raises:
        OutputError: ``out_dir`` is a file or a path through a file; it holds an input of the run
            (by path or through a link: the shards would sit beside the requests they copy, and
            ``force`` must never touch an input); it is not empty and ``force`` is not given; or,
            with ``force``, its ``manifest.json`` is not a shard manifest or a shard-like name is a folder.
    """
    if is_url(os.fspath(out_dir)):
        return _check_prefix(os.fspath(out_dir), inputs, force)
    out = Path(out_dir)
    shown = os.fspath(out_dir)
    try:
        st = os.stat(out)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        blocker = next((str(p) for p in [*reversed(out.parents), out] if p.is_file()), shown)
        raise OutputError(shown, f"is a path through the file {blocker}; give a folder for the shards") from None
    except OSError as e:
        raise OutputError(shown, f"cannot be used: {describe_oserror(e)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(shown, "is a file, not a folder; give a folder for the shards (a missing one is created)")
    try:
        entries = sorted(os.listdir(out))
    except OSError as e:
        raise OutputError(shown, f"cannot be read: {describe_oserror(e)}") from None
    ids = _file_ids(inputs)
    for name in entries:
        try:
            est = os.stat(out / name)
        except OSError:
            continue
        clash = ids.get((est.st_dev, est.st_ino))
        if clash is not None:
            what = f"the input {clash}"
            if os.path.abspath(clash) != os.path.abspath(out / name):  # a link to it, or another name for it
                what = f"{out / shown_name(name)}, which is the input {clash}"
            raise OutputError(
                shown,
                f"holds {what}; shards beside the input would submit its requests twice if the folder is "
                "uploaded, and batchcost never replaces or removes an input: choose a folder without it",
            )
    if not entries:
        return []
    _refuse_unless_forced(shown, entries, force)
    old: list[str] = []
    if MANIFEST_NAME in entries:
        if not _is_shard_manifest(out / MANIFEST_NAME):
            raise OutputError(
                str(out / MANIFEST_NAME),
                "is not a batchcost shard manifest, and --force would replace it: move it away or choose another "
                "folder",
            )
        old.append(MANIFEST_NAME)
    for name in entries:
        if is_shard_set_file(name):
            if (out / name).is_dir() and not (out / name).is_symlink():
                raise OutputError(
                    str(out / shown_name(name)), "is a folder named like a shard; move it away or choose another folder"
                )
            old.append(name)
    return old


def _refuse_unless_forced(shown: str, entries: list[str], force: bool) -> None:
    if not force:
        n = len(entries)
        raise OutputError(
            shown,
            f"is not empty ({n:,} entr{'ies' if n != 1 else 'y'}, e.g. {entries[0]!r}); choose an empty or new "
            "folder, or pass --force if it holds an earlier shard set (--force replaces that set and nothing else)",
        )


def _check_prefix(prefix: str, inputs: Iterable[str | os.PathLike[str] | None], force: bool) -> list[str]:
    """:func:`check_out_dir` for a URL prefix in object storage (its objects are the folder's files)."""
    from ..storage import join, listdir, normalise, read_bytes

    entries = listdir(prefix)
    ins = {normalise(os.fspath(p)): os.fspath(p) for p in inputs if p is not None and is_url(os.fspath(p))}
    for name in entries:
        clash = ins.get(normalise(join(prefix, name)))
        if clash is not None:
            raise OutputError(
                prefix,
                f"holds the input {clash}; shards beside the input would submit its requests twice if the folder is "
                "uploaded, and batchcost never replaces or removes an input: choose a folder without it",
            )
    if not entries:
        return []
    _refuse_unless_forced(prefix, entries, force)
    old: list[str] = []
    if MANIFEST_NAME in entries:
        try:
            doc = json.loads(read_bytes(join(prefix, MANIFEST_NAME)))
        except (ValueError, RecursionError):
            doc = None
        if not (isinstance(doc, dict) and doc.get("schema") == MANIFEST_SCHEMA):
            raise OutputError(
                join(prefix, MANIFEST_NAME),
                "is not a batchcost shard manifest, and --force would replace it: move it away or choose another "
                "folder",
            )
        old.append(MANIFEST_NAME)
    old += [name for name in entries if is_shard_set_file(name)]
    return old


def make_dir(out: Path) -> list[Path]:
    """Create ``out`` if missing; return the folders created, deepest first (removed again on failure)."""
    created: list[Path] = []
    p = out
    while not os.path.lexists(p) and p != p.parent:
        created.append(p)
        p = p.parent
    if not created:
        return []
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise OutputError(str(out), f"cannot create the folder: {describe_oserror(e)}") from None
    return created


def remove_old(out: Path, names: Sequence[str]) -> None:
    """Remove an earlier shard set (its manifest first, so that what is left is never a complete set)."""
    for name in names:
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as e:
            raise OutputError(str(out / shown_name(name)), f"cannot be removed: {describe_oserror(e)}") from None
