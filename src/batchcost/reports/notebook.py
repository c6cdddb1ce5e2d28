"""How a plan and a reconciliation show in a notebook: a short ``repr`` and a few summary cards.

``repr(plan)`` fits in ten lines (model, requests and validity, batch cost and range, tokens,
shards, caching, how many warnings, where the tables are); ``_repr_html_`` shows the same as
cards in a small self-contained HTML fragment (inline styles, no script, every text escaped).
Both render the JSON documents (``batchcost.plan/1``, ``batchcost.reconcile/1``), like every
renderer here, and never compute a figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ..money import money
from ..text import plural
from .terminal import floor_what

PLAN_TABLES = "plan.requests(), plan.shards(), plan.prices(), plan.caching_candidates(), plan.compare()"
MAX_LINES = 10

Card = tuple[str, str, str, str]  # title, value, detail, tone ("", "key", "good", "warn", "bad")


def _range(cost: Mapping[str, Any]) -> str:
    if cost.get("low") is None or cost.get("low") == cost.get("high"):
        return ""
    return f"{money(cost['low'])} - {money(cost['high'])}"


def _batch(doc: Mapping[str, Any]) -> tuple[str, str]:
    """(value, detail) of the batch cost: expected with its range, or the input-only floor."""
    batch = doc["cost"].get("batch") or {}
    if not batch or "not_priced" in batch:
        return "not priced", str(batch.get("not_priced", "no batch rate for this model"))
    ceiling = "unknown" if batch.get("ceiling") is None else money(batch["ceiling"])
    if batch.get("expected") is None:
        what = floor_what(doc)
        return f"{money(batch['floor'])} {what}", f"output unknown; ceiling {ceiling}"
    rng = _range(batch)
    return f"{money(batch['expected'])} expected", (f"95% {rng}; " if rng else "") + f"ceiling {ceiling}"


def _requests(doc: Mapping[str, Any]) -> tuple[str, str, str]:
    v = doc["validation"]
    files = plural(len(doc["files"]), "file")
    if v["valid"]:
        detail = "valid" + (f" ({plural(v['warnings'], 'warning')})" if v.get("warnings") else "")
        return f"{doc['requests']:,}", f"{files}, {detail}", "good"
    return f"{doc['requests']:,}", f"{files}, INVALID: {plural(v['errors'], 'error')}", "bad"


def _tokens(doc: Mapping[str, Any]) -> tuple[str, str, str]:
    """(input tokens, how they were counted, output) of a plan."""
    t = doc["tokens"]
    tin, out = t["input"], t["output"]
    how = {"exact": "exact", "sampled": "sampled", "approximate": "APPROXIMATE"}.get(t["method"], t["method"])
    if tin["low"] != tin["high"]:
        how += f", 95% {tin['low']:,} - {tin['high']:,}"
    output = "output unknown" if out.get("expected") is None else f"{out['expected']:,} output expected"
    return f"{tin['expected']:,}", how, output


def _shards(doc: Mapping[str, Any]) -> str | None:
    s = doc.get("shards")
    if not s:
        return None
    totals, hours = s["totals"], s["hours"]
    return (
        f"{plural(totals['shards'], 'job')} in {plural(totals['waves'], 'wave')}: results in about "
        f"{hours['expected']} h, at most {hours['worst']} h"
    )


def _clip(line: str, width: int = 100) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def plan_text(doc: Mapping[str, Any]) -> str:
    """``repr(plan)``: at most ten lines from a ``batchcost.plan/1`` document."""
    billed = "" if doc["billed_model"] == doc["model"] else f" (billed as {doc['billed_model']})"
    n, detail, _ = _requests(doc)
    batch, batch_detail = _batch(doc)
    tin, how, tout = _tokens(doc)
    lines = [
        f"<batchcost.Plan {doc['model']}{billed}, run date {doc['run_date']}",
        f"  requests  {n} in {detail}",
        f"  batch     {batch} ({batch_detail})",
    ]
    std = doc["cost"].get("standard") or {}
    if std and "not_priced" not in std:
        value = std["expected"] if std.get("expected") is not None else std["floor"]
        lines.append(
            f"  standard  {money(value)}" + (" expected" if std.get("expected") is not None else " " + floor_what(doc))
        )
    lines.append(f"  tokens    {tin} input ({how}), {tout}")
    shards = _shards(doc)
    if shards:
        lines.append(f"  shards    {shards}")
    caching = doc.get("caching")
    if caching:
        lines.append(f"  caching   {caching['summary']}")
    lines.append(
        f"  {plural(len(doc['warnings']), 'warning')}, {plural(len(doc['notes']), 'note')}: plan.warnings, plan.notes"
    )
    # the method names whole: clipped, the last one read "plan.compar..."
    lines.append("  tables    plan.requests(), .shards(), .prices(), .caching_candidates(), .compare()>")
    return "\n".join(_clip(line) for line in lines[:MAX_LINES])


def plan_cards(doc: Mapping[str, Any]) -> str:
    """``plan._repr_html_()``: the summary cards of a ``batchcost.plan/1`` document."""
    batch, batch_detail = _batch(doc)
    cards: list[Card] = [("Batch cost", batch, batch_detail, "key" if "expected" in batch else "warn")]
    std = doc["cost"].get("standard") or {}
    if std and "not_priced" not in std:
        value = std["expected"] if std.get("expected") is not None else std["floor"]
        saving = (doc.get("savings") or {}).get("batch_vs_standard")
        detail = f"batch saves {money(saving['usd'])} ({saving['percent']}%)" if saving else ""
        cards.append(("Standard (sync)", money(value), detail, ""))
    cached = doc["cost"].get("batch_cached")
    if cached and "not_priced" not in cached:
        value = cached["expected"] if cached.get("expected") is not None else cached["floor"]
        cards.append(("Batch + cache", money(value), (doc.get("caching") or {}).get("summary", ""), "good"))
    n, detail, tone = _requests(doc)
    cards.append(("Requests", n, detail, tone))
    tin, how, _ = _tokens(doc)
    cards.append(("Input tokens", tin, how, ""))
    out = doc["tokens"]["output"]
    ceiling = "unknown" if out.get("ceiling") is None else f"{out['ceiling']:,}"
    if out.get("expected") is None:
        cards.append(("Output tokens", "unknown", f"ceiling {ceiling}; give output_tokens=N", "warn"))
    else:
        cards.append(("Output tokens", f"{out['expected']:,}", f"expected; ceiling {ceiling}", ""))
    shards = doc.get("shards")
    if shards:
        totals = shards["totals"]
        hours = shards["hours"]
        detail = f"results in about {hours['expected']} h, at most {hours['worst']} h"
        cards.append(("Shards", f"{totals['shards']:,} in {plural(totals['waves'], 'wave')}", detail, ""))
    title = f"{doc['model']}, run date {doc['run_date']}"
    footer = f"{plural(len(doc['warnings']), 'warning')} (plan.warnings); tables: {PLAN_TABLES}"
    return _html(title, cards, footer)


def reconcile_text(doc: Mapping[str, Any]) -> str:
    """``repr(reconciliation)``: at most ten lines from a ``batchcost.reconcile/1`` document."""
    lines = [
        f"<batchcost.Reconciliation {doc['model']}, {doc['mode']} rates of {doc['run_date']}",
        f"  cost      {money(doc['cost']['total'])} actual",
        f"  results   {doc['succeeded']:,} succeeded, {doc['failed']:,} failed (not billed), "
        f"{doc['unreadable']:,} unreadable",
        f"  tokens    {doc['tokens']['prompt']:,} prompt, {doc['tokens']['output']:,} output "
        f"({doc['tokens']['thoughts']:,} thinking)",
    ]
    variance = doc.get("variance")
    if variance and variance.get("difference") is not None:
        lines.append(f"  vs plan   {_signed(variance['difference'])} against the {variance['difference_basis']}")
    lines.append(f"  {plural(len(doc['warnings']), 'warning')}: rec.warnings; table: rec.requests()>")
    return "\n".join(_clip(line) for line in lines[:MAX_LINES])


def reconcile_cards(doc: Mapping[str, Any]) -> str:
    """``reconciliation._repr_html_()``: the summary cards of a ``batchcost.reconcile/1`` document."""
    t = doc["tokens"]
    cards: list[Card] = [
        ("Actual cost", money(doc["cost"]["total"]), f"{doc['mode']} rates of {doc['run_date']}", "key"),
        (
            "Results",
            f"{doc['succeeded']:,}",
            f"succeeded; {doc['failed']:,} failed (not billed)",
            "bad" if doc["failed"] or doc["unreadable"] else "good",
        ),
        ("Tokens", f"{t['prompt']:,}", f"prompt; {t['output']:,} output ({t['thoughts']:,} thinking)", ""),
    ]
    variance = doc.get("variance")
    if variance and variance.get("difference") is not None:
        cards.append(
            ("Against the plan", _signed(variance["difference"]), f"vs its {variance['difference_basis']}", "")
        )
    footer = f"{plural(len(doc['warnings']), 'warning')} (rec.warnings); table: rec.requests()"
    return _html(f"{doc['model']}: actual cost", cards, footer)


def _signed(value: str) -> str:
    text = money(value)
    return text if text.startswith("-") else "+" + text


_TONES = {"key": "#1a56db", "good": "#0e7a3e", "warn": "#a15c00", "bad": "#b42318", "": "#333"}


def _html(title: str, cards: Sequence[Card], footer: str) -> str:
    tiles = "".join(
        '<div style="border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;min-width:150px;flex:1">'
        f'<div style="font-size:12px;color:#57606a">{escape(t)}</div>'
        f'<div style="font-size:20px;font-weight:600;color:{_TONES.get(tone, "#333")}">{escape(v)}</div>'
        f'<div style="font-size:12px;color:#57606a">{escape(d)}</div></div>'
        for t, v, d, tone in cards
    )
    return (
        '<div class="batchcost-summary" style="font-family:system-ui,sans-serif;max-width:960px">'
        f'<div style="font-weight:600;margin-bottom:6px">batchcost: {escape(title)}</div>'
        f'<div style="display:flex;flex-wrap:wrap;gap:8px">{tiles}</div>'
        f'<div style="font-size:12px;color:#57606a;margin-top:6px">{escape(footer)}</div></div>'
    )
