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
