#!/usr/bin/env python
"""Accuracy of the sampled token estimate on a batch file over many seeds (prints figures; asserts nothing).

Usage::

    PYTHONPATH=src python bench/bench_accuracy.py FILE [FILE...] [--seeds 10] [--model gemini-2.5-flash]

For each file, the exact text tokens of every request are counted once with the local Gemma 3
tokenizer (``--exact``) and kept beside the file (``FILE.text-tokens.npy``, reused while the file's
size and time are unchanged). Then, for each seed, the file is scanned as ``batchcost estimate`` scans
it (with byte classes) and the text tokens are estimated at the default settings. Printed per seed: the
error of the expected total against the exact total, the 95% interval's half-width, whether it covers
the exact total, the requests and bytes of text tokenized, and the seconds taken; then the worst error,
the coverage and the largest sample.

Targets (issue 14): every expected total within 0.5% of the exact one; the interval covering the exact
total in at least 93% of seeds; at most about 20 MB of text tokenized.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from batchcost.batchfile import scan
from batchcost.planner.estimate import price_tier_threshold
from batchcost.pricing import PriceBook
from batchcost.tokens.count import count_tokens
from batchcost.tokens.gemma3 import LocalCounter


def exact_counts(path: Path, counter: LocalCounter, model: str) -> np.ndarray:
    cache = Path(str(path) + ".text-tokens.npy")
    stamp = Path(str(path) + ".text-tokens.stamp")
    st = path.stat()
    key = f"{st.st_size} {st.st_mtime_ns}"
    if cache.exists() and stamp.exists() and stamp.read_text() == key:
        return np.load(cache)
    t0 = time.perf_counter()
    result = scan(path)
    est = count_tokens(result, model=model, counter=counter, exact=True)
    per = est.per_request_by_modality["text"]
    rows = result.rows
    mb = float(rows["text_bytes"][rows["usable"].astype(bool)].sum()) / 1e6
    dt = time.perf_counter() - t0
    print(f"  exact    {int(per.sum()):,} text tokens, {mb:,.0f} MB of text, scan and count in {dt:.1f} s "
          f"({mb / dt:.1f} MB/s)")  # fmt: skip
    np.save(cache, per)
    stamp.write_text(key)
    return per


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--model", default="gemini-2.5-flash")
    args = ap.parse_args(argv)
    counter = LocalCounter.load(offline=True, env=os.environ, num_threads=min(2, os.cpu_count() or 1))
    # as `estimate` does: requests that could reach the model's prompt-size tier are counted whole
    tier = price_tier_threshold(PriceBook.load(), args.model, datetime.date.today())
    for path in args.files:
        print(f"{path}")
        per = exact_counts(path, counter, args.model)
        truth = int(per.sum())
        errors, covered, sizes = [], 0, []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.perf_counter()
            result = scan(path, sample_size=2000, seed=seed, text_classes=True)
            t1 = time.perf_counter()
            est = count_tokens(result, model=args.model, counter=counter, seed=seed, tier_threshold=tier)
            t2 = time.perf_counter()
            text = est.by_modality["text"]
            err = (text.expected - truth) / truth * 100
            half = (text.high - text.low) / 2 / max(1, text.expected) * 100
            inside = text.low <= truth <= text.high
            counted = est.counted_rows
            mb = float(result.rows["text_bytes"][counted].sum()) / 1e6
            errors.append(abs(err))
            covered += inside
            sizes.append(mb)
            print(f"  seed {seed:3d}  error {err:+.3f}%  95% interval ±{half:.3f}% {'covers' if inside else 'MISSES'}  "
                  f"{len(counted):,} requests, {mb:.1f} MB of text tokenized  scan {t1 - t0:.1f} s, "
                  f"estimate {t2 - t1:.1f} s")  # fmt: skip
        n = len(errors)
        print(f"  summary  {n} seeds: worst error {max(errors):.3f}% (target <= 0.5%), mean |error| "
              f"{sum(errors) / n:.3f}%, coverage {covered}/{n} = {covered / n:.0%} (target >= 93%), "
              f"largest sample {max(sizes):.1f} MB (target about 20 MB)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
