"""The pilot: the real google-genai client against the local Gemini stand-in, with faults injected."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batchcost.afterjob.pilot import run_pilot, sample_pilot
from batchcost.batchfile import scan
from batchcost.errors import ApiError, BatchcostError, CredentialsError
from batchcost.pricing import PriceBook
from batchcost.tokens import choose_counter, count_tokens
from tests.fakegemini import FakeGemini, Fault, count_prompt, serve

KEY = "pilot-test-key-9f3e"
MODEL = "gemini-2.5-flash"
NOV27 = datetime.date(2026, 11, 27)


def output_rule(request: Mapping[str, Any], prompt_tokens: int) -> tuple[int, int]:
    """Answers: a third of the prompt; thinking: half the thinking budget."""
    config = request.get("generationConfig") or {}
    budget = int((config.get("thinkingConfig") or {}).get("thinkingBudget") or 0)
    return prompt_tokens // 3, budget // 2


@pytest.fixture
def server() -> Iterator[FakeGemini]:
    yield from serve(api_key=KEY, output_rule=output_rule)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.load()


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """120 requests of very different sizes, half thinking (budget 256), half not; scanned and counted."""
    path = tmp_path_factory.mktemp("pilot") / "requests.jsonl"
    rng = np.random.default_rng(11)
    with path.open("w") as fh:
        for i in range(120):
            words = " ".join(f"w{i}-{j}" for j in range(int(rng.lognormal(3.5, 1.0)) + 3))
            config = {"maxOutputTokens": 4000, "thinkingConfig": {"thinkingBudget": 256 if i % 2 else 0}}
            request = {"contents": [{"role": "user", "parts": [{"text": words}]}], "generationConfig": config}
            fh.write(json.dumps({"key": f"k{i}", "request": request}) + "\n")
    sc = scan(path, sample_size=200)
    choice = choose_counter("heuristic", model=MODEL)
    tokens = count_tokens(sc, model=MODEL, counter=choice.counter, approx_error_pct=choice.approx_error_pct)
    return sc, tokens


def pilot(server: FakeGemini, batch: tuple[Any, Any], book: PriceBook, **kw: Any) -> Any:
    sc, tokens = batch
    kw.setdefault("confirm", lambda usd: True)
    kw.setdefault("api_key", KEY)
    kw.setdefault("initial_backoff_s", 0.001)
    kw.setdefault("max_backoff_s", 0.01)
    kw.setdefault("max_rps", 1000.0)
    return run_pilot(sc, model=MODEL, tokens=tokens, book=book, run_date=NOV27, base_url=server.base_url, **kw)


def test_sends_exactly_n_distinct_requests_survives_faults_and_matches_the_server(
    server: FakeGemini, batch: tuple[Any, Any], book: PriceBook
) -> None:
    server.set_faults(
        Fault(429, method="generateContent", nth=2, retry_after="0"),
        Fault(500, method="generateContent", nth=5),
        Fault(503, method="generateContent", nth=9),
    )
    progress: list[tuple[int, int]] = []
    asked: list[Decimal] = []
    model = pilot(server, batch, book, n=16, progress=lambda d, t: progress.append((d, t)),
                  confirm=lambda usd: asked.append(usd) or True)  # fmt: skip
    calls = server.calls("generateContent")
    assert [c.status for c in calls].count(200) == 16
    assert sorted(c.status for c in calls if c.status != 200) == [429, 500, 503]
    bodies = [json.dumps(c.body, sort_keys=True) for c in calls]
    assert len(set(bodies)) == 16  # the three faulted calls were retries of the same bodies
    assert all(c.api_key_present and c.model == MODEL for c in calls)
    assert KEY not in json.dumps([dict(c.headers) for c in calls])
    assert progress[-1] == (16, 16) and len(progress) == 16

    # the figures the pilot learnt are the server's: recompute them from what it received
    ok = [c.body for c in calls if c.status == 200]
    prompts = [sum(count_prompt(b).values()) for b in ok]
    outputs = [output_rule(b, p) for b, p in zip(ok, prompts, strict=True)]
    figures = model.extra["pilot"]
    assert figures["requests"] == figures["succeeded"] == 16 and figures["failed"] == 0
    assert figures["attempts"] == 19
    assert figures["tokens"] == {
        "prompt": sum(prompts),
        "candidates": sum(o[0] for o in outputs),
        "thoughts": sum(o[1] for o in outputs),
    }
    rates = book.rates(MODEL, "standard", NOV27)
    spent = sum(
        (Decimal(p) * rates.input["text"].usd_per_mtok + Decimal(sum(o)) * rates.output.usd_per_mtok  # type: ignore[union-attr]
         for p, o in zip(prompts, outputs, strict=True)),
        Decimal(0),
    ).scaleb(-6)  # fmt: skip
    assert Decimal(figures["spent"]) == spent
    [max_cost] = asked
    assert spent <= max_cost == Decimal(figures["max_cost"])
    assert model.kind == "pilot" and model.results == 16
    assert model.source.startswith(f"pilot: 16 of 16 sampled requests sent to {MODEL} (stratified by size)")

    # and it predicts the rule: thinking requests think 128 tokens, answers are a third of the input
    think = model.groups["thinking budget 256"]
    assert think.thoughts.design == "mean" and think.thoughts.beta[0] == pytest.approx(128)
    assert think.candidates.beta[-1] == pytest.approx(1 / 3, abs=0.02)
    assert model.groups["thinking off"].thoughts.beta[0] == 0


def test_sample_is_stratified_by_size_and_setting(batch: tuple[Any, Any], book: PriceBook) -> None:
    sc, tokens = batch
    sample = sample_pilot(sc, model=MODEL, n=16, tokens=tokens, book=book, run_date=NOV27)
    rows = sample.rows
    assert len(set(rows.tolist())) == 16
    budgets = sc.rows["thinking_budget"][rows]
    assert (budgets == 256).sum() == (budgets == 0).sum() == 8
    sizes = tokens.per_request
    for budget in (0, 256):
        group = np.flatnonzero(sc.rows["thinking_budget"] == budget)
        quartiles = np.quantile(sizes[group], [0.25, 0.5, 0.75])
        picked = np.searchsorted(quartiles, sizes[rows[budgets == budget]], side="right")
        assert sorted(set(picked.tolist())) == [0, 1, 2, 3]  # two from each size quartile
    again = sample_pilot(sc, model=MODEL, n=16, tokens=tokens, book=book, run_date=NOV27)
    assert again.rows.tolist() == rows.tolist()  # same seed, same sample
    # the bound: standard-rate input (text bytes + overhead) and every request's output ceiling
    assert sample.max_output_tokens == 16 * 4000 + 8 * 256
    assert sample.max_input_tokens == int(sc.rows["text_bytes"][rows].sum()) + 16 * 16


def test_no_key_refuses_before_asking_or_sending(server: FakeGemini, batch: tuple[Any, Any], book: PriceBook) -> None:
    asked: list[Decimal] = []
    with pytest.raises(CredentialsError, match="needs an API key: set GEMINI_API_KEY"):
        pilot(server, batch, book, n=5, api_key=None, env={}, confirm=lambda usd: asked.append(usd) or True)
    assert asked == [] and server.received == []


def test_key_from_environment_and_declined_confirmation(
    server: FakeGemini, batch: tuple[Any, Any], book: PriceBook
) -> None:
    with pytest.raises(BatchcostError, match="cancelled at the confirmation; nothing was sent"):
        pilot(server, batch, book, n=5, api_key=None, env={"GOOGLE_API_KEY": KEY}, confirm=lambda usd: False)
    assert server.received == []
    model = pilot(server, batch, book, n=3, api_key=None, env={"GEMINI_API_KEY": KEY})
    assert model.results == 3 and len(server.calls("generateContent")) == 3


def test_wrong_key_is_fatal_and_never_shown(batch: tuple[Any, Any], book: PriceBook) -> None:
    with FakeGemini(api_key="the-right-key") as fake:
        with pytest.raises(ApiError) as exc:
            pilot(fake, batch, book, n=6, api_key="wrong-key-123", concurrency=1)
        assert "wrong-key-123" not in str(exc.value)
        assert "check the API key" in str(exc.value)
        assert len(fake.calls("generateContent")) == 1  # stopped at the first refusal


def test_request_errors_are_counted_and_persistent_failures_stop_the_pilot(
    server: FakeGemini, batch: tuple[Any, Any], book: PriceBook
) -> None:
    server.set_faults(Fault(400, method="generateContent", nth=1, message="Request contains an invalid argument."))
    model = pilot(server, batch, book, n=6, concurrency=1)
    assert model.extra["pilot"]["failed"] == 1 and model.results == 5
    assert any(
        w.startswith("1 pilot request failed (the batch job would likely fail it too): ") and "HTTP 400" in w
        for w in model.warnings
    )
    assert len({json.dumps(c.body, sort_keys=True) for c in server.calls("generateContent")}) == 6

    server.reset()
    server.set_faults(Fault(500, method="generateContent"))
    with pytest.raises(ApiError, match=r"measured 0 of 4 requests .*HTTP 500"):
        pilot(server, batch, book, n=4, max_retries=2)
    assert len(server.calls("generateContent")) == 4 * 3  # each request: first try + 2 retries, no more


def test_time_limit_stops_sending(batch: tuple[Any, Any], book: PriceBook, tmp_path: Path) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with FakeGemini(api_key=KEY, output_rule=output_rule) as fake:
        fake.set_faults(Fault(429, method="generateContent", retry_after="30"))
        with pytest.raises(ApiError, match="the time limit passed"):
            pilot(fake, batch, book, n=5, concurrency=1, max_retries=50, time_limit_s=100, max_backoff_s=60,
                  sleep=sleep, clock=lambda: now[0])  # fmt: skip
        # 30 s per retry within 100 s: the first request was tried 4 times, nothing else was sent
        assert len(fake.calls("generateContent")) == 4
        assert len({json.dumps(c.body, sort_keys=True) for c in fake.calls("generateContent")}) == 1


def test_repeated_bodies_are_sent_once(tmp_path: Path, book: PriceBook) -> None:
    path = tmp_path / "dups.jsonl"
    same = {"contents": [{"role": "user", "parts": [{"text": "the same question"}]}]}
    with path.open("w") as fh:
        for i in range(10):
            body = same if i < 6 else {"contents": [{"role": "user", "parts": [{"text": f"question {i}"}]}]}
            fh.write(json.dumps({"key": f"k{i}", "request": body}) + "\n")
    sc = scan(path)
    choice = choose_counter("heuristic", model=MODEL)
    tokens = count_tokens(sc, model=MODEL, counter=choice.counter, approx_error_pct=choice.approx_error_pct)
    sample = sample_pilot(sc, model=MODEL, n=8, tokens=tokens, book=book, run_date=NOV27)
    assert len(sample.rows) == 5  # one of the six identical requests, and the four others
    assert len({json.dumps(b, sort_keys=True) for b in sample.bodies}) == 5
    assert any("fewer than the 8 asked" in note for note in sample.notes)
