"""The price overlay file format: loading, validation and merging of user overrides.

The packaged ``data/overlay.yaml`` and a user's ``--prices FILE`` share one format (documented at the
top of ``overlay.yaml``). Rates are read as exact decimal strings: the YAML loader used here never
turns ``0.15`` into a float (floats are not resolved at all), so no rate ever passes through binary
floating point. The packaged file is validated strictly (every entry needs ``source`` and
``checked``); a user file may leave them out, and then gets ``source = "--prices <path>"`` and
``checked`` = the file's modification date. Sources are named as ``pricing/sources.py`` describes. Everything from a user file is marked ``overridden``.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from batchcost.errors import InputError, PricingError
from batchcost.pricing.records import MODALITIES, MODES, STATUSES, TOKENIZERS, Provenance, Source, frozen_map
from batchcost.pricing.sources import parse_references, parse_registry
from batchcost.pricing.tool_fee_rows import Readers, ToolFeeTable, parse_tool_fees

FORMAT = "batchcost-prices/1"
"""Value of the top-level ``format`` key (optional in user files)."""

Key = tuple[str, str]
"""A rate's place: ``("input"|"cache_read", modality)`` or ``("output", "")``."""

_ROUTING_BILLING = ("target", "requested")
_CACHE_READ_RULES = ("standard", "factor", "none")
_KINDS = ("generate", "embed")


# libyaml's parser when available (several times faster); the resolver stays Python's, so the
# float resolver can be dropped the same way for both.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrFloatLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that leaves float-looking scalars as strings (exact decimals, never floats)."""


# Floats stay text (exact Decimal later); dates stay text too, so a bad date is reported by the
# validator with its place in the file instead of crashing the YAML constructor.
_UNRESOLVED = {"tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}
_StrFloatLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _UNRESOLVED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml_text(text: str) -> Any:
    """Parse YAML keeping float- and date-looking scalars as ``str`` (exact :class:`Decimal` rates)."""
    return yaml.load(text, Loader=_StrFloatLoader)


# --------------------------------------------------------------------------------------------
# Parsed structures (internal to the pricing package)


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


# --------------------------------------------------------------------------------------------
# Validation helpers


@dataclass
class _Ctx:
    """Parsing context: where we are, how strict, and what defaults a user file gets."""

    file: str
    strict: bool
    layer: int
    default_source: str
    default_checked: datetime.date | None
    sources: Mapping[str, Source]
    errors: list[str] = field(default_factory=list)

    @property
    def overridden(self) -> bool:
        return self.layer >= 2

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")


def _is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def _parse_rate(ctx: _Ctx, path: str, value: Any) -> Decimal | None:
    """A rate: a decimal string or int; ``null``/``"unknown"`` -> None (explicitly unknown)."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "unknown"):
        return None
    if isinstance(value, (bool, float)):
        ctx.error(path, f'rate {value!r} must be a quoted decimal string such as "0.15" (never a float)')
        return None
    if isinstance(value, int):
        if value < 0:
            ctx.error(path, f"rate {value} is negative")
            return None
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", text):
            ctx.error(path, f'rate {value!r} is not a non-negative decimal number such as "0.15"')
            return None
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
            ctx.error(path, f"rate {value!r} is not a decimal number")
            return None
    ctx.error(path, f"rate must be a quoted decimal string, not {type(value).__name__}")
    return None


def _parse_date(ctx: _Ctx, path: str, value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        ctx.error(path, f"{value!r} must be a date (YYYY-MM-DD), not a timestamp")
        return None
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    ctx.error(path, f"{value!r} is not a date in YYYY-MM-DD form")
    return None


def _parse_int(ctx: _Ctx, path: str, value: Any, *, nullable: bool = True) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        ctx.error(path, f"{value!r} must be a non-negative whole number{' or null' if nullable else ''}")
        return None
    return value


def _parse_str(ctx: _Ctx, path: str, value: Any, *, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip():
        ctx.error(path, f"{value!r} must be a non-empty text")
        return None
    return " ".join(value.split())


def _parse_bool(ctx: _Ctx, path: str, value: Any) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        ctx.error(path, f"{value!r} must be true, false or null")
        return None
    return value


def _readers(ctx: _Ctx) -> Readers:
    """The readers of this file, for sections parsed outside this module (``tool_fees``)."""
    return Readers(
        error=ctx.error,
        provenance=lambda path, raw: _provenance(ctx, path, raw),
        rate=lambda path, value: _parse_rate(ctx, path, value),
        date=lambda path, value: _parse_date(ctx, path, value),
        text=lambda path, value: _parse_str(ctx, path, value),
        keys=lambda path, raw, allowed: _check_keys(ctx, path, raw, allowed),
    )


def _check_keys(ctx: _Ctx, path: str, raw: Mapping[str, Any], allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            ctx.error(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _provenance(ctx: _Ctx, path: str, raw: Mapping[str, Any], *, derived: bool = False, note: str = "") -> Provenance:
    """Read ``source``/``checked``/``derived``/``note`` of an entry (required when strict)."""
    return _provenance_and_facts(ctx, path, raw, derived=derived, note=note)[0]


def _provenance_and_facts(
    ctx: _Ctx, path: str, raw: Mapping[str, Any], *, derived: bool = False, note: str = ""
) -> tuple[Provenance, dict[str, Provenance]]:
    """The entry's provenance, and per model fact the provenance of the sources tied to it by ``for``."""
    source_raw = raw.get("source")
    checked_raw = raw.get("checked")
    checked: datetime.date | None
    if checked_raw is None:
        if ctx.strict:
            ctx.error(path, "missing 'checked' date (YYYY-MM-DD) of the last check against the source")
        checked = ctx.default_checked
    else:
        checked = _parse_date(ctx, f"{path}.checked", checked_raw)
    checked = checked or datetime.date.min
    if source_raw is None:
        if ctx.strict:
            ctx.error(path, "missing 'source' (an id from 'sources:', or a document the figure comes from)")
        refs = [(Source(ctx.default_source, None, checked), ())]
    else:
        refs = parse_references(source_raw, ctx.sources, checked, ctx.error, f"{path}.source", strict=ctx.strict)
    derived_flag = _parse_bool(ctx, f"{path}.derived", raw.get("derived")) or derived
    note_text = _parse_str(ctx, f"{path}.note", raw.get("note")) or note

    def make(sources: list[Source]) -> Provenance:
        return Provenance.of(sources, checked, derived=derived_flag, overridden=ctx.overridden, note=note_text)

    facts: dict[str, list[Source]] = {}
    for source, tied in refs:
        for fact in tied:
            facts.setdefault(fact, []).append(source)
    return make([source for source, _ in refs]), {fact: make(found) for fact, found in facts.items()}


def _parse_modal(
    ctx: _Ctx, path: str, raw: Any, component: str, threshold: int | None, above_raw: Any, prov: Provenance
) -> dict[Key, Val]:
    """Read ``{all: x, audio: y}`` (or a bare rate = all modalities) into per-modality values."""

    def per_modality(value: Any, where: str) -> dict[str, Decimal | None]:
        if not _is_mapping(value):
            rate = _parse_rate(ctx, where, value)
            return dict.fromkeys(MODALITIES, rate)
        _check_keys(ctx, where, value, {"all", *MODALITIES})
        result: dict[str, Decimal | None] = {}
        if "all" in value:
            result.update(dict.fromkeys(MODALITIES, _parse_rate(ctx, f"{where}.all", value["all"])))
        for modality in MODALITIES:
            if modality in value:
                result[modality] = _parse_rate(ctx, f"{where}.{modality}", value[modality])
        return result

    base = per_modality(raw, path)
    above = per_modality(above_raw, f"{path}(above)") if above_raw is not None else {}
    out: dict[Key, Val] = {}
    for modality, rate in base.items():
        above_rate = above.get(modality, rate) if threshold is not None else None
        out[(component, modality)] = Val(rate, above_rate, threshold, prov)
    return out


def _parse_price_block(ctx: _Ctx, path: str, raw: Any) -> PriceBlock | None:
    if not _is_mapping(raw):
        ctx.error(path, "a price block must be a mapping")
        return None
    allowed = {"mode", "from", "until", "input", "cache_read", "output", "above_threshold"}
    _check_keys(ctx, path, raw, allowed | {"source", "checked", "derived", "note"})
    mode = raw.get("mode", "standard")
    if mode not in MODES:
        ctx.error(f"{path}.mode", f"{mode!r} is not one of {', '.join(MODES)}")
        return None
    start = _parse_date(ctx, f"{path}.from", raw["from"]) if raw.get("from") is not None else None
    end = _parse_date(ctx, f"{path}.until", raw["until"]) if raw.get("until") is not None else None
    if start and end and end < start:
        ctx.error(path, f"'until' {end} is before 'from' {start}")
    prov = _provenance(ctx, path, raw)
    above_raw = raw.get("above_threshold")
    threshold: int | None = None
    above: Mapping[str, Any] = {}
    if above_raw is not None:
        if not _is_mapping(above_raw):
            ctx.error(f"{path}.above_threshold", "must be a mapping with 'threshold' and rates")
        else:
            _check_keys(ctx, f"{path}.above_threshold", above_raw, {"threshold", "input", "cache_read", "output"})
            threshold = _parse_int(ctx, f"{path}.above_threshold.threshold", above_raw.get("threshold"), nullable=False)
            above = above_raw
            for component in ("input", "cache_read", "output"):
                if component in above and component not in raw:
                    ctx.error(f"{path}.above_threshold.{component}", "given above the threshold but not below")
    values: dict[Key, Val] = {}
    for component in ("input", "cache_read"):
        if component in raw:
            values.update(
                _parse_modal(
                    ctx, f"{path}.{component}", raw[component], component, threshold, above.get(component), prov
                )
            )
    if "output" in raw:
        base = _parse_rate(ctx, f"{path}.output", raw["output"])
        above_rate = _parse_rate(ctx, f"{path}.above_threshold.output", above["output"]) if "output" in above else base
        values[("output", "")] = Val(base, above_rate if threshold is not None else None, threshold, prov)
    if not values:
        ctx.error(path, "a price block needs at least one of input, cache_read, output")
    return PriceBlock(mode, start, end, frozen_map(values), prov, ctx.layer)


def _parse_storage_block(ctx: _Ctx, path: str, raw: Any) -> StorageBlock | None:
    if not _is_mapping(raw):
        ctx.error(path, "a cache_storage entry must be a mapping")
        return None
    _check_keys(ctx, path, raw, {"usd_per_mtok_hour", "from", "until", "source", "checked", "derived", "note"})
    if "usd_per_mtok_hour" not in raw:
        ctx.error(path, "missing 'usd_per_mtok_hour'")
    start = _parse_date(ctx, f"{path}.from", raw["from"]) if raw.get("from") is not None else None
    end = _parse_date(ctx, f"{path}.until", raw["until"]) if raw.get("until") is not None else None
    usd = _parse_rate(ctx, f"{path}.usd_per_mtok_hour", raw.get("usd_per_mtok_hour"))
    return StorageBlock(start, end, usd, _provenance(ctx, path, raw), ctx.layer)


def _parse_list(ctx: _Ctx, path: str, raw: Any) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.error(path, "must be a list")
        return []
    return raw


def _parse_routes(ctx: _Ctx, path: str, raw: Any) -> tuple[Route, ...]:
    routes: list[Route] = []
    for i, item in enumerate(_parse_list(ctx, path, raw)):
        where = f"{path}[{i}]"
        if not _is_mapping(item):
            ctx.error(where, "must be a mapping")
            continue
        _check_keys(ctx, where, item, {"from", "to", "billing", "source", "checked", "note"})
        start = _parse_date(ctx, f"{where}.from", item.get("from"))
        to = _parse_str(ctx, f"{where}.to", item.get("to"), nullable=False)
        billing = item.get("billing", "target")
        if billing not in _ROUTING_BILLING:
            ctx.error(f"{where}.billing", f"{billing!r} is not one of {', '.join(_ROUTING_BILLING)}")
        if start and to:
            routes.append(Route(start, to, billing, _provenance(ctx, where, item)))
    return tuple(sorted(routes, key=lambda r: r.start))


def _parse_events(ctx: _Ctx, path: str, raw: Any) -> tuple[EventSpec, ...]:
    events: list[EventSpec] = []
    for i, item in enumerate(_parse_list(ctx, path, raw)):
        where = f"{path}[{i}]"
        if not _is_mapping(item):
            ctx.error(where, "must be a mapping")
            continue
        _check_keys(ctx, where, item, {"date", "kind", "text", "source", "checked"})
        day = _parse_date(ctx, f"{where}.date", item.get("date"))
        kind = _parse_str(ctx, f"{where}.kind", item.get("kind"), nullable=False)
        text = _parse_str(ctx, f"{where}.text", item.get("text"), nullable=False)
        if day and kind and text:
            events.append(EventSpec(day, kind, text, _provenance(ctx, where, item)))
    return tuple(events)


def _parse_notes(ctx: _Ctx, path: str, raw: Any) -> tuple[NoteSpec, ...]:
    notes: list[NoteSpec] = []
    for i, item in enumerate(_parse_list(ctx, path, raw)):
        where = f"{path}[{i}]"
        if isinstance(item, str):
            notes.append(NoteSpec(" ".join(item.split()), None, False))
            continue
        if not _is_mapping(item):
            ctx.error(where, "must be a text or a mapping with 'text'")
            continue
        _check_keys(ctx, where, item, {"text", "modes", "info_only", "kind", "about"})
        text = _parse_str(ctx, f"{where}.text", item.get("text"), nullable=False)
        modes_raw = item.get("modes")
        modes: tuple[str, ...] | None = None
        if modes_raw is not None:
            if not isinstance(modes_raw, list) or any(m not in MODES for m in modes_raw):
                ctx.error(f"{where}.modes", f"must be a list of {', '.join(MODES)}")
            else:
                modes = tuple(modes_raw)
        info_only = bool(_parse_bool(ctx, f"{where}.info_only", item.get("info_only")))
        kind = item.get("kind", "note")
        if kind not in NOTE_KINDS:
            ctx.error(f"{where}.kind", f"{kind!r} is not one of {', '.join(NOTE_KINDS)}")
        about = item.get("about")
        if about not in (None, "cache_read"):
            ctx.error(f"{where}.about", "may only be 'cache_read' (a note that matters where cached tokens are priced)")
        if text:
            notes.append(NoteSpec(text, modes, info_only, kind, about == "cache_read"))
    return tuple(notes)


def _parse_enqueued(ctx: _Ctx, path: str, raw: Any, base: Mapping[int, int | None] | None) -> Mapping[int, int | None]:
    result: dict[int, int | None] = dict(base) if base else {1: None, 2: None, 3: None}
    if raw is None:
        return frozen_map(result)
    if not _is_mapping(raw):
        ctx.error(path, "must map tier (1, 2, 3) to a token count or null")
        return frozen_map(result)
    for tier, value in raw.items():
        if tier not in (1, 2, 3):
            ctx.error(f"{path}.{tier}", "tier must be 1, 2 or 3")
            continue
        result[tier] = _parse_int(ctx, f"{path}.{tier}", value)
    return frozen_map(result)


def _parse_thinking(ctx: _Ctx, path: str, raw: Any) -> ThinkingSpec | None:
    if raw is None:
        return None
    if not _is_mapping(raw):
        ctx.error(path, "must be a mapping")
        return None
    _check_keys(ctx, path, raw, {"levels", "default_level", "default_budget", "budget_supported", "source", "checked"})
    levels = raw.get("levels") or []
    if not isinstance(levels, list) or not all(isinstance(x, str) for x in levels):
        ctx.error(f"{path}.levels", "must be a list of level names")
        levels = []
    default_budget = raw.get("default_budget")
    if default_budget is not None and (isinstance(default_budget, bool) or not isinstance(default_budget, int)):
        ctx.error(f"{path}.default_budget", "must be a whole number (-1 = automatic, 0 = off) or null")
        default_budget = None
    return ThinkingSpec(
        levels=tuple(levels),
        default_level=_parse_str(ctx, f"{path}.default_level", raw.get("default_level")),
        default_budget=default_budget,
        budget_supported=_parse_bool(ctx, f"{path}.budget_supported", raw.get("budget_supported")),
        provenance=_provenance(ctx, path, raw),
    )


def _parse_grounding(ctx: _Ctx, path: str, raw: Any, base: GroundingSpec | None = None) -> GroundingSpec | None:
    if raw is None:
        return None
    if not _is_mapping(raw):
        ctx.error(path, "must be a mapping")
        return None
    _check_keys(ctx, path, raw, {"unit", "fee_per_1k", "free_allowance", "source", "checked"})
    # a user file changing only the fee keeps the unit and the allowance the book has
    if "unit" in raw or base is None:
        unit = _parse_str(ctx, f"{path}.unit", raw.get("unit"), nullable=False) or "search query"
    else:
        unit = base.unit
    fee = _parse_rate(ctx, f"{path}.fee_per_1k", raw.get("fee_per_1k")) if "fee_per_1k" in raw else None
    allowance = base.free_allowance if base is not None and "free_allowance" not in raw else None
    return GroundingSpec(
        unit=unit,
        fee_per_1k=fee,
        free_allowance=_parse_str(ctx, f"{path}.free_allowance", raw.get("free_allowance")) or allowance,
        provenance=_provenance(ctx, path, raw),
    )


def _parse_shutdown(ctx: _Ctx, path: str, raw: Any) -> Shutdown | None:
    if raw is None:
        return None
    if not _is_mapping(raw):
        ctx.error(path, "must be a mapping with 'date' and 'successors'")
        return None
    _check_keys(ctx, path, raw, {"date", "successors", "source", "checked"})
    day = _parse_date(ctx, f"{path}.date", raw.get("date"))
    successors = raw.get("successors") or []
    if not isinstance(successors, list) or not all(isinstance(s, str) for s in successors):
        ctx.error(f"{path}.successors", "must be a list of model ids")
        successors = []
    if day is None:
        return None
    return Shutdown(day, tuple(successors), _provenance(ctx, path, raw))


_MODEL_KEYS = {
    "name",
    "kind",
    "status",
    "genai_prices",
    "released",
    "input_limit",
    "output_limit",
    "explicit_cache",
    "implicit_cache_min_tokens",
    "tokenizer",
    "enqueued_tokens",
    "thinking",
    "grounding",
    "derive",
    "prices",
    "cache_storage",
    "routing",
    "shutdown",
    "events",
    "notes",
    "unpriced",
    "source",
    "checked",
}


def _parse_model(ctx: _Ctx, model_id: str, raw: Any, base: ModelSpec | None) -> ModelSpec | None:
    """Parse one model entry; with ``base``, the entry amends an existing model (user override)."""
    path = f"models.{model_id}"
    if not _is_mapping(raw):
        ctx.error(path, "must be a mapping")
        return None
    _check_keys(ctx, path, raw, _MODEL_KEYS)

    def pick(key: str, parse: Any, default: Any) -> Any:
        if key in raw:
            return parse(raw[key])
        return getattr(base, key) if base is not None else default

    status = pick("status", lambda v: v, "ga")
    if status not in STATUSES:
        ctx.error(f"{path}.status", f"{status!r} is not one of {', '.join(STATUSES)}")
    kind = pick("kind", lambda v: v, "generate")
    if kind not in _KINDS:
        ctx.error(f"{path}.kind", f"{kind!r} is not one of {', '.join(_KINDS)}")
    tokenizer = pick("tokenizer", lambda v: v, "unknown")
    if tokenizer not in TOKENIZERS:
        ctx.error(f"{path}.tokenizer", f"{tokenizer!r} is not one of {', '.join(TOKENIZERS)}")

    derive: dict[str, str] = dict(base.derive) if base else {}
    if "derive" in raw:
        if not _is_mapping(raw["derive"]):
            ctx.error(f"{path}.derive", "must map a mode to a rule id")
        else:
            for mode, rule in raw["derive"].items():
                if mode not in MODES or mode == "standard":
                    ctx.error(f"{path}.derive.{mode}", "mode must be batch, flex or priority")
                elif rule is None:
                    derive.pop(mode, None)
                elif not isinstance(rule, str):
                    ctx.error(f"{path}.derive.{mode}", "must be a rule id")
                else:
                    derive[mode] = rule

    prices = list(base.prices) if base else []
    for i, item in enumerate(_parse_list(ctx, f"{path}.prices", raw.get("prices"))):
        block = _parse_price_block(ctx, f"{path}.prices[{i}]", item)
        if block is not None:
            prices.append(block)
    storage = list(base.cache_storage) if base else []
    for i, item in enumerate(_parse_list(ctx, f"{path}.cache_storage", raw.get("cache_storage"))):
        sblock = _parse_storage_block(ctx, f"{path}.cache_storage[{i}]", item)
        if sblock is not None:
            storage.append(sblock)

    unpriced = pick("unpriced", lambda v: _parse_str(ctx, f"{path}.unpriced", v), None)
    if base is not None and "prices" in raw and "unpriced" not in raw:
        unpriced = None  # a user who adds prices for an unpriced model prices it
    if base is None and not prices and unpriced is None and "genai_prices" not in raw:
        ctx.error(path, "a new model needs 'prices' (or 'genai_prices', or 'unpriced' with a reason)")

    amends_provenance = base is None or "source" in raw or "checked" in raw
    if amends_provenance:
        prov, fact_prov = _provenance_and_facts(ctx, path, raw)
    else:
        assert base is not None
        prov, fact_prov = base.provenance, dict(base.fact_provenance)
    return ModelSpec(
        id=model_id,
        name=pick("name", lambda v: _parse_str(ctx, f"{path}.name", v, nullable=False), model_id) or model_id,
        kind=kind,
        status=status,
        genai_prices=pick("genai_prices", lambda v: _parse_str(ctx, f"{path}.genai_prices", v), None),
        released=pick("released", lambda v: None if v is None else _parse_date(ctx, f"{path}.released", v), None),
        input_limit=pick("input_limit", lambda v: _parse_int(ctx, f"{path}.input_limit", v), None),
        output_limit=pick("output_limit", lambda v: _parse_int(ctx, f"{path}.output_limit", v), None),
        explicit_cache=pick("explicit_cache", lambda v: _parse_bool(ctx, f"{path}.explicit_cache", v), None),
        implicit_cache_min_tokens=pick(
            "implicit_cache_min_tokens", lambda v: _parse_int(ctx, f"{path}.implicit_cache_min_tokens", v), None
        ),
        tokenizer=tokenizer,
        enqueued_tokens=_parse_enqueued(
            ctx, f"{path}.enqueued_tokens", raw.get("enqueued_tokens"), base.enqueued_tokens if base else None
        ),
        thinking=pick("thinking", lambda v: _parse_thinking(ctx, f"{path}.thinking", v), None),
        grounding=pick(
            "grounding",
            lambda v: _parse_grounding(ctx, f"{path}.grounding", v, base.grounding if base else None),
            None,
        ),
        derive=frozen_map(derive),
        prices=tuple(prices),
        cache_storage=tuple(storage),
        routing=pick("routing", lambda v: _parse_routes(ctx, f"{path}.routing", v), ()),
        shutdown=pick("shutdown", lambda v: _parse_shutdown(ctx, f"{path}.shutdown", v), None),
        events=(base.events if base else ()) + _parse_events(ctx, f"{path}.events", raw.get("events")),
        notes=(base.notes if base else ()) + _parse_notes(ctx, f"{path}.notes", raw.get("notes")),
        unpriced=unpriced,
        provenance=prov,
        overridden=(base.overridden if base else False) or ctx.overridden,
        fact_provenance=frozen_map(fact_prov),
    )


def _parse_rules(ctx: _Ctx, raw: Any, base: Mapping[str, Rule]) -> dict[str, Rule]:
    rules = dict(base)
    if raw is None:
        return rules
    if not _is_mapping(raw):
        ctx.error("rules", "must map rule ids to rules")
        return rules
    for rule_id, item in raw.items():
        where = f"rules.{rule_id}"
        if not _is_mapping(item):
            ctx.error(where, "must be a mapping")
            continue
        _check_keys(ctx, where, item, {"factor", "cache_read", "source", "checked", "note"})
        factor = _parse_rate(ctx, f"{where}.factor", item.get("factor"))
        cache_read = item.get("cache_read", "standard")
        if cache_read not in _CACHE_READ_RULES:
            ctx.error(f"{where}.cache_read", f"{cache_read!r} is not one of {', '.join(_CACHE_READ_RULES)}")
        if factor is not None:
            rules[str(rule_id)] = Rule(str(rule_id), factor, cache_read, _provenance(ctx, where, item))
    return rules


def _parse_aliases(ctx: _Ctx, raw: Any, base: Mapping[str, AliasSpec]) -> dict[str, AliasSpec]:
    aliases = dict(base)
    if raw is None:
        return aliases
    if not _is_mapping(raw):
        ctx.error("aliases", "must map alias ids to {target, as_of}")
        return aliases
    for alias, item in raw.items():
        where = f"aliases.{alias}"
        if isinstance(item, str):
            item = {"target": item}
        if not _is_mapping(item):
            ctx.error(where, "must be a model id or a mapping with 'target'")
            continue
        _check_keys(ctx, where, item, {"target", "as_of", "source", "checked"})
        target = _parse_str(ctx, f"{where}.target", item.get("target"), nullable=False)
        prov = _provenance(ctx, where, item)
        as_of_raw = item.get("as_of")
        if as_of_raw is None and ctx.strict:
            ctx.error(where, "missing 'as_of' date (aliases move when Google releases models)")
        as_of = _parse_date(ctx, f"{where}.as_of", as_of_raw) if as_of_raw is not None else prov.checked
        if target and as_of:
            aliases[str(alias).lower()] = AliasSpec(target, as_of, prov)
    return aliases


_LIMIT_KEYS = {
    "batch_file_bytes",
    "inline_request_bytes",
    "concurrent_jobs",
    "file_storage_bytes",
    "target_turnaround_hours",
    "expiry_hours",
    "uploaded_file_ttl_hours",
    "spend_cap_10min_usd",
    "spend_cap_monthly_usd",
    "vertex_file_bytes",
    "vertex_requests_per_job",
    "vertex_queue_hours",
    "vertex_run_hours",
}
_MONEY_LIMITS = {"spend_cap_10min_usd", "spend_cap_monthly_usd"}


def _parse_limits(ctx: _Ctx, raw: Any, base: Mapping[str, tuple[Any, Provenance]]) -> dict[str, tuple[Any, Provenance]]:
    limits = dict(base)
    if raw is None:
        return limits
    if not _is_mapping(raw):
        ctx.error("limits", "must be a mapping")
        return limits
    for name, item in raw.items():
        where = f"limits.{name}"
        if name not in _LIMIT_KEYS:
            ctx.error(where, f"unknown limit (known: {', '.join(sorted(_LIMIT_KEYS))})")
            continue
        if not _is_mapping(item) or "value" not in item:
            ctx.error(where, "must be a mapping with 'value'")
            continue
        _check_keys(ctx, where, item, {"value", "source", "checked", "note"})
        value: Any
        if name in _MONEY_LIMITS:
            tiers = item["value"]
            if not _is_mapping(tiers) or set(tiers) - {1, 2, 3}:
                ctx.error(f"{where}.value", "must map tiers 1..3 to USD amounts (quoted decimal strings)")
                continue
            value = frozen_map({t: _parse_rate(ctx, f"{where}.value.{t}", v) for t, v in tiers.items()})
        else:
            value = _parse_int(ctx, f"{where}.value", item["value"], nullable=False)
        limits[str(name)] = (value, _provenance(ctx, where, item))
    return limits


def _check_references(ctx: _Ctx, overlay: Overlay) -> None:
    """Cross-references: rules, routing targets, successors and alias targets must exist."""
    known = set(overlay.models)
    for model in overlay.models.values():
        for mode, rule in model.derive.items():
            if rule not in overlay.rules:
                ctx.error(f"models.{model.id}.derive.{mode}", f"unknown rule {rule!r}")
        for route in model.routing:
            if route.to not in known:
                ctx.error(f"models.{model.id}.routing", f"routes to unknown model {route.to!r}")
        if model.shutdown is not None:
            for successor in model.shutdown.successors:
                if successor not in known:
                    ctx.error(f"models.{model.id}.shutdown", f"unknown successor {successor!r}")
    for alias, spec in overlay.aliases.items():
        if spec.target not in known:
            ctx.error(f"aliases.{alias}", f"targets unknown model {spec.target!r}")
        if alias in known:
            ctx.error(f"aliases.{alias}", "an alias cannot have the id of a model")
    if ctx.strict:
        missing = _LIMIT_KEYS - set(overlay.limits)
        if missing:
            ctx.error("limits", f"missing {', '.join(sorted(missing))}")


def _raise_errors(ctx: _Ctx) -> None:
    if ctx.errors:
        shown = ctx.errors[:30]
        more = f"\n  ... and {len(ctx.errors) - 30} more" if len(ctx.errors) > 30 else ""
        raise PricingError(
            f"{ctx.file}: invalid price file ({len(ctx.errors)} problem(s)); fix these entries:\n  "
            + "\n  ".join(shown)
            + more
        )


def parse_overlay(raw: Any, *, file: str = "overlay.yaml") -> Overlay:
    """Validate the packaged overlay (strict: every entry needs ``source`` and ``checked``).

    Raises:
        PricingError: listing every problem with its path in the file.
    """
    ctx = _Ctx(file=file, strict=True, layer=1, default_source=file, default_checked=None, sources={})
    if not _is_mapping(raw):
        ctx.error("(top)", "the file must be a YAML mapping")
        _raise_errors(ctx)
    _check_keys(
        ctx, "(top)", raw, {"format", "genai_prices", "sources", "rules", "aliases", "limits", "models", "tool_fees"}
    )
    if raw.get("format") != FORMAT:
        ctx.error("format", f"must be {FORMAT!r}")
    ctx.sources = parse_registry(raw.get("sources"), ctx.error)
    gp_raw = raw.get("genai_prices") or {}
    gp = GenaiPricesSpec(
        version=str(gp_raw.get("version", "")),
        checked=_parse_date(ctx, "genai_prices.checked", gp_raw.get("checked")) or datetime.date.min,
        note=" ".join(str(gp_raw.get("note", "")).split()),
    )
    if not gp.version:
        ctx.error("genai_prices.version", "missing the genai-prices version the overlay was checked against")
    models_raw = raw.get("models") or {}
    models: dict[str, ModelSpec] = {}
    if not _is_mapping(models_raw):
        ctx.error("models", "must map model ids to entries")
    else:
        for model_id, item in models_raw.items():
            spec = _parse_model(ctx, str(model_id).lower(), item, None)
            if spec is not None:
                models[spec.id] = spec
    overlay = Overlay(
        genai_prices=gp,
        sources=frozen_map(ctx.sources),
        rules=frozen_map(_parse_rules(ctx, raw.get("rules"), {})),
        aliases=frozen_map(_parse_aliases(ctx, raw.get("aliases"), {})),
        limits=frozen_map(_parse_limits(ctx, raw.get("limits"), {})),
        models=frozen_map(models),
        tool_fees=parse_tool_fees(raw.get("tool_fees"), ToolFeeTable(), _readers(ctx)),
    )
    _check_references(ctx, overlay)
    _raise_errors(ctx)
    return overlay


def merge_overrides(overlay: Overlay, raw: Any, *, file: str, checked: datetime.date) -> Overlay:
    """Apply a user price file (same format) on top of ``overlay``; its entries are ``overridden``.

    Missing ``source``/``checked`` default to ``--prices <file>`` and ``checked``.

    Raises:
        PricingError: listing every problem with its path in the file.
    """
    ctx = _Ctx(
        file=file,
        strict=False,
        layer=2,
        default_source=f"--prices {file}",
        default_checked=checked,
        sources=overlay.sources,
    )
    if raw is None:
        raw = {}
    if not _is_mapping(raw):
        ctx.error("(top)", "the file must be a YAML mapping (see the packaged overlay.yaml for the format)")
        _raise_errors(ctx)
    _check_keys(ctx, "(top)", raw, {"format", "sources", "rules", "aliases", "limits", "models", "tool_fees"})
    if raw.get("format") not in (None, FORMAT):
        ctx.error("format", f"must be {FORMAT!r} (or left out)")
    ctx.sources = parse_registry(raw.get("sources"), ctx.error, overlay.sources)
    models = dict(overlay.models)
    models_raw = raw.get("models") or {}
    if not _is_mapping(models_raw):
        ctx.error("models", "must map model ids to entries")
    else:
        for model_id, item in models_raw.items():
            key = str(model_id).lower()
            if key in overlay.aliases and key not in models:
                ctx.error(f"models.{key}", f"is an alias of {overlay.aliases[key].target}; use that id")
                continue
            spec = _parse_model(ctx, key, item, models.get(key))
            if spec is not None:
                models[key] = spec
    merged = replace(
        overlay,
        sources=frozen_map(ctx.sources),
        rules=frozen_map(_parse_rules(ctx, raw.get("rules"), overlay.rules)),
        aliases=frozen_map(_parse_aliases(ctx, raw.get("aliases"), overlay.aliases)),
        limits=frozen_map(_parse_limits(ctx, raw.get("limits"), overlay.limits)),
        models=frozen_map(models),
        override_paths=(*overlay.override_paths, file),
        tool_fees=parse_tool_fees(raw.get("tool_fees"), overlay.tool_fees, _readers(ctx)),
    )
    _check_references(ctx, merged)
    _raise_errors(ctx)
    return merged


def packaged_overlay_text() -> str:
    """The text of the packaged ``data/overlay.yaml``."""
    return resources.files("batchcost.pricing").joinpath("data/overlay.yaml").read_text(encoding="utf-8")


def packaged_tool_fees_text() -> str:
    """The text of the packaged ``data/tool_fees.yaml`` (the ``tool_fees`` section, kept apart)."""
    return resources.files("batchcost.pricing").joinpath("data/tool_fees.yaml").read_text(encoding="utf-8")


def load_packaged_overlay() -> Overlay:
    """Load and validate the packaged overlay (``overlay.yaml`` with ``tool_fees.yaml``'s section)."""
    raw = load_yaml_text(packaged_overlay_text())
    fees = load_yaml_text(packaged_tool_fees_text())
    if isinstance(raw, dict) and isinstance(fees, dict) and "tool_fees" in fees:
        raw["tool_fees"] = fees["tool_fees"]
    return parse_overlay(raw, file="batchcost/pricing/data/overlay.yaml")


def read_override_file(path: str | os.PathLike[str]) -> tuple[Any, str, datetime.date]:
    """Read a user price file: ``(parsed YAML, display path, modification date)``.

    Raises:
        InputError: the file is missing, a directory, unreadable or empty.
        PricingError: the file is not valid YAML.
    """
    p = Path(path)
    shown = str(path)
    if not p.exists():
        raise InputError(shown, "price file not found; check the --prices path")
    if p.is_dir():
        raise InputError(shown, "is a directory; --prices expects a YAML file")
    try:
        text = p.read_text(encoding="utf-8")
        mtime = datetime.date.fromtimestamp(p.stat().st_mtime)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(shown, f"cannot read price file ({exc}); check permissions and encoding") from exc
    if not text.strip():
        raise InputError(shown, "price file is empty; see the packaged overlay.yaml for the format")
    try:
        raw = load_yaml_text(text)
    except (yaml.YAMLError, ValueError) as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        what = getattr(exc, "problem", None) or " ".join(str(exc).split())
        raise PricingError(f"{shown}: not valid YAML ({where}{what}); fix the syntax") from exc
    return raw, shown, mtime
