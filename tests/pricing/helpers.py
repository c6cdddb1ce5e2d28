"""Shared helpers for the pricing tests."""

from __future__ import annotations

import datetime
import textwrap
from decimal import Decimal
from functools import cache
from pathlib import Path

from batchcost.pricing import PriceBook

MILLION = Decimal(1_000_000)


def mtok(rate: str, tokens: int) -> Decimal:
    """Hand-computed cost of ``tokens`` at ``rate`` USD per 1M tokens (exact)."""
    return Decimal(rate) * tokens / MILLION


def d(text: str) -> datetime.date:
    """A date from ``YYYY-MM-DD``."""
    return datetime.date.fromisoformat(text)


@cache
def packaged_book() -> PriceBook:
    """The packaged book, loaded once (it is immutable)."""
    return PriceBook.load()


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write a dedented text file and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
