"""`reconcile`: actual costs from results files against hand-computed figures, and the variance report."""

from __future__ import annotations

import datetime
import gzip
import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchcost.afterjob.reconcile import reconcile
from batchcost.batchfile.results import FAILED, OK, UNREADABLE, read_input_keys, read_results
from batchcost.errors import InputError, PricingError
from batchcost.reports.reconcile import render_text, variance_section
from tests.pricing.helpers import mtok, packaged_book

NOV27 = datetime.date(2026, 11, 27)


def usage(prompt: int, candidates: int = 0, thoughts: int = 0, **extra: Any) -> dict[str, Any]:
    u: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    if thoughts:
        u["thoughtsTokenCount"] = thoughts
    u.update(extra)
    return u


def ok_line(key: str | None, u: dict[str, Any], model: str = "gemini-2.5-flash", **extra: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "response": {
            "candidates": [{"content": {"parts": [{"text": "x"}], "role": "model"}, "finishReason": "STOP"}],
            "usageMetadata": u,
            "modelVersion": model,
        }
    }
    if key is not None:
        line["key"] = key
    line.update(extra)
    return line


def write_lines(path: Path, lines: list[Any], *, compress: bool = False) -> Path:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def mixed_lines() -> list[Any]:
    """Cached tokens, thoughts, audio details, tool-use tokens, errors under both field names, one bad line."""
    return [
        ok_line("plain", usage(1000, 200, 300)),
        ok_line(
            "cached",
            usage(
                5000,
                100,
                cachedContentTokenCount=4000,
                cacheTokensDetails=[{"modality": "TEXT", "tokenCount": 4000}],
                promptTokensDetails=[{"modality": "TEXT", "tokenCount": 5000}],
            ),
        ),
        ok_line(
            "audio",
            usage(
                3300,
                50,
                promptTokensDetails=[
                    {"modality": "TEXT", "tokenCount": 100},
                    {"modality": "AUDIO", "tokenCount": 3200},
                ],
            ),
        ),
        ok_line("tool", usage(200, 40, 10, toolUsePromptTokenCount=800)),
        {
            "key": "err-a",
            "error": {"code": 400, "message": "Request contains an invalid argument.", "status": "INVALID_ARGUMENT"},
        },
        {"key": "err-b", "status": {"code": 500, "message": "Internal error", "status": "INTERNAL"}},
        '{"key": "broken", "response": {',
    ]


# 2.5 Flash batch (genai-prices, Batch tab): input 0.15 (audio 0.50), cache read 0.03 (audio 0.10), output 1.25.
EXPECTED_INPUT = mtok("0.15", 1000) + mtok("0.15", 1000) + mtok("0.15", 100) + mtok("0.50", 3200) + mtok("0.15", 1000)
EXPECTED_CACHED = mtok("0.03", 4000)
EXPECTED_OUTPUT = mtok("1.25", 500 + 100 + 50 + 50)


def test_hand_computed_cost_with_cache_thoughts_audio_tool_use_and_errors(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "results.jsonl", mixed_lines())
    doc = reconcile(path, model="gemini-2.5-flash", run_date=NOV27).to_json()
    assert doc["schema"] == "batchcost.reconcile/1"
    assert (doc["requests"], doc["succeeded"], doc["failed"], doc["unreadable"]) == (6, 4, 2, 1)
    assert doc["failed_by_kind"] == {"400 INVALID_ARGUMENT": 1, "500 INTERNAL": 1}
    t = doc["tokens"]
    assert (t["prompt"], t["cached"], t["tool_use"], t["candidates"], t["thoughts"]) == (9500, 4000, 800, 390, 310)
    assert t["prompt_by_modality"]["audio"] == 3200
    assert t["cached_by_modality"]["text"] == 4000
    c = doc["cost"]
    assert Decimal(c["by_component"]["input"]) == EXPECTED_INPUT
    assert Decimal(c["by_component"]["cached_input"]) == EXPECTED_CACHED
    assert Decimal(c["by_component"]["output"]) == EXPECTED_OUTPUT
    assert Decimal(c["total"]) == EXPECTED_INPUT + EXPECTED_CACHED + EXPECTED_OUTPUT == Decimal("0.00306")
    d = {k: Decimal(v) for k, v in c["detail"].items()}
    assert d["tool_use_input"] == mtok("0.15", 800)
    assert d["thoughts_output"] == mtok("1.25", 310)
    assert d["candidates_output"] == mtok("1.25", 390)
    assert sum(d.values()) == Decimal(c["total"])
    assert Decimal(c["input_by_modality"]["audio"]) == mtok("0.50", 3200)
    # standard: input and output double, 2.5 Flash's cache read is the same in both modes
    std = Decimal(doc["modes"]["standard"]["total"])
    assert std == 2 * EXPECTED_INPUT + EXPECTED_CACHED + 2 * EXPECTED_OUTPUT
    [problem] = doc["problems"]
    assert problem["code"] == "not-json" and problem["line"] == 7 and problem["path"] == str(path)
    assert any("2 requests failed and not billed" in w for w in doc["warnings"])


def test_gzip_and_snake_case_give_the_same_figures(tmp_path: Path) -> None:
    plain = reconcile(write_lines(tmp_path / "a.jsonl", mixed_lines()), model="gemini-2.5-flash", run_date=NOV27)
    gz = reconcile(
        write_lines(tmp_path / "a.jsonl.gz", mixed_lines(), compress=True), model="gemini-2.5-flash", run_date=NOV27
    )
    assert gz.to_json()["cost"] == plain.to_json()["cost"]
    assert gz.to_json()["files"][0]["compressed"] is True
    snake = {
        "key": "s",
        "response": {
            "usage_metadata": {
                "prompt_token_count": 1000,
                "candidates_token_count": 200,
                "thoughts_token_count": 300,
                "prompt_tokens_details": [{"modality": "TEXT", "token_count": 1000}],
            }
        },
    }
    doc = reconcile(write_lines(tmp_path / "s.jsonl", [snake]), model="gemini-2.5-flash", run_date=NOV27).to_json()
    assert Decimal(doc["cost"]["total"]) == mtok("0.15", 1000) + mtok("1.25", 500)


def test_tier_above_200k_is_per_request_and_covers_cached_and_output(tmp_path: Path) -> None:
    # 2.5 Pro batch: <=200k input 0.625, cache 0.125, output 5; >200k input 1.25, cache 0.25, output 7.5
    lines = [
        ok_line("at", usage(200_000, 1000), model="gemini-2.5-pro"),
        ok_line(
            "over",
            usage(200_001, 1000, 500, cachedContentTokenCount=100_000),
            model="gemini-2.5-pro",
        ),
    ]
    doc = reconcile(write_lines(tmp_path / "t.jsonl", lines), model="gemini-2.5-pro", run_date=NOV27).to_json()
    assert doc["requests_above_threshold"] == 1
    expected = (
        mtok("0.625", 200_000) + mtok("5", 1000) + mtok("1.25", 100_001) + mtok("0.25", 100_000) + mtok("7.5", 1500)
    )
    assert Decimal(doc["cost"]["total"]) == expected
    tiers = {(p["component"], p["tier"]) for p in doc["prices"]}
    assert ("output", ">200,000") in tiers and ("input", "<=200,000") in tiers


def test_tool_use_tokens_count_toward_the_tier(tmp_path: Path) -> None:
    line = ok_line("t", usage(150_000, 10, toolUsePromptTokenCount=60_000), model="gemini-2.5-pro")
    doc = reconcile(write_lines(tmp_path / "t.jsonl", [line]), model="gemini-2.5-pro", run_date=NOV27).to_json()
    assert doc["requests_above_threshold"] == 1
    assert Decimal(doc["cost"]["total"]) == mtok("1.25", 210_000) + mtok("7.5", 10)


def test_vertex_lines_response_and_status(tmp_path: Path) -> None:
    req = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generation_config": {"max_output_tokens": 64}}
    lines = [
        {"status": "", "processed_time": "2026-11-27T10:00:00Z", "request": req,
         "response": {"usageMetadata": usage(120, 30, 20), "modelVersion": "gemini-2.5-flash-001"}},
        {"status": "Bad Request: {\"error\": {\"code\": 400}}", "processed_time": "2026-11-27T10:00:01Z", "request": req},
    ]  # fmt: skip
    path = write_lines(tmp_path / "vertex.jsonl", lines)
    rs = read_results(path)
    assert rs.form == "vertex"
    assert list(rs.rows["status"]) == [OK, FAILED]
    assert int(rs.rows["max_output_tokens"][0]) == 64 and int(rs.rows["has_request"][0]) == 1
    assert rs.problems == []  # no "key-missing" noise on Vertex lines
    doc = reconcile(rs, model="gemini-2.5-flash", run_date=NOV27).to_json()
    assert (doc["succeeded"], doc["failed"]) == (1, 1)
    assert Decimal(doc["cost"]["total"]) == mtok("0.15", 120) + mtok("1.25", 50)
    assert not any("produced by" in w for w in doc["warnings"])  # -001 is the same model


def test_problems_name_file_line_and_fix(tmp_path: Path) -> None:
    lines = [
        '["not", "an", "object"]',
        "{nope",
        {"key": "a", "request": {"contents": []}},
        {"key": "b", "response": {"candidates": []}},
        {"key": "c", "response": {"usageMetadata": {"promptTokenCount": "lots"}}},
        ok_line("d", usage(10, 1)),
        ok_line("d", usage(10, 1)),
        "",
    ]
    path = write_lines(tmp_path / "p.jsonl", lines)
    rs = read_results(path)
    by_code = {p.code: p for p in rs.problems}
    assert {c: by_code[c].line for c in by_code} == {
        "not-object": 1,
        "not-json": 2,
        "not-a-result": 3,
        "no-usage": 4,
        "bad-usage": 5,
        "key-duplicate": 7,
        "blank-line": 8,
    }
    assert str(by_code["not-a-result"]).startswith(f"{path}:3: error: ")
    assert "INPUT file" in by_code["not-a-result"].message
    assert "line 6" in by_code["key-duplicate"].message
    assert rs.succeeded == 2 and rs.errors == 5
    assert int((rs.rows["status"] == UNREADABLE).sum()) == 6


def test_cut_off_last_line_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text(json.dumps(ok_line("a", usage(5, 1))) + '\n{"key": "b", "response": {"usageMeta')
    rs = read_results(path)
    assert [(p.code, p.line) for p in rs.problems] == [("truncated", 2)]
    assert "download the results again" in rs.problems[0].message


def test_empty_and_missing_files_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="empty"):
        read_results(tmp_path / "empty.jsonl")
    with pytest.raises(InputError, match="no such file"):
        read_results(tmp_path / "missing.jsonl")


def test_inconsistent_details_are_repaired_and_reported(tmp_path: Path) -> None:
    # details short of the total: the rest is text; cached tokens without a split come from text first
    u = usage(
        1000,
        10,
        cachedContentTokenCount=600,
        promptTokensDetails=[{"modality": "AUDIO", "tokenCount": 300}, {"modality": "TEXT", "tokenCount": 500}],
    )
    rs = read_results(write_lines(tmp_path / "r.jsonl", [ok_line("k", u)]))
    r = rs.rows
    assert (int(r["prompt_text"][0]), int(r["prompt_audio"][0])) == (700, 300)
    assert (int(r["cached_text"][0]), int(r["cached_audio"][0])) == (600, 0)
    assert [p.code for p in rs.problems] == ["usage-inconsistent"]
    doc = reconcile(rs, model="gemini-2.5-flash", run_date=NOV27).to_json()
    expected = mtok("0.15", 100) + mtok("0.50", 300) + mtok("0.03", 600) + mtok("1.25", 10)
    assert Decimal(doc["cost"]["total"]) == expected


def test_keys_not_in_input_and_input_keys_without_result(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    req = {"contents": [{"parts": [{"text": "x"}]}]}
    write_lines(requests, [{"key": k, "request": req} for k in ("a", "b", "c")])
    results = write_lines(tmp_path / "results.jsonl", [ok_line("a", usage(5, 1)), ok_line("zzz", usage(5, 1))])
    doc = reconcile(results, model="gemini-2.5-flash", run_date=NOV27, requests=[str(requests)]).to_json()
    keys = doc["keys"]
    assert keys["checked"] is True
    assert keys["not_in_input"] == ["zzz"] and keys["without_result"] == ["b", "c"]
    assert keys["without_result_count"] == 2
    assert read_input_keys(requests).keys == ["a", "b", "c"]


def test_model_mismatch_is_a_warning_and_missing_model_an_error(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", [ok_line("a", usage(5, 1), model="gemini-3.8-flash")])
    doc = reconcile(path, model="gemini-2.5-flash", run_date=NOV27).to_json()
    assert any("produced by 'gemini-3.8-flash'" in w for w in doc["warnings"])
    assert reconcile(path, run_date=NOV27).model == "gemini-3.8-flash"  # from modelVersion
    bare = write_lines(tmp_path / "bare.jsonl", [{"key": "a", "response": {"usageMetadata": usage(5, 1)}}])
    with pytest.raises(PricingError, match="pass --model"):
        reconcile(bare, run_date=NOV27)


# -- variance -----------------------------------------------------------------------------------


def plan_doc(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": "batchcost.plan/1",
        "run_date": "2026-11-27",
        "model": "gemini-2.5-flash",
        "billed_model": "gemini-2.5-flash",
        "requests": 6,
        "files": [],
        "validation": {"valid": True, "errors": 0, "warnings": 0, "blocking": False},
        "prices": [],
        "tokens": {
            "input": {"expected": 9000, "low": 8500, "high": 9600},
            "output": {"ceiling": 50_000, "expected": 1200, "low": 1000, "high": 1400, "source": "--output-tokens"},
        },
        "cost": {
            "batch": {"floor": "0.00135", "expected": "0.00285", "low": "0.0026", "high": "0.0030", "ceiling": "0.064"},
            "standard": {"floor": "0.0027", "expected": "0.0057", "low": "0.0052", "high": "0.0062", "ceiling": "0.13"},
        },
    }
    doc.update(over)
    return doc


def test_variance_components_ratio_interval_and_contributors(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", mixed_lines())
    doc = reconcile(path, model="gemini-2.5-flash", plan=plan_doc()).to_json()
    assert doc["run_date"] == "2026-11-27" and doc["run_date_source"] == "plan"
    v = doc["variance"]
    comp = {c["component"]: c for c in v["components"]}
    assert comp["input"]["actual"] == 9500 and comp["input"]["ratio"] == round(9500 / 9000, 4)
    assert comp["input"]["inside_interval"] is True
    assert comp["output"]["actual"] == 700 and comp["output"]["inside_interval"] is False
    assert comp["cached"]["estimated"] is None and comp["cached"]["actual"] == 4000
    assert comp["thinking"]["actual"] == 310 and comp["thinking"]["basis"].startswith("not estimated")
    total = Decimal("0.00306")
    assert comp["cost"]["actual"] == str(total) and comp["cost"]["inside_interval"] is False
    assert comp["cost"]["ratio"] == round(float(total / Decimal("0.00285")), 4)
    assert Decimal(v["difference"]) == total - Decimal("0.00285")
    parts = {c["name"]: Decimal(c["usd"]) for c in v["contributors"]}
    # uncached input: all prompt + tool-use tokens at input rates (audio at 0.50)
    uncached = mtok("0.15", 6300 + 800) + mtok("0.50", 3200)
    assert parts["input tokens"] == uncached - mtok("0.15", 800) - Decimal("0.00135")
    assert parts["tool-use tokens"] == mtok("0.15", 800)
    assert parts["context cache hits"] == mtok("0.03", 4000) - mtok("0.15", 4000)
    assert parts["output tokens"] == mtok("1.25", 700) - (Decimal("0.00285") - Decimal("0.00135"))
    assert sum(parts.values()) == Decimal(v["difference"])
    names = [c["name"] for c in v["contributors"]]
    assert names == sorted(names, key=lambda n: -abs(parts[n]))
    assert v["requests"] == {"estimated": 6, "results": 6, "succeeded": 4, "failed": 2}
    section = variance_section(doc)
    assert section is not None and section["rows"][0]["cells"][0] == "input"
    assert {r["status"] for r in section["rows"]} == {"inside", "outside", "unknown"}
    text = render_text(doc, verbose=True)
    assert "Estimate vs actual" in text and "Largest contributors" in text


def test_price_change_between_plan_and_run_date_is_its_own_contributor(tmp_path: Path) -> None:
    # 3.8 Flash batch doubles on 2027-01-01 (0.375 -> 0.75 input, 1.875 -> 3.75 output)
    path = write_lines(tmp_path / "r.jsonl", [ok_line("a", usage(10_000, 1000), model="gemini-3.8-flash")])
    plan = plan_doc(
        model="gemini-3.8-flash",
        run_date="2026-12-30",
        tokens={"input": {"expected": 10_000, "low": 10_000, "high": 10_000}, "output": {"ceiling": 9000, "expected": 1000, "low": 1000, "high": 1000}},
        cost={"batch": {"floor": "0.00375", "expected": "0.005625", "low": "0.005625", "high": "0.005625", "ceiling": "0.02"}},
    )  # fmt: skip
    doc = reconcile(path, plan=plan, run_date=datetime.date(2027, 1, 2)).to_json()
    v = doc["variance"]
    parts = {c["name"]: Decimal(c["usd"]) for c in v["contributors"]}
    assert parts == {"prices": Decimal("0.005625")}
    assert Decimal(doc["cost"]["total"]) == mtok("0.75", 10_000) + mtok("3.75", 1000)


def test_plan_without_output_expectation_uses_floor_and_ceiling(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", [ok_line("a", usage(1000, 100))])
    plan = plan_doc(
        tokens={"input": {"expected": 1000, "low": 1000, "high": 1000}, "output": {"ceiling": 5000, "expected": None}},
        cost={"batch": {"floor": "0.00015", "expected": None, "low": None, "high": None, "ceiling": "0.00640"}},
    )
    v = reconcile(path, plan=plan, run_date=NOV27).to_json()["variance"]
    comp = {c["component"]: c for c in v["components"]}
    assert comp["output"]["basis"] == "ceiling" and comp["output"]["inside_interval"] is True
    assert comp["cost"]["basis"] == "floor-ceiling" and comp["cost"]["inside_interval"] is True
    assert v["difference_basis"] == "floor"
    assert {c["name"]: Decimal(c["usd"]) for c in v["contributors"]} == {"output tokens": mtok("1.25", 100)}


def test_plan_file_checks_and_input_keys_from_the_plan(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something/1"}')
    results = write_lines(tmp_path / "r.jsonl", [ok_line("a", usage(5, 1))])
    with pytest.raises(InputError, match="not a batchcost plan"):
        reconcile(results, plan=bad, model="gemini-2.5-flash")
    requests = write_lines(tmp_path / "in.jsonl", [{"key": "a", "request": {"contents": [{"parts": [{"text": "x"}]}]}}])
    plan = plan_doc(files=[{"path": "in.jsonl", "sha256": "0" * 64}])
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan))
    doc = reconcile(results, plan=plan_path).to_json()
    assert doc["keys"]["inputs"] == [str(requests)]
    assert doc["keys"]["not_in_input_count"] == 0 and doc["keys"]["without_result_count"] == 0
    assert any("changed since the plan" in w for w in doc["warnings"])
    assert doc["variance"]["plan"] == str(plan_path)


def test_json_contract_fields(tmp_path: Path) -> None:
    doc = reconcile(
        write_lines(tmp_path / "r.jsonl", mixed_lines()), model="gemini-2.5-flash", run_date=NOV27
    ).to_json()
    for key in ("schema", "requests", "failed", "tokens", "cost", "variance", "keys", "warnings", "prices"):
        assert key in doc
    assert set(doc["tokens"]) >= {"prompt", "cached", "tool_use", "candidates", "thoughts"}
    assert set(doc["cost"]["by_component"]) == {"input", "cached_input", "output"}
    for value in [doc["cost"]["total"], *doc["cost"]["by_component"].values()]:
        Decimal(value)  # exact decimal strings
    json.dumps(doc)
    assert packaged_book().resolve(doc["billed_model"])[0] == "gemini-2.5-flash"


def test_cut_off_gzip_keeps_every_complete_line(tmp_path: Path) -> None:
    import random

    rnd = random.Random(1)
    lines = [
        ok_line(f"k{i}", usage(100 + i, 5)) | {"pad": "".join(rnd.choice("abcdefgh ") for _ in range(300))}
        for i in range(2000)
    ]
    data = gzip.compress("".join(json.dumps(x) + "\n" for x in lines).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    whole = zlib.decompressobj(31).decompress(data[: len(data) // 2])
    complete = whole.count(b"\n")
    rs = read_results(path)
    assert rs.succeeded == complete > 0
    [problem] = rs.problems
    assert problem.code == "gzip-corrupt" and problem.line == complete + 1
    assert "download the results again" in problem.message
