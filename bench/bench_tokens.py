"""Accuracy and speed of token counting on a batch file (prints figures; asserts nothing).

    python bench/bench_tokens.py FILE [--model gemini-2.5-flash] [--seeds 5]

Prints, for the exact local Gemma 3 counter:
  * ``--exact`` throughput: MB of countable text per second (target >= 10 MB/s on 2 cores);
  * the sampled estimate at the default settings for several seeds: its error against the exact total
    (target within 0.5% on files of >= 10,000 requests), its 95% interval, and how many requests it
    counted and how long it took.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from batchcost.batchfile import scan
from batchcost.tokens.count import count_tokens
from batchcost.tokens.gemma3 import LocalCounter


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--model", default="gemini-2.5-flash")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args(argv)

    counter = LocalCounter.load(offline=True, env=os.environ, num_threads=min(2, os.cpu_count() or 1))
    t0 = time.perf_counter()
    result = scan(args.file, sample_size=2000, seed=0)
    t_scan = time.perf_counter() - t0
    rows = result.rows
    text_bytes = int(rows["text_bytes"][rows["usable"].astype(bool)].sum())
    print(f"file     {args.file}: {result.requests:,} requests, {result.bytes / 1e6:,.1f} MB, "
          f"{text_bytes / 1e6:,.1f} MB of countable text; scan {t_scan:.2f} s")  # fmt: skip

    t0 = time.perf_counter()
    exact = count_tokens(result, model=args.model, counter=counter, exact=True)
    t_exact = time.perf_counter() - t0
    truth = exact.by_modality["text"].expected
    print(f"exact    {truth:,} text tokens in {t_exact:.2f} s: {text_bytes / 1e6 / t_exact:.1f} MB/s of text, "
          f"{truth / t_exact / 1e6:.2f} M tokens/s (target >= 10 MB/s)")  # fmt: skip

    for seed in range(args.seeds):
        r = scan(args.file, sample_size=2000, seed=seed)
        t0 = time.perf_counter()
        est = count_tokens(r, model=args.model, counter=counter)
        dt = time.perf_counter() - t0
        text = est.by_modality["text"]
        err = (text.expected - truth) / truth * 100
        half = (text.high - text.low) / 2 / text.expected * 100
        inside = text.low <= truth <= text.high
        print(f"sampled  seed {seed}: error {err:+.3f}% (target within 0.5%), 95% interval ±{half:.3f}% "
              f"{'covers' if inside else 'MISSES'} the exact total; {len(est.counted_rows):,} requests counted "
              f"in {dt:.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
