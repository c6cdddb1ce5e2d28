"""The effective price book as flat rows, one per rate (``batchcost prices``, ``PriceBook.rows``)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from batchcost.errors import PricingError, UnpricedError
from batchcost.pricing.book_view import BookView
from batchcost.pricing.overlay import ModelSpec
from batchcost.pricing.records import MODALITIES, MODES, ModeRates, PriceRow, Provenance
from batchcost.pricing.tool_fees import unit_plural

_TOKENS = "USD/1M tokens"
_STORAGE = "USD/1M tokens/hour"


def price_rows(book: BookView, run_date: datetime.date, models: Sequence[str] | None = None) -> list[PriceRow]:
    """Flat rows of the effective book on ``run_date`` (for ``batchcost prices``).

    Modalities sharing one rate and provenance are merged into one row (``all`` when every
    modality does). Shut-down and unpriced models get one row with ``usd=None`` and the reason.

    Raises:
        UnknownModelError: a requested id is not in the book.
    """
    ids = book.models() if models is None else list(dict.fromkeys(book.resolve(m)[0] for m in models))
    rows: list[PriceRow] = []
    for model_id in ids:
        rows.extend(_model_rows(book, model_id, run_date))
    return rows


def _offers(book: BookView, spec: ModelSpec, mode: str) -> bool:
    if mode == "standard" or mode in spec.derive or any(b.mode == mode for b in spec.prices):
        return True
    gp_model = book._gp(spec)
    return gp_model is not None and gp_model.has_mode(mode)


def _model_rows(book: BookView, model_id: str, day: datetime.date) -> list[PriceRow]:
    spec = book._spec(model_id)

    def unpriced_row(mode: str, note: str, billed: str = model_id) -> PriceRow:
        return PriceRow(
            model_id,
            billed,
            mode,
            "",
            "",
            "",
            None,
            _TOKENS,
            spec.provenance.source,
            spec.provenance.checked,
            False,
            False,
            note,
            spec.provenance.sources,
        )

    try:
        billed, _, _ = book._route(model_id, "standard", day)
    except PricingError as exc:
        return [unpriced_row("", str(exc))]
    if billed.unpriced is not None:
        return [unpriced_row("", f"not priced: {billed.unpriced}", billed.id)]
    rows: list[PriceRow] = []
    standard: ModeRates | None = None
    for mode in MODES:
        if not _offers(book, billed, mode):
            continue
        try:
            mr = book.rates(model_id, mode, day)
        except UnpricedError as exc:
            rows.append(unpriced_row(mode, str(exc), billed.id))
            continue
        if mode == "standard":
            standard = mr
        rows.extend(_rate_rows(model_id, mr))
    if standard is not None:
        if standard.cache_storage is not None:
            prov = standard.cache_storage.provenance
            rows.append(
                PriceRow(
                    model_id,
                    standard.model,
                    "",
                    "cache_storage",
                    "",
                    "",
                    standard.cache_storage.usd_per_mtok,
                    _STORAGE,
                    prov.source,
                    prov.checked,
                    prov.derived,
                    prov.overridden,
                    prov.note,
                    prov.sources,
                )
            )
        g = standard.grounding
        if g is not None:
            rows.append(
                PriceRow(
                    model_id,
                    standard.model,
                    "",
                    "grounding",
                    "",
                    "",
                    g.usd_per_1k,
                    f"USD/1k {g.unit[:-1] + 'ies' if g.unit.endswith('y') else g.unit + 's'}",
                    g.provenance.source,
                    g.provenance.checked,
                    g.provenance.derived,
                    g.provenance.overridden,
                    f"free: {g.free_allowance}" if g.free_allowance else "",
                    g.provenance.sources,
                )
            )
        maps = standard.maps_grounding
        if maps is not None:
            rows.append(
                PriceRow(
                    model_id, standard.model, "", "maps_grounding", "", "", maps.usd_per_1k,
                    f"USD/1k {unit_plural(maps.unit)}", maps.provenance.source, maps.provenance.checked,
                    maps.provenance.derived, maps.provenance.overridden,
                    f"free: {maps.free_allowance}" if maps.free_allowance else "", maps.provenance.sources,
                )
            )  # fmt: skip
    return rows


def _rate_rows(model_id: str, mr: ModeRates) -> list[PriceRow]:
    groups: dict[tuple[str, bool, Decimal, Provenance], list[str]] = {}
    for component, modality, above, rate in mr.rates():
        groups.setdefault((component, above, rate.usd_per_mtok, rate.provenance), []).append(modality)
    rows: list[PriceRow] = []
    for (component, above, usd, prov), modalities in groups.items():
        if component in ("output", "output_image"):
            label = ""
        elif len(modalities) == len(MODALITIES):
            label = "all"
        else:
            label = "+".join(modalities)
        if mr.tier_threshold is None:
            tier = ""
        else:
            k = f"{mr.tier_threshold // 1000}k" if mr.tier_threshold % 1000 == 0 else f"{mr.tier_threshold:,}"
            tier = f">{k}" if above else f"<={k}"
        note = prov.note
        if mr.model != model_id:
            note = f"billed as {mr.model}" + (f"; {note}" if note else "")
        rows.append(
            PriceRow(
                model_id,
                mr.model,
                mr.mode,
                component,
                label,
                tier,
                usd,
                _TOKENS,
                prov.source,
                prov.checked,
                prov.derived,
                prov.overridden,
                note,
                prov.sources,
            )
        )
    return rows
