"""The caching advice's records: the priced options, the candidates, the chosen caches, the advice."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import numpy as np

from ...money import exact, usd
from ...text import plural
from ..plan import ModeCost

__all__ = [
    "KINDS",
    "PLATFORMS",
    "REASONS",
    "CacheCandidate",
    "CachingAdvice",
    "ChosenCache",
    "ExplicitOption",
    "ImplicitOption",
]

KINDS: tuple[str, ...] = ("system", "leading_parts", "first_part", "template")
PLATFORMS: tuple[str, ...] = ("developer", "vertex")

REASONS: Mapping[str, str] = MappingProxyType(
    {
        "no-shared-prefix": "no prefix is shared by enough requests",
        "too-few-requests": "too few requests share the prefix",
        "prefix-too-small": "the shared prefix is too small",
        "storage-too-long": "storage for the time the jobs need costs more than the cache saves",
        "no-explicit-caching": "the model has no explicit caching",
        "explicit-caching-unknown": "whether the model supports explicit caching is unknown",
        "vertex-batch": "explicit caching is not supported in Vertex batch",
        "mixed-tools": "the requests send different tools, which a shared cache cannot hold",
        "not-priced": "a rate caching needs is unknown",
        "no-discount": "cached tokens cost no less than batch input",
        "embedding": "context caching does not apply to embedding requests",
    }
)


@dataclass(frozen=True)
class ExplicitOption:
    """An explicit cache (``cachedContents``) for one candidate, as priced.

    Attributes:
        available: the cache can be used here (platform, model, tools, minimum size allow it).
        cost: cached reads + creation + storage, USD (None when a rate is unknown).
        saving: ``no_cache - cost`` (negative when caching costs more); None when not priced.
        cached_reads: prefix tokens of every request at the batch cache-read rate.
        creation: the prefix once at the standard input rate (cache creation).
        storage: prefix tokens x hours x storage rate.
        break_even_requests: fewest requests sharing the prefix for the cache to pay at these hours
            (None when it can never pay: cached reads are not cheaper).
        break_even_hours: longest storage time (hours, rounded down to 0.01) for which the cache
            still pays with these requests (0 when creation alone outweighs the discount).
        minimum_tokens: smallest cache assumed accepted (the implicit-cache minimum; the explicit
            minimum for 3.x models is UNKNOWN), None when unknown.
        reasons: ``(code, text)`` pairs saying why it is unavailable or does not pay (codes in
            :data:`REASONS`).
    """

    available: bool
    cost: Decimal | None = None
    saving: Decimal | None = None
    cached_reads: Decimal | None = None
    creation: Decimal | None = None
    storage: Decimal | None = None
    break_even_requests: int | None = None
    break_even_hours: Decimal | None = None
    minimum_tokens: int | None = None
    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def pays(self) -> bool:
        """True when the cache is usable and saves money."""
        return self.available and self.saving is not None and self.saving > 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings)."""
        return {
            "available": self.available,
            "pays": self.pays,
            "cost": usd(self.cost),
            "saving": usd(self.saving),
            "cached_reads": usd(self.cached_reads),
            "creation": usd(self.creation),
            "storage": usd(self.storage),
            "break_even_requests": self.break_even_requests,
            "break_even_hours": usd(self.break_even_hours),
            "minimum_tokens": self.minimum_tokens,
            "reasons": [{"code": c, "text": t} for c, t in self.reasons],
        }


@dataclass(frozen=True)
class ImplicitOption:
    """Implicit caching for one candidate: a best case with no guarantee.

    Attributes:
        available: the prefix can be cached implicitly (size at least the model's minimum, a
            cache-read rate known).
        cost: every request's prefix at the cache-read rate (best case: every request hits).
        saving: ``no_cache - cost``.
        reasons: ``(code, text)`` pairs: why unavailable, or caveats.
    """

    available: bool
    cost: Decimal | None = None
    saving: Decimal | None = None
    reasons: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings)."""
        return {
            "available": self.available,
            "best_case_cost": usd(self.cost),
            "best_case_saving": usd(self.saving),
            "reasons": [{"code": c, "text": t} for c, t in self.reasons],
        }


@dataclass(frozen=True)
class CacheCandidate:
    """A prefix shared by a group of requests, with its three priced options.

    Attributes:
        id: short id (``system-1``, ``leading_parts-2``...), used by the recommendation.
        kind: one of :data:`KINDS`.
        requests: requests in the group (an estimate for ``template``: see ``estimated``).
        estimated: True when ``requests`` is scaled from the sample.
        sampled: members of the group found in the scan's sample.
        prefix_tokens: tokens a cache of the prefix would hold (system instruction and tools
            included when the group shares them).
        prefix_by_modality: the same split by modality (``text``, ``image``, ...).
        tokens_exact: True when counted by an exact tokenizer (else estimated: see the notes).
        description: what is shared, for people (texts are not escaped: the reports layer does it).
        cached: what the cache would hold (``system instruction``, ``tools``, ``2 leading content parts``...).
        how: how to use an explicit cache for this group.
        requests_above_tier: requests of the group above the prompt-size tier threshold.
        no_cache: USD the prefix tokens cost in batch without caching (None when not priced).
        explicit: the explicit-cache option.
        implicit: the implicit-caching best case.
        notes: assumptions particular to this candidate.
    """

    id: str
    kind: str
    requests: int
    estimated: bool
    sampled: int
    prefix_tokens: int
    prefix_by_modality: Mapping[str, int]
    tokens_exact: bool
    description: str
    cached: tuple[str, ...]
    how: str
    requests_above_tier: int
    no_cache: Decimal | None
    explicit: ExplicitOption
    implicit: ImplicitOption
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings); the three options under ``options``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "requests": self.requests,
            "estimated": self.estimated,
            "sampled": self.sampled,
            "prefix_tokens": self.prefix_tokens,
            "prefix_by_modality": dict(self.prefix_by_modality),
            "tokens_exact": self.tokens_exact,
            "description": self.description,
            "cached": list(self.cached),
            "how": self.how,
            "requests_above_tier": self.requests_above_tier,
            "options": {
                "no_cache": {"cost": usd(self.no_cache)},
                "explicit": self.explicit.to_json(),
                "implicit_best_case": self.implicit.to_json(),
            },
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ChosenCache:
    """One explicit cache of the recommendation.

    Attributes:
        candidate: the :class:`CacheCandidate` id.
        requests: requests that reference it (after removing those another chosen cache serves).
        no_cache: their prefix tokens at the batch input rate.
        cost: cached reads + creation + storage.
        saving: ``no_cache - cost``.
        creation: creation part of ``cost``.
        storage: storage part of ``cost``.
    """

    candidate: str
    requests: int
    no_cache: Decimal
    cost: Decimal
    saving: Decimal
    creation: Decimal
    storage: Decimal

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings)."""
        return {
            "candidate": self.candidate,
            "requests": self.requests,
            "no_cache": usd(self.no_cache),
            "cost": usd(self.cost),
            "saving": usd(self.saving),
            "creation": usd(self.creation),
            "storage": usd(self.storage),
        }


@dataclass(frozen=True)
class CachingAdvice:
    """What caching would do for a plan, and what to do.

    Attributes:
        model: the model asked for.
        billed_model: the model whose rates apply on the run date.
        platform: ``developer`` or ``vertex``.
        run_date: date of the prices.
        hours: storage hours priced for an explicit cache (the time the jobs need).
        candidates: every shared prefix found, best saving first.
        chosen: the recommended explicit caches (non-overlapping), empty when caching does not pay.
        saving: USD the recommendation saves against the batch plan (None when it does not pay).
        saving_percent: ``saving`` as a percentage of the batch cost on ``basis``, one decimal.
        basis: ``expected`` or ``floor`` (the batch figure the percentage is taken of).
        batch_cached: the batch cost with the recommended caches (same fields as the plan's
            modes, each lowered by ``saving``); None when caching does not pay.
        implicit_best_case: USD implicit caching would save if every eligible request hit the cache
            (never part of any expected figure); None when no candidate qualifies.
        reason: why caching does not pay (None when it does).
        reason_codes: codes of ``reason`` (see :data:`REASONS`).
        notes: assumptions and sources, to show with the advice.
    """

    model: str
    billed_model: str
    platform: str
    run_date: datetime.date
    hours: Decimal
    candidates: tuple[CacheCandidate, ...]
    chosen: tuple[ChosenCache, ...]
    saving: Decimal | None
    saving_percent: Decimal | None
    basis: str | None
    batch_cached: ModeCost | None
    implicit_best_case: Decimal | None
    reason: str | None
    reason_codes: tuple[str, ...]
    notes: tuple[str, ...]
    row_groups: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Per scan row, the index of the chosen cache that serves it (-1 none; int32); for the shard planner."""
    found: object | None = field(default=None, compare=False, repr=False)
    """The groups found, measured and counted (they do not depend on the hours): ``advise_caching(...,
    reuse=advice)`` prices them again for other hours without reading and counting the file again."""

    @property
    def pays(self) -> bool:
        """True when an explicit cache is recommended."""
        return self.batch_cached is not None

    @property
    def summary(self) -> str:
        """One line for people: the recommendation with its saving, or why caching does not pay."""
        if not self.pays or self.saving is None:
            return f"caching does not pay here: {self.reason}"
        n = sum(c.requests for c in self.chosen)
        caches = "1 explicit cache" if len(self.chosen) == 1 else f"{len(self.chosen)} explicit caches"
        pct = f" ({self.saving_percent}% of the batch {self.basis} cost)" if self.saving_percent is not None else ""
        shown = self.saving.quantize(Decimal("0.01") if self.saving >= 1 else Decimal("0.0001"))
        return f"use {caches} for {plural(n, 'request')}: saves {exact(shown)}{pct}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as exact decimal strings) for the plan's ``caching`` key."""
        return {
            "model": self.model,
            "billed_model": self.billed_model,
            "platform": self.platform,
            "run_date": self.run_date.isoformat(),
            "hours": usd(self.hours),
            "pays": self.pays,
            "summary": self.summary,
            "recommendation": None
            if not self.pays
            else {
                "option": "explicit",
                "caches": [c.to_json() for c in self.chosen],
                "saving": usd(self.saving),
                "saving_percent": None if self.saving_percent is None else str(self.saving_percent),
                "basis": self.basis,
            },
            "batch_cached": None if self.batch_cached is None else self.batch_cached.to_json(),
            "implicit_best_case_saving": usd(self.implicit_best_case),
            "reason": self.reason,
            "reason_codes": list(self.reason_codes),
            "candidates": [c.to_json() for c in self.candidates],
            "notes": list(self.notes),
        }
