"""The price book: genai-prices + the packaged overlay + user overrides, by model, mode and date.

Resolution of one rate for (model, mode, run date):

1. the model id is normalised and aliases resolved (``gemini-flash-latest`` -> ``gemini-3.8-flash``);
2. a shut-down model raises :class:`PricingError` naming its successors; a routed model is billed as
   its routing entry says (the target's rates, or - where that is UNKNOWN - the requested model's,
   with the assumption in the notes);
3. layers, later wins per rate: genai-prices (standard prices, or the mode's ``price_variants``) ->
   overlay price blocks -> ``--prices`` blocks (``overridden``);
4. rates a non-standard mode still lacks are derived from the resolved standard rates by the model's
   ``derive`` rule (``derived``, and a note says so); without a rule the mode is not priced.

A rate nobody knows raises :class:`UnpricedError`; it is never $0.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

from batchcost.errors import PricingError, UnknownModelError, UnpricedError
from batchcost.pricing import gp
from batchcost.pricing.changes import events_between, lifecycle_events
from batchcost.pricing.overlay import (
    Key,
    ModelSpec,
    Overlay,
    Route,
    Rule,
    Val,
    load_packaged_overlay,
    merge_overrides,
    read_override_file,
)
from batchcost.pricing.price_rows import price_rows
from batchcost.pricing.records import (
    MODALITIES,
    MODES,
    GroundingFee,
    ModelInfo,
    ModeRates,
    PlatformLimits,
    PriceRow,
    Provenance,
    Rate,
    Source,
    ThinkingDefaults,
    frozen_map,
)
from batchcost.pricing.tool_fees import maps_fee, with_mode


def normalise_model_id(model: str) -> str:
    """Lower-case, trimmed, without a ``models/`` prefix (as ids appear in API paths)."""
    name = model.strip().lower()
    return name.removeprefix("models/")


class PriceBook:
    """Dated Gemini prices with provenance; see the module docstring for how rates resolve.

    Build with :meth:`load`. A book is immutable; all queries take an explicit run date.
    """

    def __init__(self, overlay: Overlay) -> None:
        """Wrap a validated overlay (use :meth:`load` rather than calling this directly)."""
        self._overlay = overlay
        self._gp_models: dict[str, gp.GPModel] = {}

    # ------------------------------------------------------------------ construction

    @classmethod
    def load(cls, overrides: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None) -> PriceBook:
        """Load the packaged book, then apply user price files (same YAML format) in order.

        Args:
            overrides: a path (or several) to ``--prices`` files; their rates are marked overridden.

        Raises:
            InputError: an override file is missing or unreadable.
            PricingError: a file is invalid (every problem is listed with its place in the file).
        """
        overlay = load_packaged_overlay()
        if overrides is None:
            paths: list[str | os.PathLike[str]] = []
        elif isinstance(overrides, (str, os.PathLike)):
            paths = [overrides]
        else:
            paths = list(overrides)
        for path in paths:
            raw, shown, mtime = read_override_file(path)
            overlay = merge_overrides(overlay, raw, file=shown, checked=mtime)
        return cls(overlay)

    # ------------------------------------------------------------------ lookup

    def models(self) -> list[str]:
        """Canonical model ids in the book, sorted."""
        return sorted(self._overlay.models)

    def aliases(self) -> dict[str, str]:
        """Alias id -> canonical model id."""
        return {alias: spec.target for alias, spec in sorted(self._overlay.aliases.items())}

    def sources(self) -> dict[str, Source]:
        """The documents the price files list under ``sources:``, by the id entries name them with."""
        return dict(self._overlay.sources)

    def resolve(self, model: str) -> tuple[str, tuple[str, ...]]:
        """Canonical id for ``model`` (an id or alias) and notes about the resolution.

        Raises:
            UnknownModelError: with close known ids as suggestions.
        """
        name = normalise_model_id(model)
        if name in self._overlay.models:
            return name, ()
        alias = self._overlay.aliases.get(name)
        if alias is not None:
            note = f"{name} is an alias of {alias.target} (as of {alias.as_of}; {alias.provenance.cite()})"
            if name.endswith("-latest"):
                note += "; Google repoints '-latest' aliases when it releases models"
            else:
                note += f"; it is priced at {alias.target} rates"

            return alias.target, (note,)
        candidates = [*self._overlay.models, *self._overlay.aliases]
        # a dated or preview id (gemini-3.8-flash-preview-09-2026): the models it starts with come first
        prefixes = sorted((c for c in candidates if name.startswith(c + "-")), key=len, reverse=True)
        close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.6)
        suggestions = list(dict.fromkeys([*prefixes, *close]))[:5]
        raise UnknownModelError(model, suggestions)

    def _spec(self, model_id: str) -> ModelSpec:
        return self._overlay.models[model_id]

    def _gp(self, spec: ModelSpec) -> gp.GPModel | None:
        if spec.genai_prices is None:
            return None
        found = self._gp_models.get(spec.genai_prices)
        if found is None:
            found = gp.load_model(spec.genai_prices, self._overlay.genai_prices.checked)
            self._gp_models[spec.genai_prices] = found
        return found

    # ------------------------------------------------------------------ routing

    def _route(self, model_id: str, mode: str, day: datetime.date) -> tuple[ModelSpec, list[str], list[str]]:
        """The spec whose rates are billed for ``model_id`` on ``day``, routing notes and warnings.

        Each routing step gives one warning whose text does not depend on ``mode`` (so a caller
        pricing every mode shows it once) and says what to do; what is assumed about it is a note.

        Raises:
            PricingError: the model (or its routing target) is shut down on ``day``.
        """
        notes: list[str] = []
        steps: list[tuple[str, Route]] = []
        current = model_id
        seen: set[str] = set()
        while True:
            if current in seen:
                raise PricingError(f"routing loop at {current}; fix the 'routing' entries of the price files")
            seen.add(current)
            spec = self._spec(current)
            if spec.shutdown is not None and day >= spec.shutdown.date:
                successors = " or ".join(spec.shutdown.successors) or "a current model"
                raise PricingError(
                    f"{current} was shut down on {spec.shutdown.date} ({spec.shutdown.provenance.cite()}); "
                    f"requests to it fail from then on. Use {successors} instead, or pick a --run-date "
                    "before the shutdown"
                )
            route = next((r for r in reversed(spec.routing) if r.start <= day), None)
            if route is None:
                break
            steps.append((current, route))
            if route.provenance.note:
                notes.append(route.provenance.note)
            if route.billing == "requested":
                break
            current = route.to
        warnings: list[str] = []
        for name, route in steps:
            if route.billing == "requested":
                warnings.append(
                    f"{name} has been served by {route.to} since {route.start} ({route.provenance.cite()}) and is "
                    f"priced here at {name} rates: choose {route.to} explicitly to be priced at its own rates"
                )
            else:
                warnings.append(
                    f"{name} is routed to {route.to} from {route.start} and billed at its rates "
                    f"({route.provenance.cite()}): choose {spec.id} explicitly to silence this"
                )
        if steps and mode != "standard":
            notes.append(
                "Google does not say whether batch, flex and priority requests are routed as standard ones are; "
                "they are assumed to be"
            )
        return spec, notes, warnings

    # ------------------------------------------------------------------ layers

    def _layers(self, spec: ModelSpec, mode: str, day: datetime.date) -> dict[Key, Val]:
        values: dict[Key, Val] = {}
        gp_model = self._gp(spec)
        if gp_model is not None:
            from_gp = gp_model.values(mode, day)
            if from_gp:
                values.update(from_gp)
        blocks = [b for b in spec.prices if b.mode == mode and b.covers(day)]
        for block in sorted(blocks, key=lambda b: (b.layer, b.start or datetime.date.min)):
            values.update(block.values)
        return values

    def _mode_values(self, spec: ModelSpec, mode: str, day: datetime.date) -> tuple[dict[Key, Val], list[str]]:
        """Resolved rates of one mode (derivation applied) and notes about derivation."""
        values = self._layers(spec, mode, day)
        notes: list[str] = []
        if mode == "standard":
            return values, notes
        rule_id = spec.derive.get(mode)
        if rule_id is None:
            return values, notes
        rule = self._overlay.rules[rule_id]
        standard = self._layers(spec, "standard", day)
        derived: list[str] = []
        for key, std in standard.items():
            if key in values:
                continue
            component = key[0]
            if component == "cache_read" and rule.cache_read == "none":
                continue
            scale = component != "cache_read" or rule.cache_read == "factor"
            factor = rule.factor if scale else Decimal(1)
            how = f"{rule.factor} x the standard rate" if scale else "the standard rate"
            prov = Provenance.of(
                rule.provenance.sources,
                rule.provenance.checked,
                derived=True,
                overridden=std.provenance.overridden,
                note=f"{how} ({std.provenance.cite()})",
            )
            values[key] = Val(
                None if std.base is None else std.base * factor,
                None if std.above is None else std.above * factor,
                std.threshold,
                prov,
            )
            if scale and component not in derived:
                derived.append(component)
        if derived:
            notes.append(_derivation_note(spec.id, mode, day, rule, derived, self._gp(spec)))
        return values, notes

    def _storage(self, spec: ModelSpec, day: datetime.date) -> Rate | None:
        blocks = [b for b in spec.cache_storage if b.covers(day)]
        if not blocks:
            return None
        block = sorted(blocks, key=lambda b: (b.layer, b.start or datetime.date.min))[-1]
        return None if block.usd is None else Rate(block.usd, block.provenance)

    def _grounding(self, spec: ModelSpec, mode: str, day: datetime.date) -> GroundingFee | None:
        gspec = spec.grounding
        gp_model = self._gp(spec)
        gp_fee = gp_model.web_search_fee(day) if gp_model is not None else None
        if gspec is None and gp_fee is None:
            return None
        notes: list[str] = []
        if gspec is not None and gspec.fee_per_1k is not None:
            fee: Decimal | None = gspec.fee_per_1k
            prov = gspec.provenance
        elif gp_fee is not None:
            fee = gp_fee
            assert gp_model is not None
            note = f"free allowance and unit: {gspec.provenance.cite()}" if gspec is not None else ""
            prov = gp_model.provenance(note)
        else:
            assert gspec is not None
            fee = None
            prov = gspec.provenance
            notes.append(f"{spec.id}: the Search grounding fee is not known on {day}; grounded requests are not priced")
        standard = GroundingFee(
            usd_per_1k=fee,
            unit=gspec.unit if gspec is not None else "search query",
            free_allowance=gspec.free_allowance if gspec is not None else None,
            provenance=prov,
            notes=tuple(notes),
        )
        return with_mode(standard, self._overlay.tool_fees, mode)

    # ------------------------------------------------------------------ public queries

    def rates(self, model: str, mode: str, run_date: datetime.date) -> ModeRates:
        """Rates for ``model`` in ``mode`` on ``run_date``, with routing, derivation, notes and warnings.

        ``notes`` say what was derived or assumed and which source was used where sources disagree;
        ``warnings`` say what to do (the requested model is routed, may be shut down...), in the
        same words for every mode; ``cache_notes`` matter only where a cache is priced.

        Raises:
            UnknownModelError: the id is not in the book (with suggestions).
            PricingError: the model is shut down on that date (the message names successors),
                or ``mode`` is not a known mode.
            UnpricedError: a rate the estimate needs is unknown (never priced at $0).
        """
        if mode not in MODES:
            raise PricingError(f"unknown pricing mode {mode!r}; use one of {', '.join(MODES)}")
        model_id, notes_t = self.resolve(model)
        notes = list(notes_t)
        billed, route_notes, warnings = self._route(model_id, mode, run_date)
        notes.extend(route_notes)
        if billed.unpriced is not None:
            raise UnpricedError(f"{billed.id} is not priced: {billed.unpriced}")
        values, derive_notes = self._mode_values(billed, mode, run_date)
        if not values:
            available = [m for m in MODES if m != mode and self._has_mode(billed, m, run_date)]
            raise UnpricedError(
                f"{billed.id} has no {mode} price on {run_date} in the book (modes priced: "
                f"{', '.join(available) or 'none'}); add one with --prices FILE"
            )
        notes.extend(derive_notes)
        return self._mode_rates(model, billed, mode, run_date, values, notes, warnings)

    def _has_mode(self, spec: ModelSpec, mode: str, day: datetime.date) -> bool:
        try:
            values, _ = self._mode_values(spec, mode, day)
        except PricingError:
            return False
        return bool(values)

    def _mode_rates(
        self,
        requested: str,
        billed: ModelSpec,
        mode: str,
        day: datetime.date,
        values: Mapping[Key, Val],
        notes: list[str],
        warnings: list[str],
    ) -> ModeRates:
        missing = [m for m in MODALITIES if values.get(("input", m)) is None or values[("input", m)].base is None]
        if missing:
            raise UnpricedError(
                f"{billed.id} {mode} input rate for {', '.join(missing)} is unknown on {day}; "
                "add it with --prices FILE (an unknown rate is never priced as $0)"
            )
        output_val = values.get(("output", ""))
        if billed.kind == "embed":
            output_val = None
        elif output_val is None or output_val.base is None:
            raise UnpricedError(f"{billed.id} {mode} output rate is unknown on {day}; add it with --prices FILE")
        cache_vals = [values.get(("cache_read", m)) for m in MODALITIES]
        cache_known = all(v is not None and v.base is not None for v in cache_vals)
        cache_notes: list[str] = []
        if not cache_known and any(v is not None for v in cache_vals):
            cache_notes.append(
                f"{billed.id} {mode} cache-read rate is not known on {day}: requests with cached tokens cannot be priced"
            )
        used = [values[("input", m)] for m in MODALITIES]
        if output_val is not None:
            used.append(output_val)
        if cache_known:
            used.extend(v for v in cache_vals if v is not None)
        thresholds = {v.threshold for v in used if v.threshold is not None}
        if len(thresholds) > 1:
            raise PricingError(
                f"{billed.id} {mode} rates mix tier thresholds {sorted(thresholds)}; make them agree in the price files"
            )
        threshold = thresholds.pop() if thresholds else None

        def rate(val: Val, above: bool) -> Rate:
            amount = val.above if above and val.threshold is not None else val.base
            assert amount is not None
            return Rate(amount, val.provenance)

        def modal(component: str, above: bool) -> Mapping[str, Rate]:
            return MappingProxyType({m: rate(values[(component, m)], above) for m in MODALITIES})

        if threshold is not None:
            notes.append(
                f"prompt-size tier: a request whose prompt tokens (cached tokens included) exceed "
                f"{threshold:,} pays the higher rates for ALL its input, cached input and output "
                "(genai-prices' rule; whether Google counts cached tokens toward the tier is not documented)"
            )
        for event in billed.events:
            if event.kind == "earliest-shutdown" and event.date <= day:
                warnings.append(
                    f"{billed.id} may be shut down on {day}: {event.date} is its earliest possible shutdown "
                    f"date ({event.provenance.cite()}); check that it still answers before submitting, or "
                    "choose another model"
                )
        if billed.released is not None and day < billed.released:
            warnings.append(
                f"{billed.id} was released on {billed.released}, after the run date {day}: give a --run-date on "
                f"or after {billed.released}"
            )
        gp_model = self._gp(billed)
        installed = gp.version() if gp_model is not None else None
        expected = self._overlay.genai_prices.version
        if installed is not None and installed != expected:
            warnings.append(
                f"genai-prices {installed} is installed but batchcost's price book was checked against "
                f"genai-prices {expected}, so some rates may not be the ones checked: install "
                f"genai-prices=={expected}"
            )
        for note in billed.notes:
            if not note.info_only and (note.modes is None or mode in note.modes):
                target = warnings if note.kind == "warning" else cache_notes if note.cache_read else notes
                target.append(note.text)
        storage = self._storage(billed, day) if billed.explicit_cache is not False else None
        if billed.explicit_cache and storage is None:
            cache_notes.append(f"{billed.id} explicit-cache storage price is not known on {day}")
        return ModeRates(
            model=billed.id,
            requested_model=requested,
            mode=mode,
            run_date=day,
            input=modal("input", False),
            cache_read=modal("cache_read", False) if cache_known else None,
            output=rate(output_val, False) if output_val is not None else None,
            tier_threshold=threshold,
            input_above=modal("input", True) if threshold is not None else None,
            cache_read_above=modal("cache_read", True) if threshold is not None and cache_known else None,
            output_above=rate(output_val, True) if threshold is not None and output_val is not None else None,
            cache_storage=storage,
            output_image=_image_rate(values),
            grounding=self._grounding(billed, mode, day),
            maps_grounding=maps_fee(self._overlay.tool_fees, billed.id, mode, day),
            notes=tuple(dict.fromkeys(notes)),
            warnings=tuple(dict.fromkeys(warnings)),
            cache_notes=tuple(dict.fromkeys(cache_notes)),
        )

    def modes(self, model: str, run_date: datetime.date) -> list[str]:
        """Modes the book can price for ``model`` on ``run_date`` (empty when shut down or unpriced).

        Raises:
            UnknownModelError: the id is not in the book.
        """
        self.resolve(model)
        found: list[str] = []
        for mode in MODES:
            try:
                self.rates(model, mode, run_date)
            except PricingError:
                continue
            found.append(mode)
        return found

    def model_kind(self, model: str) -> str:
        """What ``model`` (an id or alias) makes: ``ModelInfo.kind``, without reading any price.

        :meth:`model_info` reads genai-prices for the grounding fees (about 16 MB once loaded); a
        check before a scan asks this instead, so the scan's forked workers do not hold that memory.

        Raises:
            UnknownModelError: the id is not in the book (with suggestions).
        """
        return self._spec(self.resolve(model)[0]).kind

    def model_info(self, model: str, run_date: datetime.date | None = None) -> ModelInfo:
        """Non-rate facts about ``model`` (an id or alias); date-dependent ones at ``run_date``.

        Args:
            model: model id or alias.
            run_date: date for cache-storage and grounding prices (default: today).

        Raises:
            UnknownModelError: the id is not in the book (with suggestions).
        """
        model_id, _ = self.resolve(model)
        spec = self._spec(model_id)
        day = run_date or datetime.date.today()
        thinking = None
        if spec.thinking is not None:
            t = spec.thinking
            thinking = ThinkingDefaults(t.levels, t.default_level, t.default_budget, t.budget_supported, t.provenance)
        notes = [n.text for n in spec.notes if n.info_only or n.modes is None]
        if spec.unpriced:
            notes.append(f"not priced: {spec.unpriced}")
        return ModelInfo(
            id=spec.id,
            name=spec.name,
            kind=spec.kind,
            status=spec.status,
            aliases=tuple(a for a, s in sorted(self._overlay.aliases.items()) if s.target == spec.id),
            input_limit=spec.input_limit,
            output_limit=spec.output_limit,
            explicit_cache=spec.explicit_cache,
            cache_storage_per_mtok_hour=self._storage(spec, day) if spec.explicit_cache is not False else None,
            implicit_cache_min_tokens=spec.implicit_cache_min_tokens,
            thinking=thinking,
            tokenizer=spec.tokenizer,
            enqueued_token_limits=frozen_map(spec.enqueued_tokens),
            grounding=None if spec.unpriced else self._grounding(spec, "standard", day),
            events=lifecycle_events(spec),
            successors=spec.shutdown.successors if spec.shutdown is not None else (),
            in_genai_prices=spec.genai_prices is not None,
            priced=spec.unpriced is None,
            released=spec.released,
            notes=tuple(notes),
            provenance=spec.provenance,
            fact_provenance=spec.fact_provenance,
        )

    def events_between(
        self, model: str, start: datetime.date, end: datetime.date, mode: str | None = None
    ) -> list[str]:
        """Price, routing and lifecycle changes for ``model`` on days in ``(start, end]``.

        Ask for ``[run_date, run_date + 2 days]`` to warn that a batch job (up to 24 h, expiry at
        48 h) could straddle a change. When anything is found, the last line says that the billing
        rule for straddling jobs is UNKNOWN, and what to do.

        Args:
            model: model id or alias.
            start: the run date (changes on it are already in its prices).
            end: last day of the window.
            mode: compare only this mode's rates (default: every mode).

        Raises:
            UnknownModelError: the id is not in the book.
        """
        return events_between(self, model, start, end, mode)

    def limits(self) -> PlatformLimits:
        """Batch platform limits with provenance (from the overlay and any user files)."""
        values = {name: value for name, (value, _) in self._overlay.limits.items()}
        provenance = {name: prov for name, (_, prov) in self._overlay.limits.items()}
        return PlatformLimits(
            **values,
            provenance=frozen_map(provenance),
            notes=frozen_map({n: p.note for n, p in provenance.items() if p.note}),
        )

    def rows(self, run_date: datetime.date, models: Sequence[str] | None = None) -> list[PriceRow]:
        """Flat rows of the effective book on ``run_date`` (for ``batchcost prices``).

        Modalities sharing one rate and provenance are merged into one row (``all`` when every
        modality does). Shut-down and unpriced models get one row with ``usd=None`` and the reason.

        Raises:
            UnknownModelError: a requested id is not in the book.
        """
        return price_rows(self, run_date, models)


def _image_rate(values: Mapping[Key, Val]) -> Rate | None:
    """The image-output rate (USD per 1M image tokens) of an image-output model, else None."""
    val = values.get(("output_image", ""))
    return None if val is None or val.base is None else Rate(val.base, val.provenance)


def _derivation_note(
    model_id: str, mode: str, day: datetime.date, rule: Rule, scaled: Sequence[str], gp_model: gp.GPModel | None
) -> str:
    """One sentence: which rates of ``mode`` are assumed from the standard ones, by what rule and source."""
    first = gp_model.mode_start(mode) if gp_model is not None else None
    lead = ""
    if first is not None and day < first:
        lead = f"genai-prices lists {model_id} {mode} rates only from {first} (the day it checked them); for {day}, "
    factor = "half" if rule.factor == Decimal("0.5") else f"{rule.factor:g} times"
    which = "rates" if {"input", "output"} <= set(scaled) else " and ".join(scaled).replace("_", "-") + " rates"
    sentence = f"{mode} {which} for {model_id} are assumed to be {factor} the standard ones ({rule.provenance.cite()})"
    if not lead:
        sentence = sentence[0].upper() + sentence[1:]
    return f"{lead}{sentence}" + (f"; {rule.provenance.note}" if rule.provenance.note else "")


def same_model(book: PriceBook, a: str, b: str) -> bool:
    """True when ``a`` (e.g. a modelVersion) names the model ``b`` (canonical id), allowing version suffixes."""
    na, nb = normalise_model_id(a), normalise_model_id(b)
    with contextlib.suppress(PricingError):
        na = book.resolve(na)[0]
    return na == nb or na.startswith(nb + "-") or nb.startswith(na + "-")
