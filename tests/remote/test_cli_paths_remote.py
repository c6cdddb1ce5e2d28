"""Every other path a command takes may be a URL too: results, --plan, --calibrate-from, -o, --report."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from batchcost.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DAY = ["--run-date", "2026-11-27"]
REQUESTS = (EXAMPLES / "batch_requests.jsonl").read_bytes()
RESULTS = (EXAMPLES / "batch_results.jsonl").read_bytes()


def _result(key: str, prompt: int, out: int) -> bytes:
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out}
    response = {"candidates": [{"content": {"parts": [{"text": "ok"}], "role": "model"}, "finishReason": "STOP"}],
                "usageMetadata": usage, "modelVersion": "gemini-2.5-flash"}  # fmt: skip
    return json.dumps({"key": key, "response": response}).encode()


# a past job of the example's three requests, each with usage (calibration needs two at least)
PAST = b"\n".join(_result(f"request_{i}", 8 + i, 100 * i) for i in (1, 2, 3)) + b"\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_outputs_to_object_storage_are_the_same_bytes(s3: Any, tmp_path: Path) -> None:
    s3.pipe("test-bucket/in/requests.jsonl", REQUESTS)
    args = ["-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline", *DAY, "-q"]
    local = tmp_path / "plan.json"
    code, _, err = run("estimate", str(EXAMPLES / "batch_requests.jsonl"), *args, "--format", "json", "-o", str(local))
    assert code == 0, err
    code, out, err = run("estimate", "s3://test-bucket/in/requests.jsonl", *args, "--format", "json",
                         "-o", "s3://test-bucket/out/plan.json", "--report", "s3://test-bucket/out/plan.html")  # fmt: skip
    assert code == 0 and out == "", err
    remote = json.loads(s3.cat("test-bucket/out/plan.json"))
    mine = json.loads(local.read_text())
    assert remote["files"][0]["path"] == "s3://test-bucket/in/requests.jsonl"
    remote["files"][0]["path"] = mine["files"][0]["path"]
    assert remote == mine
    assert s3.cat("test-bucket/out/plan.html").startswith(b"<!DOCTYPE html>")


def test_no_output_replaces_an_input_url(s3: Any) -> None:
    s3.pipe("test-bucket/in/requests.jsonl", REQUESTS)
    code, out, err = run(
        "validate", "s3://test-bucket/in/requests.jsonl", "-o", "s3a://test-bucket/in/./requests.jsonl"
    )
    assert code == 2 and out == ""
    assert "is also an input of this run (s3://test-bucket/in/requests.jsonl)" in err and err.count("\n") == 1
    assert s3.cat("test-bucket/in/requests.jsonl") == REQUESTS


def test_reconcile_reads_results_and_plan_from_object_storage(s3: Any, gcs: Any, tmp_path: Path) -> None:
    args = ["-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline", *DAY, "-q", "--format", "json"]
    code, plan, err = run("estimate", str(EXAMPLES / "batch_requests.jsonl"), *args)
    assert code == 0, err
    (tmp_path / "plan.json").write_text(plan)
    gcs.pipe("test-bucket/plan.json", plan.encode())
    s3.pipe("test-bucket/results.jsonl", RESULTS)
    rec = ["-m", "gemini-2.5-flash", *DAY, "--format", "json"]
    code, local, err = run("reconcile", str(EXAMPLES / "batch_results.jsonl"), "--plan", str(tmp_path / "plan.json"),
                           *rec)  # fmt: skip
    assert code in (0, 1), err
    code, remote, err = run("reconcile", "s3://test-bucket/results.jsonl", "--plan", "gs://test-bucket/plan.json",
                            *rec, "--report", "s3://test-bucket/reconciled.html")  # fmt: skip
    assert code in (0, 1), err
    assert (
        remote.replace("s3://test-bucket/results.jsonl", str(EXAMPLES / "batch_results.jsonl")).replace(
            "gs://test-bucket/plan.json", str(tmp_path / "plan.json")
        )
        == local
    )
    assert s3.exists("test-bucket/reconciled.html")


def test_calibrate_from_results_in_object_storage(s3: Any, tmp_path: Path) -> None:
    s3.pipe("test-bucket/past/results.jsonl", PAST)
    s3.pipe("test-bucket/past/requests.jsonl", REQUESTS)
    (tmp_path / "results.jsonl").write_bytes(PAST)
    args = ["-m", "gemini-2.5-flash", "--offline", *DAY, "-q", "--format", "json"]
    code, local, err = run("estimate", str(EXAMPLES / "batch_requests.jsonl"), *args, "--calibrate-from",
                           str(tmp_path / "results.jsonl"), str(EXAMPLES / "batch_requests.jsonl"))  # fmt: skip
    assert code == 0, err
    code, remote, err = run("estimate", str(EXAMPLES / "batch_requests.jsonl"), *args, "--calibrate-from",
                            "s3://test-bucket/past/results.jsonl", "s3://test-bucket/past/requests.jsonl")  # fmt: skip
    assert code == 0, err
    assert json.loads(local)["tokens"]["output"]["source"].startswith("calibrated on results.jsonl")
    swapped = remote.replace("s3://test-bucket/past/results.jsonl", str(tmp_path / "results.jsonl")).replace(
        "s3://test-bucket/past/requests.jsonl", str(EXAMPLES / "batch_requests.jsonl")
    )
    assert swapped == local


def test_a_missing_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    registry = importlib.import_module("fsspec.registry")._registry  # the backend classes imported so far
    monkeypatch.setitem(sys.modules, "adlfs", None)  # as if batchcost[azure] were not installed
    monkeypatch.delitem(registry, "az", raising=False)
    monkeypatch.delitem(registry, "abfs", raising=False)
    code, out, err = run("validate", "az://container/requests.jsonl")
    assert code == 2 and out == ""
    assert err == (
        "batchcost: error: az://container/requests.jsonl: reading az:// needs an optional extra: "
        "pip install 'batchcost[azure]'\n"
    )


def test_report_renders_a_plan_in_object_storage(gcs: Any, tmp_path: Path) -> None:
    args = ["-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline", *DAY, "-q", "--format", "json"]
    code, plan, err = run("estimate", str(EXAMPLES / "batch_requests.jsonl"), *args)
    assert code == 0, err
    gcs.pipe("test-bucket/plan.json", plan.encode())
    (tmp_path / "plan.json").write_text(plan)
    code, remote, err = run("report", "gs://test-bucket/plan.json", "--format", "markdown")
    assert code == 0, err
    assert remote == run("report", str(tmp_path / "plan.json"), "--format", "markdown")[1]
    code, _, err = run("report", "gs://test-bucket/missing.json", "--format", "markdown")
    assert code == 2 and "gs://test-bucket/missing.json: no such object" in err and err.count("\n") == 1
