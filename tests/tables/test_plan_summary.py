"""A plan in a notebook: its smaller tables, a short repr, summary cards, and the JSON's warnings and notes."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from batchcost.planner.summary_tables import CACHING_COLUMNS, COMPARE_COLUMNS, PRICE_COLUMNS, SHARD_COLUMNS

from .files import plan_of, varied


def test_prices_and_compare_tables_match_the_document(tmp_path: Path) -> None:
    plan = plan_of(varied(tmp_path / "r.jsonl", 20), output_tokens=100, compare=["gemini-2.5-flash-lite"])
    doc = plan.to_json()
    prices = plan.prices()
    assert list(prices.columns) == list(PRICE_COLUMNS)
    mine = prices[~prices["compared"]]
    assert len(mine) == len(doc["prices"])
    for (_, row), p in zip(mine.iterrows(), doc["prices"], strict=True):
        assert (row["mode"], row["component"], row["modality"]) == (p["mode"], p["component"], p["modality"])
        assert row["usd_per_mtok"] == float(p["usd_per_mtok"])
    assert prices["compared"].any()

    compare = plan.compare()
    assert list(compare.columns) == list(COMPARE_COLUMNS)
    assert set(compare["model"]) == {"gemini-2.5-flash", "gemini-2.5-flash-lite"}
    for entry in [{"model": doc["model"], "cost": doc["cost"]}, *doc["compare"]]:
        for mode, cost in entry["cost"].items():
            if "not_priced" in cost:
                continue
            row = compare[(compare["model"] == entry["model"]) & (compare["mode"] == mode)]
            assert math.isclose(row["expected_usd"].item(), float(cost["expected"]))
            assert math.isclose(row["floor_usd"].item(), float(cost["floor"]))


def test_empty_tables_keep_their_columns(tmp_path: Path) -> None:
    plan = plan_of(varied(tmp_path / "r.jsonl", 5), output_tokens=10, shards=False)
    assert plan.shard_plan is None and plan.caching is None
    shards = plan.shards()
    assert shards.empty and list(shards.columns) == list(SHARD_COLUMNS)
    candidates = plan.caching_candidates()
    assert candidates.empty and list(candidates.columns) == list(CACHING_COLUMNS)
    assert plan.requests()["shard"].isna().all()


def test_warnings_and_notes_are_the_documents(tmp_path: Path) -> None:
    # gemini-2.5-flash is routed to another model on this date: a pricing note the JSON lists as a warning
    plan = plan_of(varied(tmp_path / "r.jsonl", 5))
    doc = plan.to_json()
    assert plan.cost.notes and set(plan.cost.notes) <= set(plan.warnings)
    assert plan.warnings == doc["warnings"]
    assert plan.notes == doc["notes"]


def test_repr_fits_ten_lines_and_cards_show_the_summary(tmp_path: Path) -> None:
    plan = plan_of(varied(tmp_path / "r.jsonl", 30), output_tokens=200, max_requests=10)
    text = repr(plan)
    lines = text.splitlines()
    assert 5 <= len(lines) <= 10 and max(map(len, lines)) <= 100
    assert lines[0].startswith("<batchcost.Plan gemini-2.5-flash")
    assert "30 in 1 file, valid" in text and "expected" in text and "3 jobs in 1 wave" in text
    assert lines[-1] == "  tables    plan.requests(), .shards(), .prices(), .caching_candidates(), .compare()>"
    soup = BeautifulSoup(plan._repr_html_(), "html.parser")
    assert soup.find("script") is None
    titles = [d.get_text() for d in soup.select("div.batchcost-summary div div div:nth-of-type(1)")]
    assert {"Batch cost", "Standard (sync)", "Requests", "Input tokens", "Output tokens", "Shards"} <= set(titles)
    batch = plan.to_json()["cost"]["batch"]
    assert f"${float(batch['expected']):.4f}"[:5] in soup.get_text()


def test_the_request_table_of_a_file_changed_since_the_estimate_is_an_error(tmp_path: Path) -> None:
    from batchcost.errors import InputError

    path = varied(tmp_path / "r.jsonl", 30)
    plan = plan_of(path, output_tokens=200)
    assert plan.requests().key.notna().all()
    os.truncate(path, path.stat().st_size // 2)  # the keys are read back by the scan's offsets
    with pytest.raises(InputError) as e:
        plan.requests()
    assert str(e.value) == (
        f"{path}: changed since it was scanned (still being written, or replaced); run again once the file is complete"
    )
