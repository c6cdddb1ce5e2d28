"""What a shard plan is: :class:`ShardPlan`, its :class:`Shard` and :class:`Oversized` records.

:func:`~batchcost.planner.shard_pack.plan_shards` makes them, and
:func:`~batchcost.planner.shards.shard_plan_for` prices them for an estimate.

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

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from ..documents.shards import SHARDS_SCHEMA  # the id is defined once, with the contract
from ..money import usd
from .shard_limits import ShardLimits

IntArray = npt.NDArray[np.int64]


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
