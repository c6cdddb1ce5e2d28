"""Exact counting speed on one long line against the same text as short lines.

A single-line prompt of tens of MB must count in linear time: the counter cuts it at exact points
(newline runs, word-separating spaces) and encodes the pieces in parallel. Texts with no such point
(base64, one repeated character) go to SentencePiece whole; their speed is printed too.

    python bench/bench_long_lines.py                 # 0.5, 2, 8, 50 MB
    python bench/bench_long_lines.py --sizes 1 4
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import time
from pathlib import Path

from batchcost.tokens.gemma3 import LocalCounter

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "gemma3-token-counts.jsonl"


def prose_source() -> str:
    with GOLDEN.open(encoding="utf-8") as handle:
        texts = [json.loads(line) for line in handle]
    return " ".join(str(t["text"]) for t in texts if t["category"] != "edge")


def make(kind: str, size: int, prose: str, rng: random.Random) -> str:
    if kind == "prose":  # golden texts with newlines turned into spaces: one line, cut at spaces
        text = prose.replace("\n", " ")
    elif kind == "code":  # golden texts as they are: cut at newline runs
        text = prose
    elif kind == "base64":  # no space, no newline: encoded whole
        return base64.b64encode(rng.randbytes(size * 3 // 4 + 3)).decode()[:size]
    elif kind == "cjk":
        return "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(size // 3))
    else:
        raise ValueError(kind)
    while len(text) < size:
        text += " " + text
    return text[:size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=float, default=[0.5, 2, 8, 50], help="MB per line")
    parser.add_argument("--kinds", nargs="*", default=["prose", "code", "cjk", "base64"])
    args = parser.parse_args()
    counter = LocalCounter.load(offline=True, env={})
    prose = prose_source()
    rng = random.Random(1)
    print(f"{'text':8s} {'MB':>6s} {'one line':>12s} {'2 KB lines':>12s} {'tokens':>12s}")
    for kind in args.kinds:
        for mb in args.sizes:
            text = make(kind, int(mb * 1e6), prose, rng)
            size = len(text.encode()) / 1e6
            started = time.perf_counter()
            whole = counter.count_texts([text])[0]
            one = time.perf_counter() - started
            short = [text[i : i + 2000] for i in range(0, len(text), 2000)]
            started = time.perf_counter()
            counter.count_texts(short)
            many = time.perf_counter() - started
            print(f"{kind:8s} {size:6.1f} {size / one:7.1f} MB/s {size / many:7.1f} MB/s {whole:12,d}", flush=True)


if __name__ == "__main__":
    main()
