"""Price book and cost function for Gemini API batch estimates.

Prices are dated data with provenance: the ``genai-prices`` package (imported lazily), the packaged
overlay ``data/overlay.yaml`` for what it lacks, and user ``--prices`` files. Money is
:class:`decimal.Decimal` throughout; an unknown rate raises :class:`~batchcost.errors.UnpricedError`
and is never priced as $0.

Typical use::

    book = PriceBook.load()                       # or PriceBook.load("negotiated.yaml")
    rates = book.rates("gemini-2.5-flash-lite", "batch", datetime.date(2026, 11, 27))
    cost = price_tokens(rates, prompt_tokens=p, input_by_modality={"text": p}, output_tokens=o)
"""

from __future__ import annotations

from batchcost.pricing.book import PriceBook, normalise_model_id
from batchcost.pricing.cost import COMPONENTS, Cost, grounding_cost, price_tokens, storage_cost
from batchcost.pricing.records import (
    MODALITIES,
    MODES,
    GroundingFee,
    LifecycleEvent,
    ModelInfo,
    ModeRates,
    PlatformLimits,
    PriceRow,
    Provenance,
    Rate,
    Source,
    ThinkingDefaults,
)

__all__ = [
    "COMPONENTS",
    "MODALITIES",
    "MODES",
    "Cost",
    "GroundingFee",
    "LifecycleEvent",
    "ModeRates",
    "ModelInfo",
    "PlatformLimits",
    "PriceBook",
    "PriceRow",
    "Provenance",
    "Rate",
    "Source",
    "ThinkingDefaults",
    "grounding_cost",
    "normalise_model_id",
    "price_tokens",
    "storage_cost",
]
