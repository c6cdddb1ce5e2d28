"""Shard planning: split a batch file's requests into jobs that fit every limit, then into waves.

The planner is pure: :func:`plan_shards` takes per-request figures (bytes as written, tokens that
count against the quotas, optional cost, optional cache-group ids) and :class:`ShardLimits`, and
returns a :class:`ShardPlan`. :func:`limits_for` builds the limits from the price book (platform
limits, the model's enqueued-token quota per tier, user tightening), and :func:`shard_plan_for`
does both for an estimate's :class:`~batchcost.planner.plan.Plan`, pricing every shard exactly.

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

JSON contract of :meth:`ShardPlan.to_json` (``batchcost.shards/1``; integers for bytes, tokens and
lines, USD as decimal strings, lines are 1-based positions in the input)::

    {
      "schema": "batchcost.shards/1",
      "platform": "developer" | "vertex",
      "tier": 1 | 2 | 3 | null,            # null on Vertex (tiers are Developer API limits)
      "tier_assumed": bool,                # true when --tier was not given
      "submittable": bool,                 # false when "oversized" is not empty
      "limits": {"max_bytes" | "max_requests" | "max_tokens" | "enqueued_tokens" | "concurrent_jobs":
                 {"value": int | null, "source": "..."}},
      "token_basis": "...",                # what "tokens" counts (e.g. input tokens, high end)
      "cost_basis": "expected" | "floor" | null,
      "totals": {"shards", "waves", "requests", "bytes", "tokens", "cost", "cost_ceiling"},
      "in_flight": int,                    # most shards submitted at once (largest wave)
      "shards": [{"index", "wave", "requests", "bytes", "tokens", "cost", "cost_ceiling",
                  "first_line", "last_line", "lines": [[first, last], ...]}],   # ranges of lines
      "waves": [{"index", "shards": [int, ...], "requests", "tokens", "cost"}],
      "hours": {"target", "expiry", "queue" | null, "expected", "worst"},
      "time_bound": "2 waves: expect results within about 48 h (...)",
      "oversized": [{"line", "limit", "figure", "allowed", "source"}],
      "warnings": ["..."],
      "notes": ["..."]
    }
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..errors import PlanError
from ..money import usd

if TYPE_CHECKING:
    from ..pricing import ModelInfo, PlatformLimits, PriceBook
    from .plan import Plan

SHARDS_SCHEMA = "batchcost.shards/1"
PLATFORMS: tuple[str, ...] = ("developer", "vertex")
QUOTA_COUNTS: tuple[str, ...] = ("input", "input+output-ceiling")
LIMIT_NAMES: tuple[str, ...] = ("max_bytes", "max_requests", "max_tokens", "enqueued_tokens", "concurrent_jobs")

IntArray = npt.NDArray[np.int64]


# -- limits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardLimits:
    """Everything a shard and a wave must stay within, with where each figure comes from.

    Attributes:
        max_bytes: bytes per shard file (the platform's input-file limit, or tighter).
        max_requests: requests per shard (None: no limit).
        max_tokens: tokens per shard (None: no per-shard token limit known). The planner also
            keeps every shard within ``enqueued_tokens``, since one job cannot exceed the quota.
        concurrent_jobs: shards in flight at once (None: unknown, all shards in one wave).
        enqueued_tokens: tokens of all jobs in flight at once (None: unknown or no quota).
        sources: limit name -> where its value comes from (shown beside it).
        platform: ``developer`` or ``vertex`` (decides the time-bound wording).
        target_hours: the platform's target turnaround per job.
        expiry_hours: a job still pending or running after this long expires (Developer API) or
            is cancelled (Vertex: hours after it starts).
        queue_hours: Vertex only: how long a job may queue before it expires.
        tier: billing tier the quotas are for (None on Vertex).
        tier_assumed: True when the tier was not given and tier 1 was assumed.
        notes: assumptions made while choosing the figures (shown with the plan).
    """

    max_bytes: int
    max_requests: int | None = None
    max_tokens: int | None = None
    concurrent_jobs: int | None = 100
    enqueued_tokens: int | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    platform: str = "developer"
    target_hours: int = 24
    expiry_hours: int = 48
    queue_hours: int | None = None
    tier: int | None = None
    tier_assumed: bool = False
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in LIMIT_NAMES:
            value = getattr(self, name)
            if value is None and name != "max_bytes":
                continue
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise PlanError(f"shard limit {name} must be a whole number of at least 1, got {value!r}")
        if self.platform not in PLATFORMS:
            raise PlanError(f"unknown platform {self.platform!r}; use one of {', '.join(PLATFORMS)}")

    @property
    def token_cap(self) -> int | None:
        """Tokens one shard may hold: the tighter of ``max_tokens`` and ``enqueued_tokens``."""
        caps = [c for c in (self.max_tokens, self.enqueued_tokens) if c is not None]
        return min(caps) if caps else None

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: {"value": getattr(self, name), "source": self.sources.get(name, "")} for name in LIMIT_NAMES}


# -- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """One planned job file.

    Attributes:
        index: 1-based shard number.
        rows: row ids of its requests, in input order (line = row + 1).
        requests: number of requests.
        bytes: bytes of the shard file (each line with its line end).
        tokens: tokens that count against the quotas (see ``ShardPlan.token_basis``).
        cost: estimated cost (``ShardPlan.cost_basis``), None when not priced.
        cost_ceiling: cost at every request's output ceiling, None when not priced.
        first_line: 1-based input line of its first request.
        last_line: 1-based input line of its last request.
        wave: 1-based wave it is submitted in.
    """

    index: int
    rows: IntArray = field(repr=False)
    requests: int
    bytes: int
    tokens: int
    cost: Decimal | None
    cost_ceiling: Decimal | None
    first_line: int
    last_line: int
    wave: int = 1

    def line_ranges(self) -> list[list[int]]:
        """Runs of consecutive input lines as ``[first, last]`` pairs (1-based, inclusive)."""
        return line_ranges(self.rows + 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "wave": self.wave,
            "requests": self.requests,
            "bytes": self.bytes,
            "tokens": self.tokens,
            "cost": usd(self.cost),
            "cost_ceiling": usd(self.cost_ceiling),
            "first_line": self.first_line,
            "last_line": self.last_line,
            "lines": self.line_ranges(),
        }


@dataclass(frozen=True)
class Oversized:
    """A request that alone exceeds a per-job limit (it cannot be submitted as it is).

    Attributes:
        row: its row id (line = row + 1).
        limit: ``max_bytes``, ``max_tokens`` or ``enqueued_tokens``.
        figure: the request's bytes or tokens.
        allowed: the limit.
        source: where the limit comes from.
    """

    row: int
    limit: str
    figure: int
    allowed: int
    source: str

    @property
    def line(self) -> int:
        return self.row + 1

    def describe(self) -> str:
        unit = "bytes" if self.limit == "max_bytes" else "tokens"
        return f"line {self.line:,}: {self.figure:,} {unit} > {self.allowed:,} ({self.limit}: {self.source})"

    def to_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "limit": self.limit,
            "figure": self.figure,
            "allowed": self.allowed,
            "source": self.source,
        }


@dataclass(frozen=True)
class ShardPlan:
    """How to submit a batch file as jobs; :meth:`to_json` gives the ``batchcost.shards/1`` document.

    Attributes:
        shards: the shards, in submission order.
        waves: shard indices (1-based) per wave, in submission order.
        limits: the limits used, with their sources.
        oversized: requests left out because they alone exceed a limit.
        token_basis: what the token figures count.
        cost_basis: ``expected`` or ``floor`` (input only), None when not priced.
        warnings: things that will go wrong or need a decision (spend caps, oversized requests).
        notes: assumptions and choices (tier assumed, unknown quotas, what counts as enqueued).
    """

    shards: list[Shard]
    waves: list[list[int]]
    limits: ShardLimits
    oversized: list[Oversized] = field(default_factory=list)
    token_basis: str = "tokens per request as given"
    cost_basis: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def submittable(self) -> bool:
        """False when some request alone exceeds a limit (it is in no shard)."""
        return not self.oversized

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.shards)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.shards)

    @property
    def tokens(self) -> int:
        return sum(s.tokens for s in self.shards)

    @property
    def cost(self) -> Decimal | None:
        return _sum_or_none(s.cost for s in self.shards)

    @property
    def cost_ceiling(self) -> Decimal | None:
        return _sum_or_none(s.cost_ceiling for s in self.shards)

    @property
    def in_flight(self) -> int:
        """Most shards submitted at once (the largest wave)."""
        return max((len(w) for w in self.waves), default=0)

    def hours(self) -> dict[str, int | None]:
        """Target, expiry and queue hours per wave, and the expected and worst-case totals."""
        lim = self.limits
        n = len(self.waves)
        per_wave_worst = lim.expiry_hours + (lim.queue_hours or 0)
        return {
            "target": lim.target_hours,
            "expiry": lim.expiry_hours,
            "queue": lim.queue_hours,
            "expected": n * lim.target_hours,
            "worst": n * per_wave_worst,
        }

    @property
    def time_bound(self) -> str:
        """One sentence: how long until all results are back."""
        n = len(self.waves)
        if n == 0:
            return "no requests to submit"
        lim = self.limits
        h = self.hours()
        waves = f"{n} wave{'s' if n != 1 else ''}"
        if lim.platform == "vertex":
            return (
                f"{waves}: expect results within about {h['expected']} h (most Vertex batch jobs finish within "
                f"{lim.target_hours} h of starting; a job may queue up to {lim.queue_hours} h, and one still running "
                f"{lim.expiry_hours} h after it starts is cancelled with only its completed requests charged: "
                f"at worst {h['worst']} h)"
            )
        return (
            f"{waves}: expect results within about {h['expected']} h (each wave targets {lim.target_hours} h; a job "
            f"still pending or running after {lim.expiry_hours} h expires without results, so the outer bound is "
            f"{h['worst']} h)"
        )

    def with_costs(
        self, costs: Sequence[Decimal | None], ceilings: Sequence[Decimal | None], basis: str | None
    ) -> ShardPlan:
        """A copy with the given per-shard costs (one per shard, in order)."""
        if len(costs) != len(self.shards) or len(ceilings) != len(self.shards):
            raise ValueError("give one cost and one ceiling per shard")
        shards = [replace(s, cost=c, cost_ceiling=x) for s, c, x in zip(self.shards, costs, ceilings, strict=True)]
        return replace(self, shards=shards, cost_basis=basis)

    def to_json(self) -> dict[str, Any]:
        by_index = {s.index: s for s in self.shards}
        waves = []
        for i, members in enumerate(self.waves, 1):
            ss = [by_index[j] for j in members]
            waves.append(
                {
                    "index": i,
                    "shards": list(members),
                    "requests": sum(s.requests for s in ss),
                    "tokens": sum(s.tokens for s in ss),
                    "cost": usd(_sum_or_none(s.cost for s in ss)),
                }
            )
        return {
            "schema": SHARDS_SCHEMA,
            "platform": self.limits.platform,
            "tier": self.limits.tier,
            "tier_assumed": self.limits.tier_assumed,
            "submittable": self.submittable,
            "limits": self.limits.to_json(),
            "token_basis": self.token_basis,
            "cost_basis": self.cost_basis,
            "totals": {
                "shards": len(self.shards),
                "waves": len(self.waves),
                "requests": self.requests,
                "bytes": self.bytes,
                "tokens": self.tokens,
                "cost": usd(self.cost),
                "cost_ceiling": usd(self.cost_ceiling),
            },
            "in_flight": self.in_flight,
            "shards": [s.to_json() for s in self.shards],
            "waves": waves,
            "hours": self.hours(),
            "time_bound": self.time_bound,
            "oversized": [o.to_json() for o in self.oversized],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


def _sum_or_none(values: Any) -> Decimal | None:
    total = Decimal(0)
    for v in values:
        if v is None:
            return None
        total += v
    return total


def line_ranges(lines: npt.NDArray[np.integer[Any]] | Sequence[int]) -> list[list[int]]:
    """Sorted line numbers -> ``[first, last]`` runs of consecutive numbers."""
    arr = np.asarray(lines, dtype=np.int64)
    if not len(arr):
        return []
    breaks = np.flatnonzero(np.diff(arr) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(arr) - 1]))
    return [[int(arr[a]), int(arr[b])] for a, b in zip(starts, ends, strict=True)]


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
    nb = np.asarray(nbytes, dtype=np.int64)
    tk = np.asarray(tokens, dtype=np.int64)
    n = len(nb)
    g = np.full(n, -1, np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    row_ids = np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    for name, arr in (("tokens", tk), ("groups", g), ("rows", row_ids)):
        if arr.shape != (n,):
            raise ValueError(
                f"{name} has shape {arr.shape}; nbytes has {n} entries and every array needs one per request"
            )
    if n and (int(nb.min()) < 1 or int(tk.min()) < 0):
        raise ValueError("bytes must be at least 1 per request (the line end) and tokens must not be negative")
    if n > 1 and bool((np.diff(row_ids) <= 0).any()):
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
        if over_b[i]:
            oversized.append(
                Oversized(
                    int(row_ids[i]), "max_bytes", int(nb[i]), limits.max_bytes, limits.sources.get("max_bytes", "")
                )
            )
        if over_t[i]:
            assert token_cap is not None
            oversized.append(
                Oversized(
                    int(row_ids[i]), token_limit_name, int(tk[i]), token_cap, limits.sources.get(token_limit_name, "")
                )
            )
    if oversized:
        first = oversized[0]
        n_rows = len({o.row for o in oversized})
        warnings.append(
            f"{n_rows:,} request{'s' if n_rows != 1 else ''} alone exceed{'s' if n_rows == 1 else ''} a per-job limit "
            f"and cannot be submitted as {'they are' if n_rows != 1 else 'it is'} (first: {first.describe()}); "
            "they are in no shard: shorten or split those requests yourself, or raise the limit if yours is higher"
        )
    pos = np.flatnonzero(~(over_b | over_t))

    # 2. units: a cache group is one unit unless it alone exceeds a limit
    m = len(pos)
    gk = g[pos]
    grouped = gk >= 0
    key = pos.copy()
    intact = np.zeros(m, bool)
    if grouped.any():
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
            notes.append(
                f"{int(too_big.sum()):,} cache group{'s' if too_big.sum() != 1 else ''} alone exceed a per-job limit "
                f"(largest: {int(sums['max_requests'][too_big].max()):,} requests); their requests are kept next to "
                "each other but spread over consecutive shards (each shard then needs the cache on its own)"
            )
    order = np.lexsort((pos, key)) if grouped.any() else np.arange(m)
    is_start = np.ones(m, bool)
    if m > 1:
        ks = key[order]
        is_start[1:] = (ks[1:] != ks[:-1]) | ~intact[order][1:]
    ustart = np.flatnonzero(is_start)
    bounds = np.append(ustart, m)
    members = pos[order]

    def unit_sums(values: IntArray) -> IntArray:
        if not m:
            return np.zeros(0, np.int64)
        return np.add.reduceat(values[members], ustart).astype(np.int64)

    ub, ut = unit_sums(nb), unit_sums(tk)
    ur = np.diff(bounds).astype(np.int64)
    n_units = len(ustart)

    def prefix(a: IntArray) -> IntArray:
        return np.concatenate(([0], np.cumsum(a, dtype=np.int64)))

    pb, pr, pt = prefix(ub), prefix(ur), prefix(ut)
    dims: list[_Dim] = [(pb, limits.max_bytes), (pr, limits.max_requests), (pt, token_cap)]
    w = 2 if int(pt[-1]) > 0 else 0
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
                f"(the fewest possible is {len(ranges):,}) in {len(alt_waves)} waves instead of {len(wave_lists)}"
            )
            ranges, wave_lists = alt_ranges, alt_waves
    if limits.concurrent_jobs is None and len(ranges) > 1:
        notes.append("the concurrent-job limit is unknown: all shards are assumed to run at once")

    shards: list[Shard] = []
    wave_of = {i: wi for wi, members_ in enumerate(wave_lists, 1) for i in members_}
    for i, (s, e) in enumerate(ranges):
        idx = np.sort(members[bounds[s] : bounds[e]])
        shard_rows = row_ids[idx]
        shards.append(
            Shard(
                index=i + 1,
                rows=shard_rows,
                requests=int(pr[e] - pr[s]),
                bytes=int(pb[e] - pb[s]),
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


# -- limits from the price book -------------------------------------------------------------------


def limits_for(
    platform_limits: PlatformLimits,
    info: ModelInfo,
    *,
    tier: int | None = None,
    platform: str = "developer",
    max_bytes: int | None = None,
    max_requests: int | None = None,
    max_tokens_per_shard: int | None = None,
    enqueued_token_limit: int | None = None,
    concurrent_jobs: int | None = None,
) -> ShardLimits:
    """The shard limits for a model, tier and platform, tightened by the user's figures.

    Args:
        platform_limits: from :meth:`PriceBook.limits`.
        info: the model (its enqueued-token quota per tier).
        tier: billing tier 1-3 (Developer API); None assumes tier 1 and says so.
        platform: ``developer`` (2 GB files, enqueued-token quota, 100 concurrent jobs) or
            ``vertex`` (1 GB files, 200,000 requests per job, no predefined quota).
        max_bytes: bytes per shard; only tightens the platform limit (a note says when it cannot).
        max_requests: requests per shard; only tightens.
        max_tokens_per_shard: tokens per shard.
        enqueued_token_limit: the project's enqueued-token quota for the model (replaces the
            published figure, e.g. the one AI Studio shows, or gives it when it is UNKNOWN).
        concurrent_jobs: jobs in flight at once; only tightens.

    Raises:
        PlanError: an unknown platform or tier, or a figure below 1.
    """
    if platform not in PLATFORMS:
        raise PlanError(f"unknown platform {platform!r}; use one of {', '.join(PLATFORMS)}")
    if tier is not None and tier not in (1, 2, 3):
        raise PlanError(f"billing tier must be 1, 2 or 3, got {tier!r}")
    for name, v in (("--max-bytes", max_bytes), ("--max-requests", max_requests),
                    ("--max-tokens-per-shard", max_tokens_per_shard),
                    ("--enqueued-token-limit", enqueued_token_limit), ("--concurrent-jobs", concurrent_jobs)):  # fmt: skip
        if v is not None and v < 1:
            raise PlanError(f"{name} must be at least 1, got {v}")
    prov = platform_limits.provenance
    lim_notes = platform_limits.notes
    notes: list[str] = []
    sources: dict[str, str] = {}

    def src(field_name: str) -> str:
        p = prov.get(field_name)
        text = p.source if p is not None else "price book limits"
        note = lim_notes.get(field_name)
        return f"{text}; {note}" if note else text

    def tighten(name: str, flag: str, published: int | None, published_src: str, user: int | None) -> int | None:
        if user is None:
            sources[name] = published_src
            return published
        if published is not None and user > published:
            notes.append(f"{flag} {user:,} is above the platform limit {published:,}; the platform limit is used")
            sources[name] = published_src
            return published
        sources[name] = f"{flag} (published: {published:,})" if published is not None else flag
        return user

    if platform == "vertex":
        the_tier = None
        tier_assumed = False
        file_bytes = tighten("max_bytes", "--max-bytes", platform_limits.vertex_file_bytes,
                             f"Vertex AI batch input file limit ({src('vertex_file_bytes')})", max_bytes)  # fmt: skip
        reqs = tighten("max_requests", "--max-requests", platform_limits.vertex_requests_per_job,
                       f"Vertex AI batch requests per job ({src('vertex_requests_per_job')})", max_requests)  # fmt: skip
        if enqueued_token_limit is not None:
            enqueued: int | None = enqueued_token_limit
            sources["enqueued_tokens"] = "--enqueued-token-limit"
        else:
            enqueued = None
            sources["enqueued_tokens"] = (
                "Vertex AI batch has no predefined quota (shared pool; Vertex AI batch inference docs)"
            )
        if concurrent_jobs is not None:
            concurrent: int | None = concurrent_jobs
            sources["concurrent_jobs"] = "--concurrent-jobs"
        else:
            concurrent = platform_limits.concurrent_jobs
            sources["concurrent_jobs"] = (
                f"assumed: the Developer API figure ({src('concurrent_jobs')}); Vertex's concurrent batch-job quota "
                "is not documented"
            )
            notes.append(
                f"Vertex's concurrent batch-job limit is not known here; {concurrent} (the Developer API figure) is "
                "assumed: give --concurrent-jobs N if yours differs"
            )
        notes.append(
            "billing tiers, enqueued-token quotas and spend caps are Gemini Developer API limits and are not applied "
            "on Vertex AI"
        )
        target, expiry, queue = 24, platform_limits.vertex_run_hours, platform_limits.vertex_queue_hours
    else:
        tier_assumed = tier is None
        the_tier = tier or 1
        if tier_assumed:
            notes.append(
                "billing tier 1 assumed (the smallest quotas and spend caps); pass --tier 2 or --tier 3 if your "
                "project qualifies (tier 2: $100 paid and 3 days since the first payment; tier 3: $1,000 paid and "
                "30 days)"
            )
        file_bytes = tighten("max_bytes", "--max-bytes", platform_limits.batch_file_bytes,
                             f"Developer API input file limit ({src('batch_file_bytes')})", max_bytes)  # fmt: skip
        reqs = tighten("max_requests", "--max-requests", None, "", max_requests)
        if max_requests is None:
            sources["max_requests"] = "no per-job request limit is documented for the Developer API"
        published = info.enqueued_token_limits.get(the_tier)
        published_src = f"{info.id} batch enqueued-token quota, tier {the_tier} ({info.provenance.source})"
        if enqueued_token_limit is not None:
            enqueued = enqueued_token_limit
            sources["enqueued_tokens"] = (
                f"--enqueued-token-limit (published for tier {the_tier}: {published:,})"
                if published is not None
                else "--enqueued-token-limit"
            )
        else:
            enqueued = published
            sources["enqueued_tokens"] = published_src
            if published is None:
                sources["enqueued_tokens"] = f"UNKNOWN: no source publishes the tier-{the_tier} quota of {info.id}"
                notes.append(
                    f"the batch enqueued-token quota of {info.id} for tier {the_tier} is UNKNOWN (no source publishes "
                    "it): shards and waves are not limited by it; give --enqueued-token-limit T "
                    "(AI Studio shows your project's limits)"
                )
        if concurrent_jobs is not None and concurrent_jobs < platform_limits.concurrent_jobs:
            concurrent = concurrent_jobs
            sources["concurrent_jobs"] = f"--concurrent-jobs (published: {platform_limits.concurrent_jobs})"
        else:
            if concurrent_jobs is not None:
                notes.append(
                    f"--concurrent-jobs {concurrent_jobs} is above the platform limit "
                    f"{platform_limits.concurrent_jobs}; the platform limit is used"
                )
            concurrent = platform_limits.concurrent_jobs
            sources["concurrent_jobs"] = f"concurrent batch jobs ({src('concurrent_jobs')})"
        target, expiry, queue = platform_limits.target_turnaround_hours, platform_limits.expiry_hours, None
    if max_tokens_per_shard is not None:
        sources["max_tokens"] = "--max-tokens-per-shard"
    else:
        sources["max_tokens"] = "none besides the enqueued-token quota"
    assert file_bytes is not None
    return ShardLimits(
        max_bytes=file_bytes,
        max_requests=reqs,
        max_tokens=max_tokens_per_shard,
        concurrent_jobs=concurrent,
        enqueued_tokens=enqueued,
        sources=sources,
        platform=platform,
        target_hours=target,
        expiry_hours=expiry,
        queue_hours=queue,
        tier=the_tier,
        tier_assumed=tier_assumed,
        notes=tuple(notes),
    )


# -- from an estimate ---------------------------------------------------------------------------------


def shard_plan_for(
    plan: Plan,
    book: PriceBook,
    *,
    tier: int | None = None,
    platform: str = "developer",
    max_bytes: int | None = None,
    max_requests: int | None = None,
    max_tokens_per_shard: int | None = None,
    enqueued_token_limit: int | None = None,
    concurrent_jobs: int | None = None,
    groups: npt.ArrayLike | None = None,
    quota_counts: str = "input",
    output_tokens: int | None = None,
    output_ratio: float | None = None,
) -> ShardPlan:
    """The shard plan for an estimate: its usable requests, limits from the book, exact shard costs.

    Tokens per request are the estimate's input tokens at the high end of its 95% interval (equal to
    the count when counted exactly), so sampled counts leave headroom under the quotas; with
    ``quota_counts="input+output-ceiling"`` each request's output ceiling is added. Shard costs are
    the batch mode priced per shard with the book's rates (each request in its own prompt tier), so
    they add up to the estimate's batch figures.

    Args:
        plan: from :func:`batchcost.planner.estimate.estimate`.
        book: the price book the estimate used (limits and rates).
        tier, platform, max_bytes, max_requests, max_tokens_per_shard, enqueued_token_limit,
            concurrent_jobs: see :func:`limits_for`.
        groups: cache-group id per scan row (-1 = none), e.g. from the caching advisor.
        quota_counts: ``input`` or ``input+output-ceiling``: what counts against the enqueued quota.
        output_tokens, output_ratio: the output expectation the estimate was made with (to price
            the expected cost per shard exactly; without them, when the estimate has an expected
            cost, it is shared out in proportion to the shards' input tokens).

    Raises:
        PlanError: bad limits or options. PricingError: the model is unknown to ``book``.
    """
    from .inputs import scaled_inputs

    if quota_counts not in QUOTA_COUNTS:
        raise PlanError(f"--quota-counts must be one of {', '.join(QUOTA_COUNTS)}, got {quota_counts!r}")
    scan = plan.scan
    info = book.model_info(plan.model, plan.run_date)
    platform_limits = book.limits()
    limits = limits_for(
        platform_limits, info, tier=tier, platform=platform, max_bytes=max_bytes, max_requests=max_requests,
        max_tokens_per_shard=max_tokens_per_shard, enqueued_token_limit=enqueued_token_limit,
        concurrent_jobs=concurrent_jobs,
    )  # fmt: skip
    usable = np.flatnonzero(scan.rows["usable"].astype(bool))
    ceiling_out = plan.cost.per_request_ceiling.astype(np.int64)
    unknown_ceilings = int((ceiling_out[usable] < 0).sum()) if len(ceiling_out) else 0
    ceiling_out = np.maximum(ceiling_out, 0)
    high_inputs = scaled_inputs(plan.tokens, "high")
    high_in = sum(high_inputs.values(), np.zeros(scan.lines, np.int64))
    quota_tokens = high_in + ceiling_out if quota_counts == "input+output-ceiling" else high_in
    exact = plan.tokens.method == "exact"
    basis = "input tokens" + ("" if exact else " (high end of the 95% interval)")
    if quota_counts == "input+output-ceiling":
        basis += " + each request's output ceiling"
        if unknown_ceilings:
            basis += f" ({unknown_ceilings:,} requests with an unknown ceiling count their input only)"
    notes: list[str] = []
    if quota_counts == "input":
        notes.append(
            "whether output tokens count against the enqueued-token quota is UNKNOWN: input tokens "
            "only are counted; --quota-counts input+output-ceiling also counts each request's output ceiling"
        )
    if not exact:
        notes.append(
            f"token counts are estimates ({plan.tokens.method}); shards are planned on the high end of the interval, "
            "so they keep headroom; --exact counts every request"
        )
    if limits.platform == "developer" and limits.enqueued_tokens is not None:
        notes.append(
            "batch creation has been refused with 429 RESOURCE_EXHAUSTED well under the documented enqueued-token "
            "limits (googleapis/python-genai#1901): keep headroom (--max-tokens-per-shard) and retry with back-off"
        )
    forms = {f.form for f in scan.files}
    if limits.platform not in forms:
        notes.append(
            f"the input is in {'/'.join(sorted(forms))} form but the limits are for the {limits.platform} platform; "
            f"pass --platform {'vertex' if 'vertex' in forms else 'developer'} if the job goes there"
        )
    if len(scan.files) > 1:
        notes.append("several input files are planned as if concatenated; lines count through them in order")
    bad = scan.lines - len(usable)
    if bad:
        notes.append(f"{bad:,} lines with validation errors are in no shard (run `batchcost validate`)")
    group_arr = None
    if groups is not None:
        group_arr = np.asarray(groups, dtype=np.int64)
        if group_arr.shape != (scan.lines,):
            raise PlanError(f"groups must have one id per line of the input ({scan.lines}), got {group_arr.shape}")
        group_arr = group_arr[usable]
    shard_plan = plan_shards(
        nbytes=scan.rows["nbytes"][usable].astype(np.int64) + 1,
        tokens=quota_tokens[usable],
        limits=limits,
        groups=group_arr,
        rows=usable,
        token_basis=basis,
    )
    shard_plan = _price_shards(plan, book, shard_plan, high_inputs, ceiling_out, output_tokens, output_ratio, notes)
    warnings = list(shard_plan.warnings)
    if limits.platform == "developer" and enqueued_token_limit is None:
        notes.extend(_other_tiers(shard_plan, info, limits))
    if limits.platform == "developer":
        spend_warnings, spend_notes = _spend_checks(shard_plan, platform_limits, limits)
        warnings.extend(spend_warnings)
        notes.extend(spend_notes)
    return replace(
        shard_plan,
        warnings=list(dict.fromkeys(warnings)),
        notes=list(dict.fromkeys([*shard_plan.notes, *notes])),
    )


def _price_shards(
    plan: Plan,
    book: PriceBook,
    shard_plan: ShardPlan,
    high_inputs: Mapping[str, IntArray],
    ceiling_out: IntArray,
    output_tokens: int | None,
    output_ratio: float | None,
    notes: list[str],
) -> ShardPlan:
    from ..errors import PricingError
    from ..pricing import price_tokens

    batch = plan.cost.modes.get("batch")
    if batch is None or batch.not_priced_reason is not None:
        why = batch.not_priced_reason if batch is not None else "the book has no batch price for the model"
        notes.append(f"shards are not priced: {why}")
        return shard_plan
    try:
        rates = book.rates(plan.model, "batch", plan.run_date)
    except PricingError as e:
        notes.append(f"shards are not priced: {e}")
        return shard_plan
    exp_inputs = {k: np.asarray(v, np.int64) for k, v in plan.tokens.per_request_by_modality.items()}
    exp_total_in = sum(exp_inputs.values(), np.zeros(plan.scan.lines, np.int64))
    raw = plan.cost.per_request_ceiling
    unknown = raw < 0 if len(raw) == plan.scan.lines else np.zeros(plan.scan.lines, bool)
    # an unknown ceiling caps no expectation (and makes the shard's ceiling unknown)
    cap = np.where(unknown, np.iinfo(np.int64).max, ceiling_out)
    outs: IntArray | None = None
    if output_tokens is not None:
        outs = np.minimum(np.full(plan.scan.lines, output_tokens, np.int64), cap)
    elif output_ratio is not None:
        outs = np.minimum(np.rint(exp_total_in * output_ratio).astype(np.int64), cap)

    def price(rows: IntArray, inputs: Mapping[str, IntArray], out: IntArray | None) -> Decimal:
        sub = {k: v[rows] for k, v in inputs.items()}
        prompt = sum(sub.values(), np.zeros(len(rows), np.int64))
        o = np.zeros(len(rows), np.int64) if out is None else out[rows]
        return price_tokens(rates, prompt_tokens=prompt, input_by_modality=sub, output_tokens=o).total

    costs: list[Decimal | None] = []
    ceilings: list[Decimal | None] = []
    floors: list[Decimal] = []
    for s in shard_plan.shards:
        floor = price(s.rows, exp_inputs, None)
        floors.append(floor)
        costs.append(price(s.rows, exp_inputs, outs) if outs is not None else floor)
        ceilings.append(None if unknown[s.rows].any() else price(s.rows, high_inputs, ceiling_out))
    basis = "expected" if outs is not None else "floor"
    if outs is None and batch.expected is not None and batch.floor is not None:
        # The estimate has an expectation but not the option it came from: share its output part
        # out by input tokens (stated, since it is an allocation, not a per-shard price).
        weights = [int(exp_total_in[s.rows].sum()) for s in shard_plan.shards]
        total_w = sum(weights) or 1
        extra = batch.expected - batch.floor
        shares = [(extra * wt / total_w).quantize(Decimal("1e-12")) for wt in weights]
        if shares:  # the rounding remainder goes to the heaviest shard, so the shares add up exactly
            heaviest = max(range(len(weights)), key=weights.__getitem__)
            shares[heaviest] += extra - sum(shares, Decimal(0))
        costs = [f + share for f, share in zip(floors, shares, strict=True)]
        basis = "expected"
        notes.append(
            "the expected output cost is shared out among shards in proportion to their input tokens "
            "(pass the output expectation to price each shard exactly)"
        )
    elif outs is None:
        notes.append("shard costs are the input-only floor (no output expectation was given) and the ceiling")
    return shard_plan.with_costs(costs, ceilings, basis)


def _other_tiers(shard_plan: ShardPlan, info: ModelInfo, limits: ShardLimits) -> list[str]:
    """When the enqueued-token quota sets the number of waves, what higher tiers would allow."""
    n_waves = len(shard_plan.waves)
    by_concurrency = math.ceil(len(shard_plan.shards) / limits.concurrent_jobs) if limits.concurrent_jobs else 1
    if limits.tier is None or limits.enqueued_tokens is None or n_waves <= max(1, by_concurrency):
        return []
    options = []
    for tier in range(limits.tier + 1, 4):
        quota = info.enqueued_token_limits.get(tier)
        if quota is not None:
            at_least = max(1, by_concurrency, math.ceil(shard_plan.tokens / quota))
            options.append(f"tier {tier} ({quota:,} tokens): at least {at_least} wave{'s' if at_least != 1 else ''}")
    if not options:
        return []
    return [
        f"the tier-{limits.tier} enqueued-token quota ({limits.enqueued_tokens:,} tokens) sets the number of waves "
        f"({n_waves}); " + "; ".join(options)
    ]


def _spend_checks(shard_plan: ShardPlan, pl: PlatformLimits, limits: ShardLimits) -> tuple[list[str], list[str]]:
    """(warnings, notes) about the tier's monthly and 10-minute spend caps."""
    out: list[str] = []
    notes: list[str] = []
    tier = limits.tier
    if tier is None:
        return out, notes
    cost, ceiling = shard_plan.cost, shard_plan.cost_ceiling
    monthly = pl.spend_cap_monthly_usd.get(tier)
    ten_min = pl.spend_cap_10min_usd.get(tier)
    basis = shard_plan.cost_basis or "estimate"
    if monthly is not None and cost is not None:
        src = pl.provenance.get("spend_cap_monthly_usd")
        where = f" ({src.source})" if src is not None else ""
        if cost > monthly:
            out.append(
                f"the batch cost (${cost:,.2f}, {basis}) exceeds tier {tier}'s monthly spend cap of ${monthly:,.2f}"
                f"{where}: requests will be refused once the cap is reached; spread the waves over billing months, "
                "or move up a tier"
            )
        elif ceiling is not None and ceiling > monthly:
            out.append(
                f"the batch ceiling (${ceiling:,.2f}) exceeds tier {tier}'s monthly spend cap of ${monthly:,.2f}"
                f"{where}; the {basis} estimate (${cost:,.2f}) is within it"
            )
    if ten_min is not None and ten_min > 0 and cost is not None and cost > 0:
        minutes = cost / ten_min * 10
        hours_available = len(shard_plan.waves) * limits.target_hours
        text = (
            f"tier {tier}'s spend-based rate limit is ${ten_min:,.2f} per rolling 10 minutes across all traffic, so "
            f"${cost:,.2f} ({basis}) takes at least {_duration(minutes)} of spending"
        )
        if minutes <= 10:
            pass  # within one 10-minute window: nothing to say
        elif minutes / 60 > hours_available:
            out.append(
                f"{text}: longer than the {hours_available} h the waves target; expect 429 RESOURCE_EXHAUSTED and jobs "
                "that may expire: submit fewer shards at once or move up a tier"
            )
        else:
            notes.append(text)
    return out, notes


def _duration(minutes: Decimal) -> str:
    m = float(minutes)
    if m < 90:
        return f"{math.ceil(m)} min"
    return f"{m / 60:,.1f} h"
