"""Estimate against actual: per token component and in dollars, with the contributors to the difference."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..batchfile.results import OK, ResultSet
from ..errors import PricingError, UnpricedError
from ..money import usd
from ..text import plural

if TYPE_CHECKING:
    from ..pricing import PriceBook

from .actual import ActualCost, price_results

# -- variance ---------------------------------------------------------------------------------------


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _ratio(actual: int | Decimal, expected: int | Decimal | None) -> float | None:
    if expected is None or not expected:
        return None
    return round(float(Decimal(actual) / Decimal(expected)), 4)


def _token_component(name: str, est: Mapping[str, Any] | None, actual: int, note: str = "") -> dict[str, Any]:
    if est is None or est.get("expected") is None:
        ceiling = None if est is None else est.get("ceiling")
        return {
            "component": name,
            "unit": "tokens",
            "estimated": None if ceiling is None else {"expected": None, "low": None, "high": None, "ceiling": ceiling},
            "actual": actual,
            "difference": None,
            "ratio": None,
            "inside_interval": None if ceiling is None else actual <= int(ceiling),
            "basis": "ceiling" if ceiling is not None else ("not estimated" + (f": {note}" if note else "")),
        }
    expected, low, high = int(est["expected"]), est.get("low"), est.get("high")
    estimated: dict[str, Any] = {
        "expected": expected,
        "low": None if low is None else int(low),
        "high": None if high is None else int(high),
    }
    if est.get("ceiling") is not None:
        estimated["ceiling"] = int(est["ceiling"])
    if low is None or high is None:
        inside, basis = None, "point estimate (no interval in the plan)"
    else:
        inside, basis = int(low) <= actual <= int(high), "exact" if low == high else "95% interval"
    return {
        "component": name,
        "unit": "tokens",
        "estimated": estimated,
        "actual": actual,
        "difference": actual - expected,
        "ratio": _ratio(actual, expected),
        "inside_interval": inside,
        "basis": basis,
    }


def variance_of(
    book: PriceBook,
    plan: Mapping[str, Any],
    plan_path: str | None,
    rs: ResultSet,
    actual: ActualCost,
    mode: str,
    day: datetime.date,
    model: str,
) -> dict[str, Any]:
    r = rs.rows
    ok = r["status"] == OK
    t = plan.get("tokens") or {}
    t_in = t.get("input") or {}
    t_out = t.get("output") or {}
    prompt = int(r["prompt"][ok].sum())
    cached = int(r["cached"][ok].sum())
    tool = int(r["tool_use"][ok].sum())
    thoughts = int(r["thoughts"][ok].sum())
    output = int(r["candidates"][ok].sum()) + thoughts
    notes: list[str] = []
    components = [
        _token_component("input", t_in, prompt),
        _token_component("cached", t_in.get("cached"), cached, "the estimate prices no cache hits"),
        _token_component(
            "tool_use", _planned_tool_tokens(plan), tool, "tool results fed back are unknown before the job runs"
        ),
        _token_component("output", t_out, output),
        _token_component("thinking", t_out.get("thoughts"), thoughts, "the plan does not split thinking from output"),
    ]
    plan_cost = (plan.get("cost") or {}).get(mode) or {}
    expected = _dec(plan_cost.get("expected"))
    floor = _dec(plan_cost.get("floor"))
    cost_entry: dict[str, Any] = {"component": "cost", "unit": "USD", "actual": usd(actual.total)}
    if not plan_cost or "not_priced" in plan_cost:
        cost_entry.update(
            estimated=None, difference=None, ratio=None, inside_interval=None, basis="not priced in the plan"
        )
        notes.append(f"the plan has no {mode} cost to compare with")
    else:
        estimated = {k: plan_cost.get(k) for k in ("expected", "low", "high", "floor", "ceiling")}
        cost_entry["estimated"] = estimated
        if expected is not None:
            low, high = _dec(plan_cost.get("low")) or expected, _dec(plan_cost.get("high")) or expected
            cost_entry.update(
                difference=usd(actual.total - expected),
                ratio=_ratio(actual.total, expected),
                inside_interval=low <= actual.total <= high,
                basis="95% interval" if low != high else "exact",
            )
        else:
            ceiling = _dec(plan_cost.get("ceiling"))
            inside = None if floor is None or ceiling is None else floor <= actual.total <= ceiling
            cost_entry.update(difference=None, ratio=None, inside_interval=inside, basis="floor-ceiling")
            notes.append("the plan had no output expectation: the actual cost is checked against its floor and ceiling")
    fees_entry = _tool_fees_component(plan_cost, actual)
    if fees_entry is not None:
        components.append(fees_entry)
    components.append(cost_entry)

    contributors: list[dict[str, Any]] = []
    difference = None
    basis = None
    if floor is not None:
        base = expected if expected is not None else floor
        basis = "expected" if expected is not None else "floor"
        difference = actual.total - base
        contributors = _contributors(
            book, rs, plan, actual, mode, day, model, floor, expected,
            prompt, tool, cached, thoughts, output, t_in, t_out, notes,
        )  # fmt: skip
        assert sum((Decimal(c["usd"]) for c in contributors), Decimal(0)) == difference
    plan_requests = plan.get("requests")
    if rs.failed and plan_requests:
        notes.append(
            f"{rs.failed:,} of the plan's {plural(int(plan_requests), 'request')} failed and "
            f"{'was' if rs.failed == 1 else 'were'} not billed; the estimate priced every request"
        )
    return {
        "plan": plan_path,
        "plan_model": plan.get("model"),
        "plan_run_date": plan.get("run_date"),
        "mode": mode,
        "components": components,
        "requests": {
            "estimated": plan_requests,
            "results": rs.succeeded + rs.failed,
            "succeeded": rs.succeeded,
            "failed": rs.failed,
        },
        "difference": usd(difference),
        "difference_basis": basis,
        "contributors": contributors,
        "notes": notes,
    }


def _contributors(
    book: PriceBook,
    rs: ResultSet,
    plan: Mapping[str, Any],
    actual: ActualCost,
    mode: str,
    day: datetime.date,
    model: str,
    floor: Decimal,
    expected: Decimal | None,
    prompt: int,
    tool: int,
    cached: int,
    thoughts: int,
    output: int,
    t_in: Mapping[str, Any],
    t_out: Mapping[str, Any],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Split actual - estimate exactly into named parts, largest first (see the module docstring)."""
    at_plan = actual
    plan_day = plan.get("run_date")
    plan_model = str(plan.get("model") or model)
    changed = (plan_day and plan_day != day.isoformat()) or plan_model != model
    if changed:
        try:
            rates = book.rates(plan_model, mode, datetime.date.fromisoformat(str(plan_day)) if plan_day else day)
            at_plan = price_results(rs, rates)
        except (PricingError, UnpricedError) as e:
            notes.append(
                f"cannot price the results at the plan's model and date ({e}); price changes are not separated"
            )
            at_plan = actual
    e_out = (expected - floor) if expected is not None else Decimal(0)
    # the plan's floor holds its expected tool fees: they are compared with the actual fees apart
    e_fees = _planned_fees((plan.get("cost") or {}).get(mode) or {}) or Decimal(0)
    a_fees = at_plan.by_component.get("tool_fees", Decimal(0))
    units = "; ".join(_units(n, k) for k, n in at_plan.tool_units.items()) or "no grounding used"
    a_in = at_plan.by_component["input"]
    a_tool = at_plan.detail["tool_use_input"]
    a_cached = at_plan.by_component["cached_input"]
    a_out = at_plan.by_component["output"]
    x1 = at_plan.uncached_input
    est_in = t_in.get("expected")
    est_out = t_out.get("expected")
    parts = [
        (
            "input tokens",
            x1 - a_tool - (floor - e_fees),
            plural(prompt, "prompt token") + (f" vs {int(est_in):,} estimated" if est_in is not None else ""),
        ),
        ("tool-use tokens", a_tool, f"{tool:,} tool-use prompt tokens (tool results fed back), not in the estimate"),
        (
            "context cache hits",
            a_in + a_cached - x1,
            f"{cached:,} prompt tokens served from the context cache at the cache-read rate",
        ),
        (
            "output tokens",
            a_out - e_out,
            f"{plural(output, 'output token')} ({thoughts:,} thinking)"
            + (f" vs {int(est_out):,} expected" if est_out is not None else "; the plan had no output expectation"),
        ),
    ]
    if e_fees or a_fees:
        parts.append(("tool fees", a_fees - e_fees, f"{units} (Grounding with Google Search or Maps) vs the estimate"))
    if at_plan is not actual:
        parts.append(
            (
                "prices",
                actual.total - at_plan.total,
                f"rates of {actual.rates.model} on {day} instead of {plan_model} on {plan_day}",
            )
        )
    out = [{"name": n, "usd": usd(v), "explanation": text} for n, v, text in parts if v]
    out.sort(key=lambda c: -abs(Decimal(c["usd"])))
    return out


def _units(n: int, key: str) -> str:
    """A tool-fee count in words: ``2,000 search queries``, ``1 search query``, ``1 maps grounded prompt``."""
    many = key.replace("_", " ")
    one = many[: -len("ies")] + "y" if many.endswith("ies") else many.removesuffix("s")
    return plural(n, one, many)


def _planned_fees(plan_cost: Mapping[str, Any]) -> Decimal | None:
    """The plan's expected tool fees in this mode (None: a plan from before ``by_component``)."""
    figure = ((plan_cost.get("by_component") or {}).get("tool_fees") or {}).get("expected")
    return _dec(figure)


def _tool_fees_component(plan_cost: Mapping[str, Any], actual: ActualCost) -> dict[str, Any] | None:
    """Tool fees estimated against actual, when either side has some (Search or Maps grounding)."""
    fees = (plan_cost.get("by_component") or {}).get("tool_fees") or {}
    planned = _planned_fees(plan_cost)
    used = actual.by_component.get("tool_fees")
    if not planned and used is None:
        return None
    used = used or Decimal(0)
    if planned is None:
        return {
            "component": "tool_fees", "unit": "USD", "actual": usd(used), "estimated": None, "difference": None,
            "ratio": None, "inside_interval": None, "basis": "not estimated (a plan from before tool fees)",
        }  # fmt: skip
    low, high = _dec(fees.get("low")) or planned, _dec(fees.get("high")) or planned
    return {
        "component": "tool_fees",
        "unit": "USD",
        "actual": usd(used),
        "estimated": {"expected": usd(planned), "low": usd(low), "high": usd(high), "floor": None, "ceiling": None},
        "difference": usd(used - planned),
        "ratio": _ratio(used, planned),
        "inside_interval": low <= used <= high,
        "basis": "95% interval" if low != high else "exact",
    }


def _planned_tool_tokens(plan: Mapping[str, Any]) -> dict[str, int] | None:
    """Tool-result tokens the plan expected (learnt per request with Google Search), or None."""
    tools = plan.get("tools") or {}
    per = (tools.get("per_request") or {}).get("tool_result_tokens")
    n = (tools.get("requests") or {}).get("google_search") or 0
    if not per or not n:
        return None
    return {end: round(Decimal(per[end]) * n) for end in ("expected", "low", "high")}
