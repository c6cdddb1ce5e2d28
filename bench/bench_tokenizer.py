"""Throughput of the exact Gemma 3 counter (batchcost.tokens.gemma3.LocalCounter.count_texts).

Rebuilds the model from the offline package's GGUF header (timed), loads it back from a cache
(timed), then counts the golden texts replicated to about --mb MB per case:

* many short texts (golden texts up to 4 KB, as most batch requests are);
* long texts (golden documents over 4 KB, cut after newline runs into ~2 KB pieces);
* very long texts (documents joined into ~1 MB texts), plus the same encoded whole, unchunked;

each with num_threads=1 and 2. Replicated texts repeat every word, so those cases show the counter
with its tables of words and long texts warm. The last case counts the golden texts once, with a new
counter, with and without counting word by word: real texts of 16 kinds, where most words are new,
the least the word table can help (batchcost.tokens.words). Prints MB/s (UTF-8 bytes) and tokens/s.

Run: PYTHONPATH=src python bench/bench_tokenizer.py [--mb 50] [--golden PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from batchcost.tokens import gguf_model
from batchcost.tokens.gemma3 import CACHE_FILENAME, LocalCounter, ModelSource, write_cache

GOLDEN_NAME = "gemma3-token-counts.jsonl"
REPO = Path(__file__).resolve().parents[1]
GOLDEN_CANDIDATES = (
    REPO / "tests" / "data" / GOLDEN_NAME,
    REPO.parent / "shared" / "reference" / "data" / GOLDEN_NAME,
)


def load_golden(path: Path | None) -> list[str]:
    candidates = (path,) if path else GOLDEN_CANDIDATES
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            with open(candidate, encoding="utf-8") as handle:
                return [json.loads(line)["text"] for line in handle]
    raise SystemExit(f"golden file not found in {[str(c) for c in candidates]}; pass --golden PATH")


def replicate(texts: Sequence[str], target_bytes: int) -> list[str]:
    size = sum(len(t.encode("utf-8")) for t in texts)
    copies = max(1, round(target_bytes / size))
    return list(texts) * copies


def utf8_mb(texts: Sequence[str]) -> float:
    return sum(len(t.encode("utf-8")) for t in texts) / 1e6


def timed(run: Callable[[], list[int]]) -> tuple[float, int]:
    started = time.perf_counter()
    counts = run()
    return time.perf_counter() - started, sum(counts)


def report(label: str, texts: Sequence[str], seconds: float, tokens: int) -> None:
    mb = utf8_mb(texts)
    print(
        f"  {label:<44} {len(texts):>9,} texts {mb:7.1f} MB  {seconds:6.2f} s  "
        f"{mb / seconds:6.2f} MB/s  {tokens / seconds / 1e6:5.2f} M tokens/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="MB of text per case (default 50)")
    parser.add_argument("--golden", type=Path, default=None, help="golden JSONL (text per line)")
    args = parser.parse_args()
    golden = load_golden(args.golden)

    started = time.perf_counter()
    data = gguf_model.build_gemma3_model()
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    LocalCounter(ModelSource(data, "fresh build"))
    check_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as cache:
        write_cache(Path(cache) / CACHE_FILENAME, data)
        started = time.perf_counter()
        counter1 = LocalCounter.load(cache_dir=Path(cache), offline=True, env={})
        cache_s = time.perf_counter() - started
    print(f"model: {len(data):,} bytes")
    print(f"  build from GGUF (hash 64 MB chunk, parse header, build proto): {build_s:.3f} s")
    print(f"  load + fingerprint check of the built model:                  {check_s:.3f} s")
    print(f"  load from batchcost cache (read, load, fingerprint):          {cache_s:.3f} s")

    counter2 = LocalCounter(counter1.source, num_threads=2)
    import sentencepiece

    processor = sentencepiece.SentencePieceProcessor(model_proto=data)
    target = int(args.mb * 1e6)
    short = replicate([t for t in golden if len(t) <= 4096], target)
    docs = [t for t in golden if len(t) > 4096]
    long_texts = replicate(docs, target)
    joined: list[str] = []
    current: list[str] = []
    for doc in long_texts:
        current.append(doc)
        if sum(map(len, current)) >= 1_000_000:
            joined.append("\n\n".join(current))
            current = []
    if current:
        joined.append("\n\n".join(current))

    print(f"\ncount_texts throughput (~{args.mb:g} MB per case):")
    for name, texts in (("short texts", short), ("long texts (>4 KB)", long_texts), ("~1 MB texts", joined)):
        for counter in (counter1, counter2):
            seconds, tokens = timed(lambda c=counter, t=texts: c.count_texts(t))
            report(f"{name}, num_threads={counter.num_threads}", texts, seconds, tokens)
    for threads in (1, 2):
        seconds, tokens = timed(lambda n=threads: [len(ids) for ids in processor.encode(joined, num_threads=n)])
        report(f"~1 MB texts, whole (no cut), num_threads={threads}", joined, seconds, tokens)
    print("\nthe golden texts once, a new counter each time (num_threads=1):")
    for by_words in (True, False):
        counter = LocalCounter(counter1.source)
        if not by_words:
            counter._words_checked = True  # as if the model allowed no word cuts: whole texts are encoded
        seconds, tokens = timed(lambda c=counter: c.count_texts(golden))
        report("word by word" if by_words else "whole texts", golden, seconds, tokens)


if __name__ == "__main__":
    main()
