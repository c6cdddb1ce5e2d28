"""What one scan worker does: check the lines of one byte range of a file, or of a whole gzip stream.

A plain file's range is read through ``mmap`` a block of whole lines at a time, and the pages
already checked are dropped from the process, so memory follows the number of lines, not the file
size. A worker process sends its :class:`~.scan_partial.Partial` back through its spill file. A gzip
file is streamed in one process, a block of lines at a time, so memory never holds more than one
block and one line (see :data:`~.lines.MAX_LINE_BYTES`).
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import mmap
import os
import signal
import traceback
import zlib
from collections.abc import Callable
from typing import Any

from ..heap import reuse_large_blocks
from ..storage.locations import is_url
from .line_check import RangeScanner, scan_lines
from .lines import MAX_LINE_BYTES, LineFiller, open_binary, stream_blocks
from .problems import escaped
from .scan_partial import Partial

# Lines this large are checked one at a time across worker processes, so that two workers never
# hold two of them at once.
_BIG_LINE_BYTES = 16 * 1024 * 1024
_PROGRESS_STEP = 8 * 1024 * 1024
# Lines are scanned in blocks of about this many bytes (the repeated-name count and gzip reads).
# Each worker holds a block's parsed requests at once: 4 MB rather than 8 kept an estimate of the
# realistic 2 GB file under 250 MB in all (PSS; 256 MB before) at the same speed.
_BLOCK = 4 * 1024 * 1024

# A range to scan: (path, file index, form, seed, sample size, problems kept per kind, start, end,
# progress slot, whether a worker process scans it, what to gather: see line_check.GATHER).
RangeTask = tuple[str, int, str, int, int, int, int, int, int, bool, str]

# Shared progress counters and the big-line lock of worker processes (set by the pool initializer).
_counters: Any = None
_big_lock: Any = None


def use_counters(counters: Any) -> None:
    """Where :func:`scan_range` reports its progress in this process: ``counters[slot]``, bytes done (None: nowhere)."""
    global _counters
    _counters = counters


def init_worker(counters: Any, lock: Any = None) -> None:
    """The pool initializer of a worker process: shared progress counters and the big-line lock."""
    global _big_lock
    use_counters(counters)
    _big_lock = lock
    reuse_large_blocks()  # the same arrays over and over: not faulted in afresh each time
    # Ctrl-C goes to the parent, which terminates the pool: workers must not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _release(mm: mmap.mmap, released: int, pos: int) -> int:
    """Drop pages already scanned from this process's mapping.

    Touched pages of a file mapping count in the process's resident memory until unmapped; on a
    2 GB file that would be 2 GB of RSS. MADV_DONTNEED unmaps them (the page cache keeps the data),
    so memory stays proportional to the request count, not the file size.
    """
    upto = pos - pos % mmap.PAGESIZE
    if upto - released >= _PROGRESS_STEP and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED, released, upto - released)
        return upto
    return released


def _drop(mm: mmap.mmap, lo: int, hi: int) -> None:
    """Drop the pages of ``mm[lo:hi]`` from this process's memory (see :func:`_release`)."""
    start = lo - lo % mmap.PAGESIZE
    if hi > start and hasattr(mmap, "MADV_DONTNEED"):
        with contextlib.suppress(OSError, ValueError):
            mm.madvise(mmap.MADV_DONTNEED, start, hi - start)


def _forget_views(e: BaseException) -> None:
    """Clear the locals of the frames an exception passed through (and of the exceptions it chains).

    Those frames hold slices of a file mapping (the line being checked); while they live, closing
    the mapping fails with ``BufferError: cannot close exported pointers exist``, which would replace
    the real error (a Ctrl-C, a bug) with a confusing one.
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if x.__traceback__ is not None:
            traceback.clear_frames(x.__traceback__)
        stack += [x.__cause__, x.__context__]


def _close(mm: mmap.mmap) -> None:
    """Close a mapping; if something else still holds a view of it, leave it to be unmapped with that view.

    A Dask worker's sampling profiler can hold a finished frame of the line loop (and so a slice of
    the mapping) for a moment after it returns: closing then fails with ``BufferError``, though the
    range was scanned in full.
    """
    try:
        mm.close()
    except BufferError:
        gc.collect()
        with contextlib.suppress(BufferError):
            mm.close()


def scan_range(task: RangeTask) -> Partial:
    """Check the lines of one byte range of a plain file (in a worker process when ``task`` says so)."""
    path, file_index, form, seed, k, keep, start, end, slot, worker, gather = task
    sc = RangeScanner(form, file_index, seed, k, keep, os.getppid() if worker else None, gather, path=path)
    if is_url(path):
        return _scan_url_range(sc, path, start, end, slot, worker)
    try:
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            size = len(mm)
            mv = memoryview(mm)
            try:
                pos = start
                released = start - start % mmap.PAGESIZE
                while pos < end:
                    # a block of whole lines of about _BLOCK bytes (one line if that one is longer)
                    stop = min(pos + _BLOCK, end)
                    if stop < end:
                        nl = mm.rfind(b"\n", pos, stop)
                        if nl < 0:
                            nl = mm.find(b"\n", stop, end)
                        stop = end if nl < 0 else nl + 1
                    # A line this big is checked (and its pages dropped) while holding the workers' lock,
                    # so two workers never hold two of them: memory stays that of one big line.
                    if _big_lock is not None and stop - pos > _BIG_LINE_BYTES:
                        _drop(mm, pos, stop)  # finding its end touched its pages: not while waiting
                        with _big_lock:
                            scan_lines(sc, mm, mv, pos, stop, 0, end == size)
                            _drop(mm, pos, stop)
                        released = max(released, stop - stop % mmap.PAGESIZE)
                    else:
                        scan_lines(sc, mm, mv, pos, stop, 0, end == size)
                        released = _release(mm, released, stop)
                    pos = stop
                    if _counters is not None:
                        _counters[slot] = pos - start
            except BaseException as e:
                _forget_views(e)
                raise
            finally:
                mv.release()
                _close(mm)
        if sc.p.spill is not None or worker:
            sc.p.spill_all()
    except BaseException:
        sc.p.remove_spill()
        raise
    return sc.p


def _scan_url_range(sc: RangeScanner, url: str, start: int, end: int, slot: int, worker: bool) -> Partial:
    """Check the lines of ``[start, end)`` of a URL's object, read by range ahead in parallel threads."""
    from ..storage import BlockReader

    def progress(pos: int) -> None:
        if _counters is not None:
            _counters[slot] = pos - start

    try:
        with BlockReader(url, start, end) as fh:
            _scan_stream(sc, fh.read, fh.tell, progress, [0], start)
        if sc.p.spill is not None or worker:
            sc.p.spill_all()
    except BaseException:
        sc.p.remove_spill()
        raise
    return sc.p


def scan_gzip(path: str, file_index: int, form: str, seed: int, k: int, keep: int,
              progress: Callable[[int], None], gather: str = "rows") -> tuple[Partial, int]:  # fmt: skip
    """Stream a gzip file a block at a time: memory holds one block and one line, whatever it inflates to.

    ``path`` may be a URL: its compressed bytes are then read in parallel ranges (``batchcost.storage``).
    """
    sc = RangeScanner(form, file_index, seed, k, keep, gather=gather, path=path)
    at = [0]  # the position after the last byte checked
    try:
        with open_binary(path) as raw_fh, gzip.GzipFile(fileobj=raw_fh) as fh:
            try:
                _scan_stream(sc, LineFiller(fh).read, raw_fh.tell, progress, at)
            except (OSError, EOFError, zlib.error) as e:
                pos = at[0]
                sc.broken_stream(
                    "gzip-corrupt",
                    f"gzip data is corrupt or cut off after {pos:,} bytes ({escaped(str(e))}); re-compress or "
                    "re-download the file",
                )
        if sc.p.spill is not None:
            sc.p.spill_all()
    except BaseException:
        sc.p.remove_spill()
        raise
    return sc.p, at[0]


def scan_stream(path: str, file_index: int, form: str, seed: int, k: int, keep: int,
                progress: Callable[[int], None], gather: str = "rows") -> Partial:  # fmt: skip
    """Check the lines of a plain file read front to back: a URL's object, read in large ranges fetched
    ahead in parallel threads (``batchcost.storage``), never copied whole to disk.

    The lines go through the same per-line checks as a mapped range, so the figures are the same.
    """
    sc = RangeScanner(form, file_index, seed, k, keep, gather=gather, path=path)
    try:
        with open_binary(path) as fh:
            _scan_stream(sc, fh.read, fh.tell, progress, [0])
        if sc.p.spill is not None:
            sc.p.spill_all()
    except BaseException:
        sc.p.remove_spill()
        raise
    return sc.p


def _scan_stream(sc: RangeScanner, read: Callable[[int], bytes], tell: Callable[[], int],
                 progress: Callable[[int], None], at: list[int], base: int = 0) -> None:  # fmt: skip
    """Check every line of a stream of blocks (``base``: the file offset of the stream's first byte);
    ``at[0]`` follows the position after the last byte checked."""
    next_report = base + _PROGRESS_STEP
    for rel, buf, n, newline in stream_blocks(read, MAX_LINE_BYTES, _BLOCK):
        offset = base + rel
        if buf is None:
            sc.long_line(offset, n)
            if not newline:
                sc.p.last_line_no_newline = True
            at[0] = offset + n + (1 if newline else 0)
        else:
            scan_lines(sc, buf, memoryview(buf), 0, n, offset, True)
            at[0] = offset + n
        if tell() >= next_report:
            next_report = tell() + _PROGRESS_STEP
            progress(tell())
