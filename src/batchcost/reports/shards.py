"""``batchcost plan`` and ``batchcost shard`` as text: the shard plan, and the shards a run wrote.

Both read documents only: the ``batchcost.shard-plan/1`` document, and the shard manifest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..money import money
from .terminal import table

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
    more = f" (+{len(ranges) - 2} ranges)" if len(ranges) > 2 else ""
    return ", ".join(parts) + more


def render_shard_plan(doc: Mapping[str, Any]) -> str:
    """Plain-text rendering of a ``batchcost.shard-plan/1`` document (``batchcost plan``)."""

    s = doc["shards"]
    files = ", ".join(f["path"] for f in doc["files"])
    platform = "Vertex AI" if s["platform"] == "vertex" else "Gemini Developer API"
    tier = "" if s["tier"] is None else f", tier {s['tier']}" + (" (assumed)" if s["tier_assumed"] else "")
    billed = f" (billed as {doc['billed_model']})" if doc["billed_model"] != doc["model"] else ""
    t = s["totals"]
    basis = s["cost_basis"] or "not priced"
    out = [
        f"shard plan: {files} on {doc['model']}{billed}, {platform}{tier}",
        f"  {t['requests']:,} requests, {t['bytes']:,} bytes, {t['tokens']:,} tokens ({s['token_basis']})",
    ]
    if s["cost_basis"]:
        out.append(
            f"  batch cost {money(t['cost'])} ({basis}), ceiling {money(t['cost_ceiling']) if t['cost_ceiling'] is not None else 'unknown'}"
        )
    out += ["", "limits"]
    rows = []
    for name, label in _LIMIT_LABELS.items():
        entry = s["limits"][name]
        value = "no limit" if entry["value"] is None else f"{entry['value']:,}"
        rows.append((label, value, entry["source"]))
    out += ["  " + line for line in table(rows, "lrl")]
    n_shards, n_waves = t["shards"], t["waves"]
    out += [
        "",
        f"{n_shards:,} shard{'s' if n_shards != 1 else ''} in {n_waves} wave{'s' if n_waves != 1 else ''}"
        f" (up to {s['in_flight']:,} in flight at once)",
    ]
    if s["shards"]:
        grid = [("shard", "wave", "requests", "bytes", "tokens", f"cost ({basis})", "input lines")]
        shards = s["shards"]
        shown = shards if len(shards) <= _MAX_ROWS else [*shards[: _MAX_ROWS - 3], None, *shards[-2:]]
        for sh in shown:
            if sh is None:
                grid.append(("...", "", f"{len(shards) - _MAX_ROWS + 1:,} more", "", "", "", "(--format json)"))
                continue
            grid.append(
                (str(sh["index"]), str(sh["wave"]), f"{sh['requests']:,}", f"{sh['bytes']:,}", f"{sh['tokens']:,}",
                 money(sh["cost"]), _lines(sh["lines"]))
            )  # fmt: skip
        out += ["  " + line for line in table(grid, "rrrrrrl")]
    out += ["", f"time: {s['time_bound']}"]
    if s["oversized"]:
        out += ["", "cannot be submitted as is (a request alone exceeds a per-job limit):"]
        for o in s["oversized"][:10]:
            unit = "bytes" if o["limit"] == "max_bytes" else "tokens"
            out.append(f"  line {o['line']:,}: {o['figure']:,} {unit} > {o['allowed']:,} ({o['limit']})")
        if len(s["oversized"]) > 10:
            out.append(f"  ... and {len(s['oversized']) - 10:,} more")
    blocking = doc["validation"]["blocking"]
    warnings = list(doc.get("warnings", [])) + list(s["warnings"])
    if blocking:
        kinds = ", ".join(f"{k} ({n:,})" for k, n in sorted(blocking.items()))
        warnings.insert(0, f"the input has validation errors that sharding cannot fix: {kinds}; run batchcost validate")
    if warnings:
        out += ["", "warnings:"] + [f"  - {w}" for w in dict.fromkeys(warnings)]
    if s["notes"]:
        out += ["", "notes:"] + [f"  - {n}" for n in s["notes"]]
    return "\n".join(out) + "\n"


def render_written_shards(doc: Mapping[str, Any], manifest_path: str) -> str:
    """Summary of a written manifest (``batchcost shard``): one line per shard, the time bound, warnings."""

    shards = doc["shards"]
    total_requests = sum(s["requests"] for s in shards)
    total_bytes = sum(s["bytes"] for s in shards)
    out = [
        f"wrote {len(shards):,} shard{'s' if len(shards) != 1 else ''} ({total_requests:,} requests, "
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
