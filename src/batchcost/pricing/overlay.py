"""The price overlay file format: loading, validation and merging of user overrides.

The structures it gives are in :mod:`.overlay_types` (re-exported here); the readers of single fields
and small blocks in :mod:`.overlay_fields`; this module reads whole model entries, rules, aliases and
limits, checks references across the file, merges a user file over the packaged one and loads both.

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
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from batchcost.errors import InputError, PricingError
from batchcost.pricing.overlay_fields import (
    Ctx,
    check_keys,
    is_mapping,
    parse_bool,
    parse_date,
    parse_enqueued,
    parse_events,
    parse_grounding,
    parse_int,
    parse_list,
    parse_notes,
    parse_price_block,
    parse_rate,
    parse_routes,
    parse_shutdown,
    parse_storage_block,
    parse_str,
    parse_thinking,
    read_provenance,
    read_provenance_and_facts,
    readers,
)
from batchcost.pricing.overlay_types import AliasSpec, GenaiPricesSpec, Key, ModelSpec, Overlay, Route, Rule, Val
from batchcost.pricing.records import MODES, STATUSES, TOKENIZERS, Provenance, frozen_map
from batchcost.pricing.sources import parse_registry
from batchcost.pricing.tool_fee_rows import ToolFeeTable, parse_tool_fees
from batchcost.text import plural

__all__ = [
    "FORMAT", "Key", "ModelSpec", "Overlay", "Route", "Rule", "Val", "load_packaged_overlay", "load_yaml_text",
    "merge_overrides", "packaged_overlay_text", "packaged_tool_fees_text", "parse_overlay", "read_override_file",
]  # fmt: skip

FORMAT = "batchcost-prices/1"
"""Value of the top-level ``format`` key (optional in user files)."""

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


def _parse_model(ctx: Ctx, model_id: str, raw: Any, base: ModelSpec | None) -> ModelSpec | None:
    """Parse one model entry; with ``base``, the entry amends an existing model (user override)."""
    path = f"models.{model_id}"
    if not is_mapping(raw):
        ctx.error(path, "must be a mapping")
        return None
    check_keys(ctx, path, raw, _MODEL_KEYS)

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
        if not is_mapping(raw["derive"]):
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
    for i, item in enumerate(parse_list(ctx, f"{path}.prices", raw.get("prices"))):
        block = parse_price_block(ctx, f"{path}.prices[{i}]", item)
        if block is not None:
            prices.append(block)
    storage = list(base.cache_storage) if base else []
    for i, item in enumerate(parse_list(ctx, f"{path}.cache_storage", raw.get("cache_storage"))):
        sblock = parse_storage_block(ctx, f"{path}.cache_storage[{i}]", item)
        if sblock is not None:
            storage.append(sblock)

    unpriced = pick("unpriced", lambda v: parse_str(ctx, f"{path}.unpriced", v), None)
    if base is not None and "prices" in raw and "unpriced" not in raw:
        unpriced = None  # a user who adds prices for an unpriced model prices it
    if base is None and not prices and unpriced is None and "genai_prices" not in raw:
        ctx.error(path, "a new model needs 'prices' (or 'genai_prices', or 'unpriced' with a reason)")

    amends_provenance = base is None or "source" in raw or "checked" in raw
    if amends_provenance:
        prov, fact_prov = read_provenance_and_facts(ctx, path, raw)
    else:
        assert base is not None
        prov, fact_prov = base.provenance, dict(base.fact_provenance)
    return ModelSpec(
        id=model_id,
        name=pick("name", lambda v: parse_str(ctx, f"{path}.name", v, nullable=False), model_id) or model_id,
        kind=kind,
        status=status,
        genai_prices=pick("genai_prices", lambda v: parse_str(ctx, f"{path}.genai_prices", v), None),
        released=pick("released", lambda v: None if v is None else parse_date(ctx, f"{path}.released", v), None),
        input_limit=pick("input_limit", lambda v: parse_int(ctx, f"{path}.input_limit", v), None),
        output_limit=pick("output_limit", lambda v: parse_int(ctx, f"{path}.output_limit", v), None),
        explicit_cache=pick("explicit_cache", lambda v: parse_bool(ctx, f"{path}.explicit_cache", v), None),
        implicit_cache_min_tokens=pick(
            "implicit_cache_min_tokens", lambda v: parse_int(ctx, f"{path}.implicit_cache_min_tokens", v), None
        ),
        tokenizer=tokenizer,
        enqueued_tokens=parse_enqueued(
            ctx, f"{path}.enqueued_tokens", raw.get("enqueued_tokens"), base.enqueued_tokens if base else None
        ),
        thinking=pick("thinking", lambda v: parse_thinking(ctx, f"{path}.thinking", v), None),
        grounding=pick(
            "grounding",
            lambda v: parse_grounding(ctx, f"{path}.grounding", v, base.grounding if base else None),
            None,
        ),
        derive=frozen_map(derive),
        prices=tuple(prices),
        cache_storage=tuple(storage),
        routing=pick("routing", lambda v: parse_routes(ctx, f"{path}.routing", v), ()),
        shutdown=pick("shutdown", lambda v: parse_shutdown(ctx, f"{path}.shutdown", v), None),
        events=(base.events if base else ()) + parse_events(ctx, f"{path}.events", raw.get("events")),
        notes=(base.notes if base else ()) + parse_notes(ctx, f"{path}.notes", raw.get("notes")),
        unpriced=unpriced,
        provenance=prov,
        overridden=(base.overridden if base else False) or ctx.overridden,
        fact_provenance=frozen_map(fact_prov),
    )


def _parse_rules(ctx: Ctx, raw: Any, base: Mapping[str, Rule]) -> dict[str, Rule]:
    rules = dict(base)
    if raw is None:
        return rules
    if not is_mapping(raw):
        ctx.error("rules", "must map rule ids to rules")
        return rules
    for rule_id, item in raw.items():
        where = f"rules.{rule_id}"
        if not is_mapping(item):
            ctx.error(where, "must be a mapping")
            continue
        check_keys(ctx, where, item, {"factor", "cache_read", "source", "checked", "note"})
        factor = parse_rate(ctx, f"{where}.factor", item.get("factor"))
        cache_read = item.get("cache_read", "standard")
        if cache_read not in _CACHE_READ_RULES:
            ctx.error(f"{where}.cache_read", f"{cache_read!r} is not one of {', '.join(_CACHE_READ_RULES)}")
        if factor is not None:
            rules[str(rule_id)] = Rule(str(rule_id), factor, cache_read, read_provenance(ctx, where, item))
    return rules


def _parse_aliases(ctx: Ctx, raw: Any, base: Mapping[str, AliasSpec]) -> dict[str, AliasSpec]:
    aliases = dict(base)
    if raw is None:
        return aliases
    if not is_mapping(raw):
        ctx.error("aliases", "must map alias ids to {target, as_of}")
        return aliases
    for alias, item in raw.items():
        where = f"aliases.{alias}"
        if isinstance(item, str):
            item = {"target": item}
        if not is_mapping(item):
            ctx.error(where, "must be a model id or a mapping with 'target'")
            continue
        check_keys(ctx, where, item, {"target", "as_of", "source", "checked"})
        target = parse_str(ctx, f"{where}.target", item.get("target"), nullable=False)
        prov = read_provenance(ctx, where, item)
        as_of_raw = item.get("as_of")
        if as_of_raw is None and ctx.strict:
            ctx.error(where, "missing 'as_of' date (aliases move when Google releases models)")
        as_of = parse_date(ctx, f"{where}.as_of", as_of_raw) if as_of_raw is not None else prov.checked
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


def _parse_limits(ctx: Ctx, raw: Any, base: Mapping[str, tuple[Any, Provenance]]) -> dict[str, tuple[Any, Provenance]]:
    limits = dict(base)
    if raw is None:
        return limits
    if not is_mapping(raw):
        ctx.error("limits", "must be a mapping")
        return limits
    for name, item in raw.items():
        where = f"limits.{name}"
        if name not in _LIMIT_KEYS:
            ctx.error(where, f"unknown limit (known: {', '.join(sorted(_LIMIT_KEYS))})")
            continue
        if not is_mapping(item) or "value" not in item:
            ctx.error(where, "must be a mapping with 'value'")
            continue
        check_keys(ctx, where, item, {"value", "source", "checked", "note"})
        value: Any
        if name in _MONEY_LIMITS:
            tiers = item["value"]
            if not is_mapping(tiers) or set(tiers) - {1, 2, 3}:
                ctx.error(f"{where}.value", "must map tiers 1..3 to USD amounts (quoted decimal strings)")
                continue
            value = frozen_map({t: parse_rate(ctx, f"{where}.value.{t}", v) for t, v in tiers.items()})
        else:
            value = parse_int(ctx, f"{where}.value", item["value"], nullable=False)
        limits[str(name)] = (value, read_provenance(ctx, where, item))
    return limits


def _check_references(ctx: Ctx, overlay: Overlay) -> None:
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


def _raise_errors(ctx: Ctx) -> None:
    if ctx.errors:
        shown = ctx.errors[:30]
        more = f"\n  ... and {len(ctx.errors) - 30} more" if len(ctx.errors) > 30 else ""
        raise PricingError(
            f"{ctx.file}: invalid price file ({plural(len(ctx.errors), 'problem')}); fix these entries:\n  "
            + "\n  ".join(shown)
            + more
        )


def parse_overlay(raw: Any, *, file: str = "overlay.yaml") -> Overlay:
    """Validate the packaged overlay (strict: every entry needs ``source`` and ``checked``).

    Raises:
        PricingError: listing every problem with its path in the file.
    """
    ctx = Ctx(file=file, strict=True, layer=1, default_source=file, default_checked=None, sources={})
    if not is_mapping(raw):
        ctx.error("(top)", "the file must be a YAML mapping")
        _raise_errors(ctx)
    check_keys(
        ctx, "(top)", raw, {"format", "genai_prices", "sources", "rules", "aliases", "limits", "models", "tool_fees"}
    )
    if raw.get("format") != FORMAT:
        ctx.error("format", f"must be {FORMAT!r}")
    ctx.sources = parse_registry(raw.get("sources"), ctx.error)
    gp_raw = raw.get("genai_prices") or {}
    gp = GenaiPricesSpec(
        version=str(gp_raw.get("version", "")),
        checked=parse_date(ctx, "genai_prices.checked", gp_raw.get("checked")) or datetime.date.min,
        note=" ".join(str(gp_raw.get("note", "")).split()),
    )
    if not gp.version:
        ctx.error("genai_prices.version", "missing the genai-prices version the overlay was checked against")
    models_raw = raw.get("models") or {}
    models: dict[str, ModelSpec] = {}
    if not is_mapping(models_raw):
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
        tool_fees=parse_tool_fees(raw.get("tool_fees"), ToolFeeTable(), readers(ctx)),
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
    ctx = Ctx(
        file=file,
        strict=False,
        layer=2,
        default_source=f"--prices {file}",
        default_checked=checked,
        sources=overlay.sources,
    )
    if raw is None:
        raw = {}
    if not is_mapping(raw):
        ctx.error("(top)", "the file must be a YAML mapping (see the packaged overlay.yaml for the format)")
        _raise_errors(ctx)
    check_keys(ctx, "(top)", raw, {"format", "sources", "rules", "aliases", "limits", "models", "tool_fees"})
    if raw.get("format") not in (None, FORMAT):
        ctx.error("format", f"must be {FORMAT!r} (or left out)")
    ctx.sources = parse_registry(raw.get("sources"), ctx.error, overlay.sources)
    models = dict(overlay.models)
    models_raw = raw.get("models") or {}
    if not is_mapping(models_raw):
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
        tool_fees=parse_tool_fees(raw.get("tool_fees"), overlay.tool_fees, readers(ctx)),
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
    try:
        there, folder = p.exists(), p.is_dir()
    except OSError as exc:  # a name too long: pathlib raises where a missing name gives False
        raise InputError(shown, f"cannot be read: {exc.strerror or exc}; check the --prices path") from None
    if not there:
        raise InputError(shown, "price file not found; check the --prices path")
    if folder:
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
