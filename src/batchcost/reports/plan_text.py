"""``estimate`` in a terminal: the answer first, in plain words, on one screen.

The default screen holds, in this order and in at most :data:`MAX_LINES` lines at 100 columns: the
answer (batch cost with its range, the saving against standard, validity), tokens (input, and the
output assumption), jobs and time, the caching verdict, and the first warnings. ``verbose`` adds the
cost of every mode, the comparison, every warning, the notes and the prices used with their sources.

Like every renderer it reads the ``batchcost.plan/1`` document, never the Python objects.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..money import money, money_column
from ..text import one_line, plural
from .terminal import MODE_NAMES, cost_rows, floor_what, footnoted, output_units, price_rows, table, tool_fee_lines

MAX_LINES = 15
MAX_WARNINGS = 3
_LABEL = 9  # width of the "Tokens   " labels


def duration(hours: int | float | Decimal) -> str:
    """Hours up to 48, days beyond: ``"24 h"``, ``"about 26 days"``."""
    h = float(hours)
    if h <= 48:
        return f"{h:g} h"
    days = h / 24
    return f"about {days:.0f} days" if days >= 10 else f"about {days:.1f} days".replace(".0 ", " ")


def answer(plan: Mapping[str, Any]) -> str:
    """The first line: what the batch job costs, its range, and what batch saves."""
    model = plan["model"]
    batch = plan["cost"].get("batch") or {}
    if not batch or "not_priced" in batch:
        return f"Batch on {model}: not priced ({batch.get('not_priced', 'no batch rates')})"
    expected = batch.get("expected")
    if expected is None:
        ceiling = batch.get("ceiling")
        floor, top = money_column([batch["floor"], ceiling])
        most = f"at most {top}" if ceiling is not None else "no known upper bound"
        what = floor_what(plan)
        return f"Batch on {model}: at least {floor} ({what}), {most}; the output is unknown"
    exp, low, high = money_column([expected, batch["low"], batch["high"]])
    amount = exp if low == high else f"{exp} (range {low}-{high})"
    saving = (plan.get("savings") or {}).get("batch_vs_standard")
    standard = plan["cost"].get("standard") or {}
    if saving and standard.get("expected") is not None:
        pct = Decimal(saving["percent"])
        return f"Batch on {model}: {amount}, {pct:.0f}% less than standard ({money(standard['expected'])})"
    return f"Batch on {model}: {amount}"


def _scope(plan: Mapping[str, Any]) -> str:
    v = plan["validation"]
    files = plan["files"]
    where = one_line(files[0]["path"].rsplit("/", 1)[-1]) if len(files) == 1 else plural(len(files), "file")
    if v["valid"]:
        state = f"{plural(plan['requests'], 'request')} in {where}, all valid"
    else:
        state = (
            f"{plural(plan['requests'], 'usable request')} in {where}; INVALID: {plural(v['errors'], 'error')} "
            "(batchcost validate lists each with its line)"
        )
    if plan["billed_model"] != plan["model"]:
        state += f"; billed as {plan['billed_model']}"
    return state


def _tokens(plan: Mapping[str, Any]) -> str:
    t = plan["tokens"]
    inp = t["input"]
    if t["method"] == "exact" and t.get("tokenizer_assumed"):
        how = "exact Gemma 3 count (the model's own tokenizer assumed, -v)"
    elif t["method"] == "exact":
        how = f"exact ({t['tokenizer']} tokenizer)"
    elif t["method"] == "sampled":
        how = f"{inp['low']:,}-{inp['high']:,} at 95%, from {plural(t['counted_exactly'], 'request')} counted"
        if t.get("tokenizer_assumed"):
            how += " (Gemma 3 counts, the model's own tokenizer assumed, -v)"
    else:
        how = f"approximate, ±{t['approx_error_pct']:g}% (heuristic: no exact tokenizer)"
    out = t["output"]
    if out["expected"] is None:
        speech = "--output-audio-seconds S, " if out.get("audio_seconds") is not None else ""
        output = (
            f"output unknown: give {speech}--output-tokens N, --output-ratio R or --calibrate-from RESULTS "
            f"(ceiling {_tokens_or_unknown(out['ceiling'])})"
        )
    else:
        output = f"output {out['expected']:,} expected ({_short_source(out['source'])}), " + (
            "ceiling unknown (see the warnings)" if out["ceiling"] is None else f"ceiling {out['ceiling']:,}"
        )
    units = output_units(out)  # images, or seconds of speech
    if units:
        output += f"; {units}"
    return f"input {inp['expected']:,}, {how}; {output}"


def _tokens_or_unknown(n: int | None) -> str:
    return "unknown" if n is None else f"{n:,}"


def _short_source(source: str | None) -> str:
    """The output expectation's source up to its first explanation: "--output-tokens 800 per request"."""
    text = source or "given"
    return text.split(":", 1)[0] if text.startswith("--output") else text


def _jobs(plan: Mapping[str, Any]) -> str | None:
    s = plan.get("shards")
    if not isinstance(s, Mapping):
        return None
    n, waves = s["totals"]["shards"], s["totals"]["waves"]
    h = s.get("hours") or {}
    if not n:
        return "no shard can be made: no usable request"
    jobs = f"{plural(n, 'shard')} in {plural(waves, 'wave')}"
    if h.get("expected") is not None:
        per_wave = h.get("target")
        if waves > 1 and h["expected"] > 48:
            jobs += f": results in {duration(h['expected'])} ({waves:,} waves of {per_wave} h)"
        else:
            jobs += f": results in about {duration(h['expected'])}"
        if h.get("worst") is not None:
            jobs += f", at most {duration(h['worst'])}"
    if not s.get("submittable", True):
        jobs += "; some requests exceed a per-job limit (batchcost plan lists them)"
    if s.get("tier_assumed"):
        better = [o for o in plan.get("other_tiers") or [] if o["waves"] < waves]
        if better:
            o = better[0]
            jobs += (
                f"; tier 1 assumed: on tier {o['tier']} it would be {plural(o['waves'], 'wave')}"
                f" (give --tier {o['tier']} if your project is on tier {o['tier']})"
            )
    return jobs


def _caching(plan: Mapping[str, Any]) -> str | None:
    c = plan.get("caching")
    if not isinstance(c, Mapping):
        return None
    cached = plan["cost"].get("batch_cached")
    batch = plan["cost"].get("batch") or {}
    if c.get("pays") and cached and batch.get("expected") is not None and cached.get("expected") is not None:
        saving = Decimal(batch["expected"]) - Decimal(cached["expected"])
        pct = saving / Decimal(batch["expected"]) * 100 if Decimal(batch["expected"]) else Decimal(0)
        chosen = (c.get("recommendation") or {}).get("caches") or []
        what = f" with {plural(len(chosen), 'cache')}" if chosen else ""
        new, old = money_column([cached["expected"], batch["expected"]])
        return f"pays{what}: batch + cache {new} instead of {old}, saving {pct:.0f}% (-v for how)"
    candidates = c.get("candidates") or []
    explicit = ((candidates[0].get("options") or {}).get("explicit") or {}) if candidates else {}
    reasons = [r["text"] for r in explicit.get("reasons") or [] if r.get("text")]
    if reasons:
        top = candidates[0]
        what = f"the best shared prefix ({plural(top['prefix_tokens'], 'token')}, {plural(top['requests'], 'request')})"
        return f"does not pay for {what}: " + "; ".join(reasons)
    return "does not pay: " + str(c.get("reason") or c.get("summary") or "")


def _compared(plan: Mapping[str, Any]) -> str | None:
    """One line for ``--compare``: each model's batch expectation against the chosen one, and the cheapest."""
    if not plan.get("compare"):
        return None
    rows = compare_rows(plan)
    chosen = plan["cost"].get("batch") or {}
    base = Decimal(chosen["expected"]) if chosen.get("expected") is not None else None
    batch = [r for r in rows if r["mode"] == "batch" and r["model"] != plan["model"]]
    amounts = money_column([r["expected"] for r in batch])
    diffs = money_column([None if r["expected"] is None or base is None else r["expected"] - base for r in batch])
    parts = []
    for r, amount, diff in zip(batch, amounts, diffs, strict=True):
        shown = "batch not priced" if amount == "-" else amount
        if diff == "$0":
            shown += " (same)"
        elif diff != "-":
            shown += f" ({'' if diff.startswith('-') else '+'}{diff})"
        parts.append(f"{r['model']} {shown}")
    best = cheapest(plan)
    return "; ".join(parts) + (f"; {best}" if best else "")


def cheapest(plan: Mapping[str, Any]) -> str | None:
    """The cheapest model and mode among the chosen and compared models, in one phrase."""
    priced = [r for r in compare_rows(plan) if r["expected"] is not None]
    if not priced:
        return None
    best = priced[0]
    mode = MODE_NAMES.get(best["mode"], best["mode"])
    if best["model"] == plan["model"] and best["mode"] == "batch":
        return f"cheapest: {plan['model']} in batch, the chosen option"
    chosen = plan["cost"].get("batch") or {}
    if chosen.get("expected") is None:
        return f"cheapest: {best['model']} {mode} at {money(best['expected'])}"
    less = Decimal(chosen["expected"]) - best["expected"]
    amount, saved = money_column([best["expected"], less])
    return f"cheapest: {best['model']} {mode} at {amount}, {saved} less than {plan['model']} batch"


def _wrap(label: str, text: str, width: int) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=label.ljust(_LABEL),
        subsequent_indent=" " * _LABEL,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [label]


def _warning_lines(warnings: Sequence[str], room: int, width: int, verbose: bool) -> list[str]:
    """Warnings as bullets, each wrapped; by default the first three, each within two lines, in ``room``."""
    if not warnings:
        return []
    if verbose:
        lines = ["Warnings"]
        for w in warnings:
            lines += textwrap.wrap(
                w, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False
            )
        return lines
    shown: list[str] = []
    count = 0
    for w in warnings[:MAX_WARNINGS]:
        wrapped = textwrap.wrap(w, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False)
        if len(wrapped) > 2:
            wrapped = textwrap.wrap(
                w,
                width=width,
                initial_indent="  - ",
                subsequent_indent="    ",
                max_lines=2,
                placeholder=" … (-v)",
                break_on_hyphens=False,
            )
        if len(shown) + len(wrapped) + 1 > room:
            break
        shown += wrapped
        count += 1
    if not count:
        return []
    more = len(warnings) - count
    head = "Warnings" + (f" ({count} of {len(warnings)}; -v shows all)" if more else "")
    return [head, *shown]


def render_plan_screen(plan: Mapping[str, Any], *, verbose: bool = False, width: int = 100) -> str:
    """The terminal view of a plan: one screen by default, everything with ``verbose``.

    Args:
        plan: a ``batchcost.plan/1`` document.
        verbose: add every mode's cost, the comparison, every warning, the notes and the prices used.
        width: the terminal's width; prose is wrapped to it.
    """
    width = max(60, width)
    lines = [*textwrap.wrap(answer(plan), width=width, subsequent_indent="  ", break_on_hyphens=False)]
    lines += textwrap.wrap(
        _scope(plan), width=width, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False
    )
    if verbose:
        lines.append("")
    lines += _wrap("Tokens", _tokens(plan), width)
    for line in tool_fee_lines(plan):
        lines += _wrap("Tools", line, width)
    jobs = _jobs(plan)
    if jobs:
        lines += _wrap("Jobs", jobs, width)
    compared = _compared(plan)
    if compared:
        lines += _wrap("Compare", compared, width)
    caching = _caching(plan)
    if caching:
        wrapped = _wrap("Caching", caching, width)
        if not verbose and len(wrapped) > 2:
            wrapped = textwrap.wrap(
                caching, width=width, initial_indent="Caching".ljust(_LABEL), subsequent_indent=" " * _LABEL,
                max_lines=2, placeholder=" … (-v)", break_on_hyphens=False,
            )  # fmt: skip
        lines += wrapped
    warnings = list(dict.fromkeys(plan.get("warnings") or []))
    if not verbose:
        if plan["tokens"]["output"]["expected"] is None:
            # the Tokens line already says the output is unknown and how to give it
            warnings = [w for w in warnings if not w.startswith("expected output is unknown")]
        room = MAX_LINES - len(lines) - 2  # a blank line before the warnings, and the footer
        block = _warning_lines(warnings, room, width, verbose=False)
        if block:
            lines += ["", *block]
        hidden = "" if block or not warnings else f"{plural(len(warnings), 'warning')}, "
        lines.append(f"-v: {hidden}the cost of every mode, the prices used and their sources, and the notes")
        return "\n".join(lines) + "\n"

    lines += ["", "Cost (USD, whole file)"]
    lines += ["  " + r for r in table(cost_rows(plan["cost"], plan["tokens"]["output"].get("images")), "lrrrrr")]
    if plan.get("compare"):
        lines += ["", "Compared (batch expected, cheapest first)"]
        lines += ["  " + r for r in table(compare_table(plan), "llrr")]
        lines += textwrap.wrap(cheapest(plan) or "", width=width, initial_indent="  ", subsequent_indent="  ")
        for note in missing_modes(plan):
            lines += textwrap.wrap(
                note, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False
            )
    shards = plan.get("shards")
    for w in (shards or {}).get("warnings") or []:
        warnings.append(w)
    block = _warning_lines(list(dict.fromkeys(warnings)), 10**6, width, verbose=True)
    if block:
        lines += ["", *block]
    notes = list(plan.get("notes") or []) + list((shards or {}).get("notes") or [])
    if plan.get("caching"):
        notes += [f"caching: {plan['caching']['summary']}"]
    if notes:
        lines += ["", "Notes"]
        for n in dict.fromkeys(notes):
            lines += textwrap.wrap(
                n, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False
            )
    lines += ["", "Prices used (USD per 1M tokens)"]
    lines += footnoted(price_rows(plan["prices"]), width, "lllrrll")
    return "\n".join(lines) + "\n"


def compare_rows(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chosen model and every compared one, model x mode, cheapest batch expectation first.

    Each row: model, mode, expected (Decimal or None), and a note when a mode is missing.
    """
    entries = [(plan["model"], plan["cost"])] + [(c["model"], c["cost"]) for c in plan.get("compare") or []]
    rows: list[dict[str, Any]] = []
    for model, cost in entries:
        for mode in ("batch", "batch_cached", "standard"):
            c = cost.get(mode)
            if c is None:
                continue
            value = None if "not_priced" in c or c.get("expected") is None else Decimal(c["expected"])
            rows.append({"model": model, "mode": mode, "expected": value})
    rows.sort(key=lambda r: (r["expected"] is None, r["expected"] or 0))
    return rows


def compare_table(plan: Mapping[str, Any]) -> list[list[str]]:
    rows = compare_rows(plan)
    chosen = plan["cost"].get("batch") or {}
    base = Decimal(chosen["expected"]) if chosen.get("expected") is not None else None
    amounts = money_column([r["expected"] for r in rows])
    diffs = money_column([None if r["expected"] is None or base is None else r["expected"] - base for r in rows])
    out = [["model", "mode", "expected", f"vs {plan['model']} batch"]]
    for r, amount, diff in zip(rows, amounts, diffs, strict=True):
        if r["model"] == plan["model"] and r["mode"] == "batch":
            diff = "(chosen)"
        elif diff.startswith("$") and diff != "$0":
            diff = "+" + diff
        out.append([r["model"], MODE_NAMES.get(r["mode"], r["mode"]), amount if amount != "-" else "unknown",
                    "" if diff == "-" else diff])  # fmt: skip
    return out


def missing_modes(plan: Mapping[str, Any]) -> list[str]:
    """A note for every mode the chosen model has that a compared model lacks (or cannot price)."""
    modes = [m for m in plan["cost"] if m != "batch_cached"]
    notes = []
    for c in plan.get("compare") or []:
        lacking = [m for m in modes if m not in c["cost"] or "not_priced" in c["cost"][m]]
        if lacking:
            named = [MODE_NAMES.get(m, m) for m in lacking]
            names = " or ".join([", ".join(named[:-1]), named[-1]]) if len(named) > 1 else named[0]
            notes.append(f"{c['model']} has no {names} rates in the price book: not compared in that mode")
    if plan["cost"].get("batch_cached") and plan.get("compare"):
        notes.append("batch + cache is priced for the chosen model only; compare a model's caching by choosing it")
    return notes
