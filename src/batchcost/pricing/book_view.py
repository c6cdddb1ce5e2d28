"""What the book's helper modules read of a :class:`~batchcost.pricing.book.PriceBook`.

``changes`` (what changes in a window of days) and ``price_rows`` (``batchcost prices``) are parts of
the book kept in their own modules; the book imports them, so they name it by this protocol instead.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from batchcost.pricing import gp
    from batchcost.pricing.overlay import ModelSpec
    from batchcost.pricing.records import ModeRates, PlatformLimits


class BookView(Protocol):
    """The resolution helpers of :class:`~batchcost.pricing.book.PriceBook` its helper modules use."""

    def models(self) -> list[str]: ...

    def resolve(self, model: str) -> tuple[str, tuple[str, ...]]: ...

    def rates(self, model: str, mode: str, run_date: datetime.date) -> ModeRates: ...

    def limits(self) -> PlatformLimits: ...

    def _spec(self, model_id: str) -> ModelSpec: ...

    def _gp(self, spec: ModelSpec) -> gp.GPModel | None: ...

    def _route(self, model_id: str, mode: str, day: datetime.date) -> tuple[ModelSpec, list[str], list[str]]: ...
