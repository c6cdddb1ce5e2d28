"""Writing the files a command produces: never over an input, whole or not at all, one-line errors.

Every command that writes (``-o``, ``--report``, ``--per-request``, shard manifests...) goes through
:func:`check_outputs` before any work starts and :func:`write_atomic` when it writes, so that

- no output ever replaces an input of the same run (same path, or the same file through a link);
- an output appears whole or not at all (temporary file in the same folder, then a rename), and a
  write that fails or is interrupted leaves no temporary file behind;
- a missing folder, a folder given as a file name, a read-only folder or a full disk is an
  :class:`~batchcost.errors.OutputError` with one line naming the path and the fix;
- the outputs of one run written within :func:`together` appear together at its end, or none of
  them does (a report is not left behind by a run whose per-request table failed).

New files get the mode any new file gets under the user's umask (``mkstemp`` would make them 0600).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputError

PathLike = str | os.PathLike[str]

# Files written whole but not yet renamed into place, within together(): (temporary, target, name).
_PENDING: contextvars.ContextVar[list[tuple[str, Path, str]] | None] = contextvars.ContextVar(
    "batchcost_pending_outputs", default=None
)


@contextlib.contextmanager
def together() -> Iterator[None]:
    """Within the block, the local files :func:`write_atomic` writes appear together when it ends.

    Each is written whole to its temporary file as before; the renames wait for the end of the
    block. On an exception (a later output that fails, Ctrl-C) every temporary file is removed and
    none of the outputs appears. Devices and URLs are written at once, as without the block.
    """
    pending: list[tuple[str, Path, str]] = []
    token = _PENDING.set(pending)
    try:
        yield
    except BaseException:
        _PENDING.reset(token)
        for tmp, _, _ in pending:
            Path(tmp).unlink(missing_ok=True)
        raise
    _PENDING.reset(token)
    for i, (tmp, target, name) in enumerate(pending):
        try:
            os.replace(tmp, target)
        except BaseException as e:
            for later, _, _ in pending[i:]:
                Path(later).unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise OutputError(name, f"cannot be written: {describe_oserror(e)}") from None
            raise


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()  # follows links: a link to an input is that input
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def check_outputs(inputs: Iterable[PathLike], outputs: Iterable[PathLike | None]) -> None:
    """Refuse, before any work, outputs that would replace an input or cannot be written.

    Args:
        inputs: every file the run reads (batch files, results, plans, price files...).
        outputs: every file the run will write; ``None`` entries (option not given) are skipped.

    Raises:
        OutputError: an output is an input (same path, or the same file through a link), two
            outputs are the same file, an output is an existing folder, or its folder is missing.
    """
    from .storage.locations import is_url, normalise

    seen_inputs: dict[tuple[int, int] | str, str] = {}
    for name in inputs:
        if is_url(name):  # compared as normalised URLs (scheme aliases, ./ and ../ resolved)
            seen_inputs[normalise(name)] = str(name)
            continue
        path = Path(name)
        ident = _file_id(path)
        seen_inputs[ident if ident is not None else os.path.realpath(path)] = str(name)
    seen_outputs: dict[tuple[int, int] | str, str] = {}
    for out in outputs:
        if out is None:
            continue
        path = Path(out)
        remote = is_url(out)
        ident = None if remote else _file_id(path)
        key: tuple[int, int] | str = (
            normalise(out) if remote else ident if ident is not None else os.path.realpath(path)
        )
        clash = seen_inputs.get(key)
        if clash is not None:
            raise OutputError(
                str(out),
                f"is also an input of this run ({clash}); writing it would replace the input: choose another name",
            )
        if key in seen_outputs:
            raise OutputError(str(out), f"is written twice in this run (also as {seen_outputs[key]}): choose two names")
        seen_outputs[key] = str(out)
        if remote:
            if os.fspath(out).endswith("/"):
                raise OutputError(str(out), "is a folder (a prefix); give an object name inside it")
            continue  # a bucket's prefixes need no creating; a missing bucket fails when written
        try:
            is_folder = path.is_dir()
            folder = path.parent
            folder_ok = folder.is_dir()
            folder_there = folder_ok or folder.exists()
        except OSError as e:  # pathlib lets a name too long (ENAMETOOLONG) through, unlike a missing one
            raise OutputError(str(out), f"cannot be written: {describe_oserror(e)}") from None
        if is_folder:
            raise OutputError(str(out), "is a folder; give a file name inside it")
        if not folder_ok:
            what = "is not a folder" if folder_there else "does not exist"
            raise OutputError(str(out), f"cannot be written: folder {str(folder)!r} {what}; create it first")


def describe_oserror(e: OSError) -> str:
    """A short reason and fix for an ``OSError`` met while writing."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full; free some space or write elsewhere"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{e.strerror or 'permission denied'}; choose a folder you can write to"
    if e.errno == errno.ENOENT:
        return "its folder does not exist; create it first"
    if e.errno == errno.EISDIR:
        return "is a folder; give a file name inside it"
    if e.errno == errno.ENAMETOOLONG:
        return "the name is too long; choose a shorter one"
    return f"{e.strerror or e}; choose another path"


def new_file_mode() -> int:
    """The mode a new regular file gets under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (temporary file in the same folder, then rename).

    Text is written as UTF-8 with ``\\n`` line ends. The file gets the mode any new file gets under
    the umask. A symbolic link keeps pointing at the new file; a device or pipe (``/dev/stdout``)
    is written in place. On any failure, or on Ctrl-C, the temporary file is removed and ``path`` is untouched.

    A URL (``s3://``, ``gs://``, ``az://``) is written as one object, which appears whole or not at
    all (``batchcost.storage``).

    Raises:
        OutputError: the file cannot be written (missing or read-only folder, full disk, ...).
    """
    from .storage.locations import is_url

    if is_url(os.fspath(path)):
        from .storage import write_bytes

        write_bytes(os.fspath(path), data.encode("utf-8") if isinstance(data, str) else data)
        return
    target = Path(path)
    try:
        if target.is_symlink():
            # replace the file the link points to, not the link (a rename over the link would cut it)
            target = Path(os.path.realpath(target))
        is_folder = target.is_dir()
    except OSError as e:  # a name too long: pathlib raises it where a missing name gives False
        raise OutputError(str(path), f"cannot be written: {describe_oserror(e)}") from None
    folder = target.parent
    if is_folder:
        raise OutputError(str(path), "is a folder; give a file name inside it")
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        # A device or a pipe (/dev/stdout, /dev/null, a FIFO): there is nothing to rename over, and
        # renaming would replace the device itself. Written in place.
        try:
            with open(target, "wb") as fh:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        except OSError as e:
            raise OutputError(str(path), f"cannot be written: {describe_oserror(e)}") from None
        return
    if not folder.is_dir():
        raise OutputError(str(path), f"cannot be written: folder {str(folder)!r} does not exist; create it first")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise OutputError(str(path), f"cannot be written: {describe_oserror(e)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, new_file_mode())
        pending = _PENDING.get()
        if pending is not None:  # within together(): renamed with the run's other outputs
            pending.append((tmp, target, str(path)))
            return
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OutputError(str(path), f"cannot be written: {describe_oserror(e)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
