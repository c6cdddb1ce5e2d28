"""``batchcost.prices/1``: the effective price book, as ``prices --format json`` writes it (``cli/prices.py``)."""

from __future__ import annotations

import datetime

from .common import ExactDecimal, Strict

PRICES_SCHEMA = "batchcost.prices/1"

__all__ = ["PRICES_SCHEMA", "PriceRow", "PricesDocument"]


class PriceRow(Strict):
    """One rate of the book on the run date, with its provenance.

    ``mode``, ``component``, ``modality`` and ``tier`` are ``""`` where they do not apply (a
    mode-independent rate, a model that cannot be priced at all, a flat rate). ``usd`` is null when
    the rate is not priced (``note`` says why), never 0; ``unit`` says what it is per
    (``USD/1M tokens``...). ``checked`` is null for a not-priced row without a source date.
    """

    model: str
    billed_model: str
    mode: str
    component: str
    modality: str
    tier: str
    usd: ExactDecimal | None
    unit: str
    source: str
    checked: datetime.date | None
    derived: bool
    overridden: bool
    note: str


class PricesDocument(Strict, tag_field="schema", tag=PRICES_SCHEMA):
    """``batchcost.prices/1``: every rate per model and mode on ``run_date``."""

    run_date: datetime.date
    rates: list[PriceRow]
