"""``batchcost.shards/1`` (the shard plan, ``planner/shard_types.py``) and ``batchcost.shard-plan/1``
(what ``plan --format json`` writes around it, ``cli/plan.py``).

The shard plan also sits in the ``shards`` key of ``batchcost.plan/1``;
``reports/html/sections_shards.py`` and ``reports/shards.py`` read it. Lines are 1-based positions in the input; a cost is null when it is
not priced (``cost_ceiling``: when some request's output ceiling is unknown).
"""

from __future__ import annotations

import datetime
from typing import Literal

from .common import Count, ExactDecimal, FileEntry, LineRange, Strict

SHARDS_SCHEMA = "batchcost.shards/1"
SHARD_PLAN_SCHEMA = "batchcost.shard-plan/1"

__all__ = [
    "SHARDS_SCHEMA",
    "SHARD_PLAN_SCHEMA",
    "Hours",
    "Limit",
    "Limits",
    "OtherTier",
    "Oversized",
    "Shard",
    "ShardPlanDocument",
    "ShardPlanTokens",
    "ShardPlanValidation",
    "ShardTotals",
    "ShardsDocument",
    "Wave",
]


class Limit(Strict):
    """One limit a shard or a wave stays within (``value`` null: none known), and its source."""

    value: Count | None
    source: str


class Limits(Strict):
    """Every limit the plan keeps, by name (the same five in every plan and manifest)."""

    max_bytes: Limit
    max_requests: Limit
    max_tokens: Limit
    enqueued_tokens: Limit
    concurrent_jobs: Limit


class ShardTotals(Strict):
    """All shards together."""

    shards: Count
    waves: Count
    requests: Count
    bytes: Count
    tokens: Count
    cost: ExactDecimal | None
    cost_ceiling: ExactDecimal | None


class Shard(Strict):
    """One planned job file; ``lines`` are its runs of input lines."""

    index: Count
    wave: Count
    requests: Count
    bytes: Count
    tokens: Count
    cost: ExactDecimal | None
    cost_ceiling: ExactDecimal | None
    first_line: Count
    last_line: Count
    lines: list[LineRange]


class Wave(Strict):
    """Shards submitted together (their indexes), and what they hold."""

    index: Count
    shards: list[Count]
    requests: Count
    tokens: Count
    cost: ExactDecimal | None


class Hours(Strict):
    """Turnaround: per wave (target, expiry, Vertex queue or null) and for all waves (expected, worst)."""

    target: Count
    expiry: Count
    queue: Count | None
    expected: Count
    worst: Count


class Oversized(Strict):
    """A request that alone exceeds a per-job limit: it is in no shard."""

    line: Count
    limit: str
    figure: Count
    allowed: Count
    source: str


class ShardsDocument(Strict, tag_field="schema", tag=SHARDS_SCHEMA):
    """``batchcost.shards/1``: how to submit a batch file as jobs (shards) in waves, and how long.

    ``tier`` is null on Vertex; ``cost_basis`` says what ``cost`` prices (``expected`` or the
    input-only ``floor``), null when not priced.
    """

    platform: Literal["developer", "vertex"]
    tier: int | None
    tier_assumed: bool
    submittable: bool
    limits: Limits
    token_basis: str
    cost_basis: Literal["expected", "floor"] | None
    totals: ShardTotals
    in_flight: Count
    shards: list[Shard]
    waves: list[Wave]
    hours: Hours
    time_bound: str
    oversized: list[Oversized]
    warnings: list[str]
    notes: list[str]


class OtherTier(Strict):
    """What the shard plan would need on a higher billing tier than the one assumed (``plan/1``'s
    ``other_tiers``)."""

    tier: int
    shards: Count
    waves: Count


class ShardPlanValidation(Strict):
    """The input's verdict; ``blocking``: error counts by kind that sharding cannot fix."""

    valid: bool
    errors: Count
    blocking: dict[str, Count]


class ShardPlanTokens(Strict):
    """How the tokens behind the plan were counted."""

    method: Literal["exact", "sampled", "approximate"]
    tokenizer: str


class ShardPlanDocument(Strict, tag_field="schema", tag=SHARD_PLAN_SCHEMA):
    """``batchcost.shard-plan/1``: the input, the model and its shard plan (``plan --format json``).

    ``other_tiers`` is as in ``batchcost.plan/1`` (added within /1: a document saved without it
    reads as ``[]``).
    """

    run_date: datetime.date
    model: str
    billed_model: str
    files: list[FileEntry]
    requests: Count
    validation: ShardPlanValidation
    tokens: ShardPlanTokens
    shards: ShardsDocument
    warnings: list[str]
    other_tiers: list[OtherTier] = []  # noqa: RUF012 - msgspec copies a default list per instance
