"""Plain-text renderings of a plan (``batchcost.plan/1`` JSON) and of the price book, and their helpers.

Renderers take the plan's JSON document, not the Python objects, so that ``batchcost report
plan.json`` renders a saved plan exactly as ``estimate`` would have. Amounts are rounded only in the renderers,
by :func:`money` and :func:`money_columns`.
The Markdown rendering (:mod:`.markdown`) builds on the helpers here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..money import money, money_column
from ..text import agree, one_line, plural

MODE_NAMES = {
    "standard": "standard (sync)",
    "batch": "batch",
    "flex": "flex",
    "priority": "priority",
    "batch_cached": "batch + cache",
}


def ceiling_tokens(value: int | None) -> str:
    """An output ceiling in tokens; None means some request has no known ceiling (never shown as 0)."""
    return "unknown (see warnings)" if value is None else plural(value, "token")


def tokens(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def token_interval(d: Mapping[str, Any]) -> str:
    if d["low"] == d["high"]:
        return f"{d['expected']:,}"
    return f"{d['expected']:,} ({d['low']:,}-{d['high']:,})"


def _tokens_word(d: Mapping[str, Any]) -> str:
    """The word after a token figure: "token" for an exact count of one, else "tokens" (``1 (1-2) tokens``)."""
    return agree(d["expected"] if d["low"] == d["high"] else 2, "token", "tokens")


def count_method(t: Mapping[str, Any]) -> str:
    m = t["method"]
    if m == "exact":
        return f"exact, {t['tokenizer']} tokenizer"
    if m == "sampled":
        return (
            f"sampled: {plural(t['counted_exactly'], 'request')} counted exactly, 95% interval; "
            f"{t['tokenizer']} tokenizer"
        )
    return f"APPROXIMATE (±{t['approx_error_pct']:g}%): heuristic counter, no exact tokenizer was used"


def table(rows: Sequence[Sequence[str]], align: str) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align, strict=True)]
        out.append("  ".join(cells).rstrip())
    return out


def footnoted(rows: Sequence[Sequence[str]], width: int, align: str, *, indent: str = "  ") -> list[str]:
    """Rows (the header first) whose last column is a source, as a table with the sources as notes.

    Each distinct source gets a number; the table shows ``[n]`` in its last column and the notes
    under it give each source once, wrapped to ``width`` (a source names a page, its URL and the
    date it was checked, too long for a column at 100 characters).
    """
    numbers: dict[str, int] = {}
    grid = [list(rows[0])]
    for r in rows[1:]:
        grid.append([*r[:-1], f"[{numbers.setdefault(r[-1], len(numbers) + 1)}]" if r[-1] else ""])
    return [indent + line for line in table(grid, align)] + source_notes(numbers, width, indent)


def source_notes(numbers: Mapping[str, int], width: int, indent: str = "  ") -> list[str]:
    """``[n] source`` for each numbered source, wrapped to ``width`` under its number (URLs unbroken)."""
    import textwrap

    out: list[str] = []
    for source, number in numbers.items():
        out += textwrap.wrap(
            source, width=width, initial_indent=f"{indent}[{number}] ",
            subsequent_indent=" " * (len(indent) + len(str(number)) + 3), break_on_hyphens=False,
            break_long_words=False,
        )  # fmt: skip
    return out


def money_columns(rows: list[list[Any]], columns: Sequence[int]) -> list[list[Any]]:
    """Format the amounts in ``columns`` of ``rows`` (header first) with one precision per column."""
    body = rows[1:]
    for col in columns:
        for row, text in zip(body, money_column([row[col] for row in body]), strict=True):
            row[col] = text
    return rows


def output_units(out: Mapping[str, Any]) -> str:
    """The plan's output in the units a user thinks in, or "" for text output.

    Image-output models: the images asked for and the image tokens they are billed as. Speech models:
    the expectation and ceiling in seconds of speech, at the assumed audio tokens per second.
    """
    if out.get("images") is not None:
        return f"plus {plural(out['images'], 'image')} = {out['image_tokens']:,} image tokens"
    audio = out.get("audio_seconds")
    if audio is None:
        return ""

    def secs(x: float | None) -> str:
        return "unknown" if x is None else f"{x:,g} s"

    expected = "expected unknown" if audio["expected"] is None else f"{secs(audio['expected'])} expected"
    if audio["expected"] is not None and audio.get("low") is not None and audio["low"] != audio["high"]:
        expected += f" ({secs(audio['low'])} - {secs(audio['high'])})"
    return (
        f"speech: {expected}, ceiling {secs(audio['ceiling'])}, at {audio['tokens_per_second']:g} audio tokens per "
        "second (an assumption: see the notes)"
    )


def has_tool_fees(cost: Mapping[str, Any]) -> bool:
    """Whether some mode's cost includes a tool fee (Search or Maps grounding)."""
    for c in cost.values():
        fees = ((c.get("by_component") or {}).get("tool_fees") or {}).get("expected")
        if fees is not None and Decimal(fees) != 0:
            return True
    return False


def plan_images(plan: Mapping[str, Any]) -> int | None:
    """The images an image-output model's requests ask for (None for other models)."""
    images = ((plan.get("tokens") or {}).get("output") or {}).get("images")
    return int(images) if images else None


def floor_what(plan: Mapping[str, Any]) -> str:
    """What a plan's floor holds: the input, and the tool fees and generated images its requests determine."""
    parts = ["input"]
    if has_tool_fees(plan.get("cost") or {}):
        parts.append("tool fees")
    images = plan_images(plan)
    if images:
        parts.append(f"the {images:,} image{'s' if images != 1 else ''} asked for")
    if len(parts) == 1:
        return "input only"
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def cost_rows(cost: Mapping[str, Any], images: int | None = None) -> list[list[str]]:
    """Every mode's cost, one precision per column (an unknown ceiling reads "unknown", never $0).

    ``images``: the generated images the floor holds (an image-output model's), for its label.
    """
    keys = ("floor", "expected", "low", "high", "ceiling")
    priced = [c for c in cost.values() if "not_priced" not in c]
    columns = {k: iter(money_column([c[k] for c in priced])) for k in keys}
    held = ["input", *(["tool fees"] if has_tool_fees(cost) else []), *(["images"] if images else [])]
    floor = f"floor ({' + '.join(held)})" if len(held) > 1 else "floor (input only)"
    rows = [["mode", floor, "expected", "low", "high", "ceiling"]]
    for mode, c in cost.items():
        if "not_priced" in c:
            rows.append([MODE_NAMES.get(mode, mode), "not priced", "", "", "", ""])
            continue
        cells = [next(columns[k]) for k in keys]
        cells[-1] = "unknown" if c["ceiling"] is None else cells[-1]
        rows.append([MODE_NAMES.get(mode, mode), *cells])
    return rows


_TOOL_NAMES = {"google_search": "Grounding with Google Search", "google_maps": "Grounding with Google Maps"}


def _units(value: str, unit: str) -> str:
    n = Decimal(value)
    shown = f"{n:,.0f}" if n == n.to_integral() else f"{n:,.2f}"
    return f"{shown} {unit if n == 1 else unit[:-1] + 'ies' if unit.endswith('y') else unit + 's'}"


def tool_fee_lines(plan: Mapping[str, Any], mode: str = "batch") -> list[str]:
    """One sentence per tool fee of ``mode`` (and the tool-result tokens), for every rendering.

    Empty when no request carries a tool with a fee. The free allowance is mentioned; it is
    subtracted only where the plan says so.
    """
    tools = plan.get("tools")
    if not isinstance(tools, Mapping):
        return []
    fees = (tools.get("fees") or {}).get(mode) or []
    out = []
    for f in fees:
        name = _TOOL_NAMES.get(f["tool"], f["tool"])
        per = tools["per_request"]["search_queries" if f["unit"] == "search query" else "grounded_prompts"]
        if f["tool"] == "google_maps":
            per = tools["per_request"]["maps_grounded_prompts"]
        each = _units(per["expected"], f["unit"])
        units = _units(f["units"]["expected"], f["unit"])
        if f["usd"] is None:
            cost = "fee unknown: not included (add it with --prices FILE)"
        else:
            rate = money(f["usd_per_1k"])
            total = money(f["usd"]["expected"])
            if f["usd"]["low"] != f["usd"]["high"]:
                total += f" (range {money(f['usd']['low'])}-{money(f['usd']['high'])})"
            cost = f"{units} x {rate}/1k = {total}"
        factor = "" if mode == "standard" else (
            f"; {mode} treated as {'not discounted' if Decimal(f['mode_factor']) == 1 else 'x ' + f['mode_factor']}"
            + (" (assumed: Google does not say)" if f["mode_factor_assumed"] else "")
        )  # fmt: skip
        line = f"{name}: {plural(f['requests'], 'request')} x {each} = {cost}{factor}"
        if f.get("free_allowance"):
            taken = f.get("free_units_subtracted")
            hint = " (--search-free-queries N)" if f["tool"] == "google_search" else ""
            line += f"; free allowance {f['free_allowance']}, " + (
                f"{taken:,} subtracted" if taken else f"not subtracted{hint}"
            )
        out.append(line + (f". Per request: {tools['source']}" if f["tool"] == "google_search" else ""))
    tokens = tools["per_request"].get("tool_result_tokens")
    if tokens is not None and fees:
        out.append(
            f"Tool results fed back as input: {Decimal(tokens['expected']):,.0f} tokens per request with Google Search, "
            "priced at the input rate (in the input cost)"
        )
    return out


def headline(plan: Mapping[str, Any]) -> str:
    """The answer in one line."""
    batch = plan["cost"].get("batch", {})
    valid = "valid" if plan["validation"]["valid"] else f"INVALID ({plural(plan['validation']['errors'], 'error')})"
    model = plan["model"]
    if "not_priced" in batch or not batch:
        return f"Batch on {model}: not priced; {valid}{shard_phrase(plan)}"
    shown = money_column([batch.get("expected"), batch.get("low"), batch.get("high")])
    if batch.get("expected") is not None and shown[1] == shown[2]:
        # exact, or an interval narrower than the displayed rounding ("range $1.11-$1.11" says nothing)
        amount = shown[0]
    elif batch.get("expected") is not None:
        amount = f"{shown[0]} (range {shown[1]}-{shown[2]})"
    else:
        most = f"at most {money(batch['ceiling'])}" if batch.get("ceiling") is not None else "no known upper bound"
        amount = f"at least {money(batch['floor'])}, {most} (output expectation unknown)"
    saving = plan.get("savings", {}).get("batch_vs_standard")
    save = f", {saving['percent']}% less than standard" if saving else ""
    return f"Batch on {model}: {amount}{save}; {valid}{shard_phrase(plan)}"


def shard_phrase(plan: Mapping[str, Any]) -> str:
    """The headline's shard part, e.g. "; 3 shards in 1 wave", or "" when the plan has no shard plan."""
    s = plan.get("shards")
    if not isinstance(s, Mapping) or not s.get("shards"):
        return ""
    n = len(s["shards"])
    waves = len(s.get("waves") or []) or len({sh.get("wave", 1) for sh in s["shards"]})
    return f"; {n:,} shard{'s' if n != 1 else ''} in {waves:,} wave{'s' if waves != 1 else ''}"


def render_plan_text(plan: Mapping[str, Any], *, show_prices: bool = True) -> str:
    t = plan["tokens"]
    lines = [headline(plan), ""]
    files = ", ".join(one_line(f["path"]) for f in plan["files"])
    billed = plan["billed_model"]
    model = plan["model"] if billed == plan["model"] else f"{plan['model']} (billed as {billed})"
    lines += [
        f"File       {files}",
        f"Model      {model}, prices of {plan['run_date']}",
        f"Requests   {plan['requests']:,}",
        f"Input      {token_interval(t['input'])} {_tokens_word(t['input'])} ({count_method(t)})",
    ]
    mods = [f"{k} {token_interval(v)}" for k, v in t["input"]["by_modality"].items() if v["expected"] or k == "text"]
    lines.append(f"           {'; '.join(mods)}")
    out = t["output"]
    exp = "unknown" if out["expected"] is None else f"{out['expected']:,} ({out['source']})"
    lines.append(f"Output     expected {exp}; ceiling {ceiling_tokens(out['ceiling'])}")
    if output_units(out):  # images, or seconds of speech
        lines.append(f"           {output_units(out)}")
    if t["above_200k"] and t["above_200k"]["expected"]:
        lines.append(f"Over 200k  {plural(t['above_200k']['expected'], 'request')} in the >200k prompt tier")
    lines += ["", "Cost (USD, whole file)"]
    lines += ["  " + r for r in table(cost_rows(plan["cost"], plan_images(plan)), "lrrrrr")]
    saving = plan.get("savings", {}).get("batch_vs_standard")
    if saving:
        lines.append(f"  batch saves {money(saving['usd'])} ({saving['percent']}%) over standard ({saving['basis']})")
    caching = plan.get("caching")
    if caching:
        lines.append(f"  caching: {caching['summary']}")
    shards = plan.get("shards")
    if shards:
        n = shards["totals"]["shards"]
        tier = f"tier {shards['tier']}" + (", assumed: see --tier" if shards.get("tier_assumed") else "")
        tier = tier if shards.get("tier") else "Vertex AI"
        lines.append(f"  shards: {n:,} job{'s' if n != 1 else ''} ({tier}); {shards.get('time_bound', '')}")
        lines.extend(f"  shards: {w}" for w in shards.get("warnings") or [])
    for c in plan.get("compare", []):
        lines += [
            "",
            f"Compare: {c['model']}" + (f" (billed as {c['billed_model']})" if c["billed_model"] != c["model"] else ""),
        ]
        lines += ["  " + r for r in table(cost_rows(c["cost"]), "lrrrrr")]
    if plan["warnings"]:
        lines += ["", "Warnings"]
        lines += [f"  - {w}" for w in plan["warnings"]]
    if plan.get("notes"):
        lines += ["", "Notes"]
        lines += [f"  - {n}" for n in plan["notes"]]
    if show_prices:
        lines += ["", "Prices used (USD per 1M tokens)"]
        lines += ["  " + r for r in table(price_rows(plan["prices"]), "lllrrll")]
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


def render_prices_text(rows: Sequence[Mapping[str, Any]], *, width: int = 100) -> str:
    """The price book as text: one table per model, sources as numbered notes under it (rows stay narrow)."""
    by_model: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        by_model.setdefault((r["model"], r["billed_model"]), []).append(r)
    out: list[str] = []
    for (model, billed), model_rows in by_model.items():
        sources: dict[str, int] = {}
        grid = [["mode", "component", "modality", "tier", "price", "per", "source"]]
        for r in model_rows:
            source = r["source"] + (f" ({r['note']})" if r["note"] else "")
            number = sources.setdefault(source, len(sources) + 1)
            flags = "".join([", derived" if r["derived"] else "", ", overridden" if r["overridden"] else ""])
            price = "not priced" if r["usd"] is None else rate(r["usd"])
            unit = r["unit"].removeprefix("USD/")
            grid.append(
                [r["mode"] or "-", r["component"].replace("_", " "),
                 (r["modality"] or "").replace("+", "/").replace("document", "pdf"), r["tier"] or "", price, unit,
                 f"[{number}]{flags}"]
            )  # fmt: skip
        if out:
            out.append("")
        out.append(model if billed == model else f"{model} (billed as {billed})")
        out += ["  " + line for line in table(grid, "llllrll")]
        out += source_notes(sources, width)
    return "\n".join(out) + "\n"
