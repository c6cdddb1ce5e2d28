"""The packer: the fewest shards that fit every limit, balanced by tokens, then waves.

:func:`plan_shards` is pure: it takes per-request figures (bytes as written, tokens that count
against the quotas, optional cost, optional cache-group ids) and
:class:`~batchcost.planner.shard_limits.ShardLimits`, and returns a
:class:`~batchcost.planner.shard_types.ShardPlan`.

How shards are made:

* A request that alone exceeds a per-job limit (bytes, tokens) is listed in ``oversized`` and left
  out: a line is never split, and the plan says it cannot be submitted as is.
* Requests with the same group id (a shared cache) form one block that moves as a whole, placed
  where its first request is. A block that alone exceeds a limit is split into its requests, kept
  next to each other, with a note.
* The number of shards is the minimum that satisfies every limit: blocks are packed in input order
  (greedy filling is optimal for ordered packing under additive limits). The shards are then
  balanced by tokens (bytes when no tokens are known): the smallest per-shard token cap that still
  allows that many shards is found by bisection, and each cut is placed as close as the limits
  allow to an equal share of what remains. Within a shard, rows are in input order.
* Waves: shards are submitted in order, a wave holding at most ``concurrent_jobs`` shards whose
  tokens together stay within the enqueued-token quota (it counts tokens of all active jobs of the
  model). When the quota binds, a wave-first plan (fill each wave up to the quota, then shard it)
  is also made and used when it needs fewer waves; the notes say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from ..text import agree, plural
from .shard_limits import ShardLimits
from .shard_types import IntArray, Oversized, Shard, ShardPlan

# -- packing ------------------------------------------------------------------------------------

# A "dimension" is (prefix sums over units, cap or None). Units are blocks that move as a whole.
_Dim = tuple[IntArray, int | None]


def _forward(dims: Sequence[_Dim], s: int, b: int) -> int:
    """Largest e <= b such that units [s, e) fit every cap."""
    e = b
    for p, cap in dims:
        if cap is not None:
            e = min(e, int(p.searchsorted(int(p[s]) + cap, side="right")) - 1)
    return e


def _backward(dims: Sequence[_Dim], e: int, a: int) -> int:
    """Smallest s >= a such that units [s, e) fit every cap."""
    s = a
    for p, cap in dims:
        if cap is not None:
            s = max(s, int(p.searchsorted(int(p[e]) - cap, side="left")))
    return s


def _greedy(dims: Sequence[_Dim], a: int, b: int, stop_after: int | None = None) -> list[int] | None:
    """Ends of the fewest shards covering units [a, b) in order (None once over ``stop_after``)."""
    ends: list[int] = []
    s = a
    while s < b:
        e = _forward(dims, s, b)
        if e <= s:  # a unit larger than a cap: callers remove those first
            raise AssertionError(f"unit {s} exceeds a limit")
        ends.append(e)
        if stop_after is not None and len(ends) > stop_after:
            return None
        s = e
    return ends


def _with_cap(dims: Sequence[_Dim], w: int, cap: int) -> list[_Dim]:
    out = list(dims)
    p, old = out[w]
    out[w] = (p, cap if old is None else min(old, cap))
    return out


def _balanced(dims: Sequence[_Dim], w: int, unit_weight: IntArray, a: int, b: int) -> list[int]:
    """Ends of the fewest shards covering units [a, b), balanced on dimension ``w``."""
    # a cap that the whole range stays within never binds: skip it in every search below
    dims = [(p, cap if cap is not None and int(p[b] - p[a]) > cap else None) for p, cap in dims]
    ends = _greedy(dims, a, b)
    assert ends is not None
    k = len(ends)
    if k <= 1:
        return ends
    weight = dims[w][0]
    total = int(weight[b] - weight[a])
    heaviest = int(unit_weight[a:b].max())
    lo = max(heaviest, -(-total // k))
    # the greedy shards' heaviest weight is a cap that allows k shards
    hi = max(int(weight[e] - weight[s]) for s, e in _to_ranges(ends, a))
    lo = min(lo, hi)
    # the smallest per-shard cap on w that still allows k shards (exact below 1,000, else within 0.1%)
    tolerance = lo // 1000
    while hi - lo > tolerance:
        mid = (lo + hi) // 2
        if _greedy(_with_cap(dims, w, mid), a, b, stop_after=k) is not None:
            hi = mid
        else:
            lo = mid + 1
    capped = _with_cap(dims, w, hi)
    # starts[m]: the smallest start from which the remaining units fit in m shards
    starts = [b]
    for _ in range(k - 1):
        starts.append(_backward(capped, starts[-1], a))
    out: list[int] = []
    s = a
    for j in range(k - 1):
        left = k - j  # shards still to make, this one included
        low_e = max(starts[left - 1], s + 1)
        high_e = min(_forward(capped, s, b), b - (left - 1))
        # integer target: a float one would make searchsorted convert the whole array
        target = int(weight[s]) + (int(weight[b]) - int(weight[s])) // left
        e = int(weight.searchsorted(target, side="left"))
        best = None
        for c in (e - 1, e):
            c = min(max(c, low_e), high_e)
            if best is None or abs(int(weight[c]) - target) < abs(int(weight[best]) - target):
                best = c
        assert best is not None
        out.append(best)
        s = best
    out.append(b)
    return out


def _waves_in_order(shard_tokens: Sequence[int], concurrent: int | None, quota: int | None) -> list[list[int]]:
    """Consecutive shard positions per wave: at most ``concurrent`` shards and ``quota`` tokens each."""
    waves: list[list[int]] = []
    current: list[int] = []
    load = 0
    for i, t in enumerate(shard_tokens):
        full = concurrent is not None and len(current) >= concurrent
        if current and (full or (quota is not None and load + t > quota)):
            waves.append(current)
            current, load = [], 0
        current.append(i)
        load += t
    if current:
        waves.append(current)
    return waves


def plan_shards(
    *,
    nbytes: npt.ArrayLike,
    tokens: npt.ArrayLike,
    limits: ShardLimits,
    cost: Sequence[Decimal] | npt.ArrayLike | None = None,
    cost_ceiling: Sequence[Decimal] | npt.ArrayLike | None = None,
    groups: npt.ArrayLike | None = None,
    rows: npt.ArrayLike | None = None,
    token_basis: str = "tokens per request as given",
    cost_basis: str | None = None,
) -> ShardPlan:
    """Split requests into the fewest shards that fit ``limits``, balanced by tokens, and into waves.

    Args:
        nbytes: bytes each request takes in a shard file, its line end included.
        tokens: tokens each request counts against the quotas.
        limits: per-shard and per-wave limits.
        cost: per-request cost for reporting (Decimal, or float); summed per shard as Decimal.
        cost_ceiling: per-request cost at the output ceiling, for reporting.
        groups: group id per request (-1 = none); requests with the same id stay in one shard.
        rows: row id per request (default 0..n-1); shard rows and lines (row + 1) use these.
        token_basis: what ``tokens`` counts, for the report.
        cost_basis: what ``cost`` is (``expected`` / ``floor``), for the report.

    Returns:
        The :class:`ShardPlan`. Requests that alone exceed a limit are in ``oversized`` and in no shard.

    Raises:
        ValueError: arrays of different lengths, negative figures, or rows not increasing.
    """
    nb = np.asarray(nbytes)
    if nb.dtype.kind not in "iu":  # an integer array is used as it is (sums below are made in int64)
        nb = nb.astype(np.int64)
    tk = np.asarray(tokens, dtype=np.int64)
    n = len(nb)
    # Arrays of one figure per request cost 8 bytes each a request (13 MB for 1.7 M requests): none is
    # made where it would only say "no groups", "row i is row i" or "every request fits".
    g = None if groups is None else np.asarray(groups)
    if g is not None and g.dtype.kind != "i":  # signed integers as they are: -1 means none
        g = g.astype(np.int64)
    row_ids = None if rows is None else np.asarray(rows, dtype=np.int64)
    for name, arr in (("tokens", tk), ("groups", g), ("rows", row_ids)):
        if arr is not None and arr.shape != (n,):
            raise ValueError(
                f"{name} has shape {arr.shape}; nbytes has {plural(n, 'entry', 'entries')} and every array needs one "
                "per request"
            )
    if n and (int(nb.min()) < 1 or int(tk.min()) < 0):
        raise ValueError("bytes must be at least 1 per request (the line end) and tokens must not be negative")
    if row_ids is not None and n > 1 and bool((row_ids[1:] <= row_ids[:-1]).any()):
        raise ValueError("rows must be strictly increasing (requests in input order)")
    costs = _cost_array(cost, n, "cost")
    ceilings = _cost_array(cost_ceiling, n, "cost_ceiling")
    notes = list(limits.notes)
    warnings: list[str] = []

    # 1. requests that cannot go in any shard
    token_cap = limits.token_cap
    token_limit_name = "max_tokens"
    if token_cap is not None and limits.enqueued_tokens == token_cap:
        token_limit_name = "enqueued_tokens" if limits.max_tokens != token_cap else "max_tokens"
    over_b = nb > limits.max_bytes
    over_t = tk > token_cap if token_cap is not None else np.zeros(n, bool)
    oversized: list[Oversized] = []
    for i in np.flatnonzero(over_b | over_t):
        i = int(i)
        row = i if row_ids is None else int(row_ids[i])
        if over_b[i]:
            oversized.append(
                Oversized(row, "max_bytes", int(nb[i]), limits.max_bytes, limits.sources.get("max_bytes", ""))
            )
        if over_t[i]:
            assert token_cap is not None
            oversized.append(
                Oversized(row, token_limit_name, int(tk[i]), token_cap, limits.sources.get(token_limit_name, ""))
            )
    if oversized:
        first = oversized[0]
        n_rows = len({o.row for o in oversized})
        warnings.append(
            f"{n_rows:,} request{'s' if n_rows != 1 else ''} alone exceed{'s' if n_rows == 1 else ''} a per-job limit "
            f"and cannot be submitted as {'they are' if n_rows != 1 else 'it is'} (first: {first.describe()}); "
            f"{agree(n_rows, 'it is', 'they are')} in no shard: shorten or split "
            f"{agree(n_rows, 'that request', 'those requests')} yourself, or raise the limit if yours is higher"
        )
    fits = ~(over_b | over_t)
    del over_b, over_t
    every = bool(fits.all())
    # every request fits: 0..n, whose first n are the positions and (no groups) all n + 1 the unit bounds
    # (int32 while it can hold n: these positions are the shards' rows, kept with the plan)
    count_up = np.arange(n + 1, dtype=np.int32 if n < 2**31 - 1 else np.int64) if every else None
    pos = count_up[:n] if count_up is not None else np.flatnonzero(fits)
    del fits

    # 2. units: a cache group is one unit unless it alone exceeds a limit
    m = len(pos)
    gk = g[pos] if g is not None else None
    grouped = gk >= 0 if gk is not None else None
    if grouped is not None and grouped.any():
        assert g is not None and gk is not None
        key = pos.copy()
        intact = np.zeros(m, bool)
        gpos = np.flatnonzero(grouped)
        _, first_idx, inv = np.unique(gk[gpos], return_index=True, return_inverse=True)
        key[gpos] = pos[gpos][first_idx][inv]
        sums = {
            "max_bytes": np.bincount(inv, weights=nb[pos[gpos]]).astype(np.int64),
            "max_requests": np.bincount(inv).astype(np.int64),
            "tokens": np.bincount(inv, weights=tk[pos[gpos]]).astype(np.int64),
        }
        too_big = sums["max_bytes"] > limits.max_bytes
        if limits.max_requests is not None:
            too_big |= sums["max_requests"] > limits.max_requests
        if token_cap is not None:
            too_big |= sums["tokens"] > token_cap
        intact[gpos] = ~too_big[inv]
        if too_big.any():
            n_big = int(too_big.sum())
            notes.append(
                f"{plural(n_big, 'cache group')} alone {agree(n_big, 'exceeds', 'exceed')} a per-job limit "
                f"(largest: {plural(int(sums['max_requests'][too_big].max()), 'request')}); "
                f"{agree(n_big, 'its', 'their')} requests are kept next to "
                "each other but spread over consecutive shards (each shard then needs the cache on its own)"
            )
        order = np.lexsort((pos, key))
        is_start = np.ones(m, bool)
        if m > 1:
            ks = key[order]
            is_start[1:] = (ks[1:] != ks[:-1]) | ~intact[order][1:]
            del ks
        del key, intact, gk, grouped, gpos, inv
        ustart = np.flatnonzero(is_start)
        del is_start
        bounds = np.append(ustart, m)
        members = pos[order]
        del order
        ub = np.add.reduceat(nb[members], ustart, dtype=np.int64) if m else np.zeros(0, np.int64)
        ut = np.add.reduceat(tk[members], ustart, dtype=np.int64) if m else np.zeros(0, np.int64)
        ur = np.diff(bounds).astype(np.int64)
        del ustart
    else:
        # every request is its own unit, in input order
        del gk, grouped
        members = pos
        bounds = count_up if count_up is not None else np.arange(m + 1, dtype=np.int64)
        ub = nb if every else nb[pos]
        ut = tk if every else tk[pos]
        ur = None
    n_units = len(bounds) - 1

    def prefix(a: IntArray) -> IntArray:
        out = np.empty(len(a) + 1, np.int64)  # the sums made in place: no second array to concatenate
        out[0] = 0
        np.cumsum(a, dtype=np.int64, out=out[1:])
        return out

    pt = prefix(ut)
    w = 2 if int(pt[-1]) > 0 else 0
    # The bytes' prefix sums only where they can bind or balance: the units' bytes together over the
    # cap, or no token figures to balance on. Most files fit one job's bytes (13.5 MB spared on 1.7 M).
    pb = prefix(ub) if w == 0 or int(ub.sum(dtype=np.int64)) > limits.max_bytes else None
    pr = bounds if ur is None else prefix(ur)  # one request a unit: the request count is the unit count
    dims: list[_Dim] = [
        (pb, limits.max_bytes) if pb is not None else (pt, None),  # a dimension without a cap is never read
        (pr, limits.max_requests),
        (pt, token_cap),
    ]
    unit_weight = ut if w == 2 else ub
    if w == 0 and n_units:
        notes.append("no request has a token figure; shards are balanced by bytes")

    # 3. the fewest shards, balanced; then waves
    ranges = _to_ranges(_balanced(dims, w, unit_weight, 0, n_units) if n_units else [], 0)
    wave_lists = _waves_in_order(
        [int(pt[e] - pt[s]) for s, e in ranges], limits.concurrent_jobs, limits.enqueued_tokens
    )
    if limits.enqueued_tokens is not None and len(wave_lists) > 1:
        alt_ranges, alt_waves = _wave_first(dims, w, unit_weight, n_units, limits)
        if len(alt_waves) < len(wave_lists):
            notes.append(
                f"planned wave by wave so each wave fills the enqueued-token quota: {len(alt_ranges):,} shards "
                f"(the fewest possible is {len(ranges):,}) in {plural(len(alt_waves), 'wave')} "
                f"instead of {len(wave_lists)}"
            )
            ranges, wave_lists = alt_ranges, alt_waves
    if limits.concurrent_jobs is None and len(ranges) > 1:
        notes.append("the concurrent-job limit is unknown: all shards are assumed to run at once")

    shards: list[Shard] = []
    wave_of = {i: wi for wi, members_ in enumerate(wave_lists, 1) for i in members_}
    for i, (s, e) in enumerate(ranges):
        idx = members[bounds[s] : bounds[e]]
        if ur is not None:
            idx = np.sort(idx)  # a group's requests were moved next to each other
        shard_rows = idx if row_ids is None else row_ids[idx]
        shards.append(
            Shard(
                index=i + 1,
                rows=shard_rows,
                requests=int(pr[e] - pr[s]),
                bytes=int(pb[e] - pb[s]) if pb is not None else int(ub[s:e].sum(dtype=np.int64)),
                tokens=int(pt[e] - pt[s]),
                cost=_sum_costs(costs, idx),
                cost_ceiling=_sum_costs(ceilings, idx),
                first_line=int(shard_rows[0]) + 1,
                last_line=int(shard_rows[-1]) + 1,
                wave=wave_of[i],
            )
        )
    waves = [[i + 1 for i in wl] for wl in wave_lists]
    return ShardPlan(
        shards=shards, waves=waves, limits=limits, oversized=oversized, token_basis=token_basis,
        cost_basis=cost_basis if costs is not None else None, warnings=warnings, notes=list(dict.fromkeys(notes)),
    )  # fmt: skip


def _to_ranges(ends: Sequence[int], a: int) -> list[tuple[int, int]]:
    out = []
    s = a
    for e in ends:
        out.append((s, e))
        s = e
    return out


def _wave_first(
    dims: Sequence[_Dim], w: int, unit_weight: IntArray, n_units: int, limits: ShardLimits
) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """Waves first (each as full as the quota and concurrency allow), then balanced shards per wave."""
    assert limits.enqueued_tokens is not None
    pt = dims[2][0]
    ranges: list[tuple[int, int]] = []
    waves: list[list[int]] = []
    s = 0
    while s < n_units:
        e = min(n_units, int(np.searchsorted(pt, pt[s] + limits.enqueued_tokens, side="right")) - 1)
        if limits.concurrent_jobs is not None:
            # at most concurrent_jobs shards: stop after that many greedy (fullest) shards
            t = s
            for _ in range(limits.concurrent_jobs):
                if t >= e:
                    break
                t = _forward(dims, t, e)
            e = t
        assert e > s
        wave_ranges = _to_ranges(_balanced(dims, w, unit_weight, s, e), s)
        waves.append(list(range(len(ranges), len(ranges) + len(wave_ranges))))
        ranges.extend(wave_ranges)
        s = e
    return ranges, waves


def _cost_array(values: Any, n: int, name: str) -> list[Decimal] | None:
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}; give one figure per request ({n})")
    if arr.dtype == object:
        return [v if isinstance(v, Decimal) else Decimal(str(v)) for v in arr.tolist()]
    return [Decimal(repr(float(v))) for v in arr.tolist()]


def _sum_costs(costs: list[Decimal] | None, idx: IntArray) -> Decimal | None:
    if costs is None:
        return None
    return sum((costs[i] for i in idx.tolist()), Decimal(0))
