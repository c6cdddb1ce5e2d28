"""Figures at the edges: unknown ceilings, thinking caps, and interval ends that follow each other."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchcost.cli import main
from batchcost.planner.estimate import estimate
from tests.planner.estimating import NOV27, cost, mtok, run_estimate, sampled_file, text_req, write

TUNED = """\
models:
  my-tuned-model:
    derive: {batch: batch-50}
    prices:
      - input: {all: "0.20", audio: "0.60"}
        cache_read: {all: "0.02"}
        output: "1.00"
"""


@pytest.fixture
def tuned(tmp_path: Path) -> Path:
    path = tmp_path / "my.yaml"
    path.write_text(TUNED)
    return path


def test_given_output_expectation_is_used_when_the_ceiling_is_unknown(tmp_path: Path, tuned: Path) -> None:
    # The README's own example: a model from --prices with no output limit, requests without maxOutputTokens.
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 1000)  # 4 tokens each
    plan = run_estimate(path, "my-tuned-model", output_tokens=1000, prices=[str(tuned)])
    out = plan["tokens"]["output"]
    assert out["expected"] == 1_000_000 and out["ceiling"] is None
    # batch is derived at 50%: input 0.10, output 0.50 per 1M
    assert cost(plan, "batch") == mtok("0.10", 4000) + mtok("0.50", 1_000_000) == Decimal("0.5004")
    assert plan["cost"]["batch"]["ceiling"] is None and plan["cost"]["standard"]["ceiling"] is None
    assert any("no known output ceiling" in w for w in plan["warnings"])


def test_known_and_unknown_ceilings_together(tmp_path: Path, tuned: Path) -> None:
    bounded = text_req("Hello, world!", maxOutputTokens=10, thinkingConfig={"thinkingBudget": 0})
    reqs = [bounded, text_req("Hello, world!")]
    plan = run_estimate(write(tmp_path / "a.jsonl", reqs), "my-tuned-model", output_tokens=50, prices=[str(tuned)])
    # the bounded request is capped at its maxOutputTokens, the other takes the expectation as given
    assert plan["tokens"]["output"]["expected"] == 10 + 50
    assert plan["tokens"]["output"]["ceiling"] is None


def test_budget_gate_fails_safe_on_an_unknown_ceiling(tmp_path: Path, tuned: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 1000)
    common = ["estimate", str(path), "-m", "my-tuned-model", "--prices", str(tuned), "--offline", "-q"]
    out, err = io.StringIO(), io.StringIO()
    # $0.5004 expected: a budget of $0.01 fails on the figure, not on $0.0020 of input alone
    assert main([*common, "--output-tokens", "1000", "--budget", "0.01"], stdout=out, stderr=err) == 3
    assert "over budget: batch high end $0.50 > --budget $0.01" in err.getvalue()
    # no expectation: the only bound would be the ceiling, which is unknown, so the gate cannot pass
    out, err = io.StringIO(), io.StringIO()
    assert main([*common, "--budget", "100", "--format", "json"], stdout=out, stderr=err) == 3
    assert "is unknown" in err.getvalue() and "Traceback" not in err.getvalue()
    doc = json.loads(out.getvalue())
    assert doc["cost"]["batch"]["ceiling"] is None and doc["tokens"]["output"]["ceiling"] is None


def test_unknown_ceiling_reads_unknown_in_text(tmp_path: Path, tuned: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 3)
    out, err = io.StringIO(), io.StringIO()
    args = ["estimate", str(path), "-m", "my-tuned-model", "--prices", str(tuned), "--offline", "-q"]
    assert main([*args, "--output-tokens", "7", "--run-date", "2026-11-27"], stdout=out, stderr=err) == 0
    text = out.getvalue()
    assert "ceiling unknown" in text and "ceiling 0" not in text
    out = io.StringIO()
    assert main([*args, "--output-tokens", "7", "--run-date", "2026-11-27", "-v"], stdout=out, stderr=err) == 0
    text = out.getvalue()
    batch_row = next(line for line in text.splitlines() if line.strip().startswith("batch "))
    assert batch_row.rstrip().endswith("unknown")


def test_thinking_budget_is_capped_at_the_model_limit(tmp_path: Path) -> None:
    reqs = [
        text_req("a", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 1_000_000_000}),
        text_req("b", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 70_000}),
        text_req("c", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 50}),
    ]
    plan = run_estimate(write(tmp_path / "t.jsonl", reqs), "gemini-2.5-flash")
    # gemini-2.5-flash writes at most 65,536 output tokens: thinking beyond it cannot be billed
    assert plan["tokens"]["output"]["ceiling"] == (100 + 65_536) * 2 + 150
    warning = next(w for w in plan["warnings"] if "thinkingBudget above" in w)
    assert "2 requests" in warning and "1,000,000,000" in warning and "65,536" in warning


def test_one_request_over_the_thinking_limit_is_said_in_the_singular(tmp_path: Path) -> None:
    reqs = [
        text_req("a", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 70_000}),
        text_req("b", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 50}),
    ]
    plan = run_estimate(write(tmp_path / "t.jsonl", reqs), "gemini-2.5-flash")
    assert (
        "1 request sets thinkingBudget above gemini-2.5-flash's output limit (65,536; largest asked 70,000); the API "
        "cannot think past it, so the ceiling counts 65,536 thinking tokens for it"
    ) in plan["warnings"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_interval_ends_map_token_bounds_to_cost_bounds(tmp_path: Path, seed: int) -> None:
    path = sampled_file(tmp_path / "big.jsonl", 6000, seed)
    plan = run_estimate(path, "gemini-2.5-flash", output_tokens=100, sample_size=200, seed=seed)
    tokens = plan["tokens"]["input"]
    assert plan["tokens"]["method"] != "exact"
    assert tokens["low"] < tokens["expected"] < tokens["high"]
    # text only, below the tier threshold: cost = input x rate + 6,000 x 100 output tokens
    rates = {"standard": ("0.30", "2.50"), "batch": ("0.15", "1.25")}
    for mode, (rate_in, rate_out) in rates.items():
        c = plan["cost"][mode]
        for end in ("low", "expected", "high"):
            assert Decimal(c[end]) == mtok(rate_in, tokens[end]) + mtok(rate_out, 600_000), (mode, end)
        assert Decimal(c["floor"]) <= Decimal(c["low"]) <= Decimal(c["expected"]) <= Decimal(c["high"])
        assert Decimal(c["high"]) <= Decimal(c["ceiling"])


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"compare": ["gemini-9-nope"]}, "unknown model 'gemini-9-nope'"),
        ({"output_tokens": 5, "output_ratio": 0.5}, "give one of --output-tokens"),
    ],
)
def test_option_conflicts_are_refused_before_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kw: dict[str, object], error: str
) -> None:
    import batchcost.batchfile as batchfile
    from batchcost.errors import PricingError

    def no_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was scanned before the options were checked")

    monkeypatch.setattr(batchfile, "scan", no_scan)
    with pytest.raises(PricingError, match=error):
        run_estimate(write(tmp_path / "a.jsonl", [text_req("x")]), "gemini-2.5-flash", **kw)


def test_thinking_budget_on_a_model_of_unknown_limit_is_counted_as_given_and_said(tmp_path: Path, tuned: Path) -> None:
    reqs = [text_req("Hello, world!", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 1_000_000_000})] * 5
    path = write(tmp_path / "t.jsonl", reqs)
    plan = run_estimate(path, "my-tuned-model", output_tokens=100, prices=[str(tuned)])
    # a true bound (the API never thinks past the budget), but a loose one: the note says how to cap it
    assert plan["tokens"]["output"]["ceiling"] == 5 * (100 + 1_000_000_000)
    notes = [w for w in plan["warnings"] if "thinkingBudget" in w]
    assert len(notes) == 1
    assert "5 requests' thinkingBudget is counted as given" in notes[0] and "1,000,000,000" in notes[0]
    assert "give output_limit for my-tuned-model in --prices" in notes[0]


def test_output_limit_from_a_price_file_caps_thinking_budgets(tmp_path: Path) -> None:
    prices = tmp_path / "limit.yaml"
    prices.write_text(TUNED.replace("  my-tuned-model:\n", "  my-tuned-model:\n    output_limit: 8192\n"))
    reqs = [text_req("Hello, world!", maxOutputTokens=100, thinkingConfig={"thinkingBudget": 1_000_000_000})] * 5
    plan = run_estimate(write(tmp_path / "t.jsonl", reqs), "my-tuned-model", output_tokens=100, prices=[str(prices)])
    assert plan["tokens"]["output"]["ceiling"] == 5 * (100 + 8192) == 41_460
    # 4 input tokens each at $0.10, 41,460 output tokens at $0.50 per 1M (batch-50 of $0.20 / $1.00)
    assert Decimal(plan["cost"]["batch"]["ceiling"]) == mtok("0.10", 20) + mtok("0.50", 41_460) == Decimal("0.020732")
    notes = [w for w in plan["warnings"] if "thinkingBudget" in w]
    assert notes == [
        "5 requests set thinkingBudget above my-tuned-model's output limit (8,192; largest asked 1,000,000,000); "
        "the API cannot think past it, so the ceiling counts 8,192 thinking tokens for them"
    ]


def test_each_local_file_is_hashed_after_the_scan_and_the_plan_carries_its_sha256(tmp_path: Path) -> None:
    import gzip
    import hashlib

    plain = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 20)
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    plan = estimate([plain, packed], model="gemini-2.5-flash", offline=True)
    want = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (plain, packed)]  # the gzip file as stored
    assert [f.sha256 for f in plan.scan.files] == want
    assert [f["sha256"] for f in plan.to_json()["files"]] == want


def test_a_refused_estimate_stops_its_hashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from batchcost.errors import PricingError

    started: list[subprocess.Popen[str]] = []
    real = subprocess.Popen

    class Spy(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", Spy)
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 5)
    with pytest.raises(PricingError):  # refused after the scan: no model given, and none in the file
        estimate(path, offline=True)
    assert len(started) == 1 and started[0].returncode is not None  # the hashing process is gone


def test_the_hash_is_made_here_when_no_process_can_be_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import subprocess

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("no processes left")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 5)
    plan = estimate(path, model="gemini-2.5-flash", offline=True)
    assert plan.scan.files[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_paths_may_come_as_an_iterator(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [text_req("Hello, world!")] * 3)
    plan = estimate(iter([path]), model="gemini-2.5-flash", offline=True)
    assert plan.scan.requests == 3 and plan.scan.files[0].sha256


def test_a_file_with_an_invalid_line_and_a_cache_that_pays_is_planned(tmp_path: Path) -> None:
    # The caching advice's groups are one per line; the estimate once took the usable ones before the
    # shard plan did the same, and any invalid line then stopped the estimate with "groups must have
    # one id per line of the input".
    system = {"parts": [{"text": "You are a careful assistant who checks every fact twice. " * 800}]}
    reqs = [{**text_req(f"question {i}"), "systemInstruction": system} for i in range(600)]
    clean = write(tmp_path / "clean.jsonl", reqs)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"key": "bad", "request": {"contents": 5}}\n' + clean.read_text())
    plans = [run_estimate(path, "gemini-2.5-flash", output_tokens=100) for path in (clean, broken)]
    for plan in plans:
        assert plan["caching"]["pays"] is True
        assert sum(s["requests"] for s in plan["shards"]["shards"]) == 600
    # the same shards, one line further down in the file with the invalid first line
    want = [(s["requests"], s["first_line"] + 1, s["last_line"] + 1) for s in plans[0]["shards"]["shards"]]
    assert [(s["requests"], s["first_line"], s["last_line"]) for s in plans[1]["shards"]["shards"]] == want
    assert len(want) == 2 and want[0][0] == 300


def test_a_mode_not_priced_keeps_its_place_and_the_others_are_priced_as_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # model_cost resolves every mode's rates before pricing any: the plan must still list the modes in
    # the book's order, a mode that could not be priced where it stands.
    from batchcost.errors import UnpricedError
    from batchcost.pricing import PriceBook

    path = write(tmp_path / "r.jsonl", [text_req("hello there, a short prompt", maxOutputTokens=100)] * 3)
    both = run_estimate(path, "gemini-2.5-flash", output_tokens=50)
    real_rates, real_modes = PriceBook.rates, PriceBook.modes
    listed = real_modes(PriceBook.load(), "gemini-2.5-flash", NOV27)

    def no_batch(self: PriceBook, model: str, mode: str, run_date: Any) -> Any:
        if mode == "batch":
            raise UnpricedError("no batch price in this test")
        return real_rates(self, model, mode, run_date)

    # a book that lists batch among the model's modes but cannot price it when asked
    monkeypatch.setattr(PriceBook, "rates", no_batch)
    monkeypatch.setattr(PriceBook, "modes", lambda self, model, run_date: list(listed))
    got = run_estimate(path, "gemini-2.5-flash", output_tokens=50, allow_unpriced=True, shards=False, caching=False)
    assert list(got["cost"]) == list(both["cost"]) and list(got["cost"])[:2] == ["standard", "batch"]
    assert got["cost"]["batch"] == {"not_priced": "no batch price in this test"}
    assert got["cost"]["standard"] == both["cost"]["standard"]
