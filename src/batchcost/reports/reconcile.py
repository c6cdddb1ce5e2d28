"""``batchcost reconcile`` as text, and its "Estimate vs actual" section for the HTML report.

Renderers read the ``batchcost.reconcile/1`` document only (see
:meth:`batchcost.afterjob.reconcile.Reconciliation.to_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..text import one_line, plural


def _fmt_est(c: Mapping[str, Any]) -> tuple[str, str]:
    """(estimated, 95% range) cells of a variance row."""
    from .terminal import money

    est = c.get("estimated")
    if est is None:
        return "not estimated", ""
    fmt = money if c["unit"] == "USD" else (lambda v: "-" if v is None else f"{int(v):,}")
    if est.get("expected") is None:
        if c["unit"] == "USD" and est.get("floor") is not None:
            return "unknown", f"{fmt(est['floor'])}-{fmt(est['ceiling'])} (floor-ceiling)"
        return "unknown", f"<= {fmt(est.get('ceiling'))} (ceiling)"
    if est.get("low") == est.get("high"):
        return fmt(est["expected"]), ""
    return fmt(est["expected"]), f"{fmt(est['low'])}-{fmt(est['high'])}"


def variance_rows(variance: Mapping[str, Any]) -> list[list[str]]:
    """Table rows (header first) of a ``variance`` object: component, estimated, range, actual, ratio, inside."""
    from .terminal import money

    rows = [["component", "estimated", "95% range", "actual", "actual/est.", "inside?"]]
    for c in variance["components"]:
        est, rng = _fmt_est(c)
        actual = money(c["actual"]) if c["unit"] == "USD" else f"{int(c['actual']):,}"
        ratio = "" if c["ratio"] is None else f"{c['ratio']:.2f}"
        inside = {True: "yes", False: "NO", None: ""}[c["inside_interval"]]
        rows.append([c["component"], est, rng, actual, ratio, inside])
    return rows


def variance_section(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """Display-ready figures of the variance report, for the HTML report (None without a plan).

    Shape::

        {"title": "Estimate vs actual", "plan": "plan.json" | None, "mode": "batch",
         "headline": "Actual $1.23 vs expected $1.10 (+11.8%), inside the estimate's range",
         "difference": "+$0.13" | None,
         "columns": ["component", "estimated", "95% range", "actual", "actual/est.", "inside?"],
         "rows": [{"cells": [6 strings], "status": "inside" | "outside" | "unknown"}],
         "contributors": [{"name": "output tokens", "usd": "+$0.10", "explanation": "..."}],
         "notes": ["..."]}

    Every string is plain text (the template must escape it).
    """

    v = doc.get("variance")
    if not v:
        return None
    grid = variance_rows(v)
    rows = []
    for cells, c in zip(grid[1:], v["components"], strict=True):
        status = {True: "inside", False: "outside", None: "unknown"}[c["inside_interval"]]
        rows.append({"cells": cells, "status": status})
    return {
        "title": "Estimate vs actual",
        "plan": v.get("plan"),
        "mode": v["mode"],
        "headline": _variance_headline(doc),
        "difference": None if v.get("difference") is None else _signed_money(v["difference"]),
        "columns": grid[0],
        "rows": rows,
        "contributors": [
            {"name": c["name"], "usd": _signed_money(c["usd"]), "explanation": c["explanation"]}
            for c in v["contributors"]
        ],
        "notes": list(v.get("notes") or ()),
    }


def _signed_money(value: str) -> str:
    from .terminal import money

    d = Decimal(value)
    return ("+" if d > 0 else "-" if d < 0 else "") + money(abs(d))


def _variance_headline(doc: Mapping[str, Any]) -> str:
    from .terminal import money

    v = doc["variance"]
    cost = next(c for c in v["components"] if c["component"] == "cost")
    est = cost.get("estimated")
    actual = money(cost["actual"])
    if est is None:
        return f"Actual {actual}; the plan has no {v['mode']} cost"
    if est.get("expected") is None:
        where = {True: "inside", False: "OUTSIDE", None: "unknown vs"}[cost["inside_interval"]]
        return f"Actual {actual}, {where} the plan's floor-ceiling range {money(est['floor'])}-{money(est['ceiling'])}"
    pct = ""
    if Decimal(est["expected"]):
        change = (Decimal(cost["actual"]) - Decimal(est["expected"])) / Decimal(est["expected"]) * 100
        pct = f" ({change:+.1f}%)"
    where = "inside" if cost["inside_interval"] else "OUTSIDE"
    return f"Actual {actual} vs expected {money(est['expected'])}{pct}, {where} the estimate's range"


def render_text(doc: Mapping[str, Any], *, verbose: bool = False, width: int = 100) -> str:
    """Plain-text report of a ``batchcost.reconcile/1`` document (amounts rounded only here).

    By default one screen, the answer first: the actual cost, the results, tokens, the cost split,
    the estimate against the actual, the key check and the first warnings. ``verbose`` adds the cost
    table, the contributors to the difference, problems, notes and the prices used.
    """
    return _full_text(doc, max(60, width)) if verbose else _screen(doc, max(60, width))


def _screen(doc: Mapping[str, Any], width: int) -> str:
    import textwrap

    from ..money import money

    def wrap(label: str, text: str) -> list[str]:
        return textwrap.wrap(
            text, width=width, initial_indent=label.ljust(9), subsequent_indent=" " * 9, break_on_hyphens=False
        )

    t, c = doc["tokens"], doc["cost"]
    d = c["detail"]
    files = ", ".join(one_line(f["path"].rsplit("/", 1)[-1]) for f in doc["files"])
    lines = textwrap.wrap(
        _nothing_priced(doc)
        or f"Actual cost {money(c['total'])} ({doc['mode']} on {doc['model']}, {plural(doc['succeeded'], 'billed request')})",
        width=width,
    )
    req = f"{plural(doc['requests'], 'result')} in {files}: {doc['succeeded']:,} succeeded, {doc['failed']:,} failed"
    if doc["failed"]:
        req += " (not billed)"
    if doc["failed_by_kind"]:
        req += ": " + ", ".join(f"{k} x{n:,}" for k, n in list(doc["failed_by_kind"].items())[:3])
    if doc["unreadable"]:
        req += f"; {plural(doc['unreadable'], 'line')} unreadable"
    if doc["billed_model"] != doc["model"]:
        req += f"; billed as {doc['billed_model']}"
    lines += textwrap.wrap(req, width=width, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
    lines += wrap(
        "Tokens",
        f"prompt {t['prompt']:,} (cached {t['cached']:,}, tool-use {t['tool_use']:,}); output {t['output']:,} = "
        f"answers {t['candidates']:,} + thinking {t['thoughts']:,}"
        + (
            f"; {plural(t['stopped_at_max_tokens'], 'answer')} stopped at maxOutputTokens"
            if t["stopped_at_max_tokens"]
            else ""
        ),
    )
    inp = Decimal(d["prompt_input"]) + Decimal(d["tool_use_input"]) + Decimal(d["cached_input"])
    out = sum(
        (Decimal(d.get(k, "0")) for k in ("candidates_output", "thoughts_output", "image_output", "audio_output")),
        Decimal(0),
    )
    others = [
        f"{m} {money(v['total'])}" if "total" in v else f"{m} not priced"
        for m, v in doc["modes"].items()
        if m != doc["mode"]
    ]
    split = f"input {money(inp)}, output {money(out)} (thinking {money(d['thoughts_output'])})"
    if "tool_fees" in d:
        split += f", tool fees {money(d['tool_fees'])} ({_tool_units(t)})"
    lines += wrap("Cost", split + (f"; the same tokens in {', '.join(others)}" if others else ""))
    v = doc.get("variance")
    if v:
        lines += wrap("Estimate", _variance_headline(doc))
    k = doc.get("keys")
    if k:
        if k["note"]:
            keys = k["note"]
        elif k["not_in_input_count"] or k["without_result_count"] or k.get("without_key_count"):
            parts = []
            if k["without_result_count"]:
                parts.append(f"{plural(k['without_result_count'], 'input key')} without a result")
            if k["not_in_input_count"]:
                parts.append(f"{plural(k['not_in_input_count'], 'result key')} not in the input")
            if k.get("without_key_count"):
                parts.append(f"{plural(k['without_key_count'], 'result line')} without a key")
            keys = "; ".join(parts) + " (-v lists them)"
        else:
            keys = "every input key has exactly the results expected"
        lines += wrap("Keys", keys)
    if doc["problems"]:
        total = sum(doc["problem_counts"].values()) or len(doc["problems"])
        lines += ["", "Problems" + (f" (3 of {total:,}; -v shows more)" if total > 3 else "")]
        for p in doc["problems"][:3]:
            where = f"{one_line(p['path'])}:{p['line']}: {p['severity']}: " if p["line"] else f"{one_line(p['path'])}: "
            lines += textwrap.wrap(
                where + p["message"], width=width, initial_indent="  ", subsequent_indent="    ", max_lines=2,
                placeholder=" … (-v)", break_on_hyphens=False,
            )  # fmt: skip
    warnings = list(dict.fromkeys(doc["warnings"]))
    if warnings:
        shown = warnings[:3]
        more = "" if len(shown) == len(warnings) else f" ({len(shown)} of {len(warnings)}; -v shows all)"
        lines += ["", "Warnings" + more]
        for w in shown:
            lines += textwrap.wrap(
                w, width=width, initial_indent="  - ", subsequent_indent="    ", max_lines=2, placeholder=" … (-v)",
                break_on_hyphens=False,
            )  # fmt: skip
    lines.append("-v: the cost table, contributors to the difference, problems, notes and prices used")
    return "\n".join(lines) + "\n"


def _nothing_priced(doc: Mapping[str, Any]) -> str | None:
    """The headline when no line is a result at all (a wrong file): not a cost of $0 for it."""
    if doc["requests"] or not doc["unreadable"]:
        return None
    return f"No result to price: {plural(doc['unreadable'], 'line')} could not be read as results (see Problems)"


def _full_text(doc: Mapping[str, Any], width: int) -> str:
    import textwrap

    from .terminal import money, table

    t = doc["tokens"]
    c = doc["cost"]
    files = ", ".join(one_line(f["path"]) for f in doc["files"])
    billed = doc["billed_model"]
    model = doc["model"] if billed == doc["model"] else f"{doc['model']} (billed as {billed})"
    lines = [
        _nothing_priced(doc)
        or f"Actual cost {money(c['total'])} ({doc['mode']}, {plural(doc['succeeded'], 'billed request')})",
        "",
        f"Results    {files}",
        f"Model      {model}, {doc['mode']} prices of {doc['run_date']}",
    ]
    req = f"{plural(doc['requests'], 'result')}: {doc['succeeded']:,} succeeded, {doc['failed']:,} failed (not billed)"
    if doc["failed_by_kind"]:
        req += ": " + ", ".join(f"{k} x{n:,}" for k, n in doc["failed_by_kind"].items())
    if doc["unreadable"]:
        req += f"; {plural(doc['unreadable'], 'line')} unreadable"
    lines.append(f"Requests   {req}")
    media = [f"{m} {n:,}" for m, n in t["prompt_by_modality"].items() if n and m != "text"]
    lines.append(
        f"Prompt     {plural(t['prompt'], 'token')}"
        + (f" ({'; '.join(media)})" if media else "")
        + f"; cached {t['cached']:,}; tool-use {t['tool_use']:,}"
    )
    lines.append(
        f"Output     {plural(t['output'], 'token')} = answers {t['candidates']:,} + thinking {t['thoughts']:,}"
    )
    if t["stopped_at_max_tokens"]:
        lines.append(f"           {plural(t['stopped_at_max_tokens'], 'answer')} stopped at maxOutputTokens")
    if doc["requests_above_threshold"]:
        lines.append(f"Over 200k  {plural(doc['requests_above_threshold'], 'request')} in the >200k prompt tier")
    d = c["detail"]
    lines += ["", "Cost (USD)"]
    rows = [
        ["component", "cost"],
        ["input (non-cached prompt)", money(d["prompt_input"])],
        ["input (tool-use prompt)", money(d["tool_use_input"])],
        ["cached input", money(d["cached_input"])],
        ["output (answers)", money(d["candidates_output"])],
        ["output (thinking)", money(d["thoughts_output"])],
        *([["output (images)", money(d["image_output"])]] if "image_output" in d else []),
        *([["output (speech)", money(d["audio_output"])]] if "audio_output" in d else []),
        *([[f"tool fees ({_tool_units(t)})", money(d["tool_fees"])]] if "tool_fees" in d else []),
        ["total", money(c["total"])],
    ]
    lines += ["  " + r for r in table(rows, "lr")]
    others = [
        f"{m} {money(v['total'])}" if "total" in v else f"{m} not priced"
        for m, v in doc["modes"].items()
        if m != doc["mode"]
    ]
    if others:
        lines.append("  the same tokens in other modes: " + ", ".join(others))
    v = doc.get("variance")
    if v:
        lines += ["", f"Estimate vs actual ({v.get('plan') or 'plan'}, {v['mode']})", "  " + _variance_headline(doc)]
        lines += ["  " + r for r in table(variance_rows(v), "llrrrl")]
        if v["contributors"]:
            basis = "expected cost" if v["difference_basis"] == "expected" else "floor (input-only) cost"
            lines += [
                "",
                f"  Largest contributors to the difference from the {basis} ({_signed_money(v['difference'])})",
            ]
            rows = [[x["name"], _signed_money(x["usd"]), x["explanation"]] for x in v["contributors"]]
            lines += ["    " + r for r in table(rows, "lrl")]
        for note in v.get("notes") or ():
            lines += textwrap.wrap(
                note, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False
            )
    k = doc.get("keys")
    if k:
        lines += ["", "Keys"]
        if k["note"]:
            lines.append(f"  {k['note']}")
        else:
            lines.append(f"  input: {plural(k['input_keys'], 'key')} in {', '.join(k['inputs'])}")
            for name, one, rest in (
                ("not_in_input", "result key", "not in the input"),
                ("without_result", "input key", "without a result"),
            ):
                n = k[f"{name}_count"]
                if n:
                    more = f" (and {n - len(k[name]):,} more)" if n > len(k[name]) else ""
                    lines.append(f"  {plural(n, one)} {rest}: {', '.join(k[name])}{more}")
            if k.get("without_key_count"):
                lines.append(
                    f"  {plural(k['without_key_count'], 'result line')} without a key (first: "
                    f"{k['first_without_key']}): not matched; the check uses the keyed lines"
                )
            elif not k["not_in_input_count"] and not k["without_result_count"]:
                lines.append("  every input key has exactly the results expected")
    if doc["problems"]:
        lines += ["", "Problems"]
        lines += [
            f"  {one_line(p['path'])}:{p['line']}: {p['severity']}: {p['message']}"
            if p["line"]
            else f"  {one_line(p['path'])}: {p['message']}"
            for p in doc["problems"]
        ]
        shown = len(doc["problems"])
        total = sum(doc["problem_counts"].values())
        if total > shown:
            lines.append(f"  ... {total - shown:,} more (counts by kind: {doc['problem_counts']})")
    for title, items in (("Warnings", doc["warnings"]), ("Notes", doc["notes"])):
        if items:
            lines += ["", title]
            for item in items:
                lines += textwrap.wrap(
                    item, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False
                )
    from .terminal import footnoted, price_rows

    if doc["prices"]:
        lines += ["", "Prices used (USD per 1M tokens)"]
        lines += footnoted(price_rows(doc["prices"]), width, "lllrrll")
    return "\n".join(lines) + "\n"


def _tool_units(tokens: Mapping[str, Any]) -> str:
    """``2,000 Google Search queries; 10 Google Maps grounded prompts``: what the tool fees count."""
    names = {
        "search_queries": ("Google Search query", "Google Search queries"),
        "search_grounded_prompts": ("prompt grounded with Google Search", "prompts grounded with Google Search"),
        "maps_grounded_prompts": ("prompt grounded with Google Maps", "prompts grounded with Google Maps"),
    }
    parts = [plural(n, *names.get(k, (k, k))) for k, n in (tokens.get("tool_units") or {}).items()]
    return "; ".join(parts) or "grounding"
