"""The shard plan section (``batchcost.shards/1``): jobs, waves, limits, oversized requests, cumulative cost."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .. import charts
from ..plan_text import duration
from .context import Chart, LimitRow, Money, OversizedRow, ShardRow, ShardSection, WaveRow
from .display import count, line_ranges, markup, num, numbers_span, size

MAX_SHARD_ROWS = 100
MAX_WAVE_ROWS = 100
_LIMIT_LABELS = {
    "max_bytes": "input file size per job",
    "max_requests": "requests per job",
    "max_tokens": "tokens per job",
    "enqueued_tokens": "enqueued tokens per model (all active jobs)",
    "concurrent_jobs": "concurrent jobs",
}


def shard_section(s: Any, other_tiers: Any = None) -> ShardSection | None:
    """The ``shards`` key (``batchcost.shards/1``, from ``ShardPlan.to_json()``), or None when absent.

    ``other_tiers`` is the plan's key of the same name: what a higher billing tier would need when
    the tier was assumed.
    """
    if not isinstance(s, Mapping) or not isinstance(s.get("shards"), list):
        return None
    shards = s["shards"]
    totals = s.get("totals") or {}
    n_shards = int(totals.get("shards", len(shards)))
    n_waves = int(totals.get("waves", len(s.get("waves") or [])))
    costs: list[Decimal] = []
    running_totals: list[Decimal | None] = []
    running = Decimal(0)
    for sh in shards:
        cost = sh.get("cost")
        if cost is not None:
            costs.append(Decimal(cost))
            running += Decimal(cost)
        running_totals.append(running if cost is not None else None)
    listed = shards[:MAX_SHARD_ROWS]
    # One precision per column, over the rows shown.
    cost_col = Money.column([sh.get("cost") for sh in listed])
    cumulative_col = Money.column(running_totals[: len(listed)])
    ceiling_col = Money.column([sh.get("cost_ceiling") for sh in listed])
    rows = [
        ShardRow(
            index=num(sh.get("index", k + 1)), wave=num(sh.get("wave")), requests=num(sh.get("requests")),
            bytes=size(sh.get("bytes")).split(" (")[0], tokens=num(sh.get("tokens")),
            lines=line_ranges(sh.get("lines") or []), cost=cost_col[k],
            cumulative=cumulative_col[k] if running_totals[k] is not None else Money("-"), ceiling=ceiling_col[k],
        )
        for k, sh in enumerate(listed)
    ]  # fmt: skip
    more = ""
    if len(shards) > MAX_SHARD_ROWS:
        more = (
            f"Showing the first {MAX_SHARD_ROWS} of {len(shards):,} shards; `batchcost plan --format json` lists all."
        )
    waves_in = [w for w in s.get("waves") or [] if isinstance(w, Mapping)]
    wave_costs = Money.column([w.get("cost") for w in waves_in[:MAX_WAVE_ROWS]])
    waves = [
        WaveRow(
            index=num(w.get("index")), shards=numbers_span([int(i) for i in w.get("shards") or []]),
            requests=num(w.get("requests")), tokens=num(w.get("tokens")), cost=wave_costs[k],
        )
        for k, w in enumerate(waves_in[:MAX_WAVE_ROWS])
    ]  # fmt: skip
    if len(waves_in) > MAX_WAVE_ROWS:
        more_waves = (
            f"Showing the first {MAX_WAVE_ROWS} of {len(waves_in):,} waves; `batchcost plan --format json` lists all."
        )
        more = f"{more} {more_waves}".strip()
    tier = s.get("tier")
    tier_text = "" if tier is None else f"tier {tier}" + (" (assumed: give --tier)" if s.get("tier_assumed") else "")
    platform = {"developer": "Gemini Developer API", "vertex": "Vertex AI"}.get(str(s.get("platform")), "")
    limits = [
        LimitRow(
            label,
            size(v["value"]).split(" (")[0] if key == "max_bytes" else num(v["value"]),
            str(v.get("source") or ""),
        )
        for key, label in _LIMIT_LABELS.items()
        if isinstance(v := (s.get("limits") or {}).get(key), Mapping) and v.get("value") is not None
    ]
    hours = s.get("hours") or {}
    hours_text = ""
    if hours.get("expected") is not None:
        hours_text = about(hours["expected"]) + (f", at most {duration(hours['worst'])}" if hours.get("worst") else "")
    oversized = [
        OversizedRow(num(o.get("line")), str(o.get("limit", "")), num(o.get("figure")), num(o.get("allowed")))
        for o in s.get("oversized") or []
    ]
    chart = None
    if costs and len(costs) == len(shards):
        svg = charts.cumulative_cost(costs, [int(sh.get("wave") or 1) for sh in shards])
        if svg is not None:
            chart = Chart(
                "cumulative",
                "Cumulative cost by shard",
                "Batch cost added by each shard in submission order; shaded bands are waves "
                "(shards in flight together within the enqueued-token quota).",
                markup(svg),
            )
    basis = {"expected": "expected batch cost", "floor": "input-only batch cost (output expectation unknown)"}
    return ShardSection(
        summary=f"{count(n_shards, 'shard')} in {count(n_waves, 'wave')}",
        tier=", ".join(t for t in (platform, tier_text) if t),
        time_bound=time_bound(s),
        hours=hours_text,
        other_tiers=other_tiers_text(s, other_tiers),
        token_basis=str(s.get("token_basis") or ""),
        cost_basis=basis.get(str(s.get("cost_basis")), "not priced"),
        limits=limits,
        rows=rows,
        more=more,
        waves=waves,
        waves_differ=any(len(w.get("shards") or []) != 1 for w in waves_in),
        oversized=oversized,
        warnings=[str(w) for w in s.get("warnings") or []],
        notes=[str(n) for n in s.get("notes") or []],
        chart=chart,
    )


def about(hours: Any) -> str:
    """ "about 48 h", "about 26 days" (``duration`` says "about" itself for days)."""
    text = duration(hours)
    return text if text.startswith("about") else f"about {text}"


def time_bound(s: Mapping[str, Any]) -> str:
    """How long until every result is back, in hours up to 48 and in days beyond."""
    hours = s.get("hours") or {}
    n = int((s.get("totals") or {}).get("waves", len(s.get("waves") or [])))
    if not n or hours.get("expected") is None:
        return str(s.get("time_bound") or "")
    waves = count(n, "wave")
    per_wave = f" ({waves} of {hours['target']} h)" if n > 1 and hours.get("target") else ""
    head = f"{waves}: expect results in {about(hours['expected'])}{per_wave}"
    if hours.get("worst") is None:
        return head + "."
    if s.get("platform") == "vertex":
        return (
            f"{head}. Most Vertex AI batch jobs finish within {hours.get('target')} h of starting; a job may queue up "
            f"to {hours.get('queue')} h, and one still running {hours.get('expiry')} h after it starts is cancelled "
            f"with only its completed requests charged: at worst {duration(hours['worst'])}."
        )
    return (
        f"{head}. A job still pending or running after {hours.get('expiry')} h expires without results, so the "
        f"outer bound is {duration(hours['worst'])}."
    )


def better_tiers(s: Mapping[str, Any], other_tiers: Any) -> list[Mapping[str, Any]]:
    """The higher billing tiers that would need fewer waves, when the tier was assumed."""
    if not s.get("tier_assumed") or not isinstance(other_tiers, list):
        return []
    n = int((s.get("totals") or {}).get("waves", len(s.get("waves") or [])))
    return [o for o in other_tiers if isinstance(o, Mapping) and int(o.get("waves") or 0) < n]


def other_tiers_text(s: Mapping[str, Any], other_tiers: Any) -> str:
    """ "Tier 1 was assumed; on tier 2 the jobs need 1 wave: give --tier 2 if your project is on tier 2." """
    better = better_tiers(s, other_tiers)
    if not better:
        return ""
    n = int((s.get("totals") or {}).get("waves", len(s.get("waves") or [])))
    options = "; ".join(f"on tier {o['tier']}, {count(int(o['waves']), 'wave')} (`--tier {o['tier']}`)" for o in better)
    return (
        f"Tier {s.get('tier')} was assumed (no --tier given) and it sets the {count(n, 'wave')}: {options}. "
        "Give your project's tier if it is higher."
    )
