"""Where the shard writer puts each shard: a local file under a temporary name, or an object upload.

:class:`FileSink` writes a shard under a temporary name in the folder (renamed by the writer once
every shard is complete). :class:`ObjectSink` uploads it to object storage (``batchcost.storage``),
where an object appears only once its upload completes, whole; its writer removes the completed
ones again on failure. :func:`copy_ranges` copies the lines of an input in object storage, read by
range in parallel, as the writer's mapped copy does for a local file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..errors import OutputError
from ..outputs import describe_oserror
from ..text import one_line

if TYPE_CHECKING:
    from .apply_cache import CacheRewrite
    from .shard_types import ShardPlan

# bytes copied (and read from object storage) at a time
CHUNK = 16 * 1024 * 1024


class FileSink:
    """A shard written under a temporary name (created on first use), hashing what it writes.

    Write failures (full disk, read-only folder...) are :class:`OutputError`; the caller
    discards every sink then.
    """

    def __init__(self, out_dir: Path, name: str, mode: int) -> None:
        self.out_dir = out_dir
        self.name = name
        self.mode = mode
        self.tmp: str | None = None
        self.fh: BinaryIO | None = None
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.lines = 0
        self.rewritten_delta = 0  # bytes rewritten lines added (negative: removed), against the plan's sizes

    def _error(self, e: OSError) -> OutputError:
        return OutputError(str(self.out_dir / self.name), f"cannot be written: {describe_oserror(e)}")

    def _open(self) -> BinaryIO:
        if self.fh is None:
            if self.tmp is not None:
                raise AssertionError(f"shard {self.name} reopened after it was closed")
            try:
                fd, self.tmp = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".tmp", dir=self.out_dir)
            except OSError as e:
                raise self._error(e) from None
            try:
                os.fchmod(fd, self.mode)  # mkstemp makes it 0600; a shard gets the mode any new file gets
                self.fh = os.fdopen(fd, "wb", buffering=1024 * 1024)
            except BaseException as e:
                os.close(fd)
                if isinstance(e, OSError):
                    raise self._error(e) from None
                raise
        return self.fh

    def write(self, data: bytes | memoryview, lines: int) -> None:
        fh = self._open()
        try:
            fh.write(data)
        except OSError as e:
            raise self._error(e) from None
        self.sha.update(data)
        self.bytes += len(data)
        self.lines += lines

    def close(self) -> None:
        """Flush to disk (durable before the rename) and close; an unused sink becomes an empty file."""
        if self.tmp is None:
            self._open()
        if self.fh is not None:
            try:
                self.fh.flush()
                os.fsync(self.fh.fileno())
                self.fh.close()
            except OSError as e:
                raise self._error(e) from None
            self.fh = None

    def discard(self) -> None:
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
            self.fh = None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                Path(self.tmp).unlink(missing_ok=True)


class ObjectSink:
    """A shard uploaded to object storage, hashing what it writes; it appears, whole, at :meth:`close`.

    :meth:`discard` abandons an upload in progress, or removes the object once it appeared.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = url.rpartition("/")[2]
        self.tmp: str | None = None  # nothing to rename: an object appears whole when completed
        self.upload: Any = None
        self.committed = False
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.lines = 0
        self.rewritten_delta = 0

    def _open(self) -> Any:
        if self.upload is None:
            if self.committed:
                raise AssertionError(f"shard {self.name} reopened after it was completed")
            from ..storage import Upload

            self.upload = Upload(self.url)
        return self.upload

    def write(self, data: bytes | memoryview, lines: int) -> None:
        self._open().write(data)
        self.sha.update(data)
        self.bytes += len(data)
        self.lines += lines

    def close(self) -> None:
        """Complete the upload (an unused sink becomes an empty object); closing again does nothing."""
        if self.committed:
            return
        upload = self._open()
        upload.commit()
        self.upload = None
        self.committed = True

    def discard(self) -> None:
        if self.upload is not None:
            self.upload.abort()
            self.upload = None
        if self.committed:
            from ..storage import remove

            with contextlib.suppress(Exception):
                remove(self.url)
            self.committed = False


def line_runs(
    rows: np.ndarray, offsets: np.ndarray, nbytes: np.ndarray, size: int, rewrite: CacheRewrite | None
) -> Iterator[tuple[int, int, int, bool, int]]:
    """The runs of consecutive lines of one shard, each copied as one byte range of the input.

    Yields ``(lines, start, end, newline, row)``: the run's line count, its bytes ``[start, end)``
    (line ends included), whether a newline must be added (the input's last line had none), and
    the row of a line to rewrite for a cache (such a line is a run of its own), else -1.
    """
    if not len(rows):
        return
    cut = np.diff(rows) != 1
    if rewrite is not None:  # a line to rewrite is a run of its own
        served = rewrite.member[rows] >= 0
        cut |= served[1:] | served[:-1]
    breaks = np.flatnonzero(cut)
    run_starts = np.concatenate(([0], breaks + 1))
    run_ends = np.concatenate((breaks, [len(rows) - 1]))
    for a, b in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
        r0, r1 = int(rows[a]), int(rows[b])
        start = int(offsets[r0])
        end = int(offsets[r1]) + int(nbytes[r1]) + 1
        one = a == b and rewrite is not None and rewrite.member[r0] >= 0
        yield b - a + 1, start, min(end, size), end > size, r0 if one else -1


def copy_ranges(
    path: str,
    size: int,
    offsets: np.ndarray,
    nbytes: np.ndarray,
    shard_plan: ShardPlan,
    sinks: Sequence[Any],
    progress: Any,
    rewrite: CacheRewrite | None = None,
) -> None:
    """Copy each shard's lines of a plain input in object storage: runs of consecutive lines read as
    ranges of at most :data:`CHUNK` bytes, fetched ahead in parallel, written in order."""
    from ..storage import read_ranges

    if size == 0:
        return
    # (sink index, start, end, lines, add a newline, rewrite row or -1): one piece per range read
    pieces: list[tuple[int, int, int, int, bool, int]] = []
    for k, s in enumerate(shard_plan.shards):
        for lines, start, end, newline, row in line_runs(s.rows, offsets, nbytes, size, rewrite):
            pos = start
            while pos < end:
                stop = end if row >= 0 else min(end, pos + CHUNK)
                last = stop == end
                pieces.append((k, pos, stop, lines if last else 0, newline and last, row))
                pos = stop
    done = 0
    last_sink = -1
    for (k, start, end, lines, newline, row), data in zip(
        pieces, read_ranges(path, [(p[1], p[2]) for p in pieces]), strict=True
    ):
        if len(data) != end - start:
            from ..errors import PlanError

            raise PlanError(f"{one_line(path)} changed since it was scanned (size differs); run the command again")
        if last_sink not in (-1, k):
            sinks[last_sink].close()
        last_sink = k
        sink = sinks[k]
        if row >= 0 and rewrite is not None:
            new = rewrite.rewrite(row, data)
            if new is not None:
                sink.write(new, 1)
                sink.rewritten_delta += len(new) - (end - start) - (1 if newline else 0)
                done += end - start
                continue
        sink.write(data, 0)
        if newline:
            sink.write(b"\n", 0)
        sink.lines += lines
        done += end - start
        if progress is not None:
            progress(done, size)
    if last_sink >= 0:
        sinks[last_sink].close()
