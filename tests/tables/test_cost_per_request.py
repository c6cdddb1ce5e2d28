"""Per-request float costs sum to the exact Decimal totals of price_tokens, tiers and caches included."""

from __future__ import annotations

import datetime
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcost.pricing import PriceBook, price_tokens
from batchcost.pricing.per_request import cost_per_request

BOOK = PriceBook.load()
RATES = [
    BOOK.rates(m, mode, datetime.date(2026, 11, 27))
    for m in ("gemini-2.5-pro", "gemini-2.5-flash")
    for mode in ("batch", "standard")
]


@settings(max_examples=60, deadline=None)
@given(
    which=st.integers(0, len(RATES) - 1),
    rows=st.lists(
        st.tuples(st.integers(0, 400_000), st.integers(0, 5_000), st.integers(0, 1_000), st.integers(0, 70_000)),
        min_size=1,
        max_size=40,
    ),
)
def test_sum_of_request_costs_is_the_exact_total(which: int, rows: list[tuple[int, int, int, int]]) -> None:
    rates = RATES[which]
    text = np.array([r[0] for r in rows], np.int64)
    image = np.array([r[1] for r in rows], np.int64)
    cached = np.minimum(np.array([r[2] for r in rows], np.int64), text)
    out = np.array([r[3] for r in rows], np.int64)
    inputs = {"text": text - cached, "image": image}
    prompt = text + image
    exact = price_tokens(
        rates, prompt_tokens=prompt, input_by_modality=inputs, output_tokens=out, cached_tokens={"text": cached}
    )
    per = cost_per_request(
        rates, prompt_tokens=prompt, input_by_modality=inputs, output_tokens=out, cached_by_modality={"text": cached}
    )
    assert math.isclose(float(per.sum()), float(exact.total), rel_tol=1e-12, abs_tol=1e-15)
