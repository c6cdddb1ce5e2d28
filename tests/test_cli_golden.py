"""The default terminal output of each command for the examples, pinned at 100 columns.

What a user sees first is part of the product: a change to it shows up here as a diff to review.
``BATCHCOST_UPDATE_GOLDEN=1`` rewrites the files after a deliberate change.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from batchcost.cli import main

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden_cli"
UPDATE = os.environ.get("BATCHCOST_UPDATE_GOLDEN") == "1"
DAY = ["--run-date", "2026-11-27"]

CASES = {
    "estimate": ["estimate", "examples/batch_requests.jsonl", "-m", "gemini-2.5-flash", "--output-tokens", "300",
                 "--offline", *DAY],
    "estimate_unknown_output": ["estimate", "examples/batch_requests.jsonl", "-m", "gemini-3.8-flash", "--offline",
                                *DAY],
    "estimate_invalid": ["estimate", "examples/broken_requests.jsonl", "-m", "gemini-2.5-flash", "--offline", *DAY],
    "estimate_compare": ["estimate", "examples/batch_requests.jsonl", "-m", "gemini-3.8-flash", "--output-tokens",
                         "300", "--compare", "gemini-2.5-flash,gemini-2.5-flash-lite", "--offline", *DAY],
    "estimate_vertex": ["estimate", "examples/vertex_requests.jsonl", "-m", "gemini-2.5-flash", "--platform",
                        "vertex", "--output-tokens", "300", "--offline", *DAY],
    "plan": ["plan", "examples/batch_requests.jsonl", "-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline",
             *DAY],
    "reconcile": ["reconcile", "examples/batch_results.jsonl", "-m", "gemini-2.5-flash", *DAY],
    "validate": ["validate", "examples/broken_requests.jsonl"],
    "prices": ["prices", "-m", "gemini-2.5-flash", *DAY],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_default_output_is_pinned(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples' paths as a user types them
    out, err = io.StringIO(), io.StringIO()
    main([*CASES[name], "-q"] if name not in ("validate", "prices") else CASES[name], stdout=out, stderr=err)
    text = out.getvalue()
    lines = text.splitlines()
    if name != "validate":  # one problem per line, FILE:LINE first, as compilers and linters print them
        assert max(len(line) for line in lines) <= 100, "wider than 100 columns"
    if name.startswith(("estimate", "plan", "reconcile")):
        assert len(lines) <= 15, "more than one screen"
    golden = GOLDEN / f"{name}.txt"
    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), f"{golden} differs; BATCHCOST_UPDATE_GOLDEN=1 rewrites it"
