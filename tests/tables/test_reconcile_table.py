"""rec.requests(): one row per result line; actual costs add up; the estimate joins by key."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

import batchcost
from batchcost.afterjob.tables import RESULT_COLUMNS

from .files import NOV27, plan_of, varied


def results_for(path: Path, requests: Path, n_failed: int = 2) -> Path:
    """A results file answering each request of ``requests``: prompt = 1.1 x its text, 50 output tokens."""
    lines = []
    for i, raw in enumerate(requests.read_text().splitlines()):
        key = json.loads(raw)["key"]
        if i < n_failed:
            lines.append({"key": key, "error": {"code": 500, "message": "internal", "status": "INTERNAL"}})
            continue
        usage = {
            "promptTokenCount": 100 + i,
            "candidatesTokenCount": 40,
            "thoughtsTokenCount": 10,
            "totalTokenCount": 150 + i,
        }
        lines.append(
            {
                "key": key,
                "response": {
                    "candidates": [{"content": {"parts": [{"text": "ok"}]}}],
                    "usageMetadata": usage,
                    "modelVersion": "gemini-2.5-flash",
                },
            }
        )
    lines.append(
        {"key": "not-asked", "response": {"usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 5}}}
    )
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + "\n")  # and a blank line
    return path


def test_rows_costs_and_the_estimate_beside_them(tmp_path: Path) -> None:
    requests = varied(tmp_path / "r.jsonl", 12)
    plan = plan_of(requests, output_tokens=50)
    results = results_for(tmp_path / "res.jsonl", requests)
    rec = batchcost.reconcile(results, plan=plan, run_date=NOV27)
    df = rec.requests()
    assert [c for c in df.columns if "<" not in c] == [c for c in df.columns]
    assert {c for c in RESULT_COLUMNS if "<" not in c} <= set(df.columns)
    assert df["status"].tolist()[:3] == ["failed", "failed", "succeeded"]
    assert df["error"].iloc[0] == "500 INTERNAL" and pd.isna(df["error"].iloc[2])
    assert math.isclose(df["cost_batch_usd"].sum(), float(rec.actual.total), rel_tol=1e-12)
    assert (df.loc[df["status"] != "succeeded", "cost_batch_usd"] == 0).all()
    assert (df["output_tokens"] == df["candidates_tokens"] + df["thoughts_tokens"]).all()

    est = plan.requests().set_index("key")
    row = df.iloc[2]
    assert row["estimated_input_tokens"] == est.loc[row["key"], "input_tokens"]
    assert math.isclose(row["estimated_cost_batch_usd"], est.loc[row["key"], "cost_batch_usd"])
    assert math.isclose(row["cost_difference_usd"], row["cost_batch_usd"] - row["estimated_cost_batch_usd"])
    unknown = df[df["key"] == "not-asked"]
    assert unknown["estimated_input_tokens"].isna().all() and unknown["estimated_cost_batch_usd"].isna().all()

    # the same join from the table estimate --per-request wrote, read back from CSV
    csv = tmp_path / "est.csv"
    plan.requests().to_csv(csv, index=False)
    plain = batchcost.reconcile(results, model="gemini-2.5-flash", run_date=NOV27)
    assert "estimated_input_tokens" not in plain.requests()
    joined = plain.requests(pd.read_csv(csv))
    pd.testing.assert_series_equal(joined["estimated_cost_batch_usd"], df["estimated_cost_batch_usd"])


def test_reconciliation_repr_and_cards(tmp_path: Path) -> None:
    requests = varied(tmp_path / "r.jsonl", 4)
    rec = batchcost.reconcile(
        results_for(tmp_path / "res.jsonl", requests, 1), model="gemini-2.5-flash", run_date=NOV27
    )
    lines = repr(rec).splitlines()
    assert len(lines) <= 10 and lines[0].startswith("<batchcost.Reconciliation gemini-2.5-flash")
    assert "Actual cost" in rec._repr_html_()
