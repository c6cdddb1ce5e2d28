"""One streaming pass over batch input files: check every line, keep per-request figures.

Plain files over :data:`IN_PROCESS_MAX_BYTES` are read through ``mmap`` in worker processes, split at
newlines into one range per core when large; smaller ones are read (not mapped) in this process, where
a file cut short under a mapping would end the command with SIGBUS. Gzip files are streamed in one
process, a block of lines at a time, so memory never holds more than one block and one line (see
:data:`MAX_LINE_BYTES`). Each range produces a :class:`~.scan_partial.Partial` (array columns, at most
``keep`` problems per kind with exact counts, a bottom-k sample); partials are merged in file order,
which fixes up line numbers and row indices. Checks that need the whole file (duplicate keys, mixed
models, size limits) run on the merged columns.

The jobs, one module each: ``scan_worker`` (one range or gzip stream), ``line_check`` (one line),
``scan_partial`` (a range's columns and spill file), ``sampling`` (the sample), ``scan_merge``
(partials in file order), ``file_checks`` (whole-file checks). This module splits the work and
puts it together.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import EngineError
from ..storage.locations import is_url
from ..text import one_line
from ..workers import WorkerLost, check_workers, live_children, started_workers
from .file_checks import FileLimits, size_checks, whole_file_checks
from .lines import (
    MAX_LINE_BYTES,
    Stamp,
    changed_while_read,
    check_each_once,
    check_unchanged,
    detect_form,
    file_stamp,
    is_gzip_input,
    open_check,
    readable,
)
from .result import SCAN_ONLY_COLUMNS, FileInfo, ScanResult, file_sha256, fold_constant_columns, narrow_offsets
from .sampling import chosen_rows
from .scan_merge import Merger
from .scan_partial import Partial, remove_leftovers
from .scan_worker import init_worker, scan_gzip, scan_range, scan_stream

__all__ = [
    "MAX_LINE_BYTES", "PARALLEL_MIN_BYTES", "FileLimits", "FileParts", "FileTask", "PartsOf", "Progress", "finish_scan",
    "line_ranges", "merge_files", "plan_files", "scan", "url_line_ranges",
]  # fmt: skip

# Files at least this large are split across processes.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
# Larger files are scanned by a worker process even when one range covers them. A mapped file that
# shrinks kills whoever reads past its new end (SIGBUS): a worker's death is reported, this process's
# own would end the command with "Bus error" and nothing else. Smaller files are read (not mapped) in
# this process, in well under 0.1 s, so the fork is not worth it.
IN_PROCESS_MAX_BYTES = 8 * 1024 * 1024
# Bytes read at a time when looking for the newline after a guessed range boundary.
_NEWLINE_WINDOW = 1 << 20

Progress = Callable[[int, int], None]


def scan(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    sample_size: int = 0,
    seed: int = 0,
    keep_problems: int = 1000,
    workers: int | None = None,
    limits: FileLimits | None = None,
    progress: Progress | None = None,
    checksum: bool = False,
    text_classes: bool = False,
    text_figures: bool = True,
) -> ScanResult:
    """Check every line of Gemini batch input files and gather per-request figures in one pass.

    Args:
        paths: one path or several. Each file may be Developer-API form
            (``{"key", "request"}`` lines), Vertex form (``{"request"}`` lines), and gzip-compressed.
        sample_size: how many usable requests to draw uniformly at random (0 for none).
        seed: seed of the sample; the same seed gives the same sample for the same file.
        keep_problems: problems kept per kind (all are counted in ``problem_counts``).
        workers: processes for large plain files (default: CPU count, at most 2 per file range set).
        limits: per-job input limits (default :class:`FileLimits`).
        progress: called with ``(bytes done, bytes total)`` from the calling thread.
        checksum: also compute each file's SHA-256 (``FileInfo.sha256``); for large files the
            calling process hashes while the worker processes scan.
        text_classes: also count the byte classes of every long request's text
            (``ScanResult.text_classes``; see :mod:`.text_classes`), for the sampled token estimate.
        text_figures: False to gather only what the checks need, about a third less work on long
            texts: the rows' ``text_bytes`` and text hashes are then not filled in (0 on most rows;
            ``ScanResult.text_figures`` says so), so such a result is for validation, not for counting.

    Returns:
        A :class:`ScanResult`. Problems in the files are data in it, never exceptions.

    Lines over :data:`MAX_LINE_BYTES` (128 MiB) are ``line-too-long`` problems, read past without
    being held in memory; memory stays proportional to the number of lines (about 100 bytes each),
    whatever a gzip file inflates to.

    A path may be an fsspec URL (``gs://``, ``s3://``, ``az://``, ``https://``; a URL with ``*``
    is a glob): its object is read in large ranges fetched ahead in parallel, never copied to disk,
    and its problems are located as ``URL:LINE`` (see :mod:`batchcost.storage`).

    Raises:
        InputError: a file cannot be read at all (missing, a directory, permission denied), or is a
            pipe, FIFO or device (it would be read more than once); for a URL also refused
            credentials, a missing backend extra, or a storage that keeps failing.
        ValueError: ``text_classes`` without ``text_figures`` (the classes need the rows' figures).
    """
    gather = gather_of(text_classes, text_figures)
    files = plan_files(paths)
    workers = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))

    def parts_of(f: FileTask, report: Callable[[int], None]) -> FileParts:
        return _local_parts(f, seed, sample_size, keep_problems, workers, report, checksum, gather)

    return merge_files(
        files, parts_of, sample_size=sample_size, seed=seed, keep_problems=keep_problems, limits=limits,
        progress=progress, checksum=checksum, gather=gather,
    )  # fmt: skip


def gather_of(text_classes: bool, text_figures: bool) -> str:
    """What the line checks gather (``line_check.GATHER``) for :func:`scan`'s two options."""
    if text_classes and not text_figures:
        raise ValueError("text_classes needs text_figures")
    return "classes" if text_classes else "rows" if text_figures else "checks"


@dataclass(frozen=True, slots=True)
class FileTask:
    """One input file as the scan plans it: its name, where to read it, its place in the scan, size and form.

    ``source`` is ``path`` itself, or a URL's ``--cache-dir`` copy (read on the local fast path;
    problems keep naming ``path``).
    """

    path: str
    index: int
    size: int
    compressed: bool
    form: str
    source: str
    stamp: Stamp | None = None  # size, mtime and inode of a local source when planned (file_stamp)


# What scanning one file gives: its partials in line order, its data size (decompressed for gzip),
# and its SHA-256 when the scan made it (None: :func:`merge_files` hashes the file itself if asked).
FileParts = tuple[list[Partial], int, str | None]
# Scans one file, reporting bytes done in that file through the callable.
PartsOf = Callable[[FileTask, Callable[[int], None]], FileParts]


def plan_files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[FileTask]:
    """Every input checked readable (``InputError`` if not), with its size, compression and form.

    URL globs are expanded here, one task per object.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    names = [os.fspath(p) for p in paths]
    if any(is_url(n) for n in names):
        from ..storage import expand

        names = [loc.name for loc in expand(names)]
    sizes = [open_check(p) for p in names]
    check_each_once(names)
    tasks = []
    for fi, (path, size) in enumerate(zip(names, sizes, strict=True)):
        src = readable(path)  # a URL's --cache-dir copy is read on the local fast path; problems name the URL
        stamp = file_stamp(src)
        if stamp is not None and stamp[0] != size:
            raise changed_while_read(path)  # grew or shrank since open_check looked
        compressed = is_gzip_input(path, src, size)
        form = detect_form(src, compressed, name=path) if size else "developer"
        tasks.append(FileTask(path, fi, size, compressed, form, src, stamp))
    return tasks


def merge_files(
    files: Sequence[FileTask],
    parts_of: PartsOf,
    *,
    sample_size: int,
    seed: int,
    keep_problems: int,
    limits: FileLimits | None = None,
    progress: Progress | None = None,
    checksum: bool = False,
    gather: str = "rows",
) -> ScanResult:
    """Scan ``files`` one after another with ``parts_of`` and merge their partials in file order.

    Whoever scans the ranges (this machine's processes, or a cluster's workers), the partials are
    merged here, by the same code, into the same :class:`ScanResult`.
    """
    limits = limits or FileLimits()
    merger = Merger(keep_problems, sample_size)
    try:
        return _merge_files(files, parts_of, merger, limits, seed, progress, checksum, gather)
    except BaseException:
        merger.discard()
        raise


def _merge_files(files: Sequence[FileTask], parts_of: PartsOf, merger: Merger, limits: FileLimits, seed: int,
                 progress: Progress | None, checksum: bool, gather: str) -> ScanResult:  # fmt: skip
    total = sum(f.size for f in files)
    done_before = 0
    infos: list[FileInfo] = []
    for f in files:
        first_row = merger.n_rows
        base = done_before

        def report(done: int, base: int = base) -> None:
            if progress is not None:
                progress(base + done, total)

        try:
            parts, data_size, digest = parts_of(f, report) if f.size else ([], 0, None)
        except WorkerLost:
            # Reading a mapped file that shrank kills the reader (SIGBUS): say so when that is why.
            check_unchanged(f.path, f.source, f.stamp)
            raise EngineError(
                f"a process scanning {one_line(f.path)} was killed before it finished (out of memory?); run again"
            ) from None
        check_unchanged(f.path, f.source, f.stamp)  # the parts are of the file as it was planned
        if checksum and digest is None:
            digest = file_sha256(f.source)
        line_base = 0
        while parts:
            part = parts.pop(0)  # dropped once merged: peak memory is one copy of the columns plus one part
            merger.add(part, f.path, line_base)
            line_base += part.lines
            del part
        info = FileInfo(
            f.path, f.size, data_size, f.compressed, f.form, line_base, first_row, digest, f.stamp, f.source
        )
        infos.append(info)
        done_before += f.size
        report(f.size)
        size_checks(merger, info, limits)
    return finish_scan(merger, infos, seed, gather)


def _local_parts(f: FileTask, seed: int, k: int, keep: int, workers: int, report: Callable[[int], None],
                 checksum: bool, gather: str) -> FileParts:  # fmt: skip
    """One file scanned on this machine: a gzip stream in this process, a plain file (or a URL's object) in
    ranges across processes."""
    src = f.source
    if f.compressed:
        part, data_size = scan_gzip(src, f.index, f.form, seed, k, keep, report, gather)
        return [part], data_size, None
    digest: list[str] = []
    if is_url(src):
        # read in large ranges ahead in parallel threads (batchcost.storage); a large object is
        # split at newlines into one range per core, as a local file is
        ranges = url_line_ranges(src, f.size, workers if f.size >= PARALLEL_MIN_BYTES else 1)
        if len(ranges) == 1:
            return [scan_stream(src, f.index, f.form, seed, k, keep, report, gather)], f.size, None
        parts = _scan_parallel(src, f.index, f.form, seed, k, keep, ranges, report, digest if checksum else None,
                               gather)  # fmt: skip
    else:
        parts = _scan_plain(src, f.index, f.form, seed, k, keep, f.size, workers, report,
                            digest if checksum else None, gather)  # fmt: skip
    return parts, f.size, digest[0] if digest else None


def _scan_plain(path: str, fi: int, form: str, seed: int, k: int, keep: int, size: int, workers: int,
                report: Callable[[int], None], digest: list[str] | None, gather: str) -> list[Partial]:  # fmt: skip
    if size <= IN_PROCESS_MAX_BYTES:
        # Read, not mapped: a file cut short while mapped ends the process with SIGBUS (exit 135, no
        # message), and this is the command's own process. Read, it comes up short, and the stamp
        # check after the scan names the file as changed.
        return [scan_stream(path, fi, form, seed, k, keep, report, gather)]
    ranges = line_ranges(path, size, workers if size >= PARALLEL_MIN_BYTES else 1)
    return _scan_parallel(path, fi, form, seed, k, keep, ranges, report, digest, gather)


def _scan_parallel(path: str, fi: int, form: str, seed: int, k: int, keep: int, ranges: list[tuple[int, int]],
                   report: Callable[[int], None], digest: list[str] | None, gather: str) -> list[Partial]:  # fmt: skip
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else "spawn")
    counters = ctx.Array("q", len(ranges), lock=False)
    tasks = [(path, fi, form, seed, k, keep, a, b, i, True, gather) for i, (a, b) in enumerate(ranges)]
    others = live_children(ctx)
    pool = ctx.Pool(len(ranges), initializer=init_worker, initargs=(counters, ctx.Lock()))
    workers = started_workers(ctx, others)  # watched: a Pool waits for a dead worker's task for ever
    hasher = None
    if digest is not None:
        # This process only waits for the workers: hash the file meanwhile (started after the fork).
        hasher = threading.Thread(target=lambda: digest.append(file_sha256(path)), daemon=True)
        hasher.start()
    try:
        result = pool.map_async(scan_range, tasks, chunksize=1)
        while not result.ready():
            result.wait(0.2)
            report(sum(counters))
            if not result.ready():
                check_workers(ctx, workers)
        parts = result.get()
        pool.close()
    except BaseException:
        pool.terminate()
        pool.join()
        remove_leftovers(os.getpid())
        raise
    finally:
        pool.join()
        if hasher is not None:
            hasher.join()
    return parts


def line_ranges(path: str, size: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` ranges of about equal size of a local file, each ending just after a newline (or at the end).

    The newline after each guess is found by reading, not through a map: this runs in the command's
    own process, which a file cut short under a map would end with SIGBUS.
    """
    if parts < 2:
        return [(0, size)] if size else []
    with open(path, "rb") as fh:

        def read(lo: int, hi: int) -> bytes:
            fh.seek(lo)
            return fh.read(hi - lo)

        return _cut_at_newlines(read, size, parts, _NEWLINE_WINDOW)


def url_line_ranges(url: str, size: int, parts: int) -> list[tuple[int, int]]:
    """:func:`line_ranges` for a URL's object: the newline after each guess found by small range reads."""
    from ..storage import read_range

    return _cut_at_newlines(lambda lo, hi: read_range(url, lo, hi), size, parts, _PROBE)


# bytes read at a time to find the newline that ends a range of a URL's object
_PROBE = 256 * 1024


def _cut_at_newlines(read: Callable[[int, int], bytes], size: int, parts: int, window: int) -> list[tuple[int, int]]:
    """The ranges of :func:`line_ranges`, the newline after each guess found by ``read(lo, hi)`` calls
    of at most ``window`` bytes."""
    bounds = [0]
    for k in range(1, parts):
        pos = max(size * k // parts, bounds[-1])
        nl = -1
        while nl < 0 and pos < size:
            data = read(pos, min(size, pos + window))
            if not data:  # cut short: the stamp check after the scan names the file
                break
            found = data.find(b"\n")
            nl = pos + found if found >= 0 else -1
            pos += len(data)
        if nl < 0:
            break
        if nl + 1 > bounds[-1]:
            bounds.append(nl + 1)
    bounds.append(size)
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def finish_scan(m: Merger, files: list[FileInfo], seed: int, gather: str) -> ScanResult:
    """The whole-file checks on the merged columns, and the :class:`ScanResult`."""
    rows, media, classes = m.columns()
    whole_file_checks(m, files, rows)
    for name in SCAN_ONLY_COLUMNS:
        del rows[name]
    narrow_offsets(rows)
    fold_constant_columns(rows)
    sample = chosen_rows(m.sample, m.k)
    order = {f.path: i for i, f in enumerate(files)}
    problems = sorted(m.problems, key=lambda p: (order.get(p.path, 0), p.line))
    return ScanResult(
        files=files, rows=rows, media=media, problems=problems, problem_counts=dict(m.counts),
        sample=sample, seed=seed, models=m.models, mime_types=m.mimes, cached_contents=m.caches,
        text_classes=classes if gather == "classes" else None, text_figures=gather != "checks",
    )  # fmt: skip
