"""The token counting as Dask tasks, with the tokenizer shipped to each worker once.

The counter (the Gemma 3 tokenizer: its model is a few MB, pickled as its bytes and rebuilt on the
other side) travels inside a :class:`CounterPlugin` registered on the cluster: the scheduler hands it
to every worker once, when it joins, and each task finds it in its worker's plugins. A task carries
only where its requests are: the file, and the byte offset and length of each line. The worker reads
those lines and counts them with ``tokens.count.count_rows``, the code the local engine runs, so the
counts are the same.

A plain file's rows are cut into tasks of a few MB of lines; a gzip file's rows are one task (its
lines can only be reached by reading the stream from the start).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import pickle
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from distributed import get_worker

from ..batchfile.result import FileInfo, ScanResult
from ..tokens.base import TextCounter
from ..tokens.count import count_rows
from .worker_plugins import CounterPlugin

if TYPE_CHECKING:
    from .runner import TaskRunner

# A task counts at least this many bytes of lines (fewer tasks: each costs the scheduler a few ms)...
MIN_TASK_BYTES = 1024 * 1024
# ...and at most this many (a worker's memory holds one task's lines and texts).
MAX_TASK_BYTES = 64 * 1024 * 1024


def count_task(plugin: str, info: FileInfo, offsets: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """On a worker: the text tokens by place of the lines at ``offsets`` (sorted) of one file."""
    counter = get_worker().plugins[plugin].counter
    n = len(offsets)
    scan = ScanResult(
        files=[dataclasses.replace(info, lines=n, first_row=0)],
        rows={"offset": offsets, "nbytes": nbytes, "file": np.zeros(n, np.uint16)},
        media={}, problems=[], problem_counts={}, sample=np.zeros(0, np.int64), seed=0,
    )  # fmt: skip
    return count_rows(scan, counter, list(range(n)))


def plugin_for(engine: TaskRunner, counter: TextCounter) -> str:
    """Register ``counter`` on the cluster (once per counter); the plugin's name, which tasks look it up by."""
    name = engine.registered.get(id(counter))
    if name is None:
        blob = pickle.dumps(counter)
        name = "batchcost-counter-" + hashlib.sha256(blob).hexdigest()[:16]
        engine.client.register_plugin(CounterPlugin(counter, name), name=name)
        engine.registered[id(counter)] = name
    return name


def count_on(
    engine: TaskRunner,
    scan: ScanResult,
    counter: TextCounter,
    rows: list[int],
    progress: Callable[[int, int], None] | None,
) -> np.ndarray:
    """Text tokens of ``rows`` (sorted, distinct) of ``scan`` by place, counted on ``engine``'s workers."""
    plugin = plugin_for(engine, counter)
    wanted = np.asarray(rows, np.int64)
    out = np.zeros((len(wanted), 3), np.int64)
    offsets, nbytes, file_of = scan.rows["offset"], scan.rows["nbytes"], scan.rows["file"]
    sizes = nbytes[wanted].astype(np.int64)
    per_task = int(min(MAX_TASK_BYTES, max(MIN_TASK_BYTES, sizes.sum() // (4 * engine.n_workers) + 1)))
    spans: list[tuple[int, int]] = []  # positions in ``wanted`` of each task's rows
    futures = []
    files = file_of[wanted]
    for fi in np.unique(files).tolist():
        info = scan.files[fi]
        lo, hi = (int(x) for x in np.searchsorted(files, [fi, fi + 1]))  # rows are sorted, so files are too
        cuts = [lo, hi] if info.compressed else _cuts(sizes, lo, hi, per_task)
        for a, b in itertools.pairwise(cuts):
            part = wanted[a:b]
            futures.append(engine.submit(count_task, plugin, info, offsets[part].copy(), nbytes[part].copy()))
            spans.append((a, b))
    done = 0
    for i, counts in engine.results(
        futures, lambda i: f"counting tokens in {scan.files[int(files[spans[i][0]])].path}"
    ):
        a, b = spans[i]
        out[a:b] = counts
        done += b - a
        if progress is not None:
            progress(done, len(wanted))
    return out


def _cuts(sizes: np.ndarray, lo: int, hi: int, per_task: int) -> list[int]:
    """Positions cutting ``sizes[lo:hi]`` into runs of about ``per_task`` bytes."""
    ends = np.cumsum(sizes[lo:hi])
    if not len(ends):
        return [lo, hi]
    marks = np.searchsorted(ends, np.arange(per_task, int(ends[-1]), per_task), side="right") + lo
    return sorted({lo, *(int(m) for m in marks if lo < m < hi), hi})
