"""The cost function: exactness, input checks, unknown rates, and properties (hypothesis)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcost.errors import PricingError, UnpricedError
from batchcost.pricing import MODALITIES, ModeRates, grounding_cost, price_tokens, storage_cost
from tests.pricing.helpers import d, mtok, packaged_book

NOV27 = d("2026-11-27")


def test_lists_and_numpy_arrays_give_the_same_exact_result() -> None:
    rates = packaged_book().rates("gemini-3.1-flash-lite", "batch", NOV27)
    prompt = [1_234, 5_678, 91_011]
    text = [1_000, 5_000, 90_000]
    audio = [234, 678, 1_011]
    out = [10, 20, 30]
    as_lists = price_tokens(
        rates, prompt_tokens=prompt, input_by_modality={"text": text, "audio": audio}, output_tokens=out
    )
    as_arrays = price_tokens(
        rates,
        prompt_tokens=np.array(prompt, dtype=np.int32),
        input_by_modality={"text": np.array(text), "audio": np.array(audio, dtype=np.uint32)},
        output_tokens=np.array(out),
    )
    assert as_lists == as_arrays
    assert as_lists.total == mtok("0.125", 96_000) + mtok("0.25", 1_923) + mtok("0.75", 60)
    assert as_lists.tokens == {"input": 97_923, "cached_input": 0, "output": 60}


def test_cached_tokens_by_modality() -> None:
    rates = packaged_book().rates("gemini-3.1-flash-lite", "batch", NOV27)
    cost = price_tokens(
        rates,
        prompt_tokens=[10_000],
        input_by_modality={"text": [1_000]},
        cached_tokens={"text": [6_000], "audio": [3_000]},
        output_tokens=[100],
    )
    assert cost.cached_by_modality["text"] == mtok("0.0125", 6_000)
    assert cost.cached_by_modality["audio"] == mtok("0.025", 3_000)
    assert cost.by_component["cached_input"] == mtok("0.0125", 6_000) + mtok("0.025", 3_000)
    plain = price_tokens(
        rates, prompt_tokens=[10_000], input_by_modality={"text": [1_000]}, cached_tokens=[9_000], output_tokens=[100]
    )
    assert plain.by_component["cached_input"] == mtok("0.0125", 9_000)
    assert any("text cache-read rate" in n for n in plain.notes)


def test_inconsistent_counts_are_rejected() -> None:
    rates = packaged_book().rates("gemini-2.5-flash", "batch", NOV27)
    with pytest.raises(
        ValueError,
        match=r"request 1: non-cached input \(90\) \+ cached \(0\) != prompt_tokens \(100\); 1 request disagrees$",
    ):
        price_tokens(rates, prompt_tokens=[10, 100], input_by_modality={"text": [10, 90]}, output_tokens=[1, 1])
    with pytest.raises(ValueError, match="has 1 entry but prompt_tokens has 2"):
        price_tokens(rates, prompt_tokens=[10, 100], input_by_modality={"text": [10]}, output_tokens=[1, 1])
    with pytest.raises(ValueError, match="unknown modality"):
        price_tokens(rates, prompt_tokens=[10], input_by_modality={"smell": [10]}, output_tokens=[1])
    with pytest.raises(ValueError, match="negative"):
        price_tokens(rates, prompt_tokens=[10], input_by_modality={"text": [10]}, output_tokens=[-1])
    with pytest.raises(ValueError, match="whole token counts"):
        price_tokens(rates, prompt_tokens=[10.5], input_by_modality={"text": [10.5]}, output_tokens=[1])


def test_unknown_rates_are_never_zero() -> None:
    emb = packaged_book().rates("gemini-embedding-001", "batch", NOV27)
    ok = price_tokens(emb, prompt_tokens=[2_000], input_by_modality={"text": [2_000]}, output_tokens=[0])
    assert ok.total == mtok("0.075", 2_000)
    with pytest.raises(UnpricedError, match="cached tokens but no known cache-read rate"):
        price_tokens(
            emb, prompt_tokens=[2_000], input_by_modality={"text": [1_000]}, cached_tokens=[1_000], output_tokens=[0]
        )
    with pytest.raises(UnpricedError, match="no output rate"):
        price_tokens(emb, prompt_tokens=[2_000], input_by_modality={"text": [2_000]}, output_tokens=[5])


def test_storage_and_grounding() -> None:
    book = packaged_book()
    flash = book.rates("gemini-3.8-flash", "batch", NOV27)
    assert storage_cost(flash, 100_000, 2) == Decimal("0.1")
    assert storage_cost(book.rates("gemini-3.8-flash", "batch", d("2027-01-01")), 100_000, 2) == Decimal("0.2")
    with pytest.raises(UnpricedError, match="explicit-cache storage"):
        storage_cost(book.rates("gemini-4-argon", "batch", NOV27), 100_000, 1)
    assert grounding_cost(flash, 10) == Decimal("0.14")
    assert flash.grounding is not None and any("Google does not say" in n for n in flash.grounding.notes)
    with pytest.raises(UnpricedError, match="grounding fee unknown"):
        grounding_cost(book.rates("gemini-embedding-001", "batch", NOV27), 1)


def test_million_requests_vectorised_total_is_exact() -> None:
    rates = packaged_book().rates("gemini-2.5-pro", "batch", NOV27)
    n = 200_000
    rng = np.random.default_rng(7)
    prompt = rng.integers(1_000, 400_000, size=n)
    cached = prompt // 4
    text = prompt - cached
    out = rng.integers(0, 8_000, size=n)
    cost = price_tokens(
        rates, prompt_tokens=prompt, input_by_modality={"text": text}, cached_tokens=cached, output_tokens=out
    )
    above = prompt > 200_000
    expected = (
        mtok("0.625", int(text[~above].sum()))
        + mtok("1.25", int(text[above].sum()))
        + mtok("0.125", int(cached[~above].sum()))
        + mtok("0.25", int(cached[above].sum()))
        + mtok("5", int(out[~above].sum()))
        + mtok("7.5", int(out[above].sum()))
    )
    assert cost.total == expected
    assert cost.requests_above_threshold == int(above.sum())


# ---------------------------------------------------------------- properties

DATES = st.dates(min_value=datetime.date(2026, 1, 1), max_value=datetime.date(2027, 12, 31))


def _all_rates(book_rates: ModeRates) -> dict[tuple[str, str, bool], Decimal]:
    return {(c, m, a): r.usd_per_mtok for c, m, a, r in book_rates.rates()}


@settings(max_examples=60, deadline=None)
@given(day=DATES)
def test_batch_never_costs_more_than_standard(day: datetime.date) -> None:
    book = packaged_book()
    checked = 0
    for model in book.models():
        try:
            standard = book.rates(model, "standard", day)
            batch = book.rates(model, "batch", day)
        except PricingError:
            continue
        std, bat = _all_rates(standard), _all_rates(batch)
        assert set(bat) <= set(std) | {k for k in bat if k[2]}, model
        for key, rate in bat.items():
            std_key = key if key in std else (key[0], key[1], False)
            assert rate <= std[std_key], (model, day, key)
        checked += 1
    assert checked >= 10


TOKENS = st.integers(min_value=0, max_value=400_000)
MODELS = st.sampled_from(
    [
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-3.1-pro-preview",
        "gemini-3.8-flash",
        "gemini-4-argon",
        "gemini-3.1-flash-lite",
    ]
)
MODES = st.sampled_from(["standard", "batch"])


@st.composite
def requests(draw: st.DrawFn) -> dict[str, list[int]]:
    n = draw(st.integers(min_value=1, max_value=6))
    columns = {
        name: draw(st.lists(TOKENS, min_size=n, max_size=n)) for name in ("text", "audio", "image", "cached", "output")
    }
    return columns


def _price(rates: ModeRates, cols: dict[str, list[int]]) -> tuple[Decimal, dict[str, Decimal], dict[str, Decimal]]:
    prompt = [sum(v) for v in zip(cols["text"], cols["audio"], cols["image"], cols["cached"], strict=True)]
    cost = price_tokens(
        rates,
        prompt_tokens=prompt,
        input_by_modality={m: cols[m] for m in ("text", "audio", "image")},
        cached_tokens=cols["cached"],
        output_tokens=cols["output"],
    )
    return cost.total, dict(cost.by_component), dict(cost.input_by_modality)


@settings(max_examples=80, deadline=None)
@given(
    model=MODELS,
    mode=MODES,
    cols=requests(),
    column=st.sampled_from(["text", "audio", "image", "cached", "output"]),
    index=st.integers(min_value=0, max_value=5),
    extra=st.integers(min_value=1, max_value=100_000),
)
def test_cost_is_monotonic_in_tokens(
    model: str, mode: str, cols: dict[str, list[int]], column: str, index: int, extra: int
) -> None:
    rates = packaged_book().rates(model, mode, NOV27)
    before, _, _ = _price(rates, cols)
    more = {k: list(v) for k, v in cols.items()}
    more[column][index % len(more[column])] += extra
    after, _, _ = _price(rates, more)
    assert after >= before


@settings(max_examples=80, deadline=None)
@given(model=MODELS, mode=MODES, cols=requests(), day=DATES)
def test_components_sum_to_total(model: str, mode: str, cols: dict[str, list[int]], day: datetime.date) -> None:
    try:
        rates = packaged_book().rates(model, mode, day)
    except PricingError:
        return
    total, by_component, by_modality = _price(rates, cols)
    assert sum(by_component.values(), Decimal(0)) == total
    assert sum(by_modality.values(), Decimal(0)) == by_component["input"]
    assert set(by_modality) == set(MODALITIES)
    assert total >= 0
