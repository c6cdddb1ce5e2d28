"""Helpers for the estimate tests: request files and hand-computed costs."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from batchcost.planner.estimate import estimate

MILLION = Decimal(1_000_000)
NOV27 = datetime.date(2026, 11, 27)


def mtok(rate: str, tokens: int) -> Decimal:
    return Decimal(rate) * tokens / MILLION


def write(path: Path, requests: list[dict[str, Any]]) -> Path:
    with path.open("w") as fh:
        for i, r in enumerate(requests):
            fh.write(json.dumps({"key": f"k{i}", "request": r}) + "\n")
    return path


def text_req(text: str, **gen: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if gen:
        r["generationConfig"] = gen
    return r


def cost(plan_json: dict[str, Any], mode: str, which: str = "expected") -> Decimal:
    return Decimal(plan_json["cost"][mode][which])


def run_estimate(path: Path, model: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("run_date", NOV27)
    kw.setdefault("offline", True)
    return estimate(path, model=model, **kw).to_json()
