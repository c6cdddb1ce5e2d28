"""Tool fees: a model's fee for one mode, and what a number of queries or grounded prompts costs.

The fee per 1,000 units comes from the price book (Search: the model's ``grounding`` rows; Maps:
the ``tool_fees.google_maps`` rows) times the mode's factor (``tool_fees.modes``: an assumption
where Google is silent, as it is for batch). A free allowance is shown, never subtracted, unless
the caller says how many free units are left for the job (``free_units``).
"""

from __future__ import annotations

import datetime
from decimal import Decimal, localcontext

from batchcost.errors import UnpricedError
from batchcost.pricing.records import GroundingFee
from batchcost.pricing.tool_fee_rows import ToolFeeTable

TOOL_NAMES = {"google_search": "Grounding with Google Search", "google_maps": "Grounding with Google Maps"}
"""How each tool is named to users."""


def unit_plural(unit: str) -> str:
    """``search query`` -> ``search queries``, ``grounded prompt`` -> ``grounded prompts``."""
    return unit[:-1] + "ies" if unit.endswith("y") else unit + "s"


def mode_fee(
    standard: Decimal | None, table: ToolFeeTable, mode: str
) -> tuple[Decimal | None, Decimal, bool, str | None]:
    """``(fee in mode, factor, factor assumed, note)`` for a standard fee per 1,000 units.

    Standard mode, and a mode the table does not name, keep the standard fee (a mode without a
    row is said to be assumed at the full fee).
    """
    if mode == "standard":
        return standard, Decimal(1), False, None
    row = table.modes.get(mode)
    if row is None:
        note = f"Google does not say whether {mode} discounts tool fees; the full fee is assumed"
        return standard, Decimal(1), True, note
    fee = None if standard is None else standard * row.factor
    note = row.note or f"tool fees x {row.factor} in {mode} ({row.provenance.cite()})"
    return fee, row.factor, row.assumption, note


def maps_fee(table: ToolFeeTable, model_id: str, mode: str, day: datetime.date) -> GroundingFee | None:
    """The Maps-grounding fee of ``model_id`` in ``mode`` on ``day`` (None when no row names it)."""
    row = table.row("google_maps", model_id, day)
    if row is None:
        return None
    fee, factor, assumed, note = mode_fee(row.fee_per_1k, table, mode)
    notes = [n for n in (note, row.provenance.note) if n]
    if row.fee_per_1k is None:
        notes.append(f"{model_id}: the Maps grounding fee is not known on {day}")
    if table.free_allowance_scope:
        notes.append(table.free_allowance_scope)
    return GroundingFee(
        usd_per_1k=fee,
        unit=row.unit,
        free_allowance=row.free_allowance,
        provenance=row.provenance,
        notes=tuple(notes),
        tool="google_maps",
        mode_factor=factor,
        factor_assumed=assumed,
        free_allowance_scope=table.free_allowance_scope,
    )


def with_mode(fee: GroundingFee, table: ToolFeeTable, mode: str) -> GroundingFee:
    """A Search fee (as the model's rows give it for standard) for ``mode``, with the table's notes."""
    usd, factor, assumed, note = mode_fee(fee.usd_per_1k, table, mode)
    notes = [n for n in fee.notes if n]
    if note:
        notes.append(note)
    if table.free_allowance_scope:
        notes.append(table.free_allowance_scope)
    return GroundingFee(
        usd_per_1k=usd,
        unit=fee.unit,
        free_allowance=fee.free_allowance,
        provenance=fee.provenance,
        notes=tuple(dict.fromkeys(notes)),
        tool=fee.tool,
        mode_factor=factor,
        factor_assumed=assumed,
        free_allowance_scope=table.free_allowance_scope,
    )


def fee_usd(fee: GroundingFee, units: Decimal | int, free_units: int | None = None) -> Decimal:
    """What ``units`` queries or grounded prompts cost at ``fee`` (exact).

    ``free_units`` is how much of the free allowance the user says is left for this job: that many
    units are not charged. Without it nothing is subtracted (the allowance's scope is unknown).

    Raises:
        UnpricedError: units to price but no known fee (never $0).
    """
    billable = Decimal(units)
    if free_units:
        billable = max(Decimal(0), billable - free_units)
    if billable == 0:
        return Decimal(0)
    if fee.usd_per_1k is None:
        raise UnpricedError(f"{TOOL_NAMES.get(fee.tool, fee.tool)}: the fee is unknown; add it with --prices FILE")
    with localcontext() as ctx:
        ctx.prec = 60
        return billable * fee.usd_per_1k / 1000
