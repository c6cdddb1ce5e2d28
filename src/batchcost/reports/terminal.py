"""Plain-text and Markdown renderings of a plan (``batchcost.plan/1`` JSON) and of the price book.

Renderers take the plan's JSON document, not the Python objects, so that ``batchcost report
plan.json`` renders a saved plan exactly as ``estimate`` would have. Amounts are rounded only here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

MODE_NAMES = {
    "standard": "standard (sync)",
    "batch": "batch",
    "flex": "flex",
    "priority": "priority",
    "batch_cached": "batch + cache",
}


def money(value: str | Decimal | None) -> str:
    """A USD amount for display: cents from $1, four decimals below (exact figures stay in JSON)."""
    if value is None:
        return "-"
    d = Decimal(value)
    if d == 0:
        return "$0"
    if abs(d) >= 1:
        return f"${d.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    q = d.quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return f"${q}" if q else "<$0.0001"


def tokens(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _interval(d: Mapping[str, Any]) -> str:
    if d["low"] == d["high"]:
        return f"{d['expected']:,}"
    return f"{d['expected']:,} ({d['low']:,}-{d['high']:,})"


def _method(t: Mapping[str, Any]) -> str:
    m = t["method"]
    if m == "exact":
        return f"exact, {t['tokenizer']} tokenizer"
    if m == "sampled":
        return f"sampled: {t['counted_exactly']:,} requests counted exactly, 95% interval; {t['tokenizer']} tokenizer"
    return f"APPROXIMATE (±{t['approx_error_pct']:g}%), {t['tokenizer']} heuristic"


def _table(rows: Sequence[Sequence[str]], align: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align, strict=True)]
        out.append("  ".join(cells).rstrip())
    return out


def cost_rows(cost: Mapping[str, Any]) -> list[list[str]]:
    rows = [["mode", "floor (input only)", "expected", "low", "high", "ceiling"]]
    for mode, c in cost.items():
        if "not_priced" in c:
            rows.append([MODE_NAMES.get(mode, mode), "not priced", "", "", "", ""])
            continue
        rows.append(
            [MODE_NAMES.get(mode, mode), money(c["floor"]), money(c["expected"]), money(c["low"]), money(c["high"]),
             money(c["ceiling"])]
        )  # fmt: skip
    return rows


def headline(plan: Mapping[str, Any]) -> str:
    """The answer in one line."""
    batch = plan["cost"].get("batch", {})
    valid = "valid" if plan["validation"]["valid"] else f"INVALID ({plan['validation']['errors']:,} errors)"
    model = plan["model"]
    if "not_priced" in batch or not batch:
        return f"Batch on {model}: not priced; {valid}{shard_phrase(plan)}"
    if batch.get("expected") is not None and batch["low"] == batch["high"]:
        amount = money(batch["expected"])
    elif batch.get("expected") is not None:
        amount = f"{money(batch['expected'])} (range {money(batch['low'])}-{money(batch['high'])})"
    else:
        amount = f"at least {money(batch['floor'])}, at most {money(batch['ceiling'])} (output expectation unknown)"
    saving = plan.get("savings", {}).get("batch_vs_standard")
    save = f", {saving['percent']}% less than standard" if saving else ""
    return f"Batch on {model}: {amount}{save}; {valid}{shard_phrase(plan)}"


def shard_phrase(plan: Mapping[str, Any]) -> str:
    """"; 3 shards in 1 wave" when the plan carries a shard plan, else ""."""
    s = plan.get("shards")
    if not isinstance(s, Mapping) or not s.get("shards"):
        return ""
    n = len(s["shards"])
    waves = len(s.get("waves") or []) or len({sh.get("wave", 1) for sh in s["shards"]})
    return f"; {n:,} shard{'s' if n != 1 else ''} in {waves:,} wave{'s' if waves != 1 else ''}"


def render_plan_text(plan: Mapping[str, Any], *, show_prices: bool = True) -> str:
    t = plan["tokens"]
    lines = [headline(plan), ""]
    files = ", ".join(f["path"] for f in plan["files"])
    billed = plan["billed_model"]
    model = plan["model"] if billed == plan["model"] else f"{plan['model']} (billed as {billed})"
    lines += [
        f"File       {files}",
        f"Model      {model}, prices of {plan['run_date']}",
        f"Requests   {plan['requests']:,}",
        f"Input      {_interval(t['input'])} tokens ({_method(t)})",
    ]
    mods = [f"{k} {_interval(v)}" for k, v in t["input"]["by_modality"].items() if v["expected"] or k == "text"]
    lines.append(f"           {'; '.join(mods)}")
    out = t["output"]
    exp = "unknown" if out["expected"] is None else f"{out['expected']:,} ({out['source']})"
    lines.append(f"Output     expected {exp}; ceiling {out['ceiling']:,} tokens")
    if t["above_200k"]["expected"]:
        lines.append(f"Over 200k  {t['above_200k']['expected']:,} requests in the >200k prompt tier")
    lines += ["", "Cost (USD, whole file)"]
    lines += ["  " + r for r in _table(cost_rows(plan["cost"]), "lrrrrr")]
    saving = plan.get("savings", {}).get("batch_vs_standard")
    if saving:
        lines.append(f"  batch saves {money(saving['usd'])} ({saving['percent']}%) over standard ({saving['basis']})")
    for c in plan.get("compare", []):
        lines += [
            "",
            f"Compare: {c['model']}" + (f" (billed as {c['billed_model']})" if c["billed_model"] != c["model"] else ""),
        ]
        lines += ["  " + r for r in _table(cost_rows(c["cost"]), "lrrrrr")]
    if plan["warnings"]:
        lines += ["", "Warnings"]
        lines += [f"  - {w}" for w in plan["warnings"]]
    if plan.get("notes"):
        lines += ["", "Notes"]
        lines += [f"  - {n}" for n in plan["notes"]]
    if show_prices:
        lines += ["", "Prices used (USD per 1M tokens)"]
        lines += ["  " + r for r in _table(price_rows(plan["prices"]), "lllrrll")]
    return "\n".join(lines) + "\n"


def rate(value: str | Decimal) -> str:
    """A rate per 1M tokens, exact, with at least cents."""
    d = Decimal(value)
    return f"${d:,.2f}" if d == d.quantize(Decimal("0.01")) else f"${d.normalize():,f}"


def price_rows(prices: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """Rates grouped: modalities sharing mode, component, tier, rate and source are one row."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for p in prices:
        flags = "".join([" (derived)" if p.get("derived") else "", " (overridden)" if p.get("overridden") else ""])
        key = (p["mode"], p["component"], p["tier"], p["usd_per_mtok"], p["checked"], p["source"] + flags)
        groups.setdefault(key, []).append(p["modality"])
    rows = [["mode", "component", "modality", "tier", "rate", "checked", "source"]]
    for (mode, component, tier, usd, checked, source), mods in groups.items():
        rows.append([mode, component, ", ".join(m for m in mods if m), tier, rate(usd), checked, source])
    return rows


def render_plan_markdown(plan: Mapping[str, Any]) -> str:
    t = plan["tokens"]
    out = [f"### {headline(plan)}", ""]
    out.append(f"- **Files:** {', '.join('`' + f['path'] + '`' for f in plan['files'])}")
    out.append(f"- **Model:** `{plan['model']}` (billed as `{plan['billed_model']}`), prices of {plan['run_date']}")
    out.append(f"- **Requests:** {plan['requests']:,}")
    out.append(f"- **Input tokens:** {_interval(t['input'])} ({_method(t)})")
    o = t["output"]
    exp = "unknown" if o["expected"] is None else f"{o['expected']:,} ({o['source']})"
    out.append(f"- **Output tokens:** expected {exp}; ceiling {o['ceiling']:,}")
    out += ["", "| " + " | ".join(cost_rows(plan["cost"])[0]) + " |", "|---|---:|---:|---:|---:|---:|"]
    out += ["| " + " | ".join(r) + " |" for r in cost_rows(plan["cost"])[1:]]
    if plan["warnings"]:
        out += ["", "**Warnings**", ""] + [f"- {w}" for w in plan["warnings"]]
    out += ["", "<details><summary>Prices used</summary>", ""]
    rows = price_rows(plan["prices"])
    out += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    out += ["", "</details>", ""]
    return "\n".join(out)


def render_prices_text(rows: Sequence[Mapping[str, Any]]) -> str:
    table = [["model", "mode", "component", "modality", "tier", "price", "unit", "checked", "source / note"]]
    for r in rows:
        flags = "".join([" [derived]" if r["derived"] else "", " [overridden]" if r["overridden"] else ""])
        model = r["model"] if r["billed_model"] == r["model"] else f"{r['model']} -> {r['billed_model']}"
        price = "not priced" if r["usd"] is None else f"${Decimal(r['usd'])}"
        table.append(
            [model, r["mode"], r["component"], r["modality"], r["tier"], price, r["unit"], r["checked"] or "",
             (r["source"] + flags + (f" ({r['note']})" if r["note"] else ""))[:160]]
        )  # fmt: skip
    return "\n".join(_table(table, "llllrrlll")) + "\n"
