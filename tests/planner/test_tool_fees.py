"""Tool fees (Grounding with Google Search and Maps) in the estimate, the calibration and the reconcile.

Every fee is hand-computed: units x USD per 1,000 / 1,000.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batchcost.afterjob.calibrate import calibrate_from
from batchcost.afterjob.reconcile import reconcile
from batchcost.documents import load
from batchcost.reports.markdown import render_plan_markdown
from batchcost.reports.plan_text import render_plan_screen
from batchcost.reports.reconcile import render_text
from tests.planner.estimating import run_estimate, text_req, write

DEC4 = datetime.date(2026, 12, 4)
ENDS = ("expected", "low", "high")


def searching(text: str, tool: str = "googleSearch") -> dict[str, Any]:
    r = text_req(text, maxOutputTokens=100, thinkingConfig={"thinkingBudget": 0})
    r["tools"] = [{tool: {}}]
    return r


def components_sum(doc: dict[str, Any], mode: str) -> None:
    """``by_component`` adds up to the mode's expected, low and high."""
    c = doc["cost"][mode]
    for end in ENDS:
        parts = [Decimal(p[end]) for p in c["by_component"].values()]
        assert sum(parts, Decimal(0)) == Decimal(c[end]), (mode, end)


def test_gemini_3_file_1000_requests_2_queries_each_is_28_dollars(tmp_path: Path) -> None:
    path = write(tmp_path / "g3.jsonl", [searching(f"Find the capital of country {i}") for i in range(1000)])
    doc = run_estimate(path, "gemini-3.8-flash", run_date=DEC4, output_tokens=50, search_queries=2)
    load(doc)  # the contract holds
    batch = doc["cost"]["batch"]
    # 1,000 requests x 2 queries = 2,000 queries x $14 / 1,000 (batch assumed not discounted)
    assert batch["by_component"]["tool_fees"] == {"expected": "28", "low": "28", "high": "28"}
    assert doc["cost"]["standard"]["by_component"]["tool_fees"]["expected"] == "28"
    for mode in ("standard", "batch", "flex", "priority"):
        components_sum(doc, mode)
    tokens_only = Decimal(batch["by_component"]["input"]["expected"]) + Decimal(
        batch["by_component"]["output"]["expected"]
    )
    assert Decimal(batch["expected"]) == tokens_only + 28
    assert Decimal(batch["floor"]) == Decimal(batch["by_component"]["input"]["expected"]) + 28
    tools = doc["tools"]
    assert tools["requests"] == {"google_search": 1000, "google_maps": 0}
    assert tools["per_request"]["search_queries"]["expected"] == "2" and tools["assumed"] is False
    fee = tools["fees"]["batch"][0]
    assert (fee["unit"], fee["units"]["expected"], fee["usd_per_1k"]) == ("search query", "2000", "14")
    assert fee["mode_factor"] == "1" and fee["mode_factor_assumed"] is True and fee["free_units_subtracted"] is None
    assert "5,000" in fee["free_allowance"]
    assert not any("per-query fees are not included" in w for w in doc["warnings"])
    # the shards carry the fee too (spend caps count it): their total is the plan's
    assert doc["shards"]["totals"]["cost"] == batch["expected"]
    screen = render_plan_screen(doc, width=200)
    assert "1,000 requests x 2 search queries = 2,000 search queries x $14.00/1k = $28.00" in screen
    assert "not subtracted" in screen
    assert "**Tool fees (batch)**" in render_plan_markdown(doc)
    from batchcost.reports.html import write_report

    write_report(doc, str(tmp_path / "plan.html"), format="html")
    html = (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert "Tool fees (batch)" in html and "2,000 search queries x $14.00/1k = $28.00" in html


def test_free_queries_left_are_subtracted_only_when_given(tmp_path: Path) -> None:
    path = write(tmp_path / "g3.jsonl", [searching(f"Question {i}") for i in range(1000)])
    doc = run_estimate(path, "gemini-3.8-flash", run_date=DEC4, output_tokens=50, search_queries=2,
                       search_free_queries=500)  # fmt: skip
    # (2,000 - 500) queries x $14 / 1,000 = $21
    assert doc["cost"]["batch"]["by_component"]["tool_fees"]["expected"] == "21"
    assert doc["tools"]["fees"]["batch"][0]["free_units_subtracted"] == 500
    assert "500 subtracted" in render_plan_screen(doc, width=200)


def test_gemini_2_5_is_priced_per_grounded_prompt(tmp_path: Path) -> None:
    path = write(tmp_path / "g25.jsonl", [searching(f"Question {i}") for i in range(200)])
    doc = run_estimate(path, "gemini-2.5-flash-lite", output_tokens=20, search_queries=3)
    fee = doc["tools"]["fees"]["batch"][0]
    # 3 queries make one grounded prompt: 200 prompts x $35 / 1,000 = $7
    assert (fee["unit"], fee["units"]["expected"], fee["usd"]["expected"]) == ("grounded prompt", "200", "7")
    assert doc["cost"]["batch"]["by_component"]["tool_fees"]["high"] == "7"
    components_sum(doc, "batch")


def test_mixed_file_prices_only_the_requests_with_the_tool_at_the_floor(tmp_path: Path) -> None:
    reqs = [searching(f"Q {i}") if i % 4 == 0 else text_req(f"Q {i}", maxOutputTokens=100) for i in range(100)]
    reqs[1] = searching("Where is the nearest station?", tool="googleMaps")
    path = write(tmp_path / "mixed.jsonl", reqs)
    doc = run_estimate(path, "gemini-3.8-flash", run_date=DEC4)
    # no expectation: 1 query per request with Search, a floor: 25 x $14 / 1,000 = $0.35
    assert doc["tools"]["requests"] == {"google_search": 25, "google_maps": 1}
    assert doc["tools"]["assumed"] is True
    assert doc["cost"]["batch"]["by_component"]["tool_fees"]["expected"] == "0.35"
    assert doc["cost"]["batch"]["expected"] is None  # the output is unknown
    assert Decimal(doc["cost"]["batch"]["floor"]) == Decimal(
        doc["cost"]["batch"]["by_component"]["input"]["expected"]
    ) + Decimal("0.35")
    assert any("priced at 1 search query" in w and "a floor" in w for w in doc["warnings"])
    # Maps has no published fee for Gemini 3.8 Flash: said, never $0 silently
    assert any("Google Maps" in w and "not included" in w for w in doc["warnings"])
    assert "input and tool fees" in render_plan_screen(doc)


def test_maps_fee_on_2_5_pro(tmp_path: Path) -> None:
    path = write(tmp_path / "maps.jsonl", [searching(f"Q {i}", tool="google_maps") for i in range(40)])
    doc = run_estimate(path, "gemini-2.5-pro", output_tokens=10)
    fee = doc["tools"]["fees"]["batch"][0]
    # 40 grounded prompts x $25 / 1,000 = $1
    assert (fee["tool"], fee["units"]["expected"], fee["usd"]["expected"]) == ("google_maps", "40", "1")


def test_a_rate_override_and_a_batch_discount_from_a_price_file(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "models:\n"
        "  gemini-3.8-flash:\n"
        "    grounding: {fee_per_1k: '10'}\n"
        "tool_fees:\n"
        "  modes:\n"
        "    batch: {factor: '0.5', note: 'negotiated: half price in batch'}\n",
        encoding="utf-8",
    )
    path = write(tmp_path / "g3.jsonl", [searching(f"Q {i}") for i in range(1000)])
    doc = run_estimate(path, "gemini-3.8-flash", run_date=DEC4, output_tokens=5, search_queries=2,
                       prices=[str(prices)])  # fmt: skip
    # standard: 2,000 x $10 / 1,000 = $20; batch: x 0.5 = $10
    assert doc["cost"]["standard"]["by_component"]["tool_fees"]["expected"] == "20"
    assert doc["cost"]["batch"]["by_component"]["tool_fees"]["expected"] == "10"
    fee = doc["tools"]["fees"]["batch"][0]
    assert fee["mode_factor"] == "0.5" and fee["mode_factor_assumed"] is False
    assert "prices.yaml" in fee["source"]
    assert fee["unit"] == "search query"  # the unit is kept when only the fee is overridden


def _result(key: str, queries: int, tool_tokens: int, model: str = "gemini-3.8-flash") -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"parts": [{"text": "x"}], "role": "model"}, "finishReason": "STOP"}
    if queries:
        cand["groundingMetadata"] = {
            "webSearchQueries": [f"q{j}" for j in range(queries)],
            "groundingChunks": [{"web": {"uri": "https://example.com"}}],
        }
    usage = {"promptTokenCount": 100, "candidatesTokenCount": 10, "toolUsePromptTokenCount": tool_tokens}
    return {"key": key, "response": {"candidates": [cand], "usageMetadata": usage, "modelVersion": model}}


def _write_results(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


def test_results_with_known_queries_reconcile_and_calibrate(tmp_path: Path) -> None:
    # 4 requests with Search issue 1, 2, 3 and 0 queries; 2 without the tool
    reqs = [searching(f"Q {i}") for i in range(4)] + [text_req("plain", maxOutputTokens=100) for _ in range(2)]
    requests = write(tmp_path / "in.jsonl", reqs)
    results = _write_results(
        tmp_path / "out.jsonl",
        [_result("k0", 1, 300), _result("k1", 2, 500), _result("k2", 3, 700), _result("k3", 0, 0),
         _result("k4", 0, 0), _result("k5", 0, 0)],
    )  # fmt: skip
    rec = reconcile(results, model="gemini-3.8-flash", run_date=DEC4, requests=[str(requests)])
    doc = rec.to_json()
    # 6 queries x $14 / 1,000 = $0.084, beside the token cost
    assert doc["cost"]["by_component"]["tool_fees"] == "0.084"
    assert doc["cost"]["detail"]["tool_fees"] == "0.084"
    assert doc["tokens"]["tool_units"] == {"search_queries": 6}
    assert sum(Decimal(v) for v in doc["cost"]["detail"].values()) == Decimal(doc["cost"]["total"])
    assert "tool fees" in render_text(doc, verbose=True)
    # per result line: $0.014 a query and its tool-result tokens at $0.375/M on top of the tokens k4 has
    # too, and the column sums to the total
    table = rec.requests()
    assert table["cost_batch_usd"].sum() == pytest.approx(float(Decimal(doc["cost"]["total"])), abs=1e-12)
    more = table["cost_batch_usd"] - table["cost_batch_usd"].iloc[4]
    want = [0.014 + 300 * 0.375e-6, 0.028 + 500 * 0.375e-6, 0.042 + 700 * 0.375e-6, 0.0]
    assert more.iloc[:4].tolist() == pytest.approx(want, abs=1e-12)

    model = calibrate_from(str(results), str(requests), model="gemini-3.8-flash")
    use = model.tool_use
    assert use is not None and use.search_requests == 4
    assert use.queries.expected == pytest.approx(1.5)  # (1 + 2 + 3 + 0) / 4
    assert use.grounded.expected == pytest.approx(0.75)
    assert use.tool_tokens.expected == pytest.approx(375.0)  # (300 + 500 + 700 + 0) / 4
    assert use.queries.low < 1.5 < use.queries.high

    # the next estimate: 100 requests with Search x 1.5 queries = 150 x $14 / 1,000 = $2.10
    new = write(tmp_path / "next.jsonl", [searching(f"N {i}") for i in range(100)])
    plan = run_estimate(new, "gemini-3.8-flash", run_date=DEC4, calibrate_from=[str(results), str(requests)])
    assert plan["cost"]["batch"]["by_component"]["tool_fees"]["expected"] == "2.1"
    assert plan["tools"]["per_request"]["tool_result_tokens"]["expected"] == "375"
    assert plan["tools"]["source"].startswith("learnt from out.jsonl")
    components_sum(plan, "batch")
    # tool-result tokens: 100 x 375 at the batch text input rate, in the input part
    plain = run_estimate(new, "gemini-3.8-flash", run_date=DEC4, output_tokens=10, search_queries=1.5)
    learnt_in = Decimal(plan["cost"]["batch"]["by_component"]["input"]["expected"])
    plain_in = Decimal(plain["cost"]["batch"]["by_component"]["input"]["expected"])
    assert learnt_in - plain_in == Decimal(100 * 375) * Decimal("0.375") / 1_000_000


def test_tool_use_from_responses_whose_requests_are_known(tmp_path: Path) -> None:
    """The pilot's route: the requests' flags are known, so a request that did not search counts."""
    from batchcost.afterjob.tool_use import learn_tool_use
    from batchcost.batchfile.request import FLAG_GOOGLE_MAPS, FLAG_GOOGLE_SEARCH
    from batchcost.batchfile.results import read_results

    results = _write_results(
        tmp_path / "out.jsonl", [_result("k0", 4, 100), _result("k1", 0, 0), _result("k2", 0, 0), _result("k3", 2, 50)]
    )
    rs = read_results([str(results)])
    flags = np.array([FLAG_GOOGLE_SEARCH, FLAG_GOOGLE_SEARCH, 0, FLAG_GOOGLE_SEARCH | FLAG_GOOGLE_MAPS], np.int64)
    use = learn_tool_use(rs, flags, "the pilot's responses")
    assert use is not None and use.search_requests == 3 and use.maps_requests == 1
    assert use.queries.expected == pytest.approx(2.0)  # (4 + 0 + 2) / 3
    assert use.grounded.expected == pytest.approx(2 / 3)
    assert use.maps_grounded is not None and use.maps_grounded.expected == 0.0
    assert not use.warnings
    # without the requests, only results that show grounding count, and a warning says the mean errs high
    blind = learn_tool_use(rs, None, "out.jsonl")
    assert blind is not None and blind.queries.expected == pytest.approx(3.0) and blind.warnings


def test_per_prompt_results_count_grounded_prompts(tmp_path: Path) -> None:
    results = _write_results(
        tmp_path / "out.jsonl",
        [_result("k0", 3, 10, "gemini-2.5-flash-lite"), _result("k1", 1, 10, "gemini-2.5-flash-lite"),
         _result("k2", 0, 0, "gemini-2.5-flash-lite")],
    )  # fmt: skip
    doc = reconcile(results, model="gemini-2.5-flash-lite", run_date=datetime.date(2026, 11, 27)).to_json()
    # 2 grounded prompts x $35 / 1,000 = $0.07
    assert doc["tokens"]["tool_units"] == {"search_grounded_prompts": 2}
    assert doc["cost"]["by_component"]["tool_fees"] == "0.07"


def test_a_file_without_tools_has_no_tool_section_and_zero_tool_fees(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.jsonl", [text_req(f"Q {i}", maxOutputTokens=10) for i in range(10)])
    doc = run_estimate(path, "gemini-3.8-flash", run_date=DEC4, output_tokens=5)
    assert doc["tools"] is None
    assert doc["cost"]["batch"]["by_component"]["tool_fees"] == {"expected": "0", "low": "0", "high": "0"}
    components_sum(doc, "batch")


def test_a_bad_tool_fee_entry_in_a_price_file_names_its_place(tmp_path: Path) -> None:
    from batchcost.errors import PricingError
    from batchcost.pricing import PriceBook

    prices = tmp_path / "bad.yaml"
    prices.write_text(
        "tool_fees:\n  modes:\n    batch: {factor: half}\n  google_maps:\n    - {models: [gemini-3.8-flash], unit: call}\n",
        encoding="utf-8",
    )
    with pytest.raises(PricingError) as err:
        PriceBook.load(str(prices))
    text = str(err.value)
    assert "tool_fees.modes.batch.factor" in text and "half" in text
    assert "tool_fees.google_maps[0].unit" in text


def test_prices_lists_the_maps_fee_beside_the_search_fee() -> None:
    from batchcost.pricing import PriceBook

    rows = PriceBook.load().rows(datetime.date(2026, 11, 27), ["gemini-2.5-pro"])
    found = {r.component: (r.usd, r.unit) for r in rows if "grounding" in r.component}
    assert found == {
        "grounding": (Decimal("35"), "USD/1k grounded prompts"),
        "maps_grounding": (Decimal("25"), "USD/1k grounded prompts"),
    }


def test_reconcile_against_a_plan_shows_the_tool_fees_beside_the_estimate(tmp_path: Path) -> None:
    requests = write(tmp_path / "in.jsonl", [searching(f"Q {i}") for i in range(4)])
    plan = run_estimate(requests, "gemini-3.8-flash", run_date=DEC4, output_tokens=10, search_queries=2)
    # estimated: 4 x 2 = 8 queries, $0.112; actual: 1 + 2 + 3 + 0 = 6 queries, $0.084
    assert plan["cost"]["batch"]["by_component"]["tool_fees"]["expected"] == "0.112"
    results = _write_results(
        tmp_path / "out.jsonl", [_result("k0", 1, 0), _result("k1", 2, 0), _result("k2", 3, 0), _result("k3", 0, 0)]
    )
    doc = reconcile(results, plan=plan, run_date=DEC4).to_json()
    fees = next(c for c in doc["variance"]["components"] if c["component"] == "tool_fees")
    assert (fees["estimated"]["expected"], fees["actual"], fees["difference"]) == ("0.112", "0.084", "-0.028")
    assert fees["inside_interval"] is False
    parts = {c["name"]: Decimal(c["usd"]) for c in doc["variance"]["contributors"]}
    assert parts["tool fees"] == Decimal("-0.028")
    assert sum(parts.values()) == Decimal(doc["variance"]["difference"])
    assert "tool_fees" in render_text(doc, verbose=True)


def test_plan_and_shard_price_the_search_queries_given(tmp_path: Path) -> None:
    import io

    from batchcost.cli import main

    path = write(tmp_path / "g3.jsonl", [searching(f"Find the capital of country {i}") for i in range(1000)])

    def run(*argv: str) -> dict[str, Any]:
        out, err = io.StringIO(), io.StringIO()
        common = ("--model", "gemini-3.8-flash", "--run-date", "2026-12-04", "--offline", "--output-tokens", "50")
        assert main([*argv, *common], stdout=out, stderr=err) in (0, 1), err.getvalue()
        return json.loads(out.getvalue())

    def shards_cost(doc: dict[str, Any]) -> Decimal:
        return Decimal(doc["shards"]["totals"]["cost"])

    one = shards_cost(run("plan", str(path), "--format", "json"))
    three = shards_cost(run("plan", str(path), "--format", "json", "--search-queries", "3"))
    # 1,000 requests x 2 more queries x $14 / 1,000 (batch assumed not discounted) = $28 more
    assert three - one == Decimal(28)
    # the free allowance left is taken off the job's fee, not off each shard's
    free = shards_cost(
        run("plan", str(path), "--format", "json", "--search-queries", "3", "--search-free-queries", "500")
    )
    assert free == three
    manifest_dir = tmp_path / "shards"
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["shard", str(path), "--out", str(manifest_dir), "--model", "gemini-3.8-flash", "--run-date", "2026-12-04",
         "--offline", "--output-tokens", "50", "--search-queries", "3"],
        stdout=out, stderr=err,
    )  # fmt: skip
    assert code == 0, err.getvalue()
    manifest = json.loads((manifest_dir / "manifest.json").read_text())
    assert sum(Decimal(s["cost"]) for s in manifest["shards"]) == three
