"""scan(...).to_pandas(): readable names, categoricals instead of codes, flags as booleans, <NA> when not given."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from batchcost.batchfile import scan
from batchcost.batchfile.frame import SCAN_COLUMNS


def test_scan_table(tmp_path: Path) -> None:
    lines = [
        {"key": "a", "request": {"contents": [{"parts": [{"text": "hello"}]}], "systemInstruction": {"parts": [{"text": "be brief"}]},
                                 "generationConfig": {"maxOutputTokens": 64, "thinkingConfig": {"thinkingLevel": "LOW"}}}},
        {"key": "b", "request": {"contents": [{"parts": [{"text": "search"}]}], "tools": [{"googleSearch": {}}],
                                 "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}},
        {"key": "c", "request": {"contents": "wrong"}},
    ]  # fmt: skip
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    df = scan(path).to_pandas()
    assert list(df.columns) == list(SCAN_COLUMNS)
    assert df["key"].tolist() == ["a", "b", "c"]
    assert df["status"].tolist() == ["usable", "usable", "error"]
    assert isinstance(df["thinking_level"].dtype, pd.CategoricalDtype)
    assert df["thinking_level"].iloc[0] == "LOW" and pd.isna(df["thinking_level"].iloc[1])
    assert df["max_output_tokens"].iloc[0] == 64 and pd.isna(df["max_output_tokens"].iloc[1])
    assert df["thinking_budget"].iloc[1] == 0 and pd.isna(df["thinking_budget"].iloc[0])
    assert df["has_system_instruction"].tolist() == [True, False, False]
    assert df["uses_google_search"].tolist() == [False, True, False]
    assert df["contents_chars"].iloc[0] == 5 and df["system_chars"].iloc[0] == 8
    assert df["file"].cat.categories.tolist() == [str(path)]
