"""Exact counting speed on one long line against the same text as short lines.

A single-line prompt of tens of MB must count in linear time, about as fast as the same text cut into
short lines: the counter cuts it at exact places (see ``batchcost.tokens.gemma3``) and encodes the
pieces in batches. Kinds of text (all without a newline):

    prose    the golden texts with newlines as spaces
    nospace  the golden texts with all whitespace removed (Latin, Cyrillic, CJK, code, JSON)
    code     the golden code and JSON texts with each newline written as the two characters \\n
    cjk      the golden Chinese and Japanese texts with whitespace removed
    base64   random bytes in base64 (no space, no newline)
    digits   random decimal digits
    repeat   one character repeated ("a")

For each kind and size it prints MB/s for the one line and for the same text as 2,000-character lines,
the token count and, up to 2 MB, whether it equals SentencePiece's count of the uncut line (the tests
prove the equality; this is a spot check). Sizes are in MB of UTF-8.

    python bench/bench_long_lines.py                      # 0.5, 1, 2, 8, 50 MB, every kind
    python bench/bench_long_lines.py --sizes 1 4 --kinds base64 repeat --threads 2
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import time
from pathlib import Path

from batchcost.tokens.gemma3 import LocalCounter

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "gemma3-token-counts.jsonl"
KINDS = ("prose", "nospace", "code", "cjk", "base64", "digits", "repeat")


def golden_texts() -> list[dict[str, str]]:
    with GOLDEN.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def source(kind: str, rows: list[dict[str, str]], rng: random.Random) -> str:
    """About 1 MB of text of one kind (repeated to the size asked)."""
    texts = [row["text"] for row in rows if row["category"] != "edge"]
    if kind == "prose":
        return " ".join(texts).replace("\n", " ")
    if kind == "nospace":
        return re.sub(r"\s+", "", "".join(texts))
    if kind == "code":
        code = [row["text"] for row in rows if row["category"] in ("py_blocks", "doc_python", "json_small", "doc_json")]
        return "\\n".join(code).replace("\n", "\\n")
    if kind == "cjk":
        return re.sub(r"\s+", "", "".join(row["text"] for row in rows if "cjk" in row["category"]))
    if kind == "base64":
        return base64.b64encode(rng.randbytes(3 << 20)).decode()
    if kind == "digits":
        return "".join(rng.choices("0123456789", k=1 << 20))
    if kind == "repeat":
        return "a" * (1 << 20)
    raise ValueError(kind)


def make(text: str, size: int) -> str:
    """``text`` repeated and cut to ``size`` bytes of UTF-8 (about; whole characters)."""
    per_char = len(text.encode()) / len(text)
    chars = int(size / per_char)
    return (text * (chars // len(text) + 1))[:chars]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", type=float, default=[0.5, 1, 2, 8, 50], help="MB per line")
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=KINDS)
    parser.add_argument("--threads", type=int, default=1, help="SentencePiece threads (the CLI's scan uses 1)")
    args = parser.parse_args()
    counter = LocalCounter.load(offline=True, env={}, num_threads=args.threads)
    started = time.perf_counter()
    counter.count_texts(["x " * 3000])  # derive the cut rules once, outside the timings
    print(f"cut rules derived in {time.perf_counter() - started:.2f} s; threads {args.threads}")
    rows = golden_texts()
    rng = random.Random(1)
    print(f"{'text':8s} {'MB':>6s} {'one line':>12s} {'2 KB lines':>12s} {'tokens':>13s}  uncut")
    for kind in args.kinds:
        base = source(kind, rows, rng)
        for mb in args.sizes:
            text = make(base, int(mb * 1e6))
            size = len(text.encode()) / 1e6
            started = time.perf_counter()
            whole = counter.count_texts([text])[0]
            one = time.perf_counter() - started
            short = [text[i : i + 2000] for i in range(0, len(text), 2000)]
            started = time.perf_counter()
            counter.count_texts(short)
            many = time.perf_counter() - started
            del short
            uncut = ""
            if size <= 2:
                uncut = "equal" if len(counter._processor.encode(text)) == whole else "DIFFERS"
            print(
                f"{kind:8s} {size:6.1f} {size / one:7.1f} MB/s {size / many:7.1f} MB/s {whole:13,d}  {uncut}",
                flush=True,
            )


if __name__ == "__main__":
    main()
