"""From sample to file: exact totals, honest intervals, certainty rows, per-request figures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from batchcost.batchfile import ScanResult, scan
from batchcost.tokens.count import DEFAULT_SAMPLE_BYTES, TIER_THRESHOLD, count_tokens
from batchcost.tokens.gemma3 import LocalCounter
from tests.golden import golden_records
from tests.hangs import raised_within

golden = golden_records


class Memo:
    """A counter that remembers: the same texts are counted in every repetition of a test."""

    name = "local"
    exact = True

    def __init__(self, inner: LocalCounter) -> None:
        self.inner = inner
        self.description = inner.description
        self.cache: dict[str, int] = {}
        self.calls = 0

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        self.calls += 1
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        for t, n in zip(todo, self.inner.count_texts(todo), strict=True):
            self.cache[t] = n
        return [self.cache[t] for t in texts]


@pytest.fixture(scope="module")
def local() -> LocalCounter:
    return LocalCounter.load(offline=True, env={})


def write_requests(path: Path, texts: list[str], system: str | None = None) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts):
            request: dict[str, object] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
            if system:
                request["systemInstruction"] = {"parts": [{"text": system}]}
            fh.write(json.dumps({"key": f"k{i}", "request": request}, ensure_ascii=False) + "\n")
    return path


def test_exact_count_equals_golden_total(tmp_path: Path, local: LocalCounter) -> None:
    rows = [r for r in golden() if r["text"]]
    path = write_requests(tmp_path / "g.jsonl", [str(r["text"]) for r in rows])
    result = scan(path)
    est = count_tokens(result, model="gemini-2.5-flash", counter=local, exact=True)
    truth = sum(int(r["tokens"]) for r in rows)
    assert est.method == "exact"
    assert est.total.expected == est.total.low == est.total.high == truth
    assert est.by_modality["text"].expected == truth
    assert int(est.per_request.sum()) == truth
    assert est.per_request.tolist() == [int(r["tokens"]) for r in rows]
    assert est.by_place is not None and est.by_place["contents"].expected == truth


def test_small_file_is_counted_whole_without_interval(tmp_path: Path, local: LocalCounter) -> None:
    path = write_requests(tmp_path / "s.jsonl", ["Hello, world!", "1234567890"], system="Be brief.")
    est = count_tokens(scan(path, sample_size=100), model="gemini-2.5-flash", counter=local)
    # "Hello, world!" = 4, "1234567890" = 10 (every digit), "Be brief." = 3, twice
    assert est.method == "exact"
    assert est.total.to_dict() == {"expected": 20, "low": 20, "high": 20}
    assert est.by_place is not None
    assert est.by_place["system"].expected == 6 and est.by_place["contents"].expected == 14


def _mixed_file(path: Path, n: int, seed: int = 0) -> Path:
    """Requests of 1 to 12 golden texts each: mixed scripts, code, JSON, digits, heavy-tailed sizes."""
    texts = [str(r["text"]) for r in golden() if r["text"]]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(min(12, 1 + rng.geometric(0.35)))
        out.append("\n".join(texts[int(i)] for i in rng.integers(0, len(texts), size=k)))
    return write_requests(path, out)


def test_interval_is_honest_over_repeated_samples(tmp_path: Path, local: LocalCounter) -> None:
    path = _mixed_file(tmp_path / "m.jsonl", 4000)
    result = scan(path)
    memo = Memo(local)
    truth = count_tokens(result, model="gemini-2.5-flash", counter=memo, exact=True).total.expected
    covered = 0
    rel_errors = []
    trials = 200
    for seed in range(trials):
        est = count_tokens(
            result, model="gemini-2.5-flash", counter=memo, sample_size=300, seed=seed,
            target_halfwidth=1.0, largest=20, min_per_stratum=10,
        )  # fmt: skip
        assert est.method == "sampled"
        covered += est.total.low <= truth <= est.total.high
        rel_errors.append(abs(est.total.expected - truth) / truth)
    assert covered / trials >= 0.93, covered
    assert covered / trials <= 0.995, covered  # not absurdly wide either
    assert float(np.median(rel_errors)) < 0.02


@pytest.fixture(scope="module")
def precision_file(tmp_path_factory: pytest.TempPathFactory, local: LocalCounter) -> tuple[ScanResult, Memo, int]:
    """12,000 requests of golden texts (70 MB of text, 2,400 of them long documents) and their exact total."""
    path = _mixed_file(tmp_path_factory.mktemp("precision") / "p.jsonl", 12_000, seed=5)
    result = scan(path, sample_size=2000, seed=11, text_classes=True)
    memo = Memo(local)
    truth = count_tokens(result, model="gemini-2.5-flash", counter=memo, exact=True).total.expected
    return result, memo, truth


def test_default_precision_target_is_met(precision_file: tuple[ScanResult, Memo, int]) -> None:
    # The golden documents are natural text in many languages, whose tokens byte classes predict to
    # 6-11% per document: reaching +-0.4% here takes about 30 MB of text, more than the default
    # budget (see the next test). Given the room, the rounds reach the target.
    result, memo, truth = precision_file
    est = count_tokens(result, model="gemini-2.5-flash", counter=memo, max_sample_bytes=60_000_000)
    assert est.method == "sampled"
    half = (est.total.high - est.total.low) / 2
    assert half <= 0.004 * est.total.expected * 1.01
    assert abs(est.total.expected - truth) <= 0.005 * truth
    assert int(est.per_request.sum()) == est.total.expected
    assert est.total.low <= truth <= est.total.high


def test_default_budget_bounds_the_text_tokenized(precision_file: tuple[ScanResult, Memo, int]) -> None:
    result, memo, truth = precision_file
    est = count_tokens(result, model="gemini-2.5-flash", counter=memo)
    rows = result.rows
    tokenized = int(rows["text_bytes"][est.counted_rows].sum())
    assert tokenized <= DEFAULT_SAMPLE_BYTES
    assert est.total.low <= truth <= est.total.high  # wider than the target, and honest
    assert abs(est.total.expected - truth) <= 0.01 * truth
    assert int(est.per_request.sum()) == est.total.expected


def test_requests_that_could_cross_the_tier_are_counted_exactly(tmp_path: Path, local: LocalCounter) -> None:
    texts = [f"Question {i}: what is {i} + {i}?" for i in range(3000)]
    big = "All work and no play makes Jack a dull boy. 12345\n" * 5000  # ~250 KB
    texts[1234] = big
    path = write_requests(tmp_path / "t.jsonl", texts)
    result = scan(path, sample_size=200, seed=1)
    est = count_tokens(result, model="gemini-2.5-flash", counter=local, target_halfwidth=1.0)
    assert 1234 in est.counted_rows.tolist()
    exact_big = sum(local.count_texts([big]))
    assert est.per_request[1234] == exact_big
    assert (exact_big > TIER_THRESHOLD) == (est.above_threshold.expected == 1)


def test_unusable_rows_count_zero(tmp_path: Path, local: LocalCounter) -> None:
    path = write_requests(tmp_path / "u.jsonl", ["one", "two"])
    with path.open("a") as fh:
        fh.write("{broken\n")
    est = count_tokens(scan(path), model="gemini-2.5-flash", counter=local)
    assert est.requests == 2
    assert est.per_request.tolist()[2] == 0


@pytest.mark.parametrize("exact", [False, True])
def test_release_frees_the_tokenizer_once_counted_and_changes_no_figure(tmp_path: Path, exact: bool) -> None:
    """``release=True`` frees the counter's tokenizer (43 MB) before the per-request figures are made,
    as the estimate asks; the figures are those of a counter that keeps it, and it counts again after."""
    path = _mixed_file(tmp_path / "r.jsonl", 1500, seed=3)
    result = scan(path, sample_size=200, seed=2, text_classes=True)
    kept, freed = LocalCounter.load(offline=True, env={}), LocalCounter.load(offline=True, env={})
    kw = {"model": "gemini-2.5-flash", "exact": exact, "target_halfwidth": 0.05}
    a = count_tokens(result, counter=kept, **kw)  # type: ignore[arg-type]
    b = count_tokens(result, counter=freed, release=True, **kw)  # type: ignore[arg-type]
    assert a.method == b.method == ("exact" if exact else "sampled")
    assert kept._processor is not None and freed._processor is None and freed._words is None
    assert a.total == b.total and a.per_request.tolist() == b.per_request.tolist() and a.by_place == b.by_place
    assert freed.count_text("Hello, world!") == 4  # loads it again


def _killed_counting(rows: list[int]) -> object:
    """A counting worker that dies as the out-of-memory killer would end it (module level: sent to the pool)."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def test_a_counting_worker_that_is_killed_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchcost.errors import EngineError
    from batchcost.tokens import count as count_mod
    from batchcost.tokens.heuristic import HeuristicCounter

    path = write_requests(tmp_path / "r.jsonl", [f"request number {i}" for i in range(64)])
    result = scan(path)
    monkeypatch.setattr(count_mod, "_PARALLEL_BYTES", 1)
    monkeypatch.setattr(count_mod, "_count_rows_in_child", _killed_counting)
    monkeypatch.setattr(count_mod.os, "cpu_count", lambda: 2)
    raised = raised_within(
        60, lambda: count_tokens(result, model="gemini-2.5-flash", counter=HeuristicCounter(), exact=True), "the count"
    )
    assert isinstance(raised, EngineError), raised
    assert "a process counting tokens was killed before it finished" in str(raised)
