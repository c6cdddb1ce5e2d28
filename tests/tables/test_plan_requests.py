"""plan.requests(): one row per line, and every column adds up to the plan's own figures."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batchcost.planner.tables import REQUEST_COLUMNS

from .files import plan_of, prose, request, varied, write

CENT = 0.005  # "to the cent": half a cent either way


def assert_sums_to(column: pd.Series, exact: Decimal | None) -> None:
    assert exact is not None
    total = float(column.sum())
    assert abs(total - float(exact)) < CENT
    assert math.isclose(total, float(exact), rel_tol=1e-12, abs_tol=1e-15)  # float rounding only


def test_exact_plan_columns_keys_and_sums(tmp_path: Path) -> None:
    path = varied(tmp_path / "r.jsonl", 60)
    plan = plan_of(path, output_tokens=300)
    assert plan.tokens.method == "exact"
    df = plan.requests()
    documented = [c for c in REQUEST_COLUMNS if "<" not in c]
    assert [c for c in df.columns if c in documented] == [c for c in documented if c in df.columns]
    assert list(df.columns[:6]) == ["key", "file", "line", "status", "input_tokens", "input_tokens_estimated"]
    assert {"input_text_tokens", "output_tokens", "output_tokens_ceiling", "cost_standard_usd", "cost_batch_usd",
            "shard", "wave", "cache_group"} <= set(df.columns)  # fmt: skip
    assert df["key"].tolist() == [f"k{i}" for i in range(60)]
    assert df["line"].tolist() == list(range(1, 61))
    assert str(df["file"].dtype) == "category" and str(df["status"].dtype) == "category"
    assert (df["status"] == "usable").all() and not df["input_tokens_estimated"].any()
    assert df["cost_batch_usd"].dtype == np.float64

    doc = plan.to_json()
    assert_sums_to(df["cost_batch_usd"], plan.cost.modes["batch"].expected)
    assert_sums_to(df["cost_standard_usd"], plan.cost.modes["standard"].expected)
    assert int(df["input_tokens"].sum()) == doc["tokens"]["input"]["expected"]
    assert int(df["input_text_tokens"].sum()) == doc["tokens"]["input"]["by_modality"]["text"]["expected"]
    assert int(df["output_tokens"].sum()) == doc["tokens"]["output"]["expected"]
    assert int(df["output_tokens_ceiling"].sum()) == doc["tokens"]["output"]["ceiling"]
    # each request's batch cost is its own tokens at the book's rates (2.5 Flash batch: 0.15 in, 1.25 out)
    row = df.iloc[0]
    assert math.isclose(row["cost_batch_usd"], (row["input_tokens"] * 0.15 + row["output_tokens"] * 1.25) / 1e6)


def test_sampled_plan_sums_and_estimated_rows(tmp_path: Path) -> None:
    path = varied(tmp_path / "r.jsonl", 500, seed=3)
    plan = plan_of(path, output_ratio=0.5, sample_size=40)
    assert plan.tokens.method == "sampled"
    df = plan.requests()
    assert_sums_to(df["cost_batch_usd"], plan.cost.modes["batch"].expected)
    assert int(df["input_tokens"].sum()) == plan.tokens.total.expected
    assert int(df["output_tokens"].sum()) == plan.cost.output.expected
    counted = set(np.asarray(plan.tokens.counted_rows).tolist())
    estimated = set(np.flatnonzero(df["input_tokens_estimated"].to_numpy()).tolist())
    assert estimated and counted and not (estimated & counted)
    assert estimated | counted == set(range(500))


def test_without_output_expectation_the_costs_are_floors(tmp_path: Path) -> None:
    plan = plan_of(varied(tmp_path / "r.jsonl", 10))
    df = plan.requests()
    assert "cost_batch_usd" not in df and "output_tokens" not in df  # a floor is never read as a full cost
    assert df.attrs["cost_basis"] == "floor"
    assert_sums_to(df["cost_batch_floor_usd"], plan.cost.modes["batch"].floor)


def test_error_lines_are_rows_with_nothing_priced(tmp_path: Path) -> None:
    path = varied(tmp_path / "r.jsonl", 5)
    with path.open("a") as fh:
        fh.write('{"key": "bad", "request": {"contents": "not a list"}}\n')
        fh.write("not json\n")
    plan = plan_of(path, output_tokens=100)
    df = plan.requests()
    assert df["status"].tolist() == ["usable"] * 5 + ["error"] * 2
    assert df["key"].tolist()[5] == "bad" and pd.isna(df["key"].iloc[6])
    errors = df[df["status"] == "error"]
    assert (errors["cost_batch_usd"] == 0).all() and (errors["input_tokens"] == 0).all()
    assert errors["shard"].isna().all() and errors["wave"].isna().all()
    assert_sums_to(df["cost_batch_usd"], plan.cost.modes["batch"].expected)


def test_shards_and_waves_follow_the_shard_plan(tmp_path: Path) -> None:
    plan = plan_of(varied(tmp_path / "r.jsonl", 45), output_tokens=50, max_requests=10, concurrent_jobs=2)
    df = plan.requests()
    shards = plan.to_json()["shards"]["shards"]
    assert len(shards) == 5
    for s in shards:
        lines = [line for first, last in s["lines"] for line in range(first, last + 1)]
        part = df[df["line"].isin(lines)]
        assert (part["shard"] == s["index"]).all() and (part["wave"] == s["wave"]).all()
    assert df["shard"].notna().all()
    table = plan.shards()
    assert table["shard"].tolist() == [1, 2, 3, 4, 5] and table["wave"].tolist() == [1, 1, 2, 2, 3]
    assert int(table["requests"].sum()) == 45
    assert_sums_to(table["cost_batch_usd"], plan.cost.modes["batch"].expected)
    per_shard = df.groupby("shard", observed=True)["cost_batch_usd"].sum()
    assert np.allclose(per_shard.to_numpy(), table["cost_batch_usd"].to_numpy(), rtol=1e-12)


def test_batch_with_cache_column_and_cache_groups(tmp_path: Path) -> None:
    doc = prose(2_500, seed=11)  # above 2.5 Flash's 2,048-token minimum
    reqs = [{"contents": [{"role": "user", "parts": [{"text": doc}, {"text": f"Question {i}?"}]}]} for i in range(250)]
    reqs += [request(prose(30, seed=i)) for i in range(20)]
    plan = plan_of(write(tmp_path / "doc.jsonl", reqs), output_tokens=20, sample_size=20)
    assert plan.caching is not None and plan.caching.pays
    df = plan.requests()
    assert_sums_to(df["cost_batch_cached_usd"], plan.caching.batch_cached.expected)
    chosen = plan.caching.chosen[0].candidate
    assert (df["cache_group"].iloc[:250] == chosen).all() and df["cache_group"].iloc[250:].isna().all()
    assert (df["cost_batch_cached_usd"].iloc[250:] == df["cost_batch_usd"].iloc[250:]).all()
    candidates = plan.caching_candidates()
    assert candidates["chosen"].sum() == 1 and candidates.loc[candidates["chosen"], "id"].item() == chosen
    assert math.isclose(candidates["chosen_saving_usd"].sum(), float(plan.caching.saving))
    compare = plan.compare()
    cached = compare[compare["mode"] == "batch_cached"]
    assert math.isclose(cached["expected_usd"].item(), float(plan.caching.batch_cached.expected))


def test_gzip_input_keys(tmp_path: Path) -> None:
    import gzip

    raw = varied(tmp_path / "r.jsonl", 12).read_bytes()
    gz = tmp_path / "r.jsonl.gz"
    gz.write_bytes(gzip.compress(raw))
    df = plan_of(gz, output_tokens=10).requests()
    assert df["key"].tolist() == [json.loads(line)["key"] for line in raw.splitlines()]


@pytest.mark.parametrize("model", ["gemini-2.5-pro"])
def test_requests_above_the_tier_pay_their_own_rates(tmp_path: Path, model: str) -> None:
    # one request past 200,000 tokens pays the higher rates for all its tokens; the others do not
    reqs = [request(prose(210_000, seed=1)), *(request(prose(50, seed=i)) for i in range(3))]
    plan = plan_of(write(tmp_path / "t.jsonl", reqs), model=model, output_tokens=100)
    df = plan.requests()
    assert df["input_tokens"].iloc[0] > 200_000 and (df["input_tokens"].iloc[1:] < 200_000).all()
    assert_sums_to(df["cost_batch_usd"], plan.cost.modes["batch"].expected)
    assert_sums_to(df["cost_standard_usd"], plan.cost.modes["standard"].expected)


def test_tool_fees_are_in_the_request_costs_so_they_still_sum_to_the_plan(tmp_path: Path) -> None:
    import datetime

    import batchcost
    from tests.planner.estimating import write as write_requests

    def searching(i: int) -> dict[str, object]:
        return {
            "contents": [{"parts": [{"text": f"Find the capital of country {i}"}]}],
            "tools": [{"googleSearch": {}}],
        }

    plain = [{"contents": [{"parts": [{"text": f"Say hello {i}"}]}]} for i in range(500)]
    path = write_requests(tmp_path / "mixed.jsonl", [searching(i) for i in range(1000)] + plain)
    plan = batchcost.estimate(
        path, model="gemini-3.8-flash", run_date=datetime.date(2026, 12, 4), offline=True, output_tokens=50,
        search_queries=2, search_free_queries=500,
    )  # fmt: skip
    df = plan.requests()
    doc = plan.to_json()
    # 2,000 queries less the 500 free = 1,500 x $14 / 1,000 = $21, shared by the 1,000 searching requests
    assert doc["cost"]["batch"]["by_component"]["tool_fees"]["expected"] == "21"
    for mode in ("batch", "standard"):
        assert_sums_to(df[f"cost_{mode}_usd"], Decimal(doc["cost"][mode]["expected"]))
    searched, plain_rows = df["cost_batch_usd"].iloc[:1000], df["cost_batch_usd"].iloc[1000:]
    # each searching request carries $0.021 of fees on top of tokens that cost well under a cent
    assert 0.021 < searched.min() < searched.max() < 0.0215
    assert plain_rows.max() < 0.001
