"""Helpers for the estimate tests: request files and hand-computed costs."""

from __future__ import annotations

import datetime
import json
import random
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


WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "while",
    "dogs",
    "ran",
    "about",
    "in",
    "parks",
    "near",
    "rivers",
    "and",
    "hills",
]


def sampled_file(
    path: Path,
    n: int,
    seed: int,
    *,
    lengths: tuple[int, ...] = (3, 8, 30, 120, 600),
    system: str | None = None,
    settings: tuple[dict[str, Any], ...] = ({"maxOutputTokens": 400},),
) -> Path:
    """``n`` requests of random prose (word counts drawn from ``lengths``): enough for a sampled count.

    Each request gets one of ``settings`` as its generationConfig, and ``system`` as its system
    instruction when given (a prefix every request shares).
    """
    rng = random.Random(seed)
    with path.open("w") as fh:
        for i in range(n):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.choice(lengths)))
            req = text_req(text, **rng.choice(settings))
            if system is not None:
                req["systemInstruction"] = {"parts": [{"text": system}]}
            fh.write(json.dumps({"key": f"k{i}", "request": req}) + "\n")
    return path
