"""The Markdown rendering of a plan (``batchcost.plan/1`` JSON), for a pull-request comment or a ticket.

Like the text renderers in :mod:`.terminal`, it reads the plan's JSON document, not the Python
objects, and escapes every string that came from the input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..money import money
from ..text import agree, one_line, plural
from .terminal import (
    cost_rows,
    count_method,
    headline,
    money_columns,
    output_units,
    plan_images,
    price_rows,
    shard_phrase,
    token_interval,
    tokens,
    tool_fee_lines,
)

# "#" opens a heading only at the start of a line, which md_text never writes; escaping it
# elsewhere would only corrupt URLs.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_MD_URL = re.compile(r"https?://[^\s<>`|\\]+")


def md_text(text: Any) -> str:
    """Plain text safe inside Markdown (and a GFM table cell): markup characters are backslash-escaped.

    ``<script>`` stays text on every renderer: an escaped ``<`` cannot open an HTML tag.
    """
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_code(text: Any) -> str:
    """An inline code span that holds any text (a fence longer than the longest backtick run inside).

    Not for GFM table cells, where a ``|`` would still split the cell: use :func:`md_text` there.
    """
    s = " ".join(str(text).split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _md_table(rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """A GFM table; the first row is the header, cells are already Markdown."""
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    return ["| " + " | ".join(rows[0]) + " |", rule] + ["| " + " | ".join(r) + " |" for r in rows[1:]]


def render_plan_markdown(plan: Mapping[str, Any], *, max_problems: int = 5) -> str:
    """A compact Markdown rendering for a pull-request comment or a ticket.

    Every string that came from the input (file names, keys, messages) is escaped, so the
    comment shows it as text.
    """
    t = plan["tokens"]
    out = [f"### {md_text(headline(plan))}", ""]
    files = [
        md_code(one_line(f["path"]))
        + (f" ({f['bytes']:,} bytes, SHA-256 {md_code(f['sha256'])})" if f.get("sha256") else "")
        for f in plan["files"]
    ]
    out.append(f"- **Files:** {', '.join(files)}")
    billed = "" if plan["billed_model"] == plan["model"] else f" (billed as {md_code(plan['billed_model'])})"
    out.append(f"- **Model:** {md_code(plan['model'])}{billed}, prices of {md_text(plan['run_date'])}")
    out.append(f"- **Requests:** {plan['requests']:,}")
    out.append(f"- **Input tokens:** {md_text(token_interval(t['input']))} ({md_text(count_method(t))})")
    mods = [f"{md_text(k)} {md_text(token_interval(v))}" for k, v in t["input"]["by_modality"].items() if v["expected"]]
    if len(mods) > 1:
        out.append(f"  - by modality: {'; '.join(mods)}")
    o = t["output"]
    exp = "unknown" if o["expected"] is None else f"{o['expected']:,} ({md_text(o['source'])})"
    ceiling = "unknown (see warnings)" if o["ceiling"] is None else f"{o['ceiling']:,}"
    out.append(f"- **Output tokens:** expected {exp}; ceiling {ceiling}")
    if output_units(o):  # images, or seconds of speech
        out.append(f"  - {md_text(output_units(o))}")
    above = t.get("above_200k") or {}
    if above.get("expected"):
        n = above["expected"]
        out.append(f"- **Over 200k:** {n:,} request{'s' if n != 1 else ''} in the \\>200k prompt tier")
    v = plan["validation"]
    if v["valid"]:
        out.append("- **Validation:** valid" + (f" ({plural(v['warnings'], 'warning')})" if v.get("warnings") else ""))
    else:
        kinds = ", ".join(f"{md_code(k)} {n:,}" for k, n in (v.get("problem_counts") or {}).items())
        out.append(f"- **Validation:** INVALID, {plural(v['errors'], 'error')}" + (f" ({kinds})" if kinds else ""))
    out += ["", *_md_table(cost_rows(plan["cost"], plan_images(plan)), "lrrrrr")]
    tool_lines = tool_fee_lines(plan)
    if tool_lines:
        out += ["", "**Tool fees (batch)**", "", *(f"- {md_text(line)}" for line in tool_lines)]
    saving = plan.get("savings", {}).get("batch_vs_standard")
    if saving:
        out += ["", f"Batch saves {money(saving['usd'])} ({saving['percent']}%) over standard ({saving['basis']})."]
    if plan.get("compare"):
        rows = [["model", "standard expected", "batch expected", "batch low", "batch high", "batch ceiling"]]
        for c in [{"model": plan["model"], "cost": plan["cost"]}, *plan["compare"]]:
            std, batch = c["cost"].get("standard") or {}, c["cost"].get("batch") or {}
            rows.append(
                [md_text(c["model"]), std.get("expected"), batch.get("expected"), batch.get("low"), batch.get("high"),
                 batch.get("ceiling")]
            )  # fmt: skip
        rows = money_columns(rows, (1, 2, 3, 4, 5))
        for row, c in zip(rows[1:], [plan["cost"], *(x["cost"] for x in plan["compare"])], strict=True):
            if (c.get("batch") or {}).get("ceiling", 0) is None:
                row[5] = "unknown"
        out += ["", "**Models compared**", "", *_md_table(rows, "lrrrrr")]
    out += _markdown_shards(plan.get("shards"))
    out += _markdown_caching(plan.get("caching"))
    problems = (v.get("problems") or [])[:max_problems]
    if problems:
        out += ["", "**First problems**", ""]
        out += [
            f"- {md_code(one_line(str(p['path'])) + ':' + str(p['line']))} {md_code(p['code'])}: {md_text(p['message'])}"
            for p in problems
        ]
    if plan["warnings"]:
        out += ["", "**Warnings**", ""] + [f"- {md_text(w)}" for w in plan["warnings"]]
    out += ["", "<details><summary>Prices used (USD per 1M tokens)</summary>", ""]
    prices = price_rows(plan["prices"])
    rows = [[md_text(c) for c in r[:-1]] + [_md_source(r[-1]) if i else md_text(r[-1])] for i, r in enumerate(prices)]
    out += _md_table(rows, "llllrll")
    out += ["", "</details>", ""]
    return "\n".join(out)


def _md_source(source: str) -> str:
    """A price source: its text escaped, its URL as an autolink (the URL pattern admits no markup)."""
    m = _MD_URL.search(source)
    if not m:
        return md_text(source)
    url = m.group(0).rstrip(".,;)")
    before, after = source.split(url, 1)
    return " ".join(part for part in (md_text(before), f"<{url}>", md_text(after)) if part)


def _markdown_shards(s: Any) -> list[str]:
    """The ``shards`` key (``batchcost.shards/1``) as a summary line, a shard table and its warnings."""
    if not isinstance(s, Mapping) or not isinstance(s.get("shards"), list):
        return []
    line = f"**Shard plan:** {md_text(shard_phrase({'shards': s}).removeprefix('; '))}"
    if s.get("tier") is not None:
        line += f" at tier {md_text(s['tier'])}" + (" (assumed)" if s.get("tier_assumed") else "")
    if s.get("time_bound"):
        line += f". {md_text(s['time_bound'])}"
    rows = [["shard", "wave", "lines", "requests", "bytes", "tokens", "cost"]]
    for k, sh in enumerate(s["shards"]):
        runs = sh.get("lines") or []
        lines = ", ".join(f"{a:,}" if a == b else f"{a:,}-{b:,}" for a, b in runs[:3]) + (
            " ..." if len(runs) > 3 else ""
        )
        rows.append(
            [md_text(sh.get("index", k + 1)), md_text(sh.get("wave", 1)), lines or "-", tokens(sh.get("requests")),
             tokens(sh.get("bytes")), tokens(sh.get("tokens")), sh.get("cost")]
        )  # fmt: skip
    rows = money_columns(rows, (6,))
    out = ["", line, ""]
    if len(rows) <= 21:
        out += _md_table(rows, "lllrrrr")
    else:
        out += ["<details><summary>Shards</summary>", "", *_md_table(rows, "lllrrrr"), "", "</details>"]
    oversized = s.get("oversized") or []
    if oversized:
        n_over = len(oversized)
        out += [
            "",
            f"**{plural(n_over, 'request')} cannot be submitted** ({agree(n_over, 'it', 'each')} alone exceeds a "
            "per-job limit):",
            "",
        ]
        out += [
            f"- line {tokens(o.get('line'))}: {tokens(o.get('figure'))} > {tokens(o.get('allowed'))} "
            f"({md_code(o.get('limit', ''))})"
            for o in oversized[:10]
        ]
    warnings = [f"- {md_text(w)}" for w in s.get("warnings") or []]
    return out + (["", *warnings] if warnings else [])


def _markdown_caching(c: Any) -> list[str]:
    """The ``caching`` key (``CachingAdvice.to_json()``): the advice in one line and the chosen caches."""
    if not isinstance(c, Mapping):
        return []
    summary = c.get("summary") or c.get("reason") or ""
    out = ["", f"**Caching:** {md_text(summary)}"]
    rec = c.get("recommendation")
    caches = rec.get("caches") if isinstance(rec, Mapping) else None
    if caches:
        described = {x.get("id"): x.get("description") or x.get("id") for x in c.get("candidates") or []}
        rows = [["cache holds", "requests", "without cache", "with cache", "storage", "saving"]]
        for ch in caches:
            rows.append(
                [md_text(described.get(ch.get("candidate"), ch.get("candidate"))), tokens(ch.get("requests")),
                 ch.get("no_cache"), ch.get("cost"), ch.get("storage"), ch.get("saving")]
            )  # fmt: skip
        out += ["", *_md_table(money_columns(rows, (2, 3, 4, 5)), "lrrrrr")]
    return out
