"""The tiles under the headline: what the batch costs, and the key facts (requests, tokens, validity, shards)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..terminal import floor_what, money, output_units
from .context import CachingSection, KeyFigure, ShardSection
from .display import count, size, tokens_or_unknown
from .sections_costs import batch_basis, range_text


def key_costs(plan: Mapping[str, Any], caching: CachingSection | None) -> list[KeyFigure]:
    """The cost tiles: batch, standard, batch with a cache, the batch ceiling."""
    cost = plan["cost"]
    batch, std = cost.get("batch") or {}, cost.get("standard") or {}
    out: list[KeyFigure] = []
    value, basis = batch_basis(batch)
    if value is None:
        reason = batch.get("not_priced", "the price book has no batch rate for this model")
        out.append(KeyFigure("Batch cost", "not priced", str(reason), "warn"))
    elif basis == "expected":
        rng = range_text(batch)
        out.append(KeyFigure("Batch cost, expected", money(value), rng, "key", value))
    else:
        out.append(
            KeyFigure(
                "Batch cost, " + floor_what(plan),
                money(value),
                "output expectation unknown: output comes on top",
                "warn",
                value,
            )
        )
    sv, sb = batch_basis(std)
    if sv is not None:
        saving = plan.get("savings", {}).get("batch_vs_standard")
        detail = f"batch saves {money(saving['usd'])} ({saving['percent']}%)" if saving else ""
        label = "Standard (sync) cost" + (", expected" if sb == "expected" else ", " + floor_what(plan))
        out.append(KeyFigure(label, money(sv), detail, "", sv))
    if caching is not None and caching.batch_cached is not None:
        detail = f"{caching.recommendation} saves {caching.saving}" if caching.saving else caching.recommendation
        out.append(KeyFigure("Batch + cache", caching.batch_cached.text, detail, "good", caching.batch_cached.usd))
    if value is not None and batch.get("ceiling") is not None:
        out.append(
            KeyFigure(
                "Batch ceiling", money(batch["ceiling"]),
                "worst case: every request writes its full output allowance", "", batch["ceiling"],
            )
        )  # fmt: skip
    return out


def key_facts(plan: Mapping[str, Any], shards: ShardSection | None) -> list[KeyFigure]:
    """The fact tiles: requests, input and output tokens, validation, the shard plan."""
    t = plan["tokens"]
    files = plan["files"]
    total_bytes = sum(int(f.get("bytes") or 0) for f in files)
    out = [
        KeyFigure(
            "Requests", f"{plan['requests']:,}", f"{count(len(files), 'file')}, {size(total_bytes).split(' (')[0]}"
        )
    ]
    tin = t["input"]
    detail = {"exact": "counted exactly", "sampled": "sampled, 95% interval"}.get(t["method"], "APPROXIMATE")
    if t["method"] == "sampled" and tin["low"] != tin["high"]:
        detail = f"95%: {tin['low']:,} - {tin['high']:,}"
    elif t["method"] == "approximate" and tin["low"] != tin["high"]:
        detail = f"APPROXIMATE: {tin['low']:,} - {tin['high']:,}"
    out.append(
        KeyFigure("Input tokens", f"{tin['expected']:,}", detail, "warn" if t["method"] == "approximate" else "")
    )
    o = t["output"]
    units = output_units(o)
    if o.get("expected") is not None:
        out.append(
            KeyFigure(
                "Output tokens, expected", f"{o['expected']:,}",
                f"ceiling {tokens_or_unknown(o['ceiling'])}" + (f"; {units}" if units else ""),
            )
        )  # fmt: skip
    else:
        out.append(
            KeyFigure(
                "Output tokens",
                "unknown",
                f"ceiling {tokens_or_unknown(o['ceiling'])}; give --output-tokens" + (f"; {units}" if units else ""),
                "warn",
            )
        )
    v = plan["validation"]
    if v["valid"]:
        extra = count(v["warnings"], "warning") if v.get("warnings") else "no problems found"
        out.append(KeyFigure("Validation", "valid", extra, "good"))
    else:
        out.append(KeyFigure("Validation", "INVALID", f"{count(v['errors'], 'error')}: fix before submitting", "bad"))
    if shards is not None:
        tone = "bad" if shards.oversized else ""
        detail = (
            f"{count(len(shards.oversized), 'request')} too large for any job" if shards.oversized else shards.hours
        )
        out.append(KeyFigure("Shard plan", shards.summary, detail, tone))
    return out
