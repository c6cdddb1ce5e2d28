"""Plain, frozen records the price book hands out.

Every figure carries a :class:`Provenance` (where it came from, when it was checked, whether it was
derived by a published rule or overridden by the user), so reports can name the source and date of
every number. Money is :class:`decimal.Decimal`; nothing here rounds.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any

MODES: tuple[str, ...] = ("standard", "batch", "flex", "priority")
"""Pricing modes, in display order: synchronous, Batch API, Flex and Priority service tiers."""

MODALITIES: tuple[str, ...] = ("text", "image", "video", "audio", "document")
"""Input modalities, as in ``usageMetadata.promptTokensDetails[].modality`` (lower case)."""

STATUSES: tuple[str, ...] = ("ga", "preview", "deprecated", "shut down")
TOKENIZERS: tuple[str, ...] = ("gemma3", "gemma4", "unknown")


def frozen_map(items: Mapping[Any, Any] | None = None) -> Mapping[Any, Any]:
    """Return a read-only copy of ``items`` (so frozen records stay immutable)."""
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True, slots=True)
class Source:
    """A document a figure comes from, as a user can find and check it.

    Attributes:
        title: a title a user recognises ("Gemini API pricing page", "genai-prices 0.2.3").
        url: where to read it, when it has a public address.
        checked: the day the figure was last checked against it (None: not known).
        quote: a short verbatim quote backing the figure, when one helps.
    """

    title: str
    url: str | None = None
    checked: datetime.date | None = None
    quote: str | None = None

    def __str__(self) -> str:
        """The full form: ``Title (url), checked YYYY-MM-DD: "quote"``."""
        text = self.title
        if self.url and self.url != self.title:
            text += f" ({self.url})"
        if self.checked is not None:
            text += f", checked {self.checked.isoformat()}"
        if self.quote:
            text += f': "{self.quote}"'
        return text

    def short(self) -> str:
        """The form for tables and sentences: ``Title, YYYY-MM-DD``."""
        return self.title if self.checked is None else f"{self.title}, {self.checked.isoformat()}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``title``, ``url``, ``checked`` (ISO date) and ``quote`` (null when absent)."""
        return {
            "title": self.title,
            "url": self.url,
            "checked": None if self.checked is None else self.checked.isoformat(),
            "quote": self.quote,
        }


def render_sources(sources: Sequence[Source]) -> str:
    """Several sources in the full form, joined by ``"; "``."""
    return "; ".join(str(s) for s in sources)


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a figure comes from.

    Attributes:
        source: the sources in their full form (see :class:`Source`), joined by ``"; "``.
        checked: date the figure was last checked against that source.
        derived: True when computed by a published rule (e.g. batch = 50% of standard) rather than
            read from a price list for this exact model, mode and component.
        overridden: True when the figure comes from a user ``--prices`` file.
        note: short explanation (why an overlay entry exists, how a figure was derived).
        sources: the same sources, structured (empty only for provenance built from a bare text).
    """

    source: str
    checked: datetime.date
    derived: bool = False
    overridden: bool = False
    note: str = ""
    sources: tuple[Source, ...] = ()

    @classmethod
    def of(
        cls,
        sources: Sequence[Source],
        checked: datetime.date,
        *,
        derived: bool = False,
        overridden: bool = False,
        note: str = "",
    ) -> Provenance:
        """Provenance from structured sources (``source`` is rendered from them)."""
        found = tuple(dict.fromkeys(sources))
        return cls(render_sources(found), checked, derived, overridden, note, found)

    def cite(self) -> str:
        """The sources in their short form, for a sentence: ``Title, YYYY-MM-DD; Title2, ...``."""
        if not self.sources:
            return self.source
        return "; ".join(s.short() for s in self.sources)

    def sources_json(self) -> list[dict[str, Any]]:
        """The structured sources as JSON (a bare-text provenance gives one source with that title)."""
        found = self.sources or (Source(self.source, None, self.checked),)
        return [s.to_json() for s in found]


@dataclass(frozen=True, slots=True)
class Rate:
    """A price with its provenance.

    Attributes:
        usd_per_mtok: US dollars per 1,000,000 tokens (per 1,000,000 token-hours for cache storage).
        provenance: where the figure comes from.
    """

    usd_per_mtok: Decimal
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class GroundingFee:
    """Grounding with Google Search: fee and free allowance.

    Attributes:
        usd_per_1k: fee in USD per 1,000 ``unit``; None when unknown (never priced at $0).
        unit: what is counted: ``"search query"`` (Gemini 3+: a prompt may issue several) or
            ``"grounded prompt"`` (Gemini 2.x).
        free_allowance: free allowance as published (text; scope and reset window are UNKNOWN).
        provenance: source of the fee and allowance.
        notes: assumptions, e.g. that batch does not discount grounding.
        tool: ``google_search`` or ``google_maps``.
        mode_factor: what the standard fee was multiplied by for this mode (already in ``usd_per_1k``).
        factor_assumed: True when no source states ``mode_factor`` (Google is silent on batch).
        free_allowance_scope: what is known of the allowance's scope and reset (a note).
    """

    usd_per_1k: Decimal | None
    unit: str
    free_allowance: str | None
    provenance: Provenance
    notes: tuple[str, ...] = ()
    tool: str = "google_search"
    mode_factor: Decimal = Decimal(1)
    factor_assumed: bool = False
    free_allowance_scope: str = ""


@dataclass(frozen=True, slots=True)
class ThinkingDefaults:
    """What is known about a model's thinking settings.

    Attributes:
        levels: accepted ``thinkingLevel`` values (empty when unknown or not applicable).
        default_level: the default level, or None when unknown.
        default_budget: default ``thinkingBudget`` in tokens (0 = thinking off), or None when unknown.
        budget_supported: False when the model rejects ``thinkingBudget``; None when unknown.
        provenance: source.
    """

    levels: tuple[str, ...]
    default_level: str | None
    default_budget: int | None
    budget_supported: bool | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """A dated event in a model's life (release, price change, routing, shutdown...).

    Attributes:
        date: the day it takes effect.
        kind: ``release``, ``price``, ``intro-end``, ``routing``, ``shutdown``, ``earliest-shutdown``,
            ``access`` or another short word.
        text: one line for humans.
        source: where it is documented.
    """

    date: datetime.date
    kind: str
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class ModeRates:
    """Everything needed to price requests for one model, one mode and one run date.

    Rates are USD per 1M tokens. Above ``tier_threshold`` prompt tokens (cached included), a request
    pays the ``*_above`` rates for *all* of its input, cached input and output.

    Attributes:
        model: the model that is billed (after alias resolution and routing).
        requested_model: the id the caller asked for.
        mode: ``standard``, ``batch``, ``flex`` or ``priority``.
        run_date: the date the prices apply to.
        input: modality -> rate for non-cached input; every key of :data:`MODALITIES` is present.
        cache_read: modality -> rate for cached input, or None when no cache-read price is known.
        output: output rate (thinking tokens included), or None for models without token output
            (embeddings).
        tier_threshold: prompt-token threshold of the higher tier (e.g. 200,000), None when flat.
        input_above: input rates above the threshold (None when flat).
        cache_read_above: cache-read rates above the threshold (None when flat or no cache price).
        output_above: output rate above the threshold (None when flat).
        cache_storage: explicit-cache storage, USD per 1M tokens per hour (None: unknown or
            explicit caching unsupported).
        grounding: Search-grounding fee for this mode (None when the model has none known).
        maps_grounding: Maps-grounding fee for this mode (None when none is known for the model).
        notes: what a reader of the figures should know, once: rates derived by a rule, where sources
            disagree and which was used, assumptions where nothing is published. Not warnings.
        warnings: what the user should act on, each saying what to do (the requested model is
            routed or may be shut down, the prices are third-party only...). The same text for
            every mode, so a caller collecting several modes shows each once.
        cache_notes: notes that matter only where a cache is priced (cached tokens or cache
            storage), e.g. sources disagreeing on the batch cache-read rate; show them with a
            cache's cost, not otherwise.
    """

    model: str
    requested_model: str
    mode: str
    run_date: datetime.date
    input: Mapping[str, Rate]
    cache_read: Mapping[str, Rate] | None
    output: Rate | None
    tier_threshold: int | None = None
    input_above: Mapping[str, Rate] | None = None
    cache_read_above: Mapping[str, Rate] | None = None
    output_above: Rate | None = None
    cache_storage: Rate | None = None
    output_image: Rate | None = None
    grounding: GroundingFee | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    cache_notes: tuple[str, ...] = ()
    maps_grounding: GroundingFee | None = None

    def rates(self) -> list[tuple[str, str, bool, Rate]]:
        """Every token rate as ``(component, modality, above_threshold, rate)``.

        Components are ``input``, ``cache_read``, ``output`` and, for image-output models,
        ``output_image`` (modality ``""`` for both outputs).
        """
        out: list[tuple[str, str, bool, Rate]] = []
        tiers = (False, True) if self.tier_threshold is not None else (False,)
        for above in tiers:
            inputs = self.input_above if above else self.input
            caches = self.cache_read_above if above else self.cache_read
            output = self.output_above if above else self.output
            for modality in MODALITIES:
                if inputs is not None:
                    out.append(("input", modality, above, inputs[modality]))
            for modality in MODALITIES:
                if caches is not None:
                    out.append(("cache_read", modality, above, caches[modality]))
            if output is not None:
                out.append(("output", "", above, output))
            if self.output_image is not None and not above:  # no image-output model has a prompt tier
                out.append(("output_image", "", above, self.output_image))
        return out


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the book knows about a model besides its token rates.

    Attributes:
        id: canonical model id (e.g. ``gemini-3.8-flash``).
        name: display name.
        kind: ``generate`` or ``embed`` (embeddings have no token output).
        status: ``ga``, ``preview``, ``deprecated`` or ``shut down`` (as of the overlay's check date).
        aliases: other ids that resolve to this model (e.g. ``gemini-flash-latest``).
        input_limit: maximum input tokens (None when unknown).
        output_limit: maximum output tokens per request (None when unknown or not applicable).
        explicit_cache: whether ``cachedContents`` can be used (None when unknown).
        cache_storage_per_mtok_hour: explicit-cache storage price at the asked date.
        implicit_cache_min_tokens: smallest prompt prefix implicit caching applies to (None: unknown).
        thinking: thinking settings, or None when unknown.
        tokenizer: ``gemma3``, ``gemma4`` or ``unknown``.
        enqueued_token_limits: Batch enqueued-token quota per billing tier 1..3 (None = unknown).
        grounding: Search-grounding fee at the asked date, or None.
        events: dated lifecycle events, oldest first.
        successors: recommended replacements once shut down (may be empty).
        in_genai_prices: whether genai-prices has the model.
        priced: False when the book knows the model but no price (estimates raise UnpricedError).
        released: general-availability or launch date when known.
        notes: caveats about these figures.
        provenance: source of the non-price facts above (all of them).
        fact_provenance: fact -> the sources of that fact alone, for the facts the price book
            cites separately (``input_limit``, ``output_limit``, ``explicit_cache``,
            ``implicit_cache_min_tokens``, ``tokenizer``, ``enqueued_tokens``, ``status``); see
            :meth:`provenance_of`.
    """

    id: str
    name: str
    kind: str
    status: str
    aliases: tuple[str, ...]
    input_limit: int | None
    output_limit: int | None
    explicit_cache: bool | None
    cache_storage_per_mtok_hour: Rate | None
    implicit_cache_min_tokens: int | None
    thinking: ThinkingDefaults | None
    tokenizer: str
    enqueued_token_limits: Mapping[int, int | None]
    grounding: GroundingFee | None
    events: tuple[LifecycleEvent, ...]
    successors: tuple[str, ...]
    in_genai_prices: bool
    priced: bool
    released: datetime.date | None
    notes: tuple[str, ...]
    provenance: Provenance
    fact_provenance: Mapping[str, Provenance] = field(default_factory=frozen_map)

    def provenance_of(self, fact: str) -> Provenance:
        """The sources of one fact (e.g. ``"enqueued_tokens"``), or of the model's facts as a whole."""
        return self.fact_provenance.get(fact, self.provenance)


@dataclass(frozen=True, slots=True)
class Limit:
    """A platform limit with its provenance.

    Attributes:
        value: an int, or a tier -> amount mapping (Decimal for money).
        provenance: source.
    """

    value: Any
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """Batch platform limits (Gemini Developer API, plus Vertex for comparison).

    Byte sizes use the smaller (decimal) reading of "GB"/"MB" where Google does not say which.

    Attributes:
        batch_file_bytes: maximum JSONL input file size (2 GB).
        inline_request_bytes: maximum inline batch create request (20 MB).
        concurrent_jobs: concurrent batch jobs per project (100).
        file_storage_bytes: project File API storage (20 GB).
        target_turnaround_hours: target completion time (24 h).
        expiry_hours: a job pending or running longer than this expires without results (48 h).
        uploaded_file_ttl_hours: uploaded files are deleted after this (48 h, third-party).
        spend_cap_10min_usd: tier -> spend allowed per rolling 10 minutes.
        spend_cap_monthly_usd: tier -> monthly billing cap (Tier 3: lower bound of a range).
        vertex_file_bytes: Vertex batch input file limit (1 GB).
        vertex_requests_per_job: Vertex requests per job (200,000).
        vertex_queue_hours: Vertex queue time before expiry (72 h).
        vertex_run_hours: Vertex run time before incomplete jobs are cancelled (24 h).
        provenance: field name -> provenance.
        notes: field name -> note (e.g. which reading of "GB" is used).
    """

    batch_file_bytes: int
    inline_request_bytes: int
    concurrent_jobs: int
    file_storage_bytes: int
    target_turnaround_hours: int
    expiry_hours: int
    uploaded_file_ttl_hours: int
    spend_cap_10min_usd: Mapping[int, Decimal]
    spend_cap_monthly_usd: Mapping[int, Decimal]
    vertex_file_bytes: int
    vertex_requests_per_job: int
    vertex_queue_hours: int
    vertex_run_hours: int
    provenance: Mapping[str, Provenance] = field(default_factory=frozen_map)
    notes: Mapping[str, str] = field(default_factory=frozen_map)


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One line of ``batchcost prices``: a single rate of the effective book on a run date.

    Attributes:
        model: the id listed (canonical).
        billed_model: the model whose rates apply (differs when routed).
        mode: ``standard``/``batch``/``flex``/``priority``; ``""`` for mode-independent rows
            (cache storage, or a model that cannot be priced at all).
        component: ``input``, ``cache_read``, ``output``, ``cache_storage``, ``grounding`` (Google
            Search), ``maps_grounding`` or ``""`` for a whole-model "not priced" row.
        modality: ``all``, one modality, or several joined by ``+``; ``""`` when not applicable.
        tier: ``"<=200k"`` / ``">200k"`` for tiered rates, ``""`` when flat.
        usd: the price, or None when not priced (see ``note``).
        unit: ``USD/1M tokens``, ``USD/1M tokens/hour`` or ``USD/1k <grounding unit>``.
        source: provenance source (full form, see :class:`Source`).
        checked: provenance check date (None for not-priced rows without a source date).
        derived: provenance flag.
        overridden: provenance flag.
        note: why not priced, how derived, routing.
        sources: the same sources, structured.
    """

    model: str
    billed_model: str
    mode: str
    component: str
    modality: str
    tier: str
    usd: Decimal | None
    unit: str
    source: str
    checked: datetime.date | None
    derived: bool
    overridden: bool
    note: str
    sources: tuple[Source, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: Decimal as a string (exact), date in ISO format."""
        return {
            "model": self.model,
            "billed_model": self.billed_model,
            "mode": self.mode,
            "component": self.component,
            "modality": self.modality,
            "tier": self.tier,
            "usd": None if self.usd is None else str(self.usd),
            "unit": self.unit,
            "source": self.source,
            "checked": None if self.checked is None else self.checked.isoformat(),
            "derived": self.derived,
            "overridden": self.overridden,
            "note": self.note,
        }

    def sources_json(self) -> list[dict[str, Any]]:
        """The structured sources as JSON (``Source.to_json``), for documents that take them."""
        return [s.to_json() for s in self.sources]
