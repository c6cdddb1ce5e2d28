"""The scan's sample is bottom-k on hashed offsets: offering lines in bulk keeps exactly the same rows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from batchcost.batchfile.sampling import file_key, offer, offer_many, priority


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    k=st.integers(1, 40),  # the scan offers nothing when it keeps no sample
    blocks=st.lists(st.lists(st.integers(0, 2**40), max_size=120, unique=True), max_size=6),
)
def test_offering_a_block_at_once_keeps_the_rows_offering_one_by_one_keeps(
    seed: int, k: int, blocks: list[list[int]]
) -> None:
    key = file_key(seed, 3)
    seen: set[int] = set()
    one, many = [], []  # type: ignore[var-annotated]
    row = 0
    for block in blocks:
        offsets = [o for o in block if o not in seen]  # offsets in one file are distinct
        seen.update(offsets)
        rows = list(range(row, row + len(offsets)))
        row += len(offsets)
        for o, r in zip(offsets, rows, strict=True):
            offer(one, k, priority(key, o), r)
        offer_many(many, k, key, offsets, rows)
    assert sorted(one) == sorted(many)
    assert len(many) == min(k, row)
