"""The scan as Dask tasks: one per gzip file or per byte range of a plain file, merged here in file order.

A plain file is cut into ranges of about the engine's ``range_bytes``, each ending just after a
newline (``batchfile.scanner.line_ranges``, as the local engine cuts a file across its processes).
A worker scans its range with ``batchfile.scan_worker`` and sends the
:class:`~batchcost.batchfile.scan_partial.Partial` back in memory; this process puts each one in a
spill file of its own as it arrives (memory holds one copy of the columns, not two), and
``batchfile.scanner.merge_files`` merges them in file order with the same code as the local scan.
The sample is bottom-k on each line's byte offset, so it is the same however the files were cut.

A URL (``gs://``, ``s3://``, ``az://``, ``https://``) is cut the same way, the newline after each
cut found by small range reads (``scanner.url_line_ranges``); its worker reads its range in large
blocks fetched ahead in parallel (``scan_worker.scan_range``), with the credentials of its own
environment (never a ``--cache-dir`` copy, which is on this machine). A gzip file, local or not, is
one task (a deflate stream is read from its start).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..batchfile.result import file_sha256
from ..batchfile.scan_partial import Partial
from ..batchfile.scan_worker import scan_gzip, scan_range
from ..batchfile.scanner import FileParts, FileTask, gather_of, line_ranges, merge_files, plan_files, url_line_ranges
from ..storage.locations import is_url

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from ..batchfile.scanner import FileLimits, Progress
    from .runner import TaskRunner

# One task: (file index, whether gzip, path, form, seed, sample size, problems kept, start, end, what to
# gather: see batchfile.line_check.GATHER)
ScanTask = tuple[int, bool, str, str, int, int, int, int, int, str]


def scan_task(task: ScanTask) -> tuple[Partial, int]:
    """On a worker: scan one range (or one gzip file); the partial in memory and the bytes of data it covered."""
    fi, compressed, path, form, seed, k, keep, start, end, gather = task
    if compressed:
        part, data_size = scan_gzip(path, fi, form, seed, k, keep, lambda done: None, gather)
    else:  # a URL's range is read ahead in parallel threads (``batchcost.storage``), a local one mapped
        part = scan_range((path, fi, form, seed, k, keep, start, end, 0, False, gather))
        data_size = end - start
    part.in_memory()  # its spill file would stay on the worker
    return part, data_size


def hash_task(path: str) -> str:
    """On a worker: the file's SHA-256 (``FileInfo.sha256``)."""
    return file_sha256(path)


def file_ranges(path: str, size: int, range_bytes: int) -> list[tuple[int, int]]:
    """A plain file's ranges of about ``range_bytes``, each ending just after a newline (or at the end)."""
    parts = max(1, math.ceil(size / range_bytes))
    if parts == 1:
        return [(0, size)]
    if is_url(path):
        return url_line_ranges(path, size, parts)
    return line_ranges(path, size, parts)


def scan_on(
    engine: TaskRunner,
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    sample_size: int,
    seed: int,
    keep_problems: int,
    limits: FileLimits | None,
    progress: Progress | None,
    checksum: bool,
    text_classes: bool,
    text_figures: bool = True,
) -> ScanResult:
    """:func:`batchcost.batchfile.scan` with the ranges scanned on ``engine``'s workers."""
    gather = gather_of(text_classes, text_figures)
    files = plan_files(paths)
    tasks: list[ScanTask] = []
    owner: list[int] = []  # the file of each task
    for f in files:
        if not f.size:
            continue
        spans = [(0, f.size)] if f.compressed else file_ranges(f.path, f.size, engine.range_bytes)
        for a, b in spans:
            tasks.append((f.index, f.compressed, f.path, f.form, seed, sample_size, keep_problems, a, b, gather))
            owner.append(f.index)
    collector = _Collector(engine, files, tasks, owner, checksum, progress)
    try:
        return merge_files(
            files, collector.parts_of, sample_size=sample_size, seed=seed, keep_problems=keep_problems,
            limits=limits, checksum=checksum, gather=gather,
        )  # fmt: skip
    finally:
        collector.discard()


class _Collector:
    """Every task submitted at once; results taken as they end, handed to the merge file by file."""

    def __init__(self, engine: TaskRunner, files: list[FileTask], tasks: list[ScanTask], owner: list[int],
                 checksum: bool, progress: Progress | None) -> None:  # fmt: skip
        self.files = files
        self.tasks = tasks
        self.owner = owner
        self.progress = progress
        self.total = sum(f.size for f in files)
        self.done_bytes = 0
        futures = [engine.submit(scan_task, t) for t in tasks]
        self.n_scans = len(futures)
        self.hashed = [f for f in files if checksum and f.size]
        futures += [engine.submit(hash_task, f.path) for f in self.hashed]
        self.parts: dict[int, tuple[Partial, int]] = {}
        self.digests: dict[int, str] = {}
        self.waiting = {fi: owner.count(fi) for fi in set(owner)}
        self.stream: Iterator[tuple[int, Any]] = engine.results(futures, self.describe)

    def describe(self, i: int) -> str:
        if i >= self.n_scans:
            return f"hashing {self.hashed[i - self.n_scans].path}"
        _fi, compressed, path, *_rest, start, end, _gather = self.tasks[i]
        return f"scanning {path}" if compressed else f"scanning {path} bytes {start:,}-{end:,}"

    def parts_of(self, f: FileTask, report: Callable[[int], None]) -> FileParts:
        """Wait for the file's tasks (and its hash), taking any other task that ends meanwhile."""
        while self.waiting.get(f.index, 0) or (f in self.hashed and f.index not in self.digests):
            i, value = next(self.stream)
            if i >= self.n_scans:
                self.digests[self.hashed[i - self.n_scans].index] = value
                continue
            part, data_size = value
            part.owner = os.getpid()
            part.spill_all()  # into this process's spill file: the columns leave memory until merged
            self.parts[i] = (part, data_size)
            self.waiting[self.owner[i]] -= 1
            t = self.tasks[i]
            self.done_bytes += self.files[t[0]].size if t[1] else t[8] - t[7]
            if self.progress is not None:
                self.progress(self.done_bytes, self.total)
        mine = sorted(i for i in self.parts if self.owner[i] == f.index)
        taken = [self.parts.pop(i) for i in mine]
        data_size = sum(n for _, n in taken)
        return [p for p, _ in taken], data_size, self.digests.get(f.index)

    def discard(self) -> None:
        """Remove the spill files of partials never merged (after an error or Ctrl-C); stop the tasks."""
        for part, _ in self.parts.values():
            part.remove_spill()
        self.parts.clear()
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()
