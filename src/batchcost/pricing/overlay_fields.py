"""Reading the price overlay's fields: the parsing context, rates, dates, texts and provenance, and
the small blocks of a model entry (prices, storage, routes, events, notes, thinking, grounding,
shutdown). Every problem is collected in the context with its place in the file, so that one run of
``parse_overlay`` (:mod:`.overlay`) reports them all.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from batchcost.pricing.overlay_types import (
    NOTE_KINDS,
    EventSpec,
    GroundingSpec,
    Key,
    NoteSpec,
    PriceBlock,
    Route,
    Shutdown,
    StorageBlock,
    ThinkingSpec,
    Val,
)
from batchcost.pricing.records import MODALITIES, MODES, Provenance, Source, frozen_map
from batchcost.pricing.sources import parse_references
from batchcost.pricing.tool_fee_rows import Readers

_ROUTING_BILLING = ("target", "requested")


@dataclass
class Ctx:
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


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping)


def parse_rate(ctx: Ctx, path: str, value: Any) -> Decimal | None:
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


def parse_date(ctx: Ctx, path: str, value: Any) -> datetime.date | None:
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


def parse_int(ctx: Ctx, path: str, value: Any, *, nullable: bool = True) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        ctx.error(path, f"{value!r} must be a non-negative whole number{' or null' if nullable else ''}")
        return None
    return value


def parse_str(ctx: Ctx, path: str, value: Any, *, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str) or not value.strip():
        ctx.error(path, f"{value!r} must be a non-empty text")
        return None
    return " ".join(value.split())


def parse_bool(ctx: Ctx, path: str, value: Any) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):
        ctx.error(path, f"{value!r} must be true, false or null")
        return None
    return value


def readers(ctx: Ctx) -> Readers:
    """The readers of this file, for sections parsed outside this module (``tool_fees``)."""
    return Readers(
        error=ctx.error,
        provenance=lambda path, raw: read_provenance(ctx, path, raw),
        rate=lambda path, value: parse_rate(ctx, path, value),
        date=lambda path, value: parse_date(ctx, path, value),
        text=lambda path, value: parse_str(ctx, path, value),
        keys=lambda path, raw, allowed: check_keys(ctx, path, raw, allowed),
    )


def check_keys(ctx: Ctx, path: str, raw: Mapping[str, Any], allowed: set[str]) -> None:
    for key in raw:
        if key not in allowed:
            ctx.error(f"{path}.{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def read_provenance(
    ctx: Ctx, path: str, raw: Mapping[str, Any], *, derived: bool = False, note: str = ""
) -> Provenance:
    """Read ``source``/``checked``/``derived``/``note`` of an entry (required when strict)."""
    return read_provenance_and_facts(ctx, path, raw, derived=derived, note=note)[0]


def read_provenance_and_facts(
    ctx: Ctx, path: str, raw: Mapping[str, Any], *, derived: bool = False, note: str = ""
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
        checked = parse_date(ctx, f"{path}.checked", checked_raw)
    checked = checked or datetime.date.min
    if source_raw is None:
        if ctx.strict:
            ctx.error(path, "missing 'source' (an id from 'sources:', or a document the figure comes from)")
        refs = [(Source(ctx.default_source, None, checked), ())]
    else:
        refs = parse_references(source_raw, ctx.sources, checked, ctx.error, f"{path}.source", strict=ctx.strict)
    derived_flag = parse_bool(ctx, f"{path}.derived", raw.get("derived")) or derived
    note_text = parse_str(ctx, f"{path}.note", raw.get("note")) or note

    def make(sources: list[Source]) -> Provenance:
        return Provenance.of(sources, checked, derived=derived_flag, overridden=ctx.overridden, note=note_text)

    facts: dict[str, list[Source]] = {}
    for source, tied in refs:
        for fact in tied:
            facts.setdefault(fact, []).append(source)
    return make([source for source, _ in refs]), {fact: make(found) for fact, found in facts.items()}


def parse_modal(
    ctx: Ctx, path: str, raw: Any, component: str, threshold: int | None, above_raw: Any, prov: Provenance
) -> dict[Key, Val]:
    """Read ``{all: x, audio: y}`` (or a bare rate = all modalities) into per-modality values."""

    def per_modality(value: Any, where: str) -> dict[str, Decimal | None]:
        if not is_mapping(value):
            rate = parse_rate(ctx, where, value)
            return dict.fromkeys(MODALITIES, rate)
        check_keys(ctx, where, value, {"all", *MODALITIES})
        result: dict[str, Decimal | None] = {}
        if "all" in value:
            result.update(dict.fromkeys(MODALITIES, parse_rate(ctx, f"{where}.all", value["all"])))
        for modality in MODALITIES:
            if modality in value:
                result[modality] = parse_rate(ctx, f"{where}.{modality}", value[modality])
        return result

    base = per_modality(raw, path)
    above = per_modality(above_raw, f"{path}(above)") if above_raw is not None else {}
    out: dict[Key, Val] = {}
    for modality, rate in base.items():
        above_rate = above.get(modality, rate) if threshold is not None else None
        out[(component, modality)] = Val(rate, above_rate, threshold, prov)
    return out


def parse_price_block(ctx: Ctx, path: str, raw: Any) -> PriceBlock | None:
    if not is_mapping(raw):
        ctx.error(path, "a price block must be a mapping")
        return None
    allowed = {"mode", "from", "until", "input", "cache_read", "output", "above_threshold"}
    check_keys(ctx, path, raw, allowed | {"source", "checked", "derived", "note"})
    mode = raw.get("mode", "standard")
    if mode not in MODES:
        ctx.error(f"{path}.mode", f"{mode!r} is not one of {', '.join(MODES)}")
        return None
    start = parse_date(ctx, f"{path}.from", raw["from"]) if raw.get("from") is not None else None
    end = parse_date(ctx, f"{path}.until", raw["until"]) if raw.get("until") is not None else None
    if start and end and end < start:
        ctx.error(path, f"'until' {end} is before 'from' {start}")
    prov = read_provenance(ctx, path, raw)
    above_raw = raw.get("above_threshold")
    threshold: int | None = None
    above: Mapping[str, Any] = {}
    if above_raw is not None:
        if not is_mapping(above_raw):
            ctx.error(f"{path}.above_threshold", "must be a mapping with 'threshold' and rates")
        else:
            check_keys(ctx, f"{path}.above_threshold", above_raw, {"threshold", "input", "cache_read", "output"})
            threshold = parse_int(ctx, f"{path}.above_threshold.threshold", above_raw.get("threshold"), nullable=False)
            above = above_raw
            for component in ("input", "cache_read", "output"):
                if component in above and component not in raw:
                    ctx.error(f"{path}.above_threshold.{component}", "given above the threshold but not below")
    values: dict[Key, Val] = {}
    for component in ("input", "cache_read"):
        if component in raw:
            values.update(
                parse_modal(
                    ctx, f"{path}.{component}", raw[component], component, threshold, above.get(component), prov
                )
            )
    if "output" in raw:
        base = parse_rate(ctx, f"{path}.output", raw["output"])
        above_rate = parse_rate(ctx, f"{path}.above_threshold.output", above["output"]) if "output" in above else base
        values[("output", "")] = Val(base, above_rate if threshold is not None else None, threshold, prov)
    if not values:
        ctx.error(path, "a price block needs at least one of input, cache_read, output")
    return PriceBlock(mode, start, end, frozen_map(values), prov, ctx.layer)


def parse_storage_block(ctx: Ctx, path: str, raw: Any) -> StorageBlock | None:
    if not is_mapping(raw):
        ctx.error(path, "a cache_storage entry must be a mapping")
        return None
    check_keys(ctx, path, raw, {"usd_per_mtok_hour", "from", "until", "source", "checked", "derived", "note"})
    if "usd_per_mtok_hour" not in raw:
        ctx.error(path, "missing 'usd_per_mtok_hour'")
    start = parse_date(ctx, f"{path}.from", raw["from"]) if raw.get("from") is not None else None
    end = parse_date(ctx, f"{path}.until", raw["until"]) if raw.get("until") is not None else None
    usd = parse_rate(ctx, f"{path}.usd_per_mtok_hour", raw.get("usd_per_mtok_hour"))
    return StorageBlock(start, end, usd, read_provenance(ctx, path, raw), ctx.layer)


def parse_list(ctx: Ctx, path: str, raw: Any) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.error(path, "must be a list")
        return []
    return raw


def parse_routes(ctx: Ctx, path: str, raw: Any) -> tuple[Route, ...]:
    routes: list[Route] = []
    for i, item in enumerate(parse_list(ctx, path, raw)):
        where = f"{path}[{i}]"
        if not is_mapping(item):
            ctx.error(where, "must be a mapping")
            continue
        check_keys(ctx, where, item, {"from", "to", "billing", "source", "checked", "note"})
        start = parse_date(ctx, f"{where}.from", item.get("from"))
        to = parse_str(ctx, f"{where}.to", item.get("to"), nullable=False)
        billing = item.get("billing", "target")
        if billing not in _ROUTING_BILLING:
            ctx.error(f"{where}.billing", f"{billing!r} is not one of {', '.join(_ROUTING_BILLING)}")
        if start and to:
            routes.append(Route(start, to, billing, read_provenance(ctx, where, item)))
    return tuple(sorted(routes, key=lambda r: r.start))


def parse_events(ctx: Ctx, path: str, raw: Any) -> tuple[EventSpec, ...]:
    events: list[EventSpec] = []
    for i, item in enumerate(parse_list(ctx, path, raw)):
        where = f"{path}[{i}]"
        if not is_mapping(item):
            ctx.error(where, "must be a mapping")
            continue
        check_keys(ctx, where, item, {"date", "kind", "text", "source", "checked"})
        day = parse_date(ctx, f"{where}.date", item.get("date"))
        kind = parse_str(ctx, f"{where}.kind", item.get("kind"), nullable=False)
        text = parse_str(ctx, f"{where}.text", item.get("text"), nullable=False)
        if day and kind and text:
            events.append(EventSpec(day, kind, text, read_provenance(ctx, where, item)))
    return tuple(events)


def parse_notes(ctx: Ctx, path: str, raw: Any) -> tuple[NoteSpec, ...]:
    notes: list[NoteSpec] = []
    for i, item in enumerate(parse_list(ctx, path, raw)):
        where = f"{path}[{i}]"
        if isinstance(item, str):
            notes.append(NoteSpec(" ".join(item.split()), None, False))
            continue
        if not is_mapping(item):
            ctx.error(where, "must be a text or a mapping with 'text'")
            continue
        check_keys(ctx, where, item, {"text", "modes", "info_only", "kind", "about"})
        text = parse_str(ctx, f"{where}.text", item.get("text"), nullable=False)
        modes_raw = item.get("modes")
        modes: tuple[str, ...] | None = None
        if modes_raw is not None:
            if not isinstance(modes_raw, list) or any(m not in MODES for m in modes_raw):
                ctx.error(f"{where}.modes", f"must be a list of {', '.join(MODES)}")
            else:
                modes = tuple(modes_raw)
        info_only = bool(parse_bool(ctx, f"{where}.info_only", item.get("info_only")))
        kind = item.get("kind", "note")
        if kind not in NOTE_KINDS:
            ctx.error(f"{where}.kind", f"{kind!r} is not one of {', '.join(NOTE_KINDS)}")
        about = item.get("about")
        if about not in (None, "cache_read"):
            ctx.error(f"{where}.about", "may only be 'cache_read' (a note that matters where cached tokens are priced)")
        if text:
            notes.append(NoteSpec(text, modes, info_only, kind, about == "cache_read"))
    return tuple(notes)


def parse_enqueued(ctx: Ctx, path: str, raw: Any, base: Mapping[int, int | None] | None) -> Mapping[int, int | None]:
    result: dict[int, int | None] = dict(base) if base else {1: None, 2: None, 3: None}
    if raw is None:
        return frozen_map(result)
    if not is_mapping(raw):
        ctx.error(path, "must map tier (1, 2, 3) to a token count or null")
        return frozen_map(result)
    for tier, value in raw.items():
        if tier not in (1, 2, 3):
            ctx.error(f"{path}.{tier}", "tier must be 1, 2 or 3")
            continue
        result[tier] = parse_int(ctx, f"{path}.{tier}", value)
    return frozen_map(result)


def parse_thinking(ctx: Ctx, path: str, raw: Any) -> ThinkingSpec | None:
    if raw is None:
        return None
    if not is_mapping(raw):
        ctx.error(path, "must be a mapping")
        return None
    check_keys(ctx, path, raw, {"levels", "default_level", "default_budget", "budget_supported", "source", "checked"})
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
        default_level=parse_str(ctx, f"{path}.default_level", raw.get("default_level")),
        default_budget=default_budget,
        budget_supported=parse_bool(ctx, f"{path}.budget_supported", raw.get("budget_supported")),
        provenance=read_provenance(ctx, path, raw),
    )


def parse_grounding(ctx: Ctx, path: str, raw: Any, base: GroundingSpec | None = None) -> GroundingSpec | None:
    if raw is None:
        return None
    if not is_mapping(raw):
        ctx.error(path, "must be a mapping")
        return None
    check_keys(ctx, path, raw, {"unit", "fee_per_1k", "free_allowance", "source", "checked"})
    # a user file changing only the fee keeps the unit and the allowance the book has
    if "unit" in raw or base is None:
        unit = parse_str(ctx, f"{path}.unit", raw.get("unit"), nullable=False) or "search query"
    else:
        unit = base.unit
    fee = parse_rate(ctx, f"{path}.fee_per_1k", raw.get("fee_per_1k")) if "fee_per_1k" in raw else None
    allowance = base.free_allowance if base is not None and "free_allowance" not in raw else None
    return GroundingSpec(
        unit=unit,
        fee_per_1k=fee,
        free_allowance=parse_str(ctx, f"{path}.free_allowance", raw.get("free_allowance")) or allowance,
        provenance=read_provenance(ctx, path, raw),
    )


def parse_shutdown(ctx: Ctx, path: str, raw: Any) -> Shutdown | None:
    if raw is None:
        return None
    if not is_mapping(raw):
        ctx.error(path, "must be a mapping with 'date' and 'successors'")
        return None
    check_keys(ctx, path, raw, {"date", "successors", "source", "checked"})
    day = parse_date(ctx, f"{path}.date", raw.get("date"))
    successors = raw.get("successors") or []
    if not isinstance(successors, list) or not all(isinstance(s, str) for s in successors):
        ctx.error(f"{path}.successors", "must be a list of model ids")
        successors = []
    if day is None:
        return None
    return Shutdown(day, tuple(successors), read_provenance(ctx, path, raw))
