"""The cost sections: the cost table, its chart, the note under it, the saving."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ...money import money, money_column
from .. import charts
from ..terminal import MODE_NAMES, cost_rows, floor_what, has_tool_fees, tool_fee_lines
from .context import Chart, CostRow, Money
from .display import dec, markup


def _has_expectation(cost: Mapping[str, Any]) -> bool:
    return any(c.get("expected") is not None for c in cost.values() if "not_priced" not in c)


def _mode_label(mode: str) -> str:
    return MODE_NAMES.get(mode, mode.replace("_", " "))


def cost_table(cost: Mapping[str, Any]) -> list[CostRow]:
    """The cost table, one row per mode, labelled as the text report labels them."""
    shown = cost_rows(cost)[1:]  # the text renderer's labels, so every format names modes alike
    rows = []
    for (mode, c), text in zip(cost.items(), shown, strict=True):
        if "not_priced" in c:
            dash = Money("-")
            rows.append(CostRow(mode, text[0], dash, dash, dash, dash, dash, not_priced=str(c["not_priced"])))
            continue
        rows.append(
            CostRow(
                mode, text[0], Money(text[1], c["floor"]), Money(text[2], c["expected"]), Money(text[3], c["low"]),
                Money(text[4], c["high"]), Money(text[5], c["ceiling"]), highlight=mode == "batch",
            )
        )  # fmt: skip
    return rows


def _mode_bars(cost: Mapping[str, Any]) -> list[charts.Bar]:
    bars = []
    for mode, c in cost.items():
        if "not_priced" in c:
            continue
        if c.get("expected") is not None:
            value, low, high = Decimal(c["expected"]), dec(c.get("low")), dec(c.get("high"))
        elif c.get("floor") is not None:
            value, low, high = Decimal(c["floor"]), None, None
        else:
            continue
        bars.append(charts.Bar(_mode_label(mode), value, low, high, highlight=mode == "batch"))
    return bars


def _mode_axis_label(cost: Mapping[str, Any], method: str) -> str:
    if _has_expectation(cost):
        return "expected cost of the whole file, USD" + ("" if method == "exact" else " (whiskers: 95% interval)")
    return "floor of the whole file (input, tool fees, images), USD (output expectation unknown)"


def modes_chart(plan: Mapping[str, Any]) -> Chart | None:
    """The cost-by-mode chart (expected cost with its interval, else the floor), or None without a priced mode."""
    cost = plan["cost"]
    modes_svg = charts.cost_by_mode(_mode_bars(cost), axis_label=_mode_axis_label(cost, plan["tokens"]["method"]))
    return (
        None
        if modes_svg is None
        else Chart(
            "modes",
            "Cost by mode",
            "Whole-file cost in each mode"
            + (
                "; bars are the expected cost"
                + ("." if plan["tokens"]["method"] == "exact" else ", whiskers the 95% interval.")
                if _has_expectation(cost)
                else "; no output expectation was given, so bars show the floor."
            ),
            markup(modes_svg),
        )
    )


def batch_basis(c: Mapping[str, Any]) -> tuple[str | None, str]:
    """The batch figure that headlines a cost block: expected when known, else the floor."""
    if not c or "not_priced" in c:
        return None, "not priced"
    if c.get("expected") is not None:
        return c["expected"], "expected"
    return c.get("floor"), "floor"


def range_text(c: Mapping[str, Any], *, short: bool = False) -> str:
    """How sure the expected figure is: "exact token count", "95% range $L - $H" or "95% interval ±$x"."""
    low, high = Decimal(c["low"]), Decimal(c["high"])
    if low == high:
        return "exact" if short else "exact token count"
    low_text, high_text = money_column([low, high])
    if low_text == high_text:  # narrower than the displayed rounding
        return ("" if short else "95% interval ") + f"±{money((high - low) / 2)}"
    return ("" if short else "95% range ") + f"{low_text} - {high_text}"


def cost_note(plan: Mapping[str, Any]) -> str:
    """How to read the cost table's columns."""
    o = plan["tokens"]["output"]
    held = floor_what(plan)
    base = (
        f"Floor: {'input tokens only' if held == 'input only' else held}. Expected, low and high add the expected "
        "output; low and high use the "
        "95% interval of the input. Ceiling: the input's high end plus every request's full output "
        "allowance (maxOutputTokens or the model's limit, plus thinking)."
    )
    if has_tool_fees(plan["cost"]):
        base += " Every figure includes the tool fees below (Grounding with Google Search or Maps)."
    if o.get("expected") is None:
        base += " No output expectation was given, so only the floor and the ceiling are known."
    return base


def tool_fees(plan: Mapping[str, Any]) -> list[str]:
    """One sentence per tool fee of the batch job (empty when no request carries a tool with a fee)."""
    return tool_fee_lines(plan)


def savings(plan: Mapping[str, Any]) -> str:
    """What batch saves over standard calls, as a sentence ("" when the plan has no saving)."""
    s = plan.get("savings", {}).get("batch_vs_standard")
    if not s:
        return ""
    basis = "expected cost" if s.get("basis") == "expected" else "floor"
    return f"Batch saves {money(s['usd'])} ({s['percent']}%) over standard synchronous calls ({basis})."
