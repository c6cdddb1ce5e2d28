"""The key check of `reconcile` when some result lines carry no key: it runs on the others."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from batchcost.afterjob.reconcile import reconcile
from batchcost.cli import main
from batchcost.reports.reconcile import render_text
from tests.planner.estimating import NOV27, mtok, run_estimate

REQ = {"contents": [{"parts": [{"text": "x"}]}]}


def usage(prompt: int, candidates: int) -> dict[str, int]:
    return {"promptTokenCount": prompt, "candidatesTokenCount": candidates}


def ok_line(key: str | None, u: dict[str, int]) -> dict[str, Any]:
    line: dict[str, Any] = {"response": {"usageMetadata": u, "modelVersion": "gemini-2.5-flash"}}
    return line if key is None else {"key": key, **line}


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def _job(tmp_path: Path) -> tuple[Path, Path]:
    requests = write_lines(tmp_path / "in.jsonl", [{"key": k, "request": REQ} for k in "abcdef"])
    results = write_lines(
        tmp_path / "r.jsonl",
        [
            ok_line("a", usage(100, 10)),
            ok_line(None, usage(200, 20)),  # line 2: b's answer, but nothing says so
            ok_line("c", usage(300, 30)),
            ok_line("zzz", usage(400, 40)),  # another job's key
            ok_line("d", usage(500, 50)),
            ok_line(None, usage(600, 60)),  # line 6
        ],
    )
    return requests, results


def test_lines_without_a_key_do_not_switch_the_key_check_off(tmp_path: Path) -> None:
    requests, results = _job(tmp_path)
    doc = reconcile(results, model="gemini-2.5-flash", run_date=NOV27, requests=[str(requests)]).to_json()
    keys = doc["keys"]
    assert keys["checked"] is True and keys["note"] is None
    assert keys["not_in_input"] == ["zzz"] and keys["not_in_input_count"] == 1
    # b's answer came without its key: b still counts as unmatched, with e and f
    assert keys["without_result"] == ["b", "e", "f"] and keys["without_result_count"] == 3
    assert keys["without_key_count"] == 2 and keys["first_without_key"] == f"{results}:2"
    # the keyless lines are still priced: 2,100 prompt and 210 output tokens at batch rates
    assert doc["succeeded"] == 6
    assert Decimal(doc["cost"]["total"]) == mtok("0.15", 2100) + mtok("1.25", 210) == Decimal("0.0005775")
    one_line = [w for w in doc["warnings"] if "without a key" in w and "result line" in w.split("without")[0]]
    assert one_line == [
        f"2 result lines without a key (first: {results}:2): priced, but not matched to a request; "
        "the key check runs on the other 4 lines"
    ]
    assert any(w.startswith("3 input keys without a result line") for w in doc["warnings"])
    text = render_text(doc, verbose=True)
    assert f"2 result lines without a key (first: {results}:2)" in text
    assert "every input key has exactly the results expected" not in text


def test_with_a_plan_the_unanswered_keys_still_count(tmp_path: Path) -> None:
    requests, results = _job(tmp_path)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(run_estimate(requests, "gemini-2.5-flash", output_tokens=10)))
    doc = reconcile(results, plan=plan_path).to_json()
    assert doc["keys"]["inputs"] == [str(requests)]
    assert doc["keys"]["without_result_count"] == 3 and doc["keys"]["without_key_count"] == 2
    out, err = io.StringIO(), io.StringIO()
    code = main(["reconcile", str(results), "--plan", str(plan_path), "--format", "json"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    cli = json.loads(out.getvalue())
    assert cli["keys"]["without_result"] == ["b", "e", "f"] and cli["keys"]["first_without_key"] == f"{results}:2"


def test_every_key_present_but_one_line_keyless_is_not_called_a_full_match(tmp_path: Path) -> None:
    requests = write_lines(tmp_path / "in.jsonl", [{"key": k, "request": REQ} for k in "ab"])
    results = write_lines(
        tmp_path / "r.jsonl", [ok_line("a", usage(10, 1)), ok_line("b", usage(10, 1)), ok_line(None, usage(10, 1))]
    )
    doc = reconcile(results, model="gemini-2.5-flash", run_date=NOV27, requests=[str(requests)]).to_json()
    assert doc["keys"]["without_result_count"] == 0 and doc["keys"]["not_in_input_count"] == 0
    assert doc["keys"]["without_key_count"] == 1 and doc["keys"]["first_without_key"] == f"{results}:3"
    assert "every input key has exactly" not in render_text(doc)


def test_a_fully_keyed_job_reports_no_keyless_lines(tmp_path: Path) -> None:
    requests = write_lines(tmp_path / "in.jsonl", [{"key": k, "request": REQ} for k in "ab"])
    results = write_lines(tmp_path / "r.jsonl", [ok_line("a", usage(10, 1)), ok_line("b", usage(10, 1))])
    doc = reconcile(results, model="gemini-2.5-flash", run_date=NOV27, requests=[str(requests)]).to_json()
    assert doc["keys"]["without_key_count"] == 0 and doc["keys"]["first_without_key"] is None
    assert not any("without a key" in w for w in doc["warnings"])
    assert "every input key has exactly the results expected" in render_text(doc)
