#!/usr/bin/env python
"""Figures of ``--engine dask`` on this machine, for the extrapolation in docs/scale.md.

Usage::

    python bench/bench_dask.py                              # makes 4 x 64 MB files in a temporary folder
    python bench/bench_dask.py FILE... --workers 1 2        # your files; clusters of 1 and 2 workers

What it prints (page cache warm: every file is read once before any timing; median of --repeat):

* scan: wall seconds of ``DaskEngine.scan`` on a LocalCluster of N single-threaded worker
  processes, and MB/s per worker (10**6 bytes); the local engine's time for comparison;
* tokenize: ``count_rows`` of every usable request on the cluster (the ``--exact`` path), MB/s of
  request lines per worker and MB/s of text;
* merge: the driver's share, per file: the partials merged into one ``ScanResult`` (seconds per
  file, per million lines), and the bytes per line the merged columns hold;
* memory per worker: the peak RSS of each worker process (``ru_maxrss``) after the runs;
* scheduling: seconds per task of 1,000 no-op tasks submitted and gathered.

The machine is shared: the load average is printed with the figures. The script asserts nothing
and exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))


def _median_time(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _warm(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as fh:
            while fh.read(16 << 20):
                pass


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _noop(i: int) -> int:
    return i


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="batch files (default: 4 x --size-mb generated ones)")
    ap.add_argument("--size-mb", type=float, default=64.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--range-mb", type=float, default=256.0, help="range size of the Dask scan (default 256)")
    args = ap.parse_args()

    import numpy as np

    from batchcost.batchfile import scan
    from batchcost.batchfile.scanner import merge_files, plan_files
    from batchcost.engine import DaskEngine
    from batchcost.engine.scan_tasks import file_ranges, scan_task
    from batchcost.tokens import choose_counter

    tmp = None
    files = list(args.files)
    if not files:
        tmp = tempfile.TemporaryDirectory(prefix="bench-dask-")
        for seed in range(1, 5):
            out = Path(tmp.name) / f"part-{seed}.jsonl"
            subprocess.run(
                [sys.executable, str(REPO / "bench" / "make_batch_file.py"), str(out), "--size-mb", str(args.size_mb),
                 "--seed", str(seed)], check=True, capture_output=True,
            )  # fmt: skip
            files.append(str(out))
    _warm(files)
    total = sum(os.path.getsize(p) for p in files)
    print(f"files: {len(files)}, {total / 1e6:,.0f} MB; load average before: {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} cores")  # fmt: skip

    t_local, local = _median_time(lambda: scan(files, sample_size=2000, seed=0, text_classes=True), args.repeat)
    lines = local.lines  # type: ignore[attr-defined]
    print(f"local engine scan: {t_local:.2f} s, {total / 1e6 / t_local:,.0f} MB/s ({lines:,} lines)")
    counter = choose_counter("auto", model="gemini-2.5-flash", env=dict(os.environ)).counter
    usable = np.flatnonzero(local.rows["usable"]).tolist()  # type: ignore[attr-defined]
    line_bytes = int(local.rows["nbytes"][usable].sum())  # type: ignore[attr-defined]
    text_bytes = int(local.rows["text_bytes"][usable].sum())  # type: ignore[attr-defined]

    for n in args.workers:
        with DaskEngine(workers=n, range_bytes=int(args.range_mb * 1e6)) as engine:
            engine.scan(files[:1], sample_size=10)  # workers import the scan code once, outside the timing
            t_scan, _ = _median_time(lambda: engine.scan(files, sample_size=2000, seed=0, text_classes=True),
                                     args.repeat)  # fmt: skip
            print(f"dask scan, {n} worker(s): {t_scan:.2f} s, {total / 1e6 / t_scan:,.0f} MB/s, "
                  f"{total / 1e6 / t_scan / n:,.0f} MB/s per worker")  # fmt: skip
            engine.count_rows(local, counter, usable[:50], None)  # type: ignore[arg-type]  # ship the tokenizer
            t_tok, _ = _median_time(lambda: engine.count_rows(local, counter, usable, None), 1)  # type: ignore[arg-type]
            print(f"dask tokenize (every request), {n} worker(s): {t_tok:.2f} s, "
                  f"{line_bytes / 1e6 / t_tok / n:,.1f} MB/s of lines and {text_bytes / 1e6 / t_tok / n:,.1f} MB/s "
                  "of text per worker")  # fmt: skip
            rss = engine.client.run(_worker_peak_rss)
            print(f"worker peak RSS: {', '.join(f'{v:,.0f} MB' for v in rss.values())}")
            t0 = time.perf_counter()
            futs = [engine.submit(_noop, i) for i in range(1000)]
            for _ in engine.results(futs, str):
                pass
            per_task = (time.perf_counter() - t0) / 1000
            print(f"scheduling, {n} worker(s): {per_task * 1e3:.2f} ms per no-op task (submit to result)")

    # The merge alone, in this process: partials scanned beforehand (in this process too), then merged.
    tasks = plan_files(files)
    parts = {}
    for f in tasks:
        got = []
        for a, b in file_ranges(f.path, f.size, int(args.range_mb * 1e6)):
            part, _ = scan_task((f.index, False, f.path, f.form, 0, 2000, 1000, a, b, True))
            part.spill_all()
            got.append(part)
        parts[f.index] = got
    before = _peak_rss_mb()
    t0 = time.perf_counter()
    merged = merge_files(tasks, lambda f, report: (parts[f.index], f.size, None), sample_size=2000, seed=0,
                         keep_problems=1000, text_classes=True)  # fmt: skip
    t_merge = time.perf_counter() - t0
    col_bytes = sum(a.nbytes for a in merged.rows.values()) + sum(a.nbytes for a in merged.media.values())
    print(f"merge in the driver: {t_merge / len(files) * 1e3:,.0f} ms per file, "
          f"{t_merge / (merged.lines / 1e6):.2f} s per million lines; merged columns {col_bytes / merged.lines:.0f} "
          f"bytes per line; driver peak RSS {before:,.0f} -> {_peak_rss_mb():,.0f} MB")  # fmt: skip
    parts.clear()
    del merged

    # The driver's memory through a whole estimate (scan + counting on the cluster, pricing and shards here).
    from batchcost.planner.estimate import EstimateOptions, estimate

    with DaskEngine(workers=max(args.workers), range_bytes=int(args.range_mb * 1e6)) as engine:
        before = _peak_rss_mb()
        t0 = time.perf_counter()
        estimate(files, model="gemini-2.5-flash", options=EstimateOptions(engine=engine, output_tokens=300))
        t_est = time.perf_counter() - t0
        est_mb = _peak_rss_mb() - before
    print(f"estimate on dask, {max(args.workers)} worker(s): {t_est:.1f} s; driver peak RSS grew {est_mb:,.0f} MB "
          f"(a floor: the peak so far was {before:,.0f} MB)")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"mean line: {total / lines:,.0f} bytes")
    if tmp is not None:
        tmp.cleanup()
    return 0


def _worker_peak_rss() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main())
