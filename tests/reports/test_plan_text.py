"""The estimate screen: the answer first, in plain words, on one screen; one money format."""

from __future__ import annotations

import copy
import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchcost.money import money, money_column
from batchcost.planner.estimate import EstimateOptions, estimate
from batchcost.reports.plan_text import MAX_LINES, compare_rows, duration, render_plan_screen

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DAY = datetime.date(2026, 11, 27)


def plan_for(path: Path, model: str, **kw: Any) -> dict[str, Any]:
    opts = EstimateOptions(run_date=DAY, offline=True, **kw)
    return estimate([path], model=model, options=opts).to_json()


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    return plan_for(EXAMPLES / "batch_requests.jsonl", "gemini-2.5-flash", output_tokens=800)


@pytest.fixture(scope="module")
def compared() -> dict[str, Any]:
    return plan_for(
        EXAMPLES / "batch_requests.jsonl", "gemini-3.8-flash", output_tokens=800,
        compare=["gemini-2.5-flash-lite", "gemini-2.5-flash"],
    )  # fmt: skip


def test_money_is_cents_from_a_dollar_and_two_significant_digits_below() -> None:
    assert [money(v) for v in ("1.4749", "12345.678", "0.7373", "0.00300435", "0.00001", "0", None)] == [
        "$1.47", "$12,345.68", "$0.74", "$0.0030", "<$0.0001", "$0", "-",
    ]  # fmt: skip
    assert money(Decimal("-0.5")) == "-$0.50"


def test_a_column_shares_one_precision_and_tells_rows_apart() -> None:
    assert money_column(["1.47", "0.7373", "2.65"]) == ["$1.47", "$0.74", "$2.65"]
    assert money_column(["50", "0.8481"]) == ["$50.00", "$0.85"]
    assert money_column(["0.0451", "0.0452"]) == ["$0.0451", "$0.0452"]  # two digits would print them alike
    assert money_column(["0.0045", "0.0162", "0.00001"]) == ["$0.0045", "$0.0162", "<$0.0001"]


def test_time_reads_in_hours_up_to_two_days_then_days() -> None:
    assert [duration(h) for h in (24, 48, 72, 624, 1248)] == ["24 h", "48 h", "about 3 days", "about 26 days",
                                                                "about 52 days"]  # fmt: skip


def test_default_screen_puts_the_answer_first_in_order(small: dict[str, Any]) -> None:
    lines = render_plan_screen(small).splitlines()
    batch, standard = small["cost"]["batch"]["expected"], small["cost"]["standard"]["expected"]
    assert lines[0] == f"Batch on gemini-2.5-flash: {money(batch)}, 50% less than standard ({money(standard)})"
    assert lines[1] == "  3 requests in batch_requests.jsonl, all valid"
    labels = [line.split()[0] for line in lines if line[:1].isalpha() and not line.startswith("Batch on")]
    assert labels[:4] == ["Tokens", "Jobs", "Caching", "Warnings"]
    assert "input 29, exact (local tokenizer); output 2,400 expected (--output-tokens 800 per request)" in lines[2]
    assert lines[-1].startswith("-v: ")
    assert "Prices used" not in "\n".join(lines)


def test_default_screen_fits_15_lines_of_100_columns_whatever_the_plan(small: dict[str, Any],
                                                                       compared: dict[str, Any]) -> None:  # fmt: skip
    heavy = copy.deepcopy(compared)
    heavy["warnings"] = [f"warning {i}: " + "a long explanation of what went wrong " * 8 for i in range(12)]
    heavy["validation"] = {**heavy["validation"], "valid": False, "errors": 1234}
    heavy["files"] = [{**heavy["files"][0], "path": "/very/long/" + "deep/" * 30 + "input.jsonl"}]
    broken = plan_for(EXAMPLES / "broken_requests.jsonl", "gemini-2.5-flash")
    for plan in (small, compared, heavy, broken):
        text = render_plan_screen(plan, width=100)
        assert len(text.splitlines()) <= MAX_LINES, text
        assert max(len(line) for line in text.splitlines()) <= 100, text
    shown = render_plan_screen(heavy)
    assert "warning 0:" in shown and "warning 11:" not in shown and "-v shows all" in shown
    assert "INVALID: 1,234 errors" in shown


def test_many_waves_read_in_days_and_name_the_tier_that_would_need_fewer(small: dict[str, Any]) -> None:
    plan = copy.deepcopy(small)
    s = plan["shards"]
    s["totals"] = {**s["totals"], "shards": 26, "waves": 26}
    s["hours"] = {**s["hours"], "expected": 624, "worst": 1248}
    plan["other_tiers"] = [{"tier": 2, "shards": 3, "waves": 1}]
    text = " ".join(render_plan_screen(plan).split())
    assert "26 shards in 26 waves: results in about 26 days (26 waves of 24 h), at most about 52 days" in text
    assert "on tier 2 it would be 1 wave (give --tier 2 if your project is on tier 2)" in text


def test_verbose_adds_every_mode_the_prices_and_the_notes(small: dict[str, Any]) -> None:
    text = render_plan_screen(small, verbose=True)
    for part in ("Cost (USD, whole file)", "standard (sync)", "batch ", "Prices used (USD per 1M tokens)", "Notes"):
        assert part in text
    assert text.count("\n") > MAX_LINES


def test_compare_is_one_table_ranked_by_cost_with_the_cheapest_named(compared: dict[str, Any]) -> None:
    rows = compare_rows(compared)
    figures = [r["expected"] for r in rows]
    assert figures == sorted(figures)
    assert {r["model"] for r in rows} == {"gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-3.8-flash"}
    text = render_plan_screen(compared, verbose=True)
    table = text[text.index("Compared") :]
    best = rows[0]
    assert f"cheapest: {best['model']}" in " ".join(text.split())
    assert "(chosen)" in table
    # 2.5 Flash-Lite has no flex or priority rates: said, not silently dropped
    assert "gemini-2.5-flash-lite has no flex or priority rates in the price book" in " ".join(table.split())
    compact = " ".join(render_plan_screen(compared).split())
    assert "Compare gemini-2.5-flash-lite" in compact and "cheapest:" in compact


def test_the_json_ranks_the_comparison_as_the_screen_does(compared: dict[str, Any], small: dict[str, Any]) -> None:
    ranked = compared["comparison"]
    assert [(o["model"], o["mode"]) for o in ranked["options"]] == [
        (r["model"], r["mode"]) for r in compare_rows(compared)
    ]
    assert ranked["cheapest"] == ranked["options"][0]
    chosen = next(o for o in ranked["options"] if o["model"] == "gemini-3.8-flash" and o["mode"] == "batch")
    assert chosen["vs_chosen"] == "0"
    for o in ranked["options"]:
        assert Decimal(o["vs_chosen"]) == Decimal(o["expected"]) - Decimal(chosen["expected"])
    assert any(n.startswith("gemini-2.5-flash-lite has no flex, priority rates") for n in ranked["notes"])
    assert small["comparison"] is None


def test_verbose_prices_fit_100_columns_with_each_source_once_as_a_note(compared: dict[str, Any]) -> None:
    text = render_plan_screen(compared, verbose=True, width=100)
    assert max(len(line) for line in text.splitlines()) <= 100, text
    block = text.split("Prices used (USD per 1M tokens)\n", 1)[1].splitlines()
    rows = [line for line in block[1:] if not line.startswith(("  [", "      "))]
    notes = [line for line in block if line.startswith("  [")]
    pointed = {line.split()[-1] for line in rows}
    assert pointed == {f"[{n}]" for n in range(1, len(notes) + 1)}  # every row points to a note, every note is used
    sources = {p["source"] + (" (derived)" if p.get("derived") else "") for p in compared["prices"]}
    assert len(notes) == len(sources)  # each source once, however many rates it gives
    first = next(p for p in compared["prices"] if not p.get("derived"))
    assert any(" ".join(line.split()[1:]).startswith(first["source"][:40]) for line in notes)
