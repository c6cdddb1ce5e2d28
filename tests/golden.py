"""The golden Gemma 3 token counts the tests measure against: 2,319 texts with exact counts.

``tests/data/gemma3-token-counts.jsonl`` is a copy kept with the tests so that a fresh clone needs
nothing beside it. ``bench/fit_heuristic.py`` reads the same file and splits it the same way; the
split is restated here (not imported from ``bench/``) so the tests stand on their own.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GOLDEN_PATH = Path(__file__).resolve().parent / "data" / "gemma3-token-counts.jsonl"
DEFAULT_SEED = 20261127  # the seed bench/fit_heuristic.py fits with: its held-out half is ours


@dataclass(frozen=True, slots=True)
class GoldenText:
    """One line of the golden file."""

    line: int
    category: str
    text: str
    tokens: int


def golden_records() -> list[dict[str, object]]:
    """Every line of the golden file as its JSON object (text, tokens, category, ids for edge cases)."""
    with GOLDEN_PATH.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def load_golden(path: Path = GOLDEN_PATH) -> list[GoldenText]:
    """Every line of the golden file as a :class:`GoldenText`."""
    rows: list[GoldenText] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            record = json.loads(line)
            rows.append(GoldenText(number, record["category"], record["text"], record["tokens"]))
    return rows


def split_halves(rows: Sequence[GoldenText], seed: int = DEFAULT_SEED) -> tuple[list[int], list[int]]:
    """Row indices as (fitting half, held-out half), category by category, as the bench splits them.

    Each category's rows, in file order, are shuffled with ``random.Random(f"{seed}/{category}")``;
    the first ceil(n/2) are the fitting half.
    """
    by_category: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_category.setdefault(row.category, []).append(index)
    fit: list[int] = []
    held_out: list[int] = []
    for category, indices in by_category.items():
        shuffled = list(indices)
        random.Random(f"{seed}/{category}").shuffle(shuffled)
        half = (len(shuffled) + 1) // 2
        fit.extend(shuffled[:half])
        held_out.extend(shuffled[half:])
    return sorted(fit), sorted(held_out)


def chars_over_4(texts: Sequence[str]) -> list[int]:
    """The usual rule of thumb, rounded half up, at least 1 for non-empty text."""
    return [max(1, math.floor(len(t) / 4 + 0.5)) if t else 0 for t in texts]
