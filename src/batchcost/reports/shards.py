"""``batchcost plan`` and ``batchcost shard`` as text: the shard plan, and the shards a run wrote.

Both read documents only: the ``batchcost.shard-plan/1`` document, and the shard manifest.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from ..money import money
from ..text import one_line, plural, shell_word
from .plan_text import duration
from .terminal import footnoted, money_columns, table

_LIMIT_LABELS = {
    "max_bytes": "bytes per shard",
    "max_requests": "requests per shard",
    "max_tokens": "tokens per shard",
    "enqueued_tokens": "enqueued tokens (all jobs in flight)",
    "concurrent_jobs": "jobs in flight at once",
}
_MAX_ROWS = 30


def _lines(ranges: Sequence[Sequence[int]]) -> str:
    parts = [f"{a:,}" if a == b else f"{a:,}-{b:,}" for a, b in ranges[:2]]
    more = f" (+{plural(len(ranges) - 2, 'range')})" if len(ranges) > 2 else ""
    return ", ".join(parts) + more


_COMPACT_ROWS = 5


def _shard_grid(s: Mapping[str, Any], basis: str, max_rows: int) -> list[str]:
    grid: list[list[Any]] = [["shard", "wave", "requests", "bytes", "tokens", f"cost ({basis})", "input lines"]]
    shards = s["shards"]
    shown = shards if len(shards) <= max_rows else [*shards[: max_rows - 2], None, shards[-1]]
    for sh in shown:
        if sh is None:
            grid.append(["...", "", f"{len(shards) - max_rows + 1:,} more", "", "", None, ""])
            continue
        grid.append(
            [str(sh["index"]), str(sh["wave"]), f"{sh['requests']:,}", f"{sh['bytes']:,}", f"{sh['tokens']:,}",
             sh["cost"], _lines(sh["lines"])]
        )  # fmt: skip
    grid = money_columns(grid, (5,))
    for row in grid[1:]:
        row[5] = "" if row[5] == "-" else row[5]
    return ["  " + line for line in table(grid, "rrrrrrl")]


def _time(s: Mapping[str, Any]) -> str:
    h = s.get("hours") or {}
    waves = s["totals"]["waves"]
    if h.get("expected") is None:
        return str(s.get("time_bound") or "")
    text = f"results in {duration(h['expected'])}" if h["expected"] > 48 else f"results in about {h['expected']} h"
    if waves > 1 and h["expected"] > 48:
        text += f" ({waves:,} waves of {h['target']} h)"
    if h.get("worst") is not None:
        text += f", at most {duration(h['worst'])}"
    return text


def render_shard_plan(doc: Mapping[str, Any], *, verbose: bool = False, width: int = 100) -> str:
    """Plain-text rendering of a ``batchcost.shard-plan/1`` document (``batchcost plan``).

    By default one screen: the answer (shards, waves, time), the totals, the first shards, the first
    warnings and the next command; ``verbose`` adds the limits with their sources, every shard and the notes.
    """
    s = doc["shards"]
    width = max(60, width)
    files = ", ".join(one_line(f["path"].rsplit("/", 1)[-1]) for f in doc["files"])
    platform = "Vertex AI" if s["platform"] == "vertex" else "Gemini Developer API"
    t = s["totals"]
    basis = s["cost_basis"] or "not priced"

    def wrap(text: str, indent: str = "  ") -> list[str]:
        return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ",
                             break_on_hyphens=False)  # fmt: skip

    n_shards, n_waves = t["shards"], t["waves"]
    if n_shards:
        answer = f"Plan for {doc['model']}: {plural(n_shards, 'shard')} in {plural(n_waves, 'wave')}; {_time(s)}"
    else:
        answer = f"Plan for {doc['model']}: no shard can be made (no request can be submitted as is)"
    out = wrap(answer, indent="")
    cost = ""
    if s["cost_basis"]:
        ceiling = money(t["cost_ceiling"]) if t["cost_ceiling"] is not None else "unknown"
        cost = f"; batch {money(t['cost'])} {basis} (ceiling {ceiling})"
    billed = f"; billed as {doc['billed_model']}" if doc["billed_model"] != doc["model"] else ""
    out += wrap(
        f"{plural(t['requests'], 'request')}, {t['bytes']:,} bytes, {plural(t['tokens'], 'token')} "
        f"({s['token_basis']}) in {files}{cost}{billed}"
    )
    where = platform
    if s["tier"] is not None:
        where += f", tier {s['tier']}" + (" assumed" if s["tier_assumed"] else "")
        better = [o for o in doc.get("other_tiers") or [] if o["waves"] < n_waves] if s["tier_assumed"] else []
        if better:
            o = better[0]
            where += (
                f": on tier {o['tier']} it would be {plural(o['waves'], 'wave')} "
                f"(give --tier {o['tier']} if your project is on tier {o['tier']})"
            )
    out += wrap(f"{where}; up to {plural(s['in_flight'], 'job')} in flight at once")
    if verbose:
        out += ["", "Limits"]
        rows = []
        for name, label in _LIMIT_LABELS.items():
            entry = s["limits"][name]
            value = "no limit" if entry["value"] is None else f"{entry['value']:,}"
            rows.append((label, value, entry["source"]))
        out += footnoted([("limit", "value", "source"), *rows], width, "lrl")
    if s["shards"]:
        out += ["", *_shard_grid(s, basis, _MAX_ROWS if verbose else _COMPACT_ROWS)]
    if s["oversized"]:
        out += ["", "Cannot be submitted as is (a request alone exceeds a per-job limit):"]
        shown = s["oversized"][: 10 if verbose else 3]
        for o in shown:
            unit = "bytes" if o["limit"] == "max_bytes" else "tokens"
            out.append(f"  line {o['line']:,}: {o['figure']:,} {unit} > {o['allowed']:,} ({o['limit']})")
        if len(s["oversized"]) > len(shown):
            out.append(f"  ... and {len(s['oversized']) - len(shown):,} more")
    blocking = doc["validation"]["blocking"]
    warnings = list(doc.get("warnings", [])) + list(s["warnings"])
    if blocking:
        kinds = ", ".join(f"{k} ({n:,})" for k, n in sorted(blocking.items()))
        warnings.insert(0, f"the input has validation errors that sharding cannot fix: {kinds}; run batchcost validate")
    warnings = list(dict.fromkeys(warnings))
    if warnings:
        shown_w = warnings if verbose else warnings[:3]
        more = "" if len(shown_w) == len(warnings) else f" ({len(shown_w)} of {len(warnings)}; -v shows all)"
        out += ["", "Warnings" + more]
        for w in shown_w:
            out += textwrap.wrap(
                w, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False,
                max_lines=None if verbose else 2, placeholder=" … (-v)",
            )  # fmt: skip
    if verbose and s["notes"]:
        out += ["", "Notes"]
        for n in s["notes"]:
            out += textwrap.wrap(
                n, width=width, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False
            )
    if not blocking and s.get("submittable", True) and s["shards"]:
        paths = " ".join(shell_word(f["path"]) for f in doc["files"])
        out += ["", f"Next: batchcost shard {paths} -m {doc['model']} --out DIR"]
    if not verbose:
        out.append("-v: the limits and their sources, every shard, and the notes")
    return "\n".join(out) + "\n"


def render_written_shards(doc: Mapping[str, Any], manifest_path: str) -> str:
    """Summary of a written manifest (``batchcost shard``): one line per shard, the time bound, warnings."""

    shards = doc["shards"]
    total_requests = sum(s["requests"] for s in shards)
    total_bytes = sum(s["bytes"] for s in shards)
    out = [
        f"wrote {len(shards):,} shard{'s' if len(shards) != 1 else ''} ({plural(total_requests, 'request')}, "
        f"{total_bytes:,} bytes) and {manifest_path}",
    ]
    rows = [("shard", "wave", "requests", "bytes", "tokens", f"cost ({doc['cost_basis'] or 'not priced'})")]
    shown = shards if len(shards) <= _MAX_ROWS else [*shards[: _MAX_ROWS - 3], None, *shards[-2:]]
    for s in shown:
        if s is None:
            rows.append((f"... {len(shards) - _MAX_ROWS + 1:,} more (all in the manifest)", "", "", "", "", ""))
            continue
        rows.append(
            (s["path"], str(s["wave"]), f"{s['requests']:,}", f"{s['bytes']:,}", f"{s['tokens']:,}", money(s["cost"]))
        )
    out += ["  " + line for line in table(rows, "lrrrrr")]
    out.append(f"time: {doc['time_bound']}")
    if doc["warnings"]:
        out += ["warnings:"] + [f"  - {w}" for w in doc["warnings"]]
    out.append(f"check them with: batchcost shard --verify {manifest_path}")
    return "\n".join(out) + "\n"
