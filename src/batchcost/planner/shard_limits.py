"""Shard limits: what a shard and a wave must stay within, and where each figure comes from.

:class:`ShardLimits` holds the figures, each with its source; :func:`limits_for` builds them from
the price book (the platform's limits, the model's enqueued-token quota per tier) and tightens them
with the user's figures. ``ShardLimits.to_json`` is the ``limits`` object of ``batchcost.shards/1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PlanError

if TYPE_CHECKING:
    from ..pricing import ModelInfo, PlatformLimits

PLATFORMS: tuple[str, ...] = ("developer", "vertex")
LIMIT_NAMES: tuple[str, ...] = ("max_bytes", "max_requests", "max_tokens", "enqueued_tokens", "concurrent_jobs")


# -- the limits -------------------------------------------------------------------------------------


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


# -- from the price book -------------------------------------------------------------------


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
