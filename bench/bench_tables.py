"""Time and memory of the per-request table, ``plan.requests()`` (prints figures; asserts nothing).

    python bench/bench_tables.py FILE [--model gemini-2.5-flash] [--repeat 3] [--write DIR]

Targets for the 2 GB file of 1.68 M short prompts (``make_batch_file.py --lines-only-short``):
``plan.requests()`` built in <= 3 s with <= 400 MB of additional memory.

The plan is estimated once (``--output-tokens 300``, so every cost column is there). Each
measurement then runs in a forked child, so that its memory figure is the child's own peak:
``ru_maxrss`` of a forked child starts at the RSS it shares with the parent at the fork, so
``peak - RSS at the fork`` is what building the table added (its temporaries included), and the
estimate's own peak never shows. Printed per run: wall time, CPU time (user + system: on a busy
machine wall time waits for the CPU, CPU time does not), the key read-back alone, the peak
additional memory and the DataFrame's own size (``memory_usage(deep=True)``). With ``--write``
the table is also written as CSV and Parquet and timed.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

import batchcost


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def in_child(job: str, plan: batchcost.Plan, write_dir: str | None) -> None:
    """Run one measurement in a forked child and print its line (the child's memory is its own)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            base = rss_mb()
            t, c = time.perf_counter(), cpu_s()
            if job == "keys":
                from batchcost.batchfile.keys import read_keys

                keys = read_keys(plan.scan)
                size = f"{len(keys):,} keys"
            else:
                df = plan.requests()
                size = f"{len(df):,} rows x {len(df.columns)} columns, DataFrame {df.memory_usage(deep=True).sum() / 1e6:,.0f} MB"
            wall, cpu = time.perf_counter() - t, cpu_s() - c
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # KB on Linux
            line = f"{job:8s} {wall:6.2f} s wall, {cpu:6.2f} s CPU, +{peak - base:,.0f} MB peak; {size}"
            if job == "requests" and write_dir:
                from batchcost.table_files import write_table

                for name in ("requests.parquet", "requests.csv"):
                    path = os.path.join(write_dir, name)
                    t = time.perf_counter()
                    write_table(df, path)
                    line += f"\n         wrote {name}: {os.path.getsize(path) / 1e6:,.0f} MB in {time.perf_counter() - t:.2f} s"
            os.write(write, (line + "\n").encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        print(fh.read(), end="")
    os.waitpid(pid, 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--model", default="gemini-2.5-flash")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", metavar="DIR", help="also write the table as CSV and Parquet into DIR, timed")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    plan = batchcost.estimate(args.file, model=args.model, output_tokens=300, offline=True)
    print(f"estimate {time.perf_counter() - t:.1f} s: {plan.scan.lines:,} lines, {plan.scan.bytes / 1e9:.2f} GB, "
          f"tokens {plan.tokens.method}; RSS {rss_mb():,.0f} MB; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for _ in range(args.repeat):
        in_child("keys", plan, None)
    for i in range(args.repeat):
        in_child("requests", plan, args.write if i == 0 else None)
    print(f"load average at the end {os.getloadavg()[0]:.1f} (2 vCPUs: above ~1, other work shares the CPU)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
