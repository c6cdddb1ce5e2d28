"""``--compare``: one table of every model x mode ranked by expected cost, as the text report ranks it.

The rows, the cheapest option and the notes on missing modes come from ``reports.plan_text``
(``compare_rows``, ``cheapest``, ``missing_modes``), so the terminal and the page say the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ...money import money_column
from ..plan_text import cheapest, compare_rows, missing_modes
from ..terminal import MODE_NAMES
from .context import CompareRow, CompareSection, Money
from .display import sentence


def compare_section(plan: Mapping[str, Any]) -> CompareSection | None:
    """The ranked comparison, or None when no other model was priced."""
    if not plan.get("compare"):
        return None
    rows = compare_rows(plan)
    chosen = plan["cost"].get("batch") or {}
    base = Decimal(chosen["expected"]) if chosen.get("expected") is not None else None
    amounts = Money.column([r["expected"] for r in rows])
    # The difference column as the text report shows it: one precision, a sign on every amount.
    differences = money_column([None if r["expected"] is None or base is None else r["expected"] - base for r in rows])
    billed = {plan["model"]: plan["billed_model"], **{c["model"]: c["billed_model"] for c in plan["compare"]}}
    best = next((r for r in rows if r["expected"] is not None), None)
    out = []
    for r, amount, diff in zip(rows, amounts, differences, strict=True):
        is_chosen = r["model"] == plan["model"] and r["mode"] == "batch"
        if is_chosen:
            diff = "chosen"
        elif diff == "$0":
            diff = "same"
        elif diff.startswith("$"):
            diff = "+" + diff
        elif diff == "-":
            diff = ""
        out.append(
            CompareRow(
                model=str(r["model"]), billed_model=str(billed.get(r["model"], r["model"])), mode=str(r["mode"]),
                label=MODE_NAMES.get(r["mode"], r["mode"]),
                expected=amount if amount.usd is not None else Money("unknown"),
                difference=diff, is_chosen=is_chosen, is_cheapest=r is best,
            )
        )  # fmt: skip
    notes = [(str(c["model"]), [str(w) for w in c.get("warnings") or []]) for c in plan["compare"]]
    return CompareSection(
        base=f"{plan['model']} batch",
        rows=out,
        cheapest=sentence(cheapest(plan) or ""),
        missing=[sentence(n) for n in missing_modes(plan)],
        model_notes=[(model, ws) for model, ws in notes if ws],
    )
