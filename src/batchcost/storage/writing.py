"""Writing files and objects whole or not at all.

An object store shows an object only once its upload completes (a single PUT, or a multipart or
resumable upload that is completed at close), so an object written here is never seen half
written; on failure or Ctrl-C the upload is abandoned and nothing appears. A local file is written
under a temporary name in the same folder and renamed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import OutputError
from .backends import failure, filesystem
from .locations import is_url, local_path
from .reading import retry_write

# Parts of a multipart or resumable upload (s3fs needs at least 5 MiB; gcsfs a multiple of 256 KiB).
UPLOAD_BLOCK = 32 * 1024 * 1024


def _temporary_beside(name: str) -> tuple[int, str, str]:
    """``(fd, temporary path, final path)``: a hidden temporary file in the local output's folder, renamed
    over it when complete (the same filesystem, so the rename is atomic).

    Raises:
        OutputError: the folder cannot take a new file.
    """
    path = local_path(name)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise OutputError(name, f"cannot be written: {e.strerror or e}") from None
    return fd, tmp, path


@contextlib.contextmanager
def open_output(name: str) -> Iterator[BinaryIO]:
    """A binary file to write ``name`` through; it appears complete when the block ends, or not at all.

    Raises:
        OutputError: the output cannot be created or completed (missing bucket, access denied...).
    """
    if not is_url(name):
        fd, tmp, path = _temporary_beside(name)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return
    fs, path = filesystem(name)
    try:
        fh: Any = fs.open(path, "wb", block_size=UPLOAD_BLOCK)
    except Exception as e:
        raise failure(name, e, writing=True) from None
    try:
        yield fh
    except BaseException:
        _discard(fh)
        raise
    try:
        fh.close()  # completes the upload: the object appears now, whole
    except Exception as e:
        _discard(fh)
        raise failure(name, e, writing=True) from None


class Upload:
    """One object being written: :meth:`write` parts, then :meth:`commit` (it appears, whole) or :meth:`abort`.

    For a writer that holds many outputs open at once (shards), where a ``with`` block per output
    does not fit. A local name is written under a temporary name and renamed at commit.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._local: tuple[Any, str, str] | None = None  # (file, temporary path, final path)
        self._fh: Any = None
        if not is_url(name):
            fd, tmp, path = _temporary_beside(name)
            self._local = (os.fdopen(fd, "wb"), tmp, path)
            return
        fs, path = filesystem(name)
        try:
            self._fh = fs.open(path, "wb", block_size=UPLOAD_BLOCK)
        except Exception as e:
            raise failure(name, e, writing=True) from None

    def write(self, data: bytes | memoryview) -> None:
        try:
            (self._local[0] if self._local is not None else self._fh).write(data)
        except OutputError:
            raise
        except Exception as e:
            raise failure(self.name, e, writing=True) from None

    def commit(self) -> None:
        """Complete the upload (or rename the local file): the output appears now, whole."""
        if self._local is not None:
            fh, tmp, path = self._local
            try:
                fh.close()
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
                os.replace(tmp, path)
            except OSError as e:
                self.abort()
                raise OutputError(self.name, f"cannot be written: {e.strerror or e}") from None
            self._local = None
            return
        try:
            self._fh.close()
        except Exception as e:
            _discard(self._fh)
            raise failure(self.name, e, writing=True) from None

    def abort(self) -> None:
        """Abandon the output: nothing appears (an object's parts are dropped, a temporary file removed)."""
        if self._local is not None:
            fh, tmp, _ = self._local
            with contextlib.suppress(OSError):
                fh.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self._local = None
        elif self._fh is not None:
            _discard(self._fh)


def _discard(fh: Any) -> None:
    """Abandon an upload (a multipart upload aborted, a resumable one cancelled): nothing appears."""
    with contextlib.suppress(Exception):
        fh.discard()
    with contextlib.suppress(Exception):
        fh.closed = True  # fsspec's close() would otherwise complete the upload when collected


def write_bytes(name: str, data: bytes) -> None:
    """Write ``data`` to ``name`` whole or not at all (one PUT for an object)."""
    if not is_url(name):
        with open_output(name) as fh:
            fh.write(data)
        return
    fs, path = filesystem(name)
    retry_write(name, lambda: fs.pipe_file(path, data))


def listdir(prefix: str) -> list[str]:
    """Names of the objects (or files) directly inside a folder or URL prefix, sorted; [] when there is none.

    Raises:
        OutputError: the folder cannot be listed (access denied, missing bucket...).
    """
    if not is_url(prefix):
        path = local_path(prefix)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []
    fs, path = filesystem(prefix)
    try:
        entries = fs.ls(path.rstrip("/"), detail=True)
    except FileNotFoundError:
        return []
    except Exception as e:
        raise failure(prefix, e, writing=True) from None
    return sorted(e["name"].rstrip("/").rpartition("/")[2] for e in entries if e.get("type") != "directory")


def remove(name: str) -> None:
    """Remove a file or object; one that is already gone is fine."""
    if not is_url(name):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(local_path(name))
        return
    fs, path = filesystem(name)
    try:
        fs.rm_file(path)
    except FileNotFoundError:
        pass
    except Exception as e:
        raise failure(name, e, writing=True) from None
