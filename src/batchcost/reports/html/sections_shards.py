"""The shard plan section (``batchcost.shards/1``): jobs, waves, limits, oversized requests, cumulative cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from .. import charts
from .context import Chart, LimitRow, Money, OversizedRow, ShardRow, ShardSection, WaveRow
from .display import count, markup, num, size

MAX_SHARD_ROWS = 100
_LIMIT_LABELS = {
    "max_bytes": "input file size per job",
    "max_requests": "requests per job",
    "max_tokens": "tokens per job",
    "enqueued_tokens": "enqueued tokens per model (all active jobs)",
    "concurrent_jobs": "concurrent jobs",
}


def shard_section(s: Any) -> ShardSection | None:
    """The ``shards`` key (``batchcost.shards/1``, from ``ShardPlan.to_json()``), or None when absent."""
    if not isinstance(s, Mapping) or not isinstance(s.get("shards"), list):
        return None
    shards = s["shards"]
    totals = s.get("totals") or {}
    n_shards = int(totals.get("shards", len(shards)))
    n_waves = int(totals.get("waves", len(s.get("waves") or [])))
    rows: list[ShardRow] = []
    costs: list[Decimal] = []
    running = Decimal(0)
    for k, sh in enumerate(shards):
        cost = sh.get("cost")
        if cost is not None:
            costs.append(Decimal(cost))
            running += Decimal(cost)
        if k < MAX_SHARD_ROWS:
            rows.append(
                ShardRow(
                    index=num(sh.get("index", k + 1)), wave=num(sh.get("wave")), requests=num(sh.get("requests")),
                    bytes=size(sh.get("bytes")).split(" (")[0], tokens=num(sh.get("tokens")),
                    lines=_line_ranges(sh.get("lines") or []), cost=Money.of(cost),
                    cumulative=Money.of(running) if cost is not None else Money("-"),
                    ceiling=Money.of(sh.get("cost_ceiling")),
                )
            )  # fmt: skip
    more = ""
    if len(shards) > MAX_SHARD_ROWS:
        more = (
            f"Showing the first {MAX_SHARD_ROWS} of {len(shards):,} shards; `batchcost plan --format json` lists all."
        )
    waves = [
        WaveRow(
            index=num(w.get("index")), shards=_span([int(i) for i in w.get("shards") or []]),
            requests=num(w.get("requests")), tokens=num(w.get("tokens")), cost=Money.of(w.get("cost")),
        )
        for w in s.get("waves") or []
    ]  # fmt: skip
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
        hours_text = f"about {hours['expected']} h" + (f", at most {hours['worst']} h" if hours.get("worst") else "")
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
        time_bound=str(s.get("time_bound") or ""),
        hours=hours_text,
        token_basis=str(s.get("token_basis") or ""),
        cost_basis=basis.get(str(s.get("cost_basis")), "not priced"),
        limits=limits,
        rows=rows,
        more=more,
        waves=waves,
        oversized=oversized,
        warnings=[str(w) for w in s.get("warnings") or []],
        notes=[str(n) for n in s.get("notes") or []],
        chart=chart,
    )


def _span(members: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    return _line_ranges(_runs(members), limit=len(members)) if members else "-"


def _runs(numbers: Sequence[int]) -> list[list[int]]:
    """Sorted numbers -> ``[first, last]`` runs of consecutive numbers."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return runs


def _line_ranges(ranges: Sequence[Sequence[int]], limit: int = 3) -> str:
    """[[1, 120], [200, 210]] -> "1-120, 200-210" (at most ``limit`` runs, then "+N more")."""
    parts = [f"{a:,}" if a == b else f"{a:,}-{b:,}" for a, b in ranges[:limit]]
    if len(ranges) > limit:
        parts.append(f"+{len(ranges) - limit:,} more ranges")
    return ", ".join(parts) or "-"
