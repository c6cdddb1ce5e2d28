"""The price overlay's parsed structures: a model's rates, dates, routes, notes and facts as the
overlay file (packaged or a user's ``--prices`` file) gives them, once validated by
:mod:`.overlay_fields` and :mod:`.overlay`. Internal to the pricing package: :class:`~.book.PriceBook`
reads them.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from batchcost.pricing.records import Provenance, Source, frozen_map
from batchcost.pricing.tool_fee_rows import ToolFeeTable

Key = tuple[str, str]
"""A rate's place: ``("input"|"cache_read", modality)`` or ``("output", "")``."""


@dataclass(frozen=True, slots=True)
class Val:
    """One rate in a layer: base rate, rate above the tier threshold, and provenance.

    ``base is None`` means the rate is explicitly unknown. ``threshold is None`` means flat.
    """

    base: Decimal | None
    above: Decimal | None
    threshold: int | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class PriceBlock:
    """A dated set of rates for one mode, from the overlay (layer 1) or a user file (layer 2)."""

    mode: str
    start: datetime.date | None
    end: datetime.date | None
    values: Mapping[Key, Val]
    provenance: Provenance
    layer: int

    def covers(self, day: datetime.date) -> bool:
        """True when ``day`` is within ``[start, end]`` (open ends allowed)."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class StorageBlock:
    """Explicit-cache storage price (USD per 1M tokens per hour) over a date range."""

    start: datetime.date | None
    end: datetime.date | None
    usd: Decimal | None
    provenance: Provenance
    layer: int

    def covers(self, day: datetime.date) -> bool:
        """True when ``day`` is within ``[start, end]``."""
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class Rule:
    """A published derivation rule: mode rate = factor x standard rate."""

    id: str
    factor: Decimal
    cache_read: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Route:
    """From ``start``, requests to the model are served by ``to``; billed as ``billing`` says."""

    start: datetime.date
    to: str
    billing: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class Shutdown:
    """The model stops answering on ``date``."""

    date: datetime.date
    successors: tuple[str, ...]
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A dated lifecycle event as written in the file."""

    date: datetime.date
    kind: str
    text: str
    provenance: Provenance


NOTE_KINDS = ("note", "warning")
"""A model note is a ``note`` (read once, nothing to do) or a ``warning`` (says what to do)."""


@dataclass(frozen=True, slots=True)
class NoteSpec:
    """A note shown with rates of the given modes (all modes when None), or only on model info.

    ``kind`` is ``note`` or ``warning``; ``cache_read`` marks a note that matters only where cached
    tokens are priced.
    """

    text: str
    modes: tuple[str, ...] | None
    info_only: bool
    kind: str = "note"
    cache_read: bool = False


@dataclass(frozen=True, slots=True)
class GroundingSpec:
    """Grounding facts the overlay adds (unit, allowance; a fee where genai-prices has none)."""

    unit: str
    fee_per_1k: Decimal | None
    free_allowance: str | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ThinkingSpec:
    """Thinking defaults as written in the file."""

    levels: tuple[str, ...]
    default_level: str | None
    default_budget: int | None
    budget_supported: bool | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class AliasSpec:
    """An alias id resolving to ``target`` (as checked on ``as_of``)."""

    target: str
    as_of: datetime.date
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything the overlay (and user overrides) say about one model."""

    id: str
    name: str
    kind: str
    status: str
    genai_prices: str | None
    released: datetime.date | None
    input_limit: int | None
    output_limit: int | None
    explicit_cache: bool | None
    implicit_cache_min_tokens: int | None
    tokenizer: str
    enqueued_tokens: Mapping[int, int | None]
    thinking: ThinkingSpec | None
    grounding: GroundingSpec | None
    derive: Mapping[str, str]
    prices: tuple[PriceBlock, ...]
    cache_storage: tuple[StorageBlock, ...]
    routing: tuple[Route, ...]
    shutdown: Shutdown | None
    events: tuple[EventSpec, ...]
    notes: tuple[NoteSpec, ...]
    unpriced: str | None
    provenance: Provenance
    overridden: bool = False
    fact_provenance: Mapping[str, Provenance] = field(default_factory=frozen_map)


@dataclass(frozen=True, slots=True)
class GenaiPricesSpec:
    """Which genai-prices version the overlay was reconciled against, and when."""

    version: str
    checked: datetime.date
    note: str


@dataclass(frozen=True, slots=True)
class Overlay:
    """A validated overlay (the packaged file, possibly merged with a user file)."""

    genai_prices: GenaiPricesSpec
    sources: Mapping[str, Source]
    rules: Mapping[str, Rule]
    aliases: Mapping[str, AliasSpec]
    limits: Mapping[str, tuple[Any, Provenance]]
    models: Mapping[str, ModelSpec]
    override_paths: tuple[str, ...] = ()
    tool_fees: ToolFeeTable = field(default_factory=ToolFeeTable)
