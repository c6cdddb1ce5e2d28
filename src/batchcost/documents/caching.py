"""The ``caching`` section of ``batchcost.plan/1``: what context caching would do for the file.

Written by ``CachingAdvice.to_json`` (``planner/caching/records.py``). Every USD figure is an exact
decimal string, null when a rate it needs is unknown.
"""

from __future__ import annotations

import datetime
from typing import Literal

from .common import Count, ExactDecimal, ModeCost, Strict

__all__ = [
    "CacheCandidate",
    "CacheOptions",
    "CachingAdvice",
    "ChosenCache",
    "ExplicitCache",
    "ImplicitCaching",
    "NoCache",
    "Reason",
    "Recommendation",
]


class Reason(Strict):
    """Why an option is unavailable or does not pay (``code`` is stable, ``text`` for people)."""

    code: str
    text: str


class NoCache(Strict):
    """The shared prefix's tokens at the batch input rate, without caching."""

    cost: ExactDecimal | None


class ExplicitCache(Strict):
    """An explicit cache (``cachedContents``) for one candidate, priced.

    ``cost`` is cached reads + creation + storage; ``saving`` is the no-cache cost minus it
    (negative when caching costs more). ``break_even_requests`` is null when caching can never pay;
    ``minimum_tokens`` null when the model's minimum is unknown.
    """

    available: bool
    pays: bool
    cost: ExactDecimal | None
    saving: ExactDecimal | None
    cached_reads: ExactDecimal | None
    creation: ExactDecimal | None
    storage: ExactDecimal | None
    break_even_requests: Count | None
    break_even_hours: ExactDecimal | None
    minimum_tokens: Count | None
    reasons: list[Reason]


class ImplicitCaching(Strict):
    """Implicit caching: a best case (every request hits), never part of an expected figure."""

    available: bool
    best_case_cost: ExactDecimal | None
    best_case_saving: ExactDecimal | None
    reasons: list[Reason]


class CacheOptions(Strict):
    """The three ways one candidate is priced."""

    no_cache: NoCache
    explicit: ExplicitCache
    implicit_best_case: ImplicitCaching


class CacheCandidate(Strict):
    """A prefix a group of requests shares (``requests`` scaled from the sample when ``estimated``)."""

    id: str
    kind: str
    requests: Count
    estimated: bool
    sampled: Count
    prefix_tokens: Count
    prefix_by_modality: dict[str, Count]
    tokens_exact: bool
    description: str
    cached: list[str]
    how: str
    requests_above_tier: Count
    options: CacheOptions
    notes: list[str]


class ChosenCache(Strict):
    """One explicit cache of the recommendation (``candidate`` is a candidate's ``id``)."""

    candidate: str
    requests: Count
    no_cache: ExactDecimal
    cost: ExactDecimal
    saving: ExactDecimal
    creation: ExactDecimal
    storage: ExactDecimal


class Recommendation(Strict):
    """The explicit caches to create, and what they save against the batch cost on ``basis``."""

    option: Literal["explicit"]
    caches: list[ChosenCache]
    saving: ExactDecimal | None
    saving_percent: ExactDecimal | None
    basis: Literal["expected", "floor"] | None


class CachingAdvice(Strict):
    """What caching would do for the plan, and what to do.

    ``recommendation`` and ``batch_cached`` (the batch cost with the recommended caches) are null
    when caching does not pay, and ``reason`` says why; ``hours`` is the storage time priced.
    """

    model: str
    billed_model: str
    platform: Literal["developer", "vertex"]
    run_date: datetime.date
    hours: ExactDecimal
    pays: bool
    summary: str
    recommendation: Recommendation | None
    batch_cached: ModeCost | None
    implicit_best_case_saving: ExactDecimal | None
    reason: str | None
    reason_codes: list[str]
    candidates: list[CacheCandidate]
    notes: list[str]
