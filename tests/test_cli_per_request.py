"""`--per-request FILE` on estimate and reconcile: CSV, or Parquet for .parquet, written whole; refused before any work."""

from __future__ import annotations

import io
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from batchcost.cli import main

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = str(ROOT / "examples" / "batch_requests.jsonl")
RESULTS = str(ROOT / "examples" / "batch_results.jsonl")
ESTIMATE = ["estimate", REQUESTS, "-m", "gemini-2.5-flash", "--offline", "--output-tokens", "300", "-q",
            "--run-date", "2026-11-27"]  # fmt: skip


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", ["requests.csv", "requests.parquet"])
def test_estimate_writes_the_table(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    code, _, err = run(*ESTIMATE, "--per-request", str(target), "--format", "json", "-o", str(tmp_path / "plan.json"))
    assert code == 0, err
    df = pd.read_parquet(target) if name.endswith(".parquet") else pd.read_csv(target)
    assert df["key"].tolist() == ["request_1", "request_2", "request_3"]
    import json

    plan = json.loads((tmp_path / "plan.json").read_text())
    assert abs(df["cost_batch_usd"].sum() - float(Decimal(plan["cost"]["batch"]["expected"]))) < 1e-12
    assert int(df["input_tokens"].sum()) == plan["tokens"]["input"]["expected"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, "plan.json"])  # no temporary left
    if name.endswith(".parquet"):
        assert isinstance(df["status"].dtype, pd.CategoricalDtype)  # Parquet keeps the types


def test_reconcile_writes_the_table(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    code, _, err = run("reconcile", RESULTS, "-m", "gemini-2.5-flash", "--run-date", "2026-11-27", "--per-request",
                       str(target), "-q")  # fmt: skip
    assert code == 1, err  # the example's failed request
    df = pd.read_csv(target)
    assert df["status"].tolist() == ["succeeded", "failed"] and df["error"].tolist()[1] == "400 INVALID_ARGUMENT"
    # 8 prompt tokens at $0.15/1M + (10 + 412) output tokens at $1.25/1M (2.5 Flash batch)
    assert abs(df["cost_batch_usd"].sum() - (8 * 0.15 + 422 * 1.25) / 1e6) < 1e-15


def test_missing_pyarrow_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    target = tmp_path / "requests.parquet"
    code, out, err = run(*ESTIMATE, "--per-request", str(target))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "pip install 'batchcost[parquet]'" in err and str(target) in err
    assert not target.exists()
    code, _, err = run("reconcile", RESULTS, "-m", "gemini-2.5-flash", "--per-request", str(target))
    assert code == 2 and "batchcost[parquet]" in err


def test_the_table_never_replaces_an_input(tmp_path: Path) -> None:
    copy = tmp_path / "req.jsonl"
    copy.write_bytes(Path(REQUESTS).read_bytes())
    code, _, err = run("estimate", str(copy), "-m", "gemini-2.5-flash", "--offline", "--per-request", str(copy))
    assert code == 2 and "is also an input" in err
    assert copy.read_bytes() == Path(REQUESTS).read_bytes()
    code, _, err = run(*ESTIMATE, "--per-request", str(tmp_path / "missing" / "t.csv"))
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize("name", ["requests.csv", "requests.parquet"])
def test_reconcile_joins_the_estimate_table_from_the_cli(tmp_path: Path, name: str) -> None:
    table = tmp_path / name
    code, _, err = run(*ESTIMATE, "--per-request", str(table), "--format", "json", "-o", str(tmp_path / "plan.json"))
    assert code == 0, err
    est = pd.read_parquet(table) if name.endswith(".parquet") else pd.read_csv(table)
    target = tmp_path / "results.csv"
    code, _, err = run("reconcile", RESULTS, "-m", "gemini-2.5-flash", "--run-date", "2026-11-27", "--per-request",
                       str(target), "--estimated", str(table), "-q")  # fmt: skip
    assert code == 1, err  # the example's failed request
    df = pd.read_csv(target, dtype={"key": str})
    by_key = est.set_index("key")
    for _, row in df.iterrows():
        assert row["estimated_input_tokens"] == by_key.loc[row["key"], "input_tokens"]
        assert row["estimated_cost_batch_usd"] == pytest.approx(by_key.loc[row["key"], "cost_batch_usd"], rel=1e-12)
    ok = df[df["status"] == "succeeded"].iloc[0]
    assert ok["cost_difference_usd"] == pytest.approx(ok["cost_batch_usd"] - ok["estimated_cost_batch_usd"], abs=1e-15)


def test_reconcile_estimated_refusals_are_one_line(tmp_path: Path) -> None:
    out = str(tmp_path / "r.csv")
    base = ["reconcile", RESULTS, "-m", "gemini-2.5-flash", "--run-date", "2026-11-27", "-q"]
    code, _, err = run(*base, "--estimated", str(tmp_path / "t.csv"))
    assert code == 2 and "give --per-request FILE too" in err and err.count("\n") == 1
    code, _, err = run(*base, "--per-request", out, "--estimated", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv: no such file" in err and err.count("\n") == 1
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    code, _, err = run(*base, "--per-request", out, "--estimated", str(wrong))
    assert code == 2 and "not a per-request table" in err and err.count("\n") == 1
    assert not Path(out).exists()
    # a key that looks like a number or a missing value stays the text it is
    from batchcost.table_files import read_table

    keys = tmp_path / "keys.csv"
    keys.write_text("key,input_tokens\n007,5\nNA,6\n,7\n")
    assert read_table(keys)["key"].tolist()[:2] == ["007", "NA"] and read_table(keys)["key"].isna().tolist()[2]
