#!/usr/bin/env python
"""Make the "300 MB mix": short messages in many scripts and a heavy tail of long documents.

The file the sampled token estimate finds hardest: almost every request is a short message, code
block or JSON snippet, but about 1.35% are documents of 25-100 KB (roughly 7k-40k tokens) that hold
most of the tokens, and their tokens per character vary with what they hold (prose in Latin,
Cyrillic, CJK or other scripts, Python, JSON, Markdown, tables of numbers, logs with hex ids, base64
text). Every text is cut from the golden texts of ``tests/data/gemma3-token-counts.jsonl`` (exact
Gemma 3 counts exist for them) or generated from the seed, so the file is the same bytes for the
same seed and size.

Mix by request: 98.65% short (one to three messages of the golden short categories or a slice of a
document, 8% with one of 3 shared system instructions, 6% multi-turn), 1.35% long documents, each
with a short instruction. Every line is a request the API accepts.

Usage::

    python bench/make_mix_file.py /tmp/mix-300mb.jsonl --size-mb 300 --seed 1

At 300 MB: about 245k requests (check the printed line count), made in about a minute.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "data" / "gemma3-token-counts.jsonl"
SHORT_KINDS = ("mo_cjk_msgs", "mo_cyrillic_msgs", "mo_latin_eu_msgs", "mo_other_script_msgs", "en_paragraphs")
MEDIUM_KINDS = ("json_small", "py_blocks")
DOC_KINDS = (
    "doc_en_prose", "doc_json", "doc_markdown", "doc_mo_cjk", "doc_mo_cyrillic", "doc_mo_latin_eu",
    "doc_mo_other_script", "doc_python",
)  # fmt: skip
GENERATED = ("csv", "log", "base64", "mixed")
DOC_SHARE = 0.0135
DOC_BYTES = (25_000, 100_000)  # log-uniform


def golden_texts(path: Path = GOLDEN) -> dict[str, list[str]]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["text"] and row["category"] != "edge":
                by_kind[row["category"]].append(row["text"])
    return dict(by_kind)


class Mix:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.texts = golden_texts()
        self.doc_text = {k: "\n\n".join(self.texts[k]) for k in DOC_KINDS}
        rng = random.Random(seed ^ 0x5EED)
        self.systems = ["\n".join(rng.sample(self.texts["en_paragraphs"], n)) for n in (2, 4, 8)]

    # -- pieces ----------------------------------------------------------------------------------
    def slice_of(self, kind: str, chars: int) -> str:
        """About ``chars`` characters cut from a document category, starting at a line start."""
        text = self.doc_text[kind]
        start = self.rng.randrange(max(1, len(text) - chars))
        nl = text.find("\n", start)
        start = nl + 1 if 0 <= nl < start + 400 else start
        return text[start : start + chars]

    def generated(self, kind: str, chars: int) -> str:
        rng = self.rng
        out: list[str] = []
        size = 0
        while size < chars:
            if kind == "csv":
                cols = rng.randint(3, 9)
                line = ",".join(
                    f"{rng.uniform(-1e4, 1e5):.{rng.randint(0, 4)}f}" if rng.random() < 0.8 else rng.choice(
                        ("north", "south", "EUR", "USD", "ok", "n/a", "Zürich", "東京"))
                    for _ in range(cols)
                )  # fmt: skip
            elif kind == "log":
                line = (
                    f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
                    f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z {rng.choice(('INFO', 'WARN', 'ERROR'))} "
                    f"req={rng.getrandbits(64):016x} user={rng.getrandbits(32):08x} "
                    f"{rng.choice(self.texts['en_paragraphs'])[: rng.randint(20, 120)]}"
                )
            elif kind == "base64":
                line = base64.b64encode(rng.randbytes(rng.randint(48, 600))).decode()
            else:  # a chat export mixing everything
                k = rng.choice(SHORT_KINDS + MEDIUM_KINDS)
                line = f"[{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}] {rng.choice(self.texts[k])}"
                if rng.random() < 0.1:
                    line += " " + "".join(rng.choice("😀🎉👍🔥✅❤️🙏🚀") for _ in range(rng.randint(1, 5)))
            out.append(line)
            size += len(line) + 1
        return "\n".join(out)[:chars]

    def document(self) -> str:
        """A long document: a main kind, with 15% of its chunks from other kinds."""
        rng = self.rng
        target = math.exp(rng.uniform(math.log(DOC_BYTES[0]), math.log(DOC_BYTES[1])))
        main = rng.choice(DOC_KINDS + GENERATED)
        parts: list[str] = []
        size = 0
        while size < target:
            kind = main if rng.random() < 0.85 else rng.choice(DOC_KINDS + GENERATED)
            chars = rng.randint(1_000, 20_000)
            piece = self.generated(kind, chars) if kind in GENERATED else self.slice_of(kind, chars)
            parts.append(piece)
            size += len(piece.encode("utf-8"))
        return "\n\n".join(parts)

    def short_text(self) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.80:
            return "\n".join(rng.choice(self.texts[rng.choice(SHORT_KINDS)]) for _ in range(rng.randint(1, 3)))
        if r < 0.90:
            return rng.choice(self.texts[rng.choice(MEDIUM_KINDS)])
        if r < 0.96:
            return self.slice_of(rng.choice(DOC_KINDS), rng.randint(100, 1_000))
        return self.generated(rng.choice(GENERATED), rng.randint(50, 800))

    # -- requests ---------------------------------------------------------------------------------
    def request(self) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        if rng.random() < DOC_SHARE:
            ask = rng.choice(self.texts["en_paragraphs"])
            parts = [{"text": self.document()}, {"text": ask}]
            return "document", {"contents": [{"role": "user", "parts": parts}]}
        req: dict[str, Any] = {}
        if rng.random() < 0.06:
            req["contents"] = [
                {"role": "user", "parts": [{"text": self.short_text()}]},
                {"role": "model", "parts": [{"text": self.short_text()}]},
                {"role": "user", "parts": [{"text": self.short_text()}]},
            ]
            kind = "multi_turn"
        else:
            req["contents"] = [{"role": "user", "parts": [{"text": self.short_text()}]}]
            kind = "short"
        if rng.random() < 0.08:
            req["systemInstruction"] = {"parts": [{"text": rng.choice(self.systems)}]}
            kind += "+system"
        if rng.random() < 0.5:
            req["generationConfig"] = {"maxOutputTokens": rng.choice((256, 512, 1024, 4096)), "temperature": 0.2}
        return kind, req


def generate(out: Path, target_bytes: int, seed: int) -> tuple[int, int, dict[str, int]]:
    mix = Mix(seed)
    counts: dict[str, int] = defaultdict(int)
    written = lines = 0
    buf: list[bytes] = []
    held = 0
    with out.open("wb") as fh:
        while True:
            kind, req = mix.request()
            line = orjson.dumps({"key": f"mix-{lines:09d}", "request": req}, option=orjson.OPT_APPEND_NEWLINE)
            if written + held + len(line) > target_bytes:
                break
            counts[kind] += 1
            buf.append(line)
            held += len(line)
            lines += 1
            if held >= 16 << 20:
                fh.write(b"".join(buf))
                written += held
                buf, held = [], 0
        fh.write(b"".join(buf))
        written += held
    return lines, written, dict(counts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-mb", type=float, default=300.0, help="size in MB (10**6 bytes)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    lines, written, counts = generate(args.out, int(args.size_mb * 1e6), args.seed)
    seconds = time.perf_counter() - start
    print(f"wrote {args.out}: {lines:,} lines, {written:,} bytes in {seconds:.1f} s")
    print("mix (by line): " + ", ".join(f"{k} {n / max(lines, 1):.2%}" for k, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
