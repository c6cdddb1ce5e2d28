"""A pilot whose most expensive case cannot be bounded is refused before anything is asked or sent."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost.afterjob.pilot import run_pilot, sample_pilot
from batchcost.batchfile import scan
from batchcost.errors import PricingError
from batchcost.pricing import PriceBook
from batchcost.tokens import choose_counter, count_tokens
from tests.fakegemini import FakeGemini, serve

KEY = "pilot-test-key-unbounded"
NOV27 = datetime.date(2026, 11, 27)
TUNED = """\
models:
  my-tuned-model:
    derive: {batch: batch-50}
    prices:
      - input: {all: "0.20"}
        output: "1.00"
"""


@pytest.fixture
def server() -> Iterator[FakeGemini]:
    yield from serve(api_key=KEY, output_rule=lambda request, prompt: (10, 0))


def _setup(tmp_path: Path, *, bounded: int) -> tuple[object, object, PriceBook]:
    prices = tmp_path / "my.yaml"
    prices.write_text(TUNED)
    path = tmp_path / "requests.jsonl"
    with path.open("w") as fh:
        for i in range(10):
            config = {"maxOutputTokens": 50, "thinkingConfig": {"thinkingBudget": 0}} if i < bounded else None
            request = {"contents": [{"role": "user", "parts": [{"text": f"question number {i}"}]}]}
            if config:
                request["generationConfig"] = config
            fh.write(json.dumps({"key": f"k{i}", "request": request}) + "\n")
    sc = scan(path)
    choice = choose_counter("heuristic", model="my-tuned-model")
    tokens = count_tokens(sc, model="my-tuned-model", counter=choice.counter, approx_error_pct=choice.approx_error_pct)
    return sc, tokens, PriceBook.load([str(prices)])


def test_unbounded_requests_refuse_the_pilot_before_asking(server: FakeGemini, tmp_path: Path) -> None:
    sc, tokens, book = _setup(tmp_path, bounded=0)
    sample = sample_pilot(sc, model="my-tuned-model", n=4, tokens=tokens, book=book, run_date=NOV27)
    assert sample.unbounded == 4 and sample.max_output_tokens == 0  # the "maximum" would leave the output out
    asked: list[Decimal] = []
    with pytest.raises(PricingError, match="cannot bound what it would spend: 4 of the 4 sampled requests") as e:
        run_pilot(
            sc, model="my-tuned-model", n=4, tokens=tokens, book=book, run_date=NOV27, api_key=KEY,
            base_url=server.base_url, confirm=lambda usd: asked.append(usd) or True,
        )  # fmt: skip
    assert "give output_limit for my-tuned-model in --prices; nothing was sent" in str(e.value)
    assert asked == [] and server.received == []


def test_bounded_requests_give_a_true_maximum(tmp_path: Path) -> None:
    sc, tokens, book = _setup(tmp_path, bounded=10)
    sample = sample_pilot(sc, model="my-tuned-model", n=4, tokens=tokens, book=book, run_date=NOV27)
    # 4 requests x 50 output tokens at the standard $1.00 per 1M, plus the input bound at $0.20
    assert sample.unbounded == 0 and sample.max_output_tokens == 200
    assert sample.max_cost == (Decimal("0.20") * sample.max_input_tokens + Decimal("1.00") * 200) / 1_000_000
