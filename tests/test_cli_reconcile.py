"""`batchcost reconcile` as a user runs it: table and JSON output, exit codes, a plan saved by `estimate`."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from batchcost.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_example_results_table_exit_1_for_its_failed_request() -> None:
    code, out, err = run(
        "reconcile", str(EXAMPLES / "batch_results.jsonl"), "--model", "gemini-2.5-flash", "--run-date", "2026-11-27"
    )
    assert code == 1, err  # the example has one failed request: a problem in the input
    # 8 prompt tokens at $0.15/1M + (10 + 412) output tokens at $1.25/1M (2.5 Flash batch)
    assert out.startswith("Actual cost $0.0005 (batch on gemini-2.5-flash, 1 billed request)")
    assert "1 succeeded, 1 failed (not billed): 400 INVALID_ARGUMENT x1" in out
    assert "answers 10 + thinking 412" in out
    assert len(out.splitlines()) <= 15 and max(map(len, out.splitlines())) <= 100  # one screen
    assert "Prices used" not in out
    code, out, err = run(
        "reconcile", str(EXAMPLES / "batch_results.jsonl"), "--model", "gemini-2.5-flash", "--run-date", "2026-11-27",
        "-v",
    )  # fmt: skip
    assert "Prices used (USD per 1M tokens)" in out and "output (thinking)" in out


def test_json_contract_and_output_file(tmp_path: Path) -> None:
    target = tmp_path / "rec.json"
    code, out, err = run(
        "reconcile", str(EXAMPLES / "batch_results.jsonl"), "-m", "gemini-2.5-flash", "--run-date", "2026-11-27",
        "--format", "json", "-o", str(target),
    )  # fmt: skip
    assert code == 1, err  # the example has one failed request: a problem in the input
    assert out == ""
    doc = json.loads(target.read_text())
    assert doc["schema"] == "batchcost.reconcile/1"
    assert (doc["requests"], doc["failed"]) == (2, 1)
    assert doc["tokens"]["thoughts"] == 412
    assert Decimal(doc["cost"]["total"]) == Decimal("0.15") * 8 / 10**6 + Decimal("1.25") * 422 / 10**6
    assert doc["variance"] is None


def test_plan_saved_by_estimate_gives_a_variance_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requests.jsonl").write_bytes((EXAMPLES / "batch_requests.jsonl").read_bytes())
    code, _, err = run(
        "estimate", "requests.jsonl", "--model", "gemini-2.5-flash", "--run-date", "2026-11-27",
        "--output-tokens", "300", "--tokenizer", "heuristic", "--format", "json", "-o", "plan.json",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads((tmp_path / "plan.json").read_text())
    code, out, err = run("reconcile", str(EXAMPLES / "batch_results.jsonl"), "--plan", "plan.json", "--format", "json")
    assert code == 1, err  # the example has one failed request: a problem in the input
    doc = json.loads(out)
    assert doc["run_date"] == "2026-11-27" and doc["run_date_source"] == "plan"
    v = doc["variance"]
    cost = next(c for c in v["components"] if c["component"] == "cost")
    assert cost["estimated"]["expected"] == plan["cost"]["batch"]["expected"]
    assert Decimal(v["difference"]) == Decimal(doc["cost"]["total"]) - Decimal(plan["cost"]["batch"]["expected"])
    assert sum(Decimal(c["usd"]) for c in v["contributors"]) == Decimal(v["difference"])
    # keys checked against the plan's input file: request_2 has no result
    assert doc["keys"]["without_result"] == ["request_2"]
    code, text, _ = run("reconcile", str(EXAMPLES / "batch_results.jsonl"), "--plan", "plan.json", "-v")
    assert "Estimate vs actual (plan.json, batch)" in text
    assert "1 input key without a result: request_2" in text


def test_unreadable_lines_exit_1_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    good = (EXAMPLES / "batch_results.jsonl").read_text().splitlines()[0]
    path.write_text(good + "\n{oops\n")
    code, out, _ = run("reconcile", str(path), "--model", "gemini-2.5-flash", "--run-date", "2026-11-27")
    assert code == 1
    assert f"{path}:2: error: not valid JSON" in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--plan", "missing-plan.json"], "missing-plan.json: no such file"),
        (["--model", "gemini-9-nope"], "unknown model 'gemini-9-nope'"),
    ],
)
def test_bad_plan_or_model_exit_2_without_traceback(args: list[str], fragment: str) -> None:
    code, _, err = run("reconcile", str(EXAMPLES / "batch_results.jsonl"), "--run-date", "2026-11-27", *args)
    assert code == 2
    assert fragment in err and "Traceback" not in err


def test_help_lists_reconcile() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "reconcile" in out
    code, out, _ = run("reconcile", "--help")
    assert code == 0 and "--plan PLAN.json" in out


def test_report_with_the_variance_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bs4 import BeautifulSoup

    monkeypatch.chdir(tmp_path)
    (tmp_path / "requests.jsonl").write_bytes((EXAMPLES / "batch_requests.jsonl").read_bytes())
    code, _, err = run(
        "estimate", "requests.jsonl", "--model", "gemini-2.5-flash", "--run-date", "2026-11-27",
        "--output-tokens", "300", "--offline", "--format", "json", "-o", "plan.json",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        "reconcile", str(EXAMPLES / "batch_results.jsonl"), "--plan", "plan.json", "--format", "json",
        "-o", "rec.json", "--report", "after.html",
    )  # fmt: skip
    assert code == 1, err  # the example has one failed request: a problem in the input
    rec = json.loads((tmp_path / "rec.json").read_text())
    soup = BeautifulSoup((tmp_path / "after.html").read_text(), "html.parser")
    section = soup.find(id="variance")
    assert section is not None and "Estimate vs actual" in section.get_text()
    rows = section.select("table.variance tbody tr")
    assert len(rows) == len(rec["variance"]["components"])
    assert soup.find("script") is None


def test_report_needs_a_plan(tmp_path: Path) -> None:
    code, _, err = run(
        "reconcile", str(EXAMPLES / "batch_results.jsonl"), "-m", "gemini-2.5-flash", "--report",
        str(tmp_path / "x.html"),
    )  # fmt: skip
    assert code == 2 and "--report needs --plan" in err
    assert not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("verbose", [False, True])
def test_a_file_with_no_result_in_it_is_not_headed_with_a_cost(verbose: bool) -> None:
    # The batch input given by mistake was headed "Actual cost $0 (batch ..., 0 billed requests)"
    args = ["reconcile", str(EXAMPLES / "batch_requests.jsonl"), "-m", "gemini-2.5-flash", *(["-v"] if verbose else [])]
    code, out, _ = run(*args)
    assert code == 1
    assert out.splitlines()[0] == "No result to price: 3 lines could not be read as results (see Problems)"
    assert "this looks like the batch INPUT file" in out
    code, out, _ = run("reconcile", str(EXAMPLES / "batch_results.jsonl"), "-m", "gemini-2.5-flash")
    assert out.splitlines()[0] == "Actual cost $0.0005 (batch on gemini-2.5-flash, 1 billed request)"
