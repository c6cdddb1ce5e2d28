"""Scaling per-request inputs to an interval end: the same requests get the rounding's spare tokens as a full sort gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from batchcost.planner.inputs import _smallest


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-8, 8), min_size=1, max_size=400), st.data())
def test_smallest_holds_the_head_of_a_stable_sort(values: list[int], data: st.DataObject) -> None:
    arr = np.array(values, np.float64) / 4  # many ties, as fractions of rounded shares have
    k = data.draw(st.integers(1, len(values)))
    assert _smallest(arr, k).tolist() == sorted(np.argsort(arr, kind="stable")[:k].tolist())


def _scaled_by_sort(text: np.ndarray, counted_rows: np.ndarray, target: int) -> np.ndarray:
    """The interval end's text tokens as first written: a floor, a copy of the fractions, a full sort."""
    counted = np.zeros(len(text), bool)
    counted[counted_rows] = True
    fixed, est = int(text[counted].sum()), int(text[~counted].sum())
    if est <= 0:
        return text
    want = max(0, target - fixed)
    share = text[~counted] * (want / est)
    scaled = np.floor(share).astype(np.int64)
    missing = want - int(scaled.sum())
    if missing > 0:
        scaled[np.argsort(scaled - share, kind="stable")[:missing]] += 1
    elif missing < 0:
        order = np.flatnonzero(scaled > 0)[np.argsort((share - scaled)[scaled > 0], kind="stable")][:-missing]
        scaled[order] -= 1
    out = text.copy()
    out[~counted] = scaled
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=300), st.data())
def test_an_interval_end_is_scaled_as_before_and_adds_up(values: list[int], data: st.DataObject) -> None:
    """The in-place scaling (no copy of the fractions, 13.5 MB each on 1.7 M requests) gives each request
    the tokens the first version did, and the text total is exactly the interval's end."""
    from types import SimpleNamespace

    from batchcost.planner.inputs import _scaled
    from batchcost.tokens.interval import Interval

    text = np.array(values, np.int64)
    counted_rows = np.array(sorted(data.draw(st.sets(st.integers(0, len(values) - 1)))), np.int64)
    total = int(text.sum())
    fixed = int(text[counted_rows].sum()) if len(counted_rows) else 0
    high = data.draw(st.integers(total, total + 10_000))
    low = data.draw(st.integers(fixed, total))
    tokens = SimpleNamespace(
        per_request_by_modality={"text": text, "image": np.zeros(len(text), np.int64)},
        by_modality={"text": Interval(total, low, high)},
        counted_rows=counted_rows,
    )
    for which, target in (("high", high), ("low", low)):
        got = _scaled(tokens, which)["text"]  # type: ignore[arg-type]
        assert got.tolist() == _scaled_by_sort(text, counted_rows, target).tolist()
        if total - fixed > 0:
            assert int(got.sum()) == target
        assert got[counted_rows].tolist() == text[counted_rows].tolist()  # counted requests keep their counts
