"""Reading files by byte range, local or remote: large ranges fetched in parallel threads, in order.

A remote file is never copied whole to local disk: it is read in ranges of :data:`BLOCK` bytes,
:data:`AHEAD` at a time in threads (the backends release the GIL while waiting), and handed over
in file order. Transient failures (5xx, 429, timeouts, dropped connections) are retried with a
backoff; anything else is one :class:`~batchcost.errors.InputError` line.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..errors import InputError
from .backends import failure, filesystem, is_transient
from .locations import Location, is_url, local_path

BLOCK = 32 * 1024 * 1024  # bytes per range request: few requests, and a block is one line check's worth
AHEAD = 4  # ranges in flight at once (memory: AHEAD x BLOCK)
RETRIES = 4  # attempts of one range on a transient failure
_BACKOFF = (0.25, 1.0, 3.0)

Name = str | Location | os.PathLike[str]


def _name(loc: Name) -> str:
    return loc.name if isinstance(loc, Location) else os.fspath(loc)


def size(loc: Name) -> int:
    """The size in bytes of a file or object (InputError when it is missing, unreadable or a folder)."""
    name = _name(loc)
    if not is_url(name):
        return os.stat(local_path(name)).st_size
    fs, path = filesystem(name)
    info = retry(name, lambda: fs.info(path))
    if info.get("type") == "directory":
        raise InputError(name, "is a folder (a prefix); give the objects inside it, or a glob such as .../*.jsonl")
    value = info.get("size")
    if value is None:
        raise InputError(
            name, "the server does not say how large it is (no Content-Length); it cannot be read in ranges"
        )
    return int(value)


# What an object store says changes with an object's contents (the first one a backend gives is used).
VERSION_KEYS = ("ETag", "etag", "generation", "md5Hash", "LastModified", "last_modified", "updated", "mtime")


def version(loc: Name) -> tuple[int, str]:
    """An object's size and version tag (ETag, generation or modification time; "" when none is given)."""
    name = _name(loc)
    fs, path = filesystem(name)
    info = retry(name, lambda: fs.info(path))
    tag = next((str(info[k]) for k in VERSION_KEYS if info.get(k) is not None), "")
    return int(info.get("size") or 0), tag


def exists(loc: Name) -> bool:
    """True when the file or object exists (a missing bucket is False; other failures raise InputError)."""
    name = _name(loc)
    if not is_url(name):
        return os.path.exists(local_path(name))
    fs, path = filesystem(name)
    try:
        return bool(retry(name, lambda: fs.exists(path)))
    except InputError:
        raise


def read_bytes(loc: Name) -> bytes:
    """A whole (small) file or object: a plan document, a price file. Batch files are read in ranges."""
    name = _name(loc)
    if not is_url(name):
        with open(local_path(name), "rb") as fh:
            return fh.read()
    fs, path = filesystem(name)
    return bytes(retry(name, lambda: fs.cat_file(path)))


def read_range(loc: Name, start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of a file or object (fewer only at its end); transient failures retried."""
    name = _name(loc)
    if end <= start:
        return b""
    if not is_url(name):
        with open(local_path(name), "rb") as fh:
            fh.seek(start)
            return fh.read(end - start)
    fs, path = filesystem(name)
    return bytes(retry(name, lambda: fs.cat_file(path, start=start, end=end)))


def retry(name: str, call: Any, writing: bool = False) -> Any:
    """``call()``, retried on transient failures; any other failure as one InputError (OutputError) line."""
    for attempt in range(RETRIES):
        try:
            return call()
        except Exception as e:
            if attempt + 1 < RETRIES and is_transient(e):
                time.sleep(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
                continue
            raise failure(name, e, writing=writing) from None
    raise AssertionError("unreachable")


def retry_write(name: str, call: Any) -> Any:
    """Run one idempotent write call (a whole-object PUT), retrying transient failures; OutputError otherwise."""
    return retry(name, call, writing=True)


def read_ranges(loc: Name, ranges: Iterable[tuple[int, int]], *, ahead: int = AHEAD) -> Iterator[bytes]:
    """The bytes of each ``(start, end)`` range, in the order given, ``ahead`` fetched at once in threads."""
    name = _name(loc)
    todo = iter(ranges)
    pending: collections.deque[tuple[int, int, Future[bytes]]] = collections.deque()
    with ThreadPoolExecutor(max(1, ahead), thread_name_prefix="batchcost-read") as pool:
        try:
            while True:
                while len(pending) < max(1, ahead):
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    a, b = nxt
                    pending.append((a, b, pool.submit(read_range, name, a, b)))
                if not pending:
                    return
                a, b, fut = pending.popleft()
                data = fut.result()
                yield data
        finally:
            for _a, _b, fut in pending:
                fut.cancel()


class BlockReader:
    """Sequential reading of bytes ``[start, end)`` of a file or object, the next ranges read ahead.

    ``read(n)`` returns up to ``n`` bytes (``b""`` at the end), so it serves ``gzip.GzipFile`` and
    line splitters alike; ``tell()`` is the position in the file; iterating yields ``(offset,
    block)`` pairs of :data:`BLOCK` bytes. A block that comes back shorter than asked (the object
    shrank or was replaced while being read) is an InputError, never silently fewer lines.
    Use as a context manager (or call :meth:`close`) so read-ahead threads stop.
    """

    def __init__(self, loc: Name, start: int = 0, end: int | None = None, *, block: int = BLOCK,
                 ahead: int = AHEAD) -> None:  # fmt: skip
        self.name = _name(loc)
        self.end = size(self.name) if end is None else end
        self.block = max(1, block)
        self._pos = start
        self._next = start
        self._buf = b""
        self._at = 0
        self._pool = ThreadPoolExecutor(max(1, ahead), thread_name_prefix="batchcost-read")
        self._ahead = max(1, ahead)
        self._pending: collections.deque[tuple[int, int, Future[bytes]]] = collections.deque()
        self._lock = threading.Lock()

    def _fill(self) -> None:
        while len(self._pending) < self._ahead and self._next < self.end:
            a, b = self._next, min(self._next + self.block, self.end)
            self._pending.append((a, b, self._pool.submit(read_range, self.name, a, b)))
            self._next = b

    def next_block(self) -> tuple[int, bytes] | None:
        """The next whole block ``(offset, bytes)`` after what was read, or None at the end."""
        if self._at < len(self._buf):
            offset, data = self._pos, self._buf[self._at :]
            self._buf, self._at = b"", 0
            self._pos += len(data)
            return offset, data
        self._fill()
        if not self._pending:
            return None
        a, b, fut = self._pending.popleft()
        data = fut.result()
        self._fill()
        if len(data) != b - a:
            raise InputError(self.name, f"changed while being read (expected {b - a:,} bytes at {a:,}, got "
                                        f"{len(data):,}); run the command again")  # fmt: skip
        self._pos = b
        return a, data

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is left when ``n`` < 0) from the current position."""
        if n is None or n < 0:
            return b"".join(block for _, block in iter(self.next_block, None))
        if self._at >= len(self._buf):
            got = self.next_block()
            if got is None:
                return b""
            self._buf, self._at = got[1], 0
            self._pos = got[0]
        piece = self._buf[self._at : self._at + n]
        self._at += len(piece)
        self._pos += len(piece)
        if self._at >= len(self._buf):
            self._buf, self._at = b"", 0
        return piece

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(self.next_block, None)

    def close(self) -> None:
        for _a, _b, fut in self._pending:
            fut.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sequential(loc: Name, start: int = 0, end: int | None = None, *, block: int = BLOCK,
                    ahead: int = AHEAD) -> Any:  # fmt: skip
    """A binary file object read front to back: a local file as is, a remote one as a :class:`BlockReader`.

    A small ``block`` suits a look at a file's first lines (the read-ahead holds ``ahead`` blocks).
    """
    name = _name(loc)
    if not is_url(name):
        fh = open(local_path(name), "rb")  # noqa: SIM115 - returned to the caller, who closes it
        fh.seek(start)
        return fh
    return BlockReader(name, start, end, block=block, ahead=ahead)


def line_blocks(loc: Name, start: int = 0, end: int | None = None, *, block: int = BLOCK,
                ahead: int = AHEAD) -> Iterator[tuple[int, bytes]]:  # fmt: skip
    """``(offset, bytes)`` blocks of whole lines of ``[start, end)``, read ahead in parallel.

    Each block ends just after a newline, except the last when the range does not end in one; a
    line longer than a block is carried into the next (memory: one block plus one line). ``start``
    should be a line start (0 or just after a newline); the caller splits ranges at newlines.
    """
    carry = b""
    carry_at = start
    with BlockReader(loc, start, end, block=block, ahead=ahead) as reader:
        for offset, data in reader:
            if carry:
                data = carry + data
                offset = carry_at
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry, carry_at = data, offset
                continue
            carry, carry_at = data[cut:], offset + cut
            yield offset, data[:cut]
    if carry:
        yield carry_at, carry


def iter_lines(loc: Name, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Every line of ``[start, end)`` with its line end kept (the last may have none), read ahead in parallel."""
    for _, block in line_blocks(loc, start, end):
        parts = block.split(b"\n")
        last = parts.pop()
        for part in parts:
            yield part + b"\n"
        if last:
            yield last


def sha256(loc: Name) -> str:
    """SHA-256 of a file's bytes as stored (remote ones read in parallel ranges)."""
    import hashlib

    h = hashlib.sha256()
    name = _name(loc)
    if not is_url(name):
        with open(local_path(name), "rb") as fh:
            while data := fh.read(8 * 1024 * 1024):
                h.update(data)
        return h.hexdigest()
    with BlockReader(name) as reader:
        for _, data in reader:
            h.update(data)
    return h.hexdigest()
