"""The typed context of the report template: every figure as shown, and exactly as in the plan.

Plain frozen dataclasses; every string is plain text (the template escapes it). The section
modules fill them from the plan, ``build.build_context`` puts them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ...money import money, money_column

if TYPE_CHECKING:
    from markupsafe import Markup


@dataclass(frozen=True)
class Money:
    """An amount as shown (``text``) and exactly as in the plan (``usd``, a decimal string or None)."""

    text: str
    usd: str | None = None

    @classmethod
    def of(cls, value: str | Decimal | None) -> Money:
        """One amount on its own (a tile, a sentence)."""
        return cls(money(value), None if value is None else str(value))

    @classmethod
    def column(cls, values: Sequence[str | Decimal | None]) -> list[Money]:
        """Amounts that share a table column: one precision for all of them (``money_column``)."""
        return [cls(text, None if v is None else str(v)) for v, text in zip(values, money_column(values), strict=True)]


@dataclass(frozen=True)
class KeyFigure:
    """One tile under the headline. ``tone`` is "", "good", "warn" or "bad"."""

    label: str
    value: str
    detail: str = ""
    tone: str = ""
    usd: str | None = None


@dataclass(frozen=True)
class CostRow:
    """One mode of the cost table; ``not_priced`` holds the reason when the mode has no price."""

    mode: str
    label: str
    floor: Money
    expected: Money
    low: Money
    high: Money
    ceiling: Money
    not_priced: str | None = None
    highlight: bool = False


@dataclass(frozen=True)
class CompareRow:
    """One model in one mode of the comparison, ranked by expected cost."""

    model: str
    billed_model: str
    mode: str
    label: str
    expected: Money
    difference: str
    is_chosen: bool
    is_cheapest: bool


@dataclass(frozen=True)
class CompareSection:
    """``--compare``: every model x mode ranked by cost, the cheapest in a line, the modes a model lacks."""

    base: str
    rows: list[CompareRow]
    cheapest: str
    missing: list[str]
    model_notes: list[tuple[str, list[str]]]


@dataclass(frozen=True)
class TokenRow:
    """A line of token figures: expected, its 95% interval (or "exact"), share of the input."""

    label: str
    expected: str
    interval: str
    share: str


@dataclass(frozen=True)
class TokenSection:
    """Input and output token figures and how they were obtained."""

    method: str
    approximate: bool
    interval_label: str
    description: str
    total: TokenRow
    by_modality: list[TokenRow]
    by_place: list[TokenRow]
    output_expected: str
    output_source: str
    output_ceiling: str
    output_units: str  # images, or seconds of speech ("" for text output)
    above_tier: str


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart with its heading and a caption that says how to read it."""

    name: str
    title: str
    caption: str
    svg: Markup


@dataclass(frozen=True)
class ShardRow:
    """One shard (one batch job)."""

    index: str
    wave: str
    requests: str
    bytes: str
    tokens: str
    lines: str
    cost: Money
    cumulative: Money
    ceiling: Money


@dataclass(frozen=True)
class WaveRow:
    """Shards in flight together (their tokens fit the enqueued-token quota at once)."""

    index: str
    shards: str
    requests: str
    tokens: str
    cost: Money


@dataclass(frozen=True)
class LimitRow:
    """A per-job or per-model limit the shard plan respects, and where it comes from."""

    label: str
    value: str
    source: str


@dataclass(frozen=True)
class OversizedRow:
    """A request that alone exceeds a per-job limit: it is in no shard."""

    line: str
    limit: str
    figure: str
    allowed: str


@dataclass(frozen=True)
class ShardSection:
    """The shard plan (``batchcost.shards/1``): jobs the API accepts, in waves, and how long they take."""

    summary: str
    tier: str
    time_bound: str
    hours: str
    other_tiers: str
    token_basis: str
    cost_basis: str
    limits: list[LimitRow]
    rows: list[ShardRow]
    more: str
    waves: list[WaveRow]
    waves_differ: bool  # False when every wave is one shard: the shard table says it all
    oversized: list[OversizedRow]
    warnings: list[str]
    notes: list[str]
    chart: Chart | None


@dataclass(frozen=True)
class ChosenCacheRow:
    """One explicit cache of the recommendation, with what it saves."""

    candidate: str
    requests: str
    no_cache: Money
    cost: Money
    creation: Money
    storage: Money
    saving: Money


@dataclass(frozen=True)
class CandidateRow:
    """A prefix shared by many requests, priced: no cache, explicit cache (break-even), implicit best case."""

    id: str
    description: str
    requests: str
    prefix_tokens: str
    no_cache: Money
    explicit_cost: Money
    explicit_saving: Money
    break_even_requests: str
    break_even_hours: str
    implicit_saving: Money
    pays: bool
    why: str


@dataclass(frozen=True)
class CachingSection:
    """Caching advice: what to cache, what it saves, the break-even figures, or why it does not pay."""

    pays: bool
    summary: str
    recommendation: str
    batch_cached: Money | None
    saving: str
    hours: str
    chosen: list[ChosenCacheRow]
    candidates: list[CandidateRow]
    more: str
    implicit: str
    notes: list[str]


@dataclass(frozen=True)
class ProblemRow:
    """One validation problem (the plan keeps the first few of each kind)."""

    path: str
    line: str
    code: str
    severity: str
    message: str


@dataclass(frozen=True)
class ValidationSection:
    """Whether the file is valid, problem counts by kind, and the first problems."""

    valid: bool
    summary: str
    counts: list[tuple[str, str]]
    problems: list[ProblemRow]
    more: str


@dataclass(frozen=True)
class PriceRow:
    """A rate used, with its source (text and, when it carries one, an http(s) link) and checked date."""

    mode: str
    component: str
    modality: str
    tier: str
    rate: str
    checked: str
    source: str
    url: str | None


@dataclass(frozen=True)
class FileRow:
    """An input file by name (the JSON plan keeps the full path) and its fingerprint."""

    name: str
    size: str
    lines: str
    requests: str
    form: str
    sha256: str


@dataclass(frozen=True)
class Step:
    """One thing to do next: what and why (``text``, with `code` spans), then a command or snippet."""

    title: str
    text: str
    code: str = ""
    language: str = ""  # "shell", "python" or "json": how to read ``code``
    after: list[str] = field(default_factory=list)  # short remarks under the code


@dataclass(frozen=True)
class ReportContext:
    """Everything the template shows. Every string is plain text: the template escapes it."""

    title: str
    headline: str
    tone: str
    model: str
    billed_model: str
    run_date: str
    version: str
    key_costs: list[KeyFigure]
    key_facts: list[KeyFigure]
    cost_rows: list[CostRow]
    cost_note: str
    savings: str
    modes_chart: Chart | None
    compare: CompareSection | None
    next_steps: list[Step]
    tokens: TokenSection
    tokens_chart: Chart | None
    shards: ShardSection | None
    caching: CachingSection | None
    validation: ValidationSection
    assumptions: list[str]
    notes: list[str]
    prices: list[PriceRow]
    cache_rates: list[str]
    files: list[FileRow]
    variance: Mapping[str, Any] | None = None  # reconcile's variance_section(): plain strings
    tool_fees: list[str] = field(default_factory=list)  # one sentence per tool fee in batch (Search, Maps)
    floor_label: str = "input only"  # what the floor holds: the input, tool fees, the images asked for
