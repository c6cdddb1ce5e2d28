"""A plan's smaller tables as pandas DataFrames: shards, prices, caching candidates, model comparison.

Money is float64 US dollars in columns named ``..._usd`` (NaN where unknown or not priced, never
0); the exact Decimal figures are in ``plan.to_json()``. One row per item, in the plan's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

SHARD_COLUMNS: Mapping[str, str] = {
    "shard": "1-based shard (job) number, in submission order",
    "wave": "1-based wave it is submitted in",
    "requests": "requests in the shard",
    "bytes": "bytes of the shard file",
    "tokens": "tokens that count against the quotas (see the plan's shards token_basis)",
    "cost_batch_usd": "the shard's batch cost in USD (cost_batch_floor_usd, input only, without an output expectation)",
    "cost_batch_ceiling_usd": "the shard's batch cost at every request's output ceiling (NaN when unbounded)",
    "first_line": "1-based input line of its first request",
    "last_line": "1-based input line of its last request",
    "line_ranges": "its input lines as [first, last] runs",
}

PRICE_COLUMNS: Mapping[str, str] = {
    "model": "the billed model",
    "mode": "standard, batch, flex or priority",
    "component": "input, output",
    "modality": "text, image, video, audio, document ('' for output)",
    "tier": "prompt-size tier ('<=200,000', '>200,000', or '' for flat rates)",
    "usd_per_mtok": "USD per 1,000,000 tokens (float64)",
    "source": "where the rate comes from",
    "checked": "the day the rate was last checked against its source",
    "derived": "True when computed by a published rule (e.g. batch = 50% of standard)",
    "overridden": "True when it comes from a --prices file",
    "compared": "False for the plan's model, True for a model given to compare",
}

CACHING_COLUMNS: Mapping[str, str] = {
    "id": "candidate id (system-1, leading_parts-2...)",
    "kind": "system, leading_parts, first_part or template",
    "requests": "requests sharing the prefix (scaled from the sample when estimated)",
    "estimated": "True when the request count is scaled from the sample",
    "prefix_tokens": "tokens a cache of the prefix would hold",
    "description": "what is shared",
    "no_cache_usd": "the prefix tokens at the batch input rate, no cache",
    "explicit_available": "an explicit cache can be used here",
    "explicit_pays": "it is available and saves money",
    "explicit_cost_usd": "cached reads + creation + storage",
    "explicit_saving_usd": "no_cache_usd - explicit_cost_usd (negative: costs more)",
    "creation_usd": "creating the cache once",
    "storage_usd": "storing it for the hours the jobs need",
    "break_even_requests": "fewest requests for the cache to pay",
    "implicit_best_case_saving_usd": "implicit caching if every request hit (no guarantee)",
    "chosen": "part of the recommendation",
    "chosen_requests": "requests the chosen cache serves (<NA> when not chosen)",
    "chosen_saving_usd": "what the chosen cache saves",
}

COMPARE_COLUMNS: Mapping[str, str] = {
    "model": "model as asked",
    "billed_model": "the model billed on the run date",
    "compared": "False for the plan's model, True for a model given to compare",
    "mode": "standard, batch, flex, priority, and batch_cached for the plan's model when caching pays",
    "floor_usd": "input-only cost at the expected input",
    "expected_usd": "input plus expected output (NaN without an output expectation)",
    "low_usd": "low end of the 95% interval",
    "high_usd": "high end of the 95% interval",
    "ceiling_usd": "the high end of the input and every request's output ceiling (NaN when unbounded)",
    "not_priced": "why the mode is not priced (missing when priced)",
    "output_tokens_expected": "expected output tokens of all requests (<NA> without an expectation)",
    "output_tokens_ceiling": "the output ceiling of all requests (<NA> when unbounded)",
}


def dollars(value: Decimal | None) -> float:
    """A Decimal amount as float64 dollars (NaN for None)."""
    return float("nan") if value is None else float(value)


def frame(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str], **dtypes: str) -> pd.DataFrame:
    """A DataFrame with exactly ``columns`` in order (empty tables keep them), nullable ints as given."""
    df = pd.DataFrame(list(rows), columns=list(columns))
    for name, dtype in dtypes.items():
        df[name] = df[name].astype(dtype)
    return df


def shard_table(plan: Any) -> pd.DataFrame:
    """One row per planned shard (see :data:`SHARD_COLUMNS`); empty when no shards were planned."""
    sp = plan.shard_plan
    shards = [] if sp is None else sp.shards
    floor = sp is not None and sp.cost_basis == "floor"
    columns = dict(SHARD_COLUMNS)
    if floor:
        columns = {("cost_batch_floor_usd" if k == "cost_batch_usd" else k): v for k, v in columns.items()}
    rows = (
        {
            "shard": s.index,
            "wave": s.wave,
            "requests": s.requests,
            "bytes": s.bytes,
            "tokens": s.tokens,
            "cost_batch_floor_usd" if floor else "cost_batch_usd": dollars(s.cost),
            "cost_batch_ceiling_usd": dollars(s.cost_ceiling),
            "first_line": s.first_line,
            "last_line": s.last_line,
            "line_ranges": s.line_ranges(),
        }
        for s in shards
    )
    df = frame(rows, columns, shard="int64", wave="int64", requests="int64", bytes="int64", tokens="int64")
    df.attrs.update(cost_basis=None if sp is None else sp.cost_basis, time_bound=None if sp is None else sp.time_bound)
    return df


def price_table(plan: Any) -> pd.DataFrame:
    """Every rate that priced the plan's model and each compared model (see :data:`PRICE_COLUMNS`)."""
    rows = []
    for compared, mc in [(False, plan.cost), *((True, m) for m in plan.compared)]:
        for p in mc.prices:
            rows.append(
                {
                    "model": p.model,
                    "mode": p.mode,
                    "component": p.component,
                    "modality": p.modality,
                    "tier": p.tier,
                    "usd_per_mtok": float(p.usd_per_mtok),
                    "source": p.source,
                    "checked": pd.Timestamp(p.checked),
                    "derived": p.derived,
                    "overridden": p.overridden,
                    "compared": compared,
                }
            )
    return frame(rows, PRICE_COLUMNS)


def caching_table(plan: Any) -> pd.DataFrame:
    """One row per shared prefix found, best saving first (see :data:`CACHING_COLUMNS`)."""
    advice = plan.caching
    candidates = [] if advice is None else advice.candidates
    chosen = {} if advice is None else {c.candidate: c for c in advice.chosen}
    rows = []
    for c in candidates:
        e, pick = c.explicit, chosen.get(c.id)
        rows.append(
            {
                "id": c.id,
                "kind": c.kind,
                "requests": c.requests,
                "estimated": c.estimated,
                "prefix_tokens": c.prefix_tokens,
                "description": c.description,
                "no_cache_usd": dollars(c.no_cache),
                "explicit_available": e.available,
                "explicit_pays": e.pays,
                "explicit_cost_usd": dollars(e.cost),
                "explicit_saving_usd": dollars(e.saving),
                "creation_usd": dollars(e.creation),
                "storage_usd": dollars(e.storage),
                "break_even_requests": e.break_even_requests,
                "implicit_best_case_saving_usd": dollars(c.implicit.saving),
                "chosen": pick is not None,
                "chosen_requests": None if pick is None else pick.requests,
                "chosen_saving_usd": dollars(None if pick is None else pick.saving),
            }
        )
    df = frame(rows, CACHING_COLUMNS, break_even_requests="Int64", chosen_requests="Int64")
    if advice is not None:
        df.attrs.update(summary=advice.summary, hours=float(advice.hours))
    return df


def compare_table(plan: Any) -> pd.DataFrame:
    """The plan's model and each compared model, one row per mode (see :data:`COMPARE_COLUMNS`)."""
    rows = []
    for compared, mc in [(False, plan.cost), *((True, m) for m in plan.compared)]:
        modes = dict(mc.modes)
        if not compared and plan.caching is not None and plan.caching.batch_cached is not None:
            modes["batch_cached"] = plan.caching.batch_cached
        for mode, cost in modes.items():
            rows.append(
                {
                    "model": mc.model,
                    "billed_model": mc.billed_model,
                    "compared": compared,
                    "mode": mode,
                    "floor_usd": dollars(cost.floor),
                    "expected_usd": dollars(cost.expected),
                    "low_usd": dollars(cost.low),
                    "high_usd": dollars(cost.high),
                    "ceiling_usd": dollars(cost.ceiling),
                    "not_priced": cost.not_priced_reason,
                    "output_tokens_expected": mc.output.expected,
                    "output_tokens_ceiling": mc.output.ceiling,
                }
            )
    return frame(rows, COMPARE_COLUMNS, output_tokens_expected="Int64", output_tokens_ceiling="Int64")
