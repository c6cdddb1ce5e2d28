#!/usr/bin/env python
"""``estimate`` against ``validate`` against a bare msgspec parse, as ratios in one run.

Usage::

    python bench/bench_estimate.py FILE [FILE...] [--repeat 3] [--exact] [--model gemini-2.5-flash]

For each file (page cache warm: read once first), the median of ``--repeat`` runs of:

* **bare**: one process decodes every line with untyped ``msgspec.json.decode`` on ``mmap`` slices
  (the floor; ``bench_validate.bare_parse``);
* **validate**: ``python -m batchcost validate FILE --quiet --format json`` as a subprocess;
* **estimate**: ``python -m batchcost estimate FILE --model M --offline --quiet --format json``;
* with ``--exact``, ``estimate --exact`` too, as MB of countable text per second.

Subprocesses run with this tree's ``src/`` first on ``PYTHONPATH`` and are timed start-up included.
Memory is measured in one more run of each, which is not timed (reading a process's memory map
slows it down). It is the peak, sampled every 20 ms with psutil, of the RSS summed over the subprocess and all its
descendants (worker processes included), and of its anonymous part (RSS minus shared/file pages:
an ``mmap``-ed file's pages count in RSS but are page cache), and of the PSS summed the same way
(proportional set size: a page shared by the parent and its forked workers counts once in the sum,
where the RSS sum counts it in every process that maps it). The memory target is read on both: the
RSS sum is the figure an outside observer sees first, the PSS sum what the process tree really holds.
CPU seconds are the subprocess tree's
user+system time (``wait4`` of the child, which includes the workers it waited for): on a busy
machine they vary less than wall time.

Targets (issue 14): validate/bare <= 1.5, estimate/validate <= 2.0, estimate peak <= 250 MB,
``--exact`` >= 10 MB/s of text on 2 cores. The script prints figures and always exits 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_validate import bare_parse, child_env, warm_page_cache

RATIO_VALIDATE = 1.5
RATIO_ESTIMATE = 2.0
PEAK_MB = 250.0
EXACT_MBPS = 10.0


@dataclass
class Run:
    seconds: float
    cpu: float
    peak_mb: float
    peak_anon_mb: float
    peak_pss_mb: float
    code: int
    stdout: bytes
    stderr: bytes


class Sampler(threading.Thread):
    """Peak summed RSS (and anonymous RSS) of a process tree, sampled with psutil."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.stop = threading.Event()
        self.peak = self.peak_anon = self.peak_pss = 0

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.is_set():
            rss = anon = pss = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                procs = [root]
            for p in procs:
                try:
                    m = p.memory_info()
                except psutil.Error:
                    continue
                rss += m.rss
                anon += m.rss - getattr(m, "shared", 0)
                try:
                    pss += getattr(p.memory_full_info(), "pss", m.rss)  # smaps_rollup: Linux only
                except psutil.Error:
                    pss += m.rss
            self.peak = max(self.peak, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_anon = max(self.peak_anon, anon)
            self.stop.wait(self.interval)


def run(argv: list[str], sample: bool = False) -> Run:
    """One run of ``argv``: timed, or (``sample``) with its memory sampled (and then not a fair time)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env())
        sampler = Sampler(proc.pid)
        if sample:
            sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sample:
            sampler.stop.set()
            sampler.join()
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_utime + usage.ru_stime, sampler.peak / 1e6, sampler.peak_anon / 1e6,
                   sampler.peak_pss / 1e6, proc.returncode, out.read(), err.read())  # fmt: skip


def median_run(argv: list[str], repeat: int) -> tuple[Run, list[Run]]:
    """The median of ``repeat`` timed runs, and every run: those and one more with memory sampled.

    The sampler reads each process's ``/proc/PID/smaps`` every 20 ms, which holds the kernel's lock on
    the process's memory map: page faults of a process scanning a 2 GB mapping wait on it, and the
    sampler's own thread takes CPU from a 2-core machine. So the memory run is never a timed one.
    """
    timed = [run(argv) for _ in range(repeat)]
    by_time = sorted(timed, key=lambda r: r.seconds)
    return by_time[len(by_time) // 2], [*timed, run(argv, sample=True)]


def show(name: str, med: Run, runs: list[Run], mb: float) -> None:
    times = ", ".join(f"{r.seconds:.2f}" for r in runs if not r.peak_mb)
    print(
        f"  {name:<9} {med.seconds:6.2f} s median of [{times}]  cpu {med.cpu:6.2f} s  "
        f"{mb / med.seconds:7.0f} MB/s  peak {max(r.peak_mb for r in runs):5.0f} MB "
        f"(anonymous {max(r.peak_anon_mb for r in runs):4.0f} MB, pss {max(r.peak_pss_mb for r in runs):4.0f} MB)  "
        f"exit {med.code}"
    )
    if med.code not in (0, 1):
        print("    stderr: " + med.stderr.decode(errors="replace").strip()[-600:])


def tokens_line(stdout: bytes) -> str:
    try:
        doc = msgspec.json.decode(stdout)
        t = doc["tokens"]
        text = t["input"]["by_modality"]["text"]
        half = (text["high"] - text["low"]) / 2 / max(1, text["expected"]) * 100
        return (
            f"method {t.get('method')}, text tokens {text['expected']:,} ±{half:.3f}% "
            f"[{text['low']:,}, {text['high']:,}], {t.get('counted_exactly'):,} requests counted exactly"
        )
    except (msgspec.DecodeError, KeyError, TypeError):
        return stdout.decode(errors="replace")[:300]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default="gemini-2.5-flash")
    ap.add_argument("--exact", action="store_true", help="also time estimate --exact")
    ap.add_argument("--skip-bare", action="store_true")
    args = ap.parse_args(argv)
    py = sys.executable
    print(f"machine  {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}")
    for path in args.files:
        if not path.is_file():
            print(f"{path}: not a file (make it with bench/make_batch_file.py or bench/make_mix_file.py)")
            continue
        mb = path.stat().st_size / 1e6
        warm_page_cache(path)
        warm_page_cache(path)
        print(f"{path}  {mb:,.1f} MB")
        bare = None
        if not args.skip_bare:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                lines, _bad = bare_parse(path)
                times.append(time.perf_counter() - t0)
            bare = statistics.median(times)
            print(f"  bare      {bare:6.2f} s median of [{', '.join(f'{t:.2f}' for t in times)}]  {lines:,} lines  "
                  f"{mb / bare:7.0f} MB/s")  # fmt: skip
        v, vruns = median_run([py, "-m", "batchcost", "validate", str(path), "--quiet", "--format", "json"],
                              args.repeat)  # fmt: skip
        show("validate", v, vruns, mb)
        base = [py, "-m", "batchcost", "estimate", str(path), "--model", args.model, "--offline", "--quiet"]
        e, eruns = median_run([*base, "--format", "json"], args.repeat)
        show("estimate", e, eruns, mb)
        print(f"    {tokens_line(e.stdout)}")
        print("  ratios")
        if bare:
            r = v.seconds / bare
            print(
                f"    validate/bare      {r:5.2f}  (target <= {RATIO_VALIDATE}: {'met' if r <= RATIO_VALIDATE else 'NOT met'})"
            )
        r = e.seconds / v.seconds
        print(f"    estimate/validate  {r:5.2f}  (target <= {RATIO_ESTIMATE}: {'met' if r <= RATIO_ESTIMATE else 'NOT met'}); "
              f"cpu {e.cpu / max(v.cpu, 1e-9):.2f}")  # fmt: skip
        peak = max(x.peak_mb for x in eruns)
        pss = max(x.peak_pss_mb for x in eruns)
        print(
            f"    estimate peak      {peak:5.0f} MB RSS sum (target <= {PEAK_MB:g}: {'met' if peak <= PEAK_MB else 'NOT met'}), "
            f"{pss:.0f} MB PSS sum ({'met' if pss <= PEAK_MB else 'NOT met'})"
        )
        if args.exact:
            x = run([*base, "--exact", "--format", "json"])
            show("--exact", x, [x, run([*base, "--exact", "--format", "json"], sample=True)], mb)
            print(f"    {tokens_line(x.stdout)}")
            text_mb = _text_mb(path)
            rate = text_mb / x.seconds
            print(f"    --exact            {rate:5.1f} MB of text/s ({text_mb:,.0f} MB of text; target >= {EXACT_MBPS:g}: "
                  f"{'met' if rate >= EXACT_MBPS else 'NOT met'})")  # fmt: skip
    return 0


def _text_mb(path: Path) -> float:
    """MB of countable text in the file (from a scan in this process)."""
    src = Path(__file__).resolve().parent.parent / "src"
    sys.path.insert(0, str(src))
    from batchcost.batchfile import scan

    rows = scan(path).rows
    return float(rows["text_bytes"][rows["usable"].astype(bool)].sum()) / 1e6


if __name__ == "__main__":
    sys.exit(main())
