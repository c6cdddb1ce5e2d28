"""The rates behind a figure, as documents list them: model, mode, component, rate and provenance."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..money import usd
from .records import ModeRates, Rate, Source


@dataclass(frozen=True)
class PriceUsed:
    """One rate that went into a figure, with its provenance (``source`` in full form, ``sources`` structured)."""

    model: str
    mode: str
    component: str
    modality: str
    tier: str
    usd_per_mtok: Decimal
    source: str
    checked: datetime.date
    derived: bool
    overridden: bool
    sources: tuple[Source, ...] = ()

    @classmethod
    def of(cls, rates: ModeRates, component: str, modality: str, above: bool, rate: Rate) -> PriceUsed:
        tier = (
            ""
            if rates.tier_threshold is None
            else (f">{rates.tier_threshold:,}" if above else f"<={rates.tier_threshold:,}")
        )
        p = rate.provenance
        return cls(
            rates.model, rates.mode, component, modality, tier, rate.usd_per_mtok, p.source, p.checked, p.derived,
            p.overridden, p.sources,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "mode": self.mode,
            "component": self.component,
            "modality": self.modality,
            "tier": self.tier,
            "usd_per_mtok": usd(self.usd_per_mtok),
            "source": self.source,
            "checked": self.checked.isoformat(),
            "derived": self.derived,
            "overridden": self.overridden,
        }

    def sources_json(self) -> list[dict[str, Any]]:
        """The structured sources as JSON (``Source.to_json``), for documents that take them."""
        return [s.to_json() for s in self.sources]
