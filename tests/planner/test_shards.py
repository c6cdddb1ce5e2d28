"""The shard planner: properties over random requests and limits, and hand-checked cases."""

from __future__ import annotations

import datetime
import itertools
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.errors import PlanError
from batchcost.planner.shards import ShardLimits, limits_for, line_ranges, plan_shards, shard_plan_for
from batchcost.pricing import PriceBook

NOV27 = datetime.date(2026, 11, 27)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook.load()


# -- properties -------------------------------------------------------------------------------------


@st.composite
def cases(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(0, 40))
    nb = draw(st.lists(st.integers(1, 120), min_size=n, max_size=n))
    tk = draw(st.lists(st.integers(0, 90), min_size=n, max_size=n))
    use_groups = draw(st.booleans())
    groups = draw(st.lists(st.integers(-1, 4), min_size=n, max_size=n)) if use_groups else None
    cost = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n))
    limits = ShardLimits(
        max_bytes=draw(st.integers(60, 600)),
        max_requests=draw(st.none() | st.integers(1, 12)),
        max_tokens=draw(st.none() | st.integers(40, 400)),
        concurrent_jobs=draw(st.none() | st.integers(1, 4)),
        enqueued_tokens=draw(st.none() | st.integers(60, 600)),
    )
    return {"nbytes": nb, "tokens": tk, "groups": groups, "limits": limits, "cost": cost}


def _greedy_count(nb: list[int], tk: list[int], lim: ShardLimits) -> int:
    """Reference: fill shards in order until the next request does not fit."""
    count, b, r, t = 0, 0, 0, 0
    cap = lim.token_cap
    for x, y in zip(nb, tk, strict=True):
        fits = count and b + x <= lim.max_bytes and (lim.max_requests is None or r + 1 <= lim.max_requests)
        fits = fits and (cap is None or t + y <= cap)
        if fits:
            b, r, t = b + x, r + 1, t + y
        else:
            count, b, r, t = count + 1, x, 1, y
    return count


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_every_request_in_one_shard_within_limits_in_order(case: dict[str, Any]) -> None:
    nb, tk, groups, lim = case["nbytes"], case["tokens"], case["groups"], case["limits"]
    cost = [Decimal(c) / 1000 for c in case["cost"]]
    p = plan_shards(nbytes=nb, tokens=tk, limits=lim, groups=groups, cost=cost)
    cap = lim.token_cap
    too_big = {i for i in range(len(nb)) if nb[i] > lim.max_bytes or (cap is not None and tk[i] > cap)}
    assert {o.row for o in p.oversized} == too_big
    assert p.submittable == (not too_big)

    placed = np.concatenate([s.rows for s in p.shards]) if p.shards else np.zeros(0, np.int64)
    assert sorted(placed.tolist()) == sorted(set(range(len(nb))) - too_big)  # exactly once
    for s in p.shards:
        rows = s.rows.tolist()
        assert rows == sorted(rows) and len(set(rows)) == len(rows)  # input order
        assert s.requests == len(rows) >= 1
        assert s.bytes == sum(nb[i] for i in rows) <= lim.max_bytes
        assert s.tokens == sum(tk[i] for i in rows)
        assert lim.max_requests is None or s.requests <= lim.max_requests
        assert cap is None or s.tokens <= cap
        assert s.cost == sum((cost[i] for i in rows), Decimal(0))
        assert (s.first_line, s.last_line) == (rows[0] + 1, rows[-1] + 1)
        assert [x for a, b in s.line_ranges() for x in range(a, b + 1)] == [r + 1 for r in rows]
    kept = [i for i in range(len(nb)) if i not in too_big]
    assert p.requests == len(kept)
    assert p.bytes == sum(nb[i] for i in kept)
    assert p.tokens == sum(tk[i] for i in kept)
    assert p.cost == sum((cost[i] for i in kept), Decimal(0))

    # a cache group that fits in one shard is in one shard
    if groups is not None:
        shard_of = {int(r): s.index for s in p.shards for r in s.rows}
        for gid in set(groups) - {-1}:
            members = [i for i in kept if groups[i] == gid]
            fits = (
                sum(nb[i] for i in members) <= lim.max_bytes
                and (lim.max_requests is None or len(members) <= lim.max_requests)
                and (cap is None or sum(tk[i] for i in members) <= cap)
            )
            if fits and len(members) == len([i for i in range(len(nb)) if groups[i] == gid]):
                assert len({shard_of[i] for i in members}) == 1
    else:
        # the fewest shards (unless waves were planned first, which the notes say)
        fewest = _greedy_count([nb[i] for i in kept], [tk[i] for i in kept], lim)
        if any("planned wave by wave" in n for n in p.notes):
            assert len(p.shards) >= fewest
        else:
            assert len(p.shards) == fewest

    # waves: each shard once, in order; within concurrency and the enqueued quota
    assert [i for w in p.waves for i in w] == [s.index for s in p.shards]
    by_index = {s.index: s for s in p.shards}
    for k, wave in enumerate(p.waves, 1):
        assert lim.concurrent_jobs is None or len(wave) <= lim.concurrent_jobs
        assert lim.enqueued_tokens is None or sum(by_index[i].tokens for i in wave) <= lim.enqueued_tokens
        assert all(by_index[i].wave == k for i in wave)
    assert p.in_flight == max((len(w) for w in p.waves), default=0)
    json.dumps(p.to_json())  # plain JSON


def _best_minimax(tk: list[int], nb: list[int], lim: ShardLimits, k: int) -> int:
    """Brute force: the smallest possible heaviest shard among partitions into k ordered shards."""
    n = len(tk)
    best = math.inf
    for cuts in itertools.combinations(range(1, n), k - 1):
        bounds = [0, *cuts, n]
        parts = [(bounds[i], bounds[i + 1]) for i in range(k)]
        if any(sum(nb[a:b]) > lim.max_bytes for a, b in parts):
            continue
        if lim.max_requests is not None and any(b - a > lim.max_requests for a, b in parts):
            continue
        heaviest = max(sum(tk[a:b]) for a, b in parts)
        if lim.token_cap is not None and heaviest > lim.token_cap:
            continue
        best = min(best, heaviest)
    return int(best)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 50), st.integers(1, 60)), min_size=2, max_size=11),
    st.integers(50, 300),
    st.none() | st.integers(1, 6),
)
def test_balanced_by_tokens_is_as_even_as_possible(reqs: list[tuple[int, int]], max_bytes: int, max_req: Any) -> None:
    nb = [b for b, _ in reqs]
    tk = [t for _, t in reqs]
    lim = ShardLimits(max_bytes=max_bytes, max_requests=max_req, concurrent_jobs=None)
    p = plan_shards(nbytes=nb, tokens=tk, limits=lim)
    if p.oversized:
        return
    k = len(p.shards)
    assert k == _greedy_count(nb, tk, lim)
    # fewer than 1,000 tokens in all: the bisection is exact
    assert max(s.tokens for s in p.shards) == _best_minimax(tk, nb, lim, k)


# -- hand-checked cases --------------------------------------------------------------------------------


def test_equal_requests_split_evenly_not_front_loaded() -> None:
    # 10 requests of 100 tokens, 400 tokens per shard: 3 shards; greedy filling gives 4-4-2
    p = plan_shards(nbytes=[10] * 10, tokens=[100] * 10, limits=ShardLimits(max_bytes=10_000, max_tokens=400))
    assert [s.requests for s in p.shards] == [3, 3, 4]
    assert [s.tokens for s in p.shards] == [300, 300, 400]
    assert [s.line_ranges() for s in p.shards] == [[[1, 3]], [[4, 6]], [[7, 10]]]


def test_balanced_by_tokens_not_bytes() -> None:
    # bytes force 2 shards; tokens are all in the first half, so an equal-bytes cut would be lopsided
    nb = [100] * 8
    tk = [90, 90, 90, 90, 10, 10, 10, 10]
    p = plan_shards(nbytes=nb, tokens=tk, limits=ShardLimits(max_bytes=700))
    assert len(p.shards) == 2
    assert [s.tokens for s in p.shards] == [180, 220]  # closest to 200 each, not 360/40


def test_request_alone_over_a_limit_is_reported_not_split() -> None:
    lim = ShardLimits(max_bytes=100, max_tokens=50, sources={"max_bytes": "test bytes", "max_tokens": "test tokens"})
    p = plan_shards(nbytes=[10, 150, 10, 10], tokens=[5, 5, 60, 5], limits=lim)
    assert not p.submittable
    assert [(o.line, o.limit, o.figure, o.allowed, o.source) for o in p.oversized] == [
        (2, "max_bytes", 150, 100, "test bytes"),
        (3, "max_tokens", 60, 50, "test tokens"),
    ]
    assert [s.rows.tolist() for s in p.shards] == [[0, 3]]
    assert "2 requests alone exceed a per-job limit and cannot be submitted" in p.warnings[0]
    assert "line 2: 150 bytes > 100 (max_bytes: test bytes)" in p.warnings[0]
    doc = p.to_json()
    assert doc["submittable"] is False
    assert doc["oversized"][0] == {
        "line": 2,
        "limit": "max_bytes",
        "figure": 150,
        "allowed": 100,
        "source": "test bytes",
    }


def test_enqueued_quota_caps_a_single_shard_too() -> None:
    lim = ShardLimits(max_bytes=10_000, max_tokens=1000, enqueued_tokens=300)
    p = plan_shards(nbytes=[1] * 4, tokens=[100, 100, 400, 100], limits=lim)
    assert [(o.line, o.limit, o.allowed) for o in p.oversized] == [(3, "enqueued_tokens", 300)]
    assert all(s.tokens <= 300 for s in p.shards)


def test_cache_group_moves_as_a_block_and_shards_keep_input_order() -> None:
    # group 7 is lines 1, 4 and 6; it must share a shard, which lists its lines in input order
    groups = [7, -1, -1, 7, -1, 7, -1, -1]
    p = plan_shards(
        nbytes=[10] * 8, tokens=[1] * 8, groups=groups, limits=ShardLimits(max_bytes=10_000, max_requests=4)
    )
    shard_of = {int(r): s.index for s in p.shards for r in s.rows}
    assert shard_of[0] == shard_of[3] == shard_of[5]
    # the group counts from its first line: group + line 2 fill the first shard, in input order
    assert [s.rows.tolist() for s in p.shards] == [[0, 1, 3, 5], [2, 4, 6, 7]]
    assert p.shards[0].line_ranges() == [[1, 2], [4, 4], [6, 6]]


def test_cache_group_over_a_limit_is_split_with_a_note() -> None:
    groups = [1] * 6 + [-1] * 2
    p = plan_shards(
        nbytes=[10] * 8, tokens=[1] * 8, groups=groups, limits=ShardLimits(max_bytes=10_000, max_requests=4)
    )
    assert [s.requests for s in p.shards] == [4, 4]
    assert any("1 cache group alone exceeds a per-job limit" in n and "6 requests" in n for n in p.notes)


def test_waves_respect_concurrency() -> None:
    p = plan_shards(nbytes=[10] * 5, tokens=[1] * 5, limits=ShardLimits(max_bytes=10, concurrent_jobs=2))
    assert p.waves == [[1, 2], [3, 4], [5]]
    assert [s.wave for s in p.shards] == [1, 1, 2, 2, 3]
    assert p.in_flight == 2
    assert p.time_bound == (
        "3 waves: expect results within about 72 h (each wave targets 24 h; a job still pending or running "
        "after 48 h expires without results, so the outer bound is 144 h)"
    )
    assert p.hours() == {"target": 24, "expiry": 48, "queue": None, "expected": 72, "worst": 144}


def test_waves_respect_the_enqueued_quota_and_plan_wave_first_when_that_saves_a_wave() -> None:
    # 20 requests of 10 tokens, 7 per job: fewest shards 3 (70/70/60 tokens), but a quota of 100
    # tokens in flight then needs 3 waves; filling each wave to 100 tokens needs 2 waves of 2 shards.
    lim = ShardLimits(max_bytes=10_000, max_requests=7, enqueued_tokens=100, concurrent_jobs=100)
    p = plan_shards(nbytes=[5] * 20, tokens=[10] * 20, limits=lim)
    assert len(p.waves) == 2
    assert [s.tokens for s in p.shards] == [50, 50, 50, 50]
    assert p.waves == [[1, 2], [3, 4]]
    assert any("planned wave by wave" in n and "4 shards (the fewest possible is 3) in 2 waves instead of 3" in n
               for n in p.notes)  # fmt: skip


def test_nothing_to_plan() -> None:
    p = plan_shards(nbytes=[], tokens=[], limits=ShardLimits(max_bytes=10))
    assert p.shards == [] and p.waves == [] and p.time_bound == "no requests to submit"
    assert p.to_json()["totals"] == {
        "shards": 0, "waves": 0, "requests": 0, "bytes": 0, "tokens": 0, "cost": "0", "cost_ceiling": "0",
    }  # fmt: skip


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(PlanError, match="max_requests must be a whole number of at least 1"):
        ShardLimits(max_bytes=10, max_requests=0)
    with pytest.raises(ValueError, match="tokens has shape"):
        plan_shards(nbytes=[1, 2], tokens=[1], limits=ShardLimits(max_bytes=10))
    with pytest.raises(ValueError, match="strictly increasing"):
        plan_shards(nbytes=[1, 2], tokens=[1, 1], rows=[3, 2], limits=ShardLimits(max_bytes=10))


def test_line_ranges() -> None:
    assert line_ranges([1, 2, 3, 7, 9, 10]) == [[1, 3], [7, 7], [9, 10]]
    assert line_ranges([]) == []


# -- limits from the book ----------------------------------------------------------------------------


def test_developer_limits_tier_1_assumed(book: PriceBook) -> None:
    lim = limits_for(book.limits(), book.model_info("gemini-2.5-flash", NOV27))
    assert (lim.max_bytes, lim.max_requests, lim.enqueued_tokens, lim.concurrent_jobs) == (
        2_000_000_000, None, 3_000_000, 100,
    )  # fmt: skip
    assert lim.tier == 1 and lim.tier_assumed
    assert any(n.startswith("billing tier 1 assumed") for n in lim.notes)
    assert (
        "https://ai.google.dev/gemini-api/docs/rate-limits" in lim.sources["enqueued_tokens"]
        and "tier 1" in lim.sources["enqueued_tokens"]
    )
    lim2 = limits_for(book.limits(), book.model_info("gemini-2.5-flash", NOV27), tier=2)
    assert lim2.enqueued_tokens == 400_000_000 and not lim2.tier_assumed


def test_unknown_quota_is_said_and_can_be_given(book: PriceBook) -> None:
    info = book.model_info("gemini-3.8-flash", NOV27)
    lim = limits_for(book.limits(), info, tier=2)
    assert lim.enqueued_tokens is None
    assert lim.sources["enqueued_tokens"].startswith("UNKNOWN")
    assert any("UNKNOWN" in n and "--enqueued-token-limit" in n for n in lim.notes)
    given_ = limits_for(book.limits(), info, tier=2, enqueued_token_limit=50_000_000)
    assert given_.enqueued_tokens == 50_000_000 and given_.sources["enqueued_tokens"] == "--enqueued-token-limit"


def test_vertex_limits_and_user_tightening(book: PriceBook) -> None:
    info = book.model_info("gemini-2.5-flash", NOV27)
    lim = limits_for(book.limits(), info, platform="vertex", max_requests=500_000, max_bytes=100_000_000)
    assert (lim.max_bytes, lim.max_requests, lim.enqueued_tokens, lim.tier) == (100_000_000, 200_000, None, None)
    assert lim.sources["max_bytes"] == "--max-bytes (published: 1,000,000,000)"
    assert any("--max-requests 500,000 is above the platform limit 200,000" in n for n in lim.notes)
    assert "no predefined quota" in lim.sources["enqueued_tokens"]
    p = plan_shards(nbytes=[1] * 3, tokens=[1] * 3, limits=lim)
    assert p.time_bound.startswith("1 wave: expect results within about 24 h (most Vertex batch jobs finish")
    assert "queue up to 72 h" in p.time_bound and "at worst 96 h" in p.time_bound
    with pytest.raises(PlanError, match="billing tier must be 1, 2 or 3"):
        limits_for(book.limits(), info, tier=4)


# -- from an estimate ---------------------------------------------------------------------------------


def _write(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            text = "Grüße, мир ✓ " * (1 + i % 7)
            line = {"key": f"k{i}", "request": {"contents": [{"parts": [{"text": text}]}]}}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path


def test_shard_costs_add_up_to_the_estimate(tmp_path: Path, book: PriceBook) -> None:
    from batchcost.planner.estimate import estimate

    path = _write(tmp_path / "r.jsonl", 40)
    plan = estimate(path, model="gemini-2.5-flash", offline=True, run_date=NOV27, output_tokens=50, book=book)
    sp = shard_plan_for(plan, book, max_requests=9, output_tokens=50)
    batch = plan.cost.modes["batch"]
    assert len(sp.shards) == 5 and sp.requests == 40
    assert sp.cost_basis == "expected"
    assert sp.cost == batch.expected
    assert sp.cost_ceiling == batch.ceiling
    assert sp.tokens == plan.tokens.total.high
    assert sp.bytes == path.stat().st_size  # every line with its newline
    # without the option, the expectation is shared out by input tokens (and the notes say so)
    shared = shard_plan_for(plan, book, max_requests=9)
    assert shared.cost == batch.expected
    assert any("in proportion to their input tokens" in n for n in shared.notes)
    floor_plan = estimate(
        path, model="gemini-2.5-flash", offline=True, run_date=NOV27, book=book, scan_result=plan.scan
    )
    floor = shard_plan_for(floor_plan, book, max_requests=9)
    assert floor.cost_basis == "floor" and floor.cost == floor_plan.cost.modes["batch"].floor
    text_before = plan.tokens.per_request_by_modality["text"].copy()
    out_ceiling = shard_plan_for(plan, book, max_requests=9, quota_counts="input+output-ceiling")
    assert out_ceiling.tokens == plan.tokens.total.high + plan.cost.output.ceiling
    # the plan sums the estimate's own arrays without a copy, and adds the ceilings to a new one
    assert plan.tokens.per_request_by_modality["text"].tolist() == text_before.tolist()
    assert shard_plan_for(plan, book, max_requests=9).tokens == sp.tokens == plan.tokens.total.high
    json.dumps(sp.to_json())


def test_spend_caps_warn_over_the_monthly_cap(book: PriceBook) -> None:
    from batchcost.planner.shards import _spend_checks

    lim = limits_for(book.limits(), book.model_info("gemini-2.5-flash", NOV27), tier=1)
    p = plan_shards(nbytes=[10] * 4, tokens=[10] * 4, limits=with_max_requests(lim, 2))
    priced = p.with_costs([Decimal(150), Decimal(150)], [Decimal(400), Decimal(400)], "expected")
    warnings, notes = _spend_checks(priced, book.limits(), lim)
    assert any(
        "the batch cost ($300.00, expected) exceeds tier 1's monthly spend cap of $250.00" in w for w in warnings
    )
    # $300 at $10 per 10 minutes is 5 h of spending, within the 24 h the single wave targets
    assert notes == [
        "tier 1's spend-based rate limit is $10.00 per rolling 10 minutes across all traffic, so $300.00 (expected) "
        "takes at least 5.0 h of spending"
    ]
    cheap = p.with_costs([Decimal(100), Decimal(100)], [Decimal(200), Decimal(200)], "expected")
    warnings, _ = _spend_checks(cheap, book.limits(), lim)
    assert warnings == [
        "the batch ceiling ($400.00) exceeds tier 1's monthly spend cap of $250.00 (Gemini API rate limits page "
        "(https://ai.google.dev/gemini-api/docs/rate-limits), checked 2026-11-27); the expected estimate ($200.00) is "
        "within it"
    ]


def with_max_requests(lim: ShardLimits, max_requests: int) -> ShardLimits:
    from dataclasses import replace

    return replace(lim, max_requests=max_requests)
