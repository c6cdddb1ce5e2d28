"""Batch files for the table tests, and the estimate settings they share."""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path
from typing import Any

from batchcost.planner.estimate import estimate
from batchcost.planner.plan import Plan

NOV27 = datetime.date(2026, 11, 27)
WORDS = [
    "the",
    "report",
    "shows",
    "that",
    "revenue",
    "grew",
    "in",
    "every",
    "region",
    "while",
    "costs",
    "fell",
    "over",
    "the",
    "year",
    "and",
    "the",
    "board",
]


def prose(n_words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def request(text: str, **gen: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if gen:
        r["generationConfig"] = gen
    return r


def write(path: Path, requests: list[dict[str, Any]], keys: list[str] | None = None) -> Path:
    with path.open("w") as fh:
        for i, r in enumerate(requests):
            fh.write(json.dumps({"key": keys[i] if keys else f"k{i}", "request": r}) + "\n")
    return path


def varied(path: Path, n: int, seed: int = 0) -> Path:
    """``n`` requests of 5 to 400 words, some with maxOutputTokens."""
    rng = random.Random(seed)
    reqs = []
    for i in range(n):
        gen = {"maxOutputTokens": rng.choice([64, 256, 1024])} if i % 3 == 0 else {}
        reqs.append(request(prose(rng.randint(5, 400), seed=seed * 100_000 + i), **gen))
    return write(path, reqs)


def plan_of(path: Path, model: str = "gemini-2.5-flash", **kw: Any) -> Plan:
    kw.setdefault("run_date", NOV27)
    kw.setdefault("offline", True)
    return estimate(path, model=model, **kw)
