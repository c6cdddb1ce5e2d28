"""Pieces of the sampled estimate: the t quantile, non-negative least squares, the cached cut rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from batchcost.tokens.class_model import nnls
from batchcost.tokens.gemma3 import LocalCounter, cached_cut_rules
from batchcost.tokens.interval import Z95, t975


@pytest.mark.parametrize(("df", "exact"), [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (5, 2.5706),
                                           (10, 2.2281), (30, 2.0423), (120, 1.9799)])  # fmt: skip
def test_t_quantile(df: float, exact: float) -> None:
    assert t975(df) == pytest.approx(exact, abs=0.005)


def test_t_quantile_tends_to_the_normal() -> None:
    assert t975(float("inf")) == Z95
    assert t975(1e7) == Z95
    assert t975(2.5) == pytest.approx((4.3027 + 3.1824) / 2, abs=0.01)


def test_nnls_is_least_squares_when_the_solution_is_positive_and_never_negative() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((200, 5))
    b = a @ np.array([1.0, 2.0, 0.5, 3.0, 0.1]) + rng.normal(0, 0.01, 200)
    assert np.allclose(nnls(a, b), np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-6)
    b2 = a @ np.array([1.0, -2.0, 0.5, 3.0, 0.0])
    x = nnls(a, b2)
    assert (x >= 0).all() and x[1] == 0


def test_cut_rules_are_kept_per_model_and_read_back_the_same(tmp_path: Path) -> None:
    counter = LocalCounter.load(offline=True, env={})
    derived = cached_cut_rules(counter.source.data, tmp_path)
    files = list(tmp_path.glob("gemma3-cut-rules-v*.json"))
    assert len(files) == 1
    again = cached_cut_rules(counter.source.data, tmp_path)
    assert again.pairs == derived.pairs and dict(again.user_spans) == dict(derived.user_spans)
    assert dict(again.runs) == dict(derived.runs) and np.array_equal(again.pair_keys, derived.pair_keys)
    files[0].write_text("{not json")  # a broken cache is derived again, not trusted
    assert cached_cut_rules(counter.source.data, tmp_path).pairs == derived.pairs


def test_more_of_a_stratum_are_drawn_as_from_its_unsampled_rows_without_making_them() -> None:
    """``_draw`` picks the rows ``rng.choice(setdiff1d(rows, sampled), k, replace=False)`` picks, from the
    same random numbers (so an estimate's sample is unchanged), without an array of the unsampled rows,
    which for a stratum of millions of requests was 13.5 MB at the estimate's peak."""
    from batchcost.tokens.sampled import _draw, _Stratum

    gen = np.random.default_rng(7)
    for _ in range(200):
        n = int(gen.integers(1, 300))
        rows = np.sort(gen.choice(4000, size=n, replace=False))
        sampled = np.sort(gen.choice(rows, size=int(gen.integers(0, n)), replace=False))
        k, seed = int(gen.integers(0, n - len(sampled) + 3)), int(gen.integers(1 << 30))
        stratum = _Stratum(rows, sampled, False, 1.0)
        got = _draw(stratum, k, np.random.default_rng(seed))
        take = min(k, n - len(sampled))
        pool = np.setdiff1d(rows, sampled, assume_unique=True)
        want = np.sort(np.random.default_rng(seed).choice(pool, size=take, replace=False)) if take else pool[:0]
        assert got.tolist() == want.tolist()
        assert stratum.sampled.tolist() == np.union1d(sampled, want).tolist()  # the stratum knows them
