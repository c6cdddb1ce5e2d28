"""A reconciliation as a pandas DataFrame: one row per result line, with its actual cost.

Money is float64 US dollars (``cost_batch_usd``; the column sums to the reconciliation's exact
total to within float rounding); the exact Decimal figures are in ``rec.to_json()``. With an
estimate (the :class:`batchcost.Plan`, its ``plan.requests()`` table, or that table read back from
``estimate --per-request FILE``) each result carries its request's estimate, joined by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..batchfile.results import FAILED, MODALITIES, OK, UNREADABLE
from ..pricing.per_request import cost_per_request
from .actual import tool_fees_per_result

RESULT_COLUMNS: Mapping[str, str] = {
    "key": "the result line's key (missing for Vertex lines and lines without one)",
    "file": "the results file's path (categorical)",
    "line": "1-based line number in that file",
    "status": "'succeeded' (priced), 'failed' (not billed) or 'unreadable' (see the problems) (categorical)",
    "error": "the failure's kind, e.g. '400 INVALID_ARGUMENT' (categorical; missing when none)",
    "model_version": "the response's modelVersion (categorical; missing when not given)",
    "prompt_tokens": "promptTokenCount (cached tokens included)",
    "cached_tokens": "cachedContentTokenCount",
    "tool_use_tokens": "toolUsePromptTokenCount",
    "candidates_tokens": "candidatesTokenCount (thinking excluded)",
    "thoughts_tokens": "thoughtsTokenCount",
    "output_tokens": "candidates + thoughts: the billed output",
    "stopped_at_max_tokens": "True when a candidate stopped at maxOutputTokens",
    "cost_<mode>_usd": "the actual cost in USD (float64) in the reconciliation's mode, the Search and Maps fees of "
    "the queries or grounded prompt the result shows included; 0 when not billed",
    "estimated_input_tokens": "with an estimate: the request's expected input tokens",
    "estimated_output_tokens": "with an estimate that has an output expectation: its expected output",
    "estimated_cost_<mode>_usd": "with an estimate: the request's expected cost in the same mode "
    "(estimated_cost_<mode>_floor_usd, input only, when the estimate has no output expectation)",
    "cost_difference_usd": "actual minus estimated cost (only against an expected cost)",
}
"""The columns of :func:`result_table`, in order, with their meaning and units."""

STATUSES = ("succeeded", "failed", "unreadable")


def result_table(rec: Any, estimate: Any = None) -> pd.DataFrame:
    """One row per result line (see :data:`RESULT_COLUMNS`).

    Args:
        rec: a :class:`batchcost.Reconciliation` (``reconcile.py`` imports this module, so it is
            not imported back here).
        estimate: a :class:`batchcost.Plan`, or a table with ``key``, ``input_tokens`` and a
            ``cost_<mode>_usd`` (or ``..._floor_usd``) column (``plan.requests()``, or the file
            ``estimate --per-request`` wrote, read back with pandas). Default: the plan the
            reconciliation was made with, when it was given as a Plan.
    """
    from ..batchfile.frame import categorical

    rs = rec.results
    r = rs.rows
    status = r["status"].astype(np.int64)
    ok = status == OK
    i8 = np.int64
    prompt_m = {m: r[f"prompt_{m}"].astype(i8) for m in MODALITIES}
    cached_m = {m: r[f"cached_{m}"].astype(i8) for m in MODALITIES}
    tool_m = {m: r[f"tool_{m}"].astype(i8) for m in MODALITIES}
    output = r["candidates"].astype(i8) + r["thoughts"].astype(i8)
    cost = cost_per_request(
        rec.actual.rates,
        prompt_tokens=r["prompt"].astype(i8) + r["tool_use"].astype(i8),
        input_by_modality={m: np.where(ok, prompt_m[m] - cached_m[m] + tool_m[m], 0) for m in MODALITIES},
        cached_by_modality={m: np.where(ok, cached_m[m], 0) for m in MODALITIES},
        output_tokens=np.where(ok, output, 0),
    )
    cost += tool_fees_per_result(rs, rec.actual.rates)  # in the reconciliation's total too
    cost[~ok] = 0.0
    codes = np.select([status == OK, status == FAILED, status == UNREADABLE], [0, 1, 2], -1)
    df = pd.DataFrame(
        {
            "key": np.array(rs.keys, dtype=object) if len(rs.keys) else np.zeros(0, object),
            "file": categorical(r["file"], [f.path for f in rs.files]),
            "line": r["line"].astype(i8),
            "status": categorical(codes, STATUSES),
            "error": categorical(r["error"].astype(i8) - 1, rs.error_kinds[1:]),  # 0 = none
            "model_version": categorical(r["model"].astype(i8) - 1, rs.models[1:]),
            "prompt_tokens": r["prompt"].astype(i8),
            "cached_tokens": r["cached"].astype(i8),
            "tool_use_tokens": r["tool_use"].astype(i8),
            "candidates_tokens": r["candidates"].astype(i8),
            "thoughts_tokens": r["thoughts"].astype(i8),
            "output_tokens": output,
            "stopped_at_max_tokens": r["max_tokens"] > 0,
            f"cost_{rec.mode}_usd": cost,
        },
        copy=False,
    )
    df.attrs.update(model=rec.model, billed_model=rec.billed_model, mode=rec.mode, run_date=rec.run_date.isoformat())
    estimate = rec.plan_object if estimate is None else estimate
    if estimate is not None:
        df = _with_estimate(df, estimate, rec.mode)
    return df


def _with_estimate(df: pd.DataFrame, estimate: Any, mode: str) -> pd.DataFrame:
    """The estimate's per-request figures beside each result, joined by key (usable requests only)."""
    table = estimate.requests() if callable(getattr(estimate, "requests", None)) else estimate
    if not isinstance(table, pd.DataFrame) or "key" not in table or "input_tokens" not in table:
        raise TypeError("estimate must be a Plan or its per-request table (key, input_tokens, cost_<mode>_usd...)")
    if "status" in table:
        table = table[table["status"] == "usable"]
    expected = f"cost_{mode}_usd" in table
    cost_col = f"cost_{mode}_usd" if expected else f"cost_{mode}_floor_usd"
    picked = {"key": "key", "input_tokens": "estimated_input_tokens"}
    if "output_tokens" in table:
        picked["output_tokens"] = "estimated_output_tokens"
    if cost_col in table:
        picked[cost_col] = f"estimated_{cost_col}"
    est = table[[c for c in picked if c in table]].rename(columns=picked)
    est = est[est["key"].notna()].drop_duplicates("key")  # a repeated key answers its first line
    out = df.merge(est, on="key", how="left", sort=False, validate="many_to_one")
    for c in ("estimated_input_tokens", "estimated_output_tokens"):
        if c in out:
            out[c] = out[c].astype("Int64")  # <NA> where no request of the estimate has the key
    if expected and f"estimated_{cost_col}" in out:
        out["cost_difference_usd"] = out[f"cost_{mode}_usd"] - out[f"estimated_{cost_col}"]
    out.attrs.update(df.attrs)
    return out
