"""Reading Gemini prices from the ``genai-prices`` package (imported lazily: ~1.6 MB of data).

Only genai-prices' public data model is used: the bundled snapshot, ``ModelInfo.get_prices`` (which
applies dated ``ConditionalPrice``s and ``price_variants`` the way genai-prices itself does) and the
``StartDateConstraint`` dates. Nothing is copied out of genai-prices into our files.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from batchcost.errors import PricingError
from batchcost.pricing.overlay import Key, Val
from batchcost.pricing.records import MODALITIES, Provenance, Source

# genai-prices price keys per modality. DOCUMENT tokens are priced as image tokens, exactly as
# genai-prices' own Google usage extractor maps them.
_INPUT_KEYS = {
    "text": "input_mtok",
    "image": "input_image_mtok",
    "video": "input_video_mtok",
    "audio": "input_audio_mtok",
    "document": "input_image_mtok",
}
_CACHE_KEYS = {
    "text": "cache_read_mtok",
    "image": "cache_image_read_mtok",
    "video": "cache_video_read_mtok",
    "audio": "cache_audio_read_mtok",
    "document": "cache_image_read_mtok",
}
_CONTEXT = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}
PRICING_PAGE = "https://ai.google.dev/gemini-api/docs/pricing"
"""The page genai-prices reads Google's prices from (cited when a model's comment names no other)."""
_CHECKED_RE = re.compile(r"(?:verified on|[Cc]hecked)\s+(\d{4}-\d{2}-\d{2})")
_URL_RE = re.compile(r"https?://[^\s'\")]+")


@cache
def version() -> str:
    """Installed genai-prices version."""
    from importlib.metadata import version as dist_version

    return dist_version("genai-prices")


@dataclass(frozen=True)
class GPModel:
    """One genai-prices Google model and how to cite it.

    ``source`` is titled "genai-prices <version>" and links the page genai-prices says it verified the
    prices against (the Gemini API pricing page); ``checked`` is that verification date.
    """

    id: str
    info: Any  # genai_prices.types.ModelInfo (kept untyped so the package is imported lazily)
    source: Source
    checked: datetime.date

    def provenance(self, note: str = "") -> Provenance:
        """Provenance of a figure read from this model's prices."""
        return Provenance.of([self.source], self.checked, note=note)

    def breakpoints(self) -> set[datetime.date]:
        """Dates on which any of this model's prices or variants start."""
        days: set[datetime.date] = set()
        prices = self.info.prices
        for conditional in prices if isinstance(prices, list) else ():
            day = getattr(conditional.constraint, "start_date", None)
            if day is not None:
                days.add(day)
        for variant in self.info.price_variants or ():
            day = getattr(variant.constraint, "start_date", None)
            if day is not None:
                days.add(day)
        return days

    def _variant_active(self, mode: str, at: datetime.datetime) -> bool:
        context = _CONTEXT[mode]
        for variant in self.info.price_variants or ():
            if variant.when != context:
                continue
            if variant.constraint is None or variant.constraint.active(at):
                return True
        return False

    def values(self, mode: str, day: datetime.date) -> dict[Key, Val] | None:
        """Rates genai-prices gives for ``mode`` on ``day``, or None when it has none for that mode.

        For a non-standard mode, keys a variant leaves out keep the standard rate: that is
        genai-prices' documented meaning (e.g. batch context caching "Same as Standard").
        """
        at = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
        if mode == "standard":
            price = self.info.get_prices(at)
            note = ""
        else:
            if not self._variant_active(mode, at):
                return None
            price = self.info.get_prices(at, _CONTEXT[mode])
            note = f"genai-prices {mode} prices"
        prov = self.provenance(note)
        raw = vars(price)
        out: dict[Key, Val] = {}
        for modality in MODALITIES:
            value = _first(raw, _INPUT_KEYS[modality], "input_mtok")
            if value is not None:
                out[("input", modality)] = _val(value, prov, self.id)
            cache_value = _first(raw, _CACHE_KEYS[modality], "cache_read_mtok")
            if cache_value is not None:
                out[("cache_read", modality)] = _val(cache_value, prov, self.id)
        if raw.get("output_mtok") is not None:
            out[("output", "")] = _val(raw["output_mtok"], prov, self.id)
        if raw.get("output_image_mtok") is not None:  # image-output models: generated images' tokens
            out[("output_image", "")] = _val(raw["output_image_mtok"], prov, self.id)
        return out

    def web_search_fee(self, day: datetime.date) -> Decimal | None:
        """Grounding fee (USD per 1,000 searches) on ``day``, if genai-prices has one."""
        at = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
        fee = vars(self.info.get_prices(at)).get("web_searches_kcount")
        return fee if isinstance(fee, Decimal) else None

    def mode_start(self, mode: str) -> datetime.date | None:
        """First date any ``mode`` variant applies (None: no variant, or one without a date)."""
        days = [
            getattr(v.constraint, "start_date", None)
            for v in self.info.price_variants or ()
            if v.when == _CONTEXT[mode]
        ]
        if not days or any(d is None for d in days):
            return None
        return min(d for d in days if d is not None)

    def has_mode(self, mode: str) -> bool:
        """Whether genai-prices has any variant for ``mode`` (at any date)."""
        return any(v.when == _CONTEXT[mode] for v in self.info.price_variants or ())


def _first(raw: dict[str, Any], *keys: str) -> Any:
    """The first of ``keys`` with a price (a modality rate falls back to the generic rate)."""
    for key in keys:
        if raw.get(key) is not None:
            return raw[key]
    return None


def _val(value: Any, prov: Provenance, model_id: str) -> Val:
    from genai_prices.types import TieredPrices

    if isinstance(value, TieredPrices):
        if len(value.tiers) != 1:
            raise PricingError(
                f"genai-prices {version()} gives {model_id} {len(value.tiers)} price tiers; batchcost "
                "supports one threshold. Pin genai-prices==0.2.3 or add the rates with --prices FILE"
            )
        tier = value.tiers[0]
        return Val(value.base, tier.price, tier.start, prov)
    return Val(value, None, None, prov)


def _source(info: Any, checked: datetime.date) -> Source:
    # The pricing page the comment cites (a comment may also cite the models catalog, which holds no price).
    urls = [u.rstrip(".,;") for u in _URL_RE.findall(info.price_comments or "")]
    url = next((u for u in urls if u.startswith(PRICING_PAGE)), PRICING_PAGE)
    return Source(f"genai-prices {version()}", url, checked)


def _checked(info: Any, fallback: datetime.date) -> datetime.date:
    days = [datetime.date.fromisoformat(m) for m in _CHECKED_RE.findall(info.price_comments or "")]
    return max(days) if days else fallback


def load_model(gp_id: str, fallback_checked: datetime.date) -> GPModel:
    """Find ``gp_id`` among genai-prices' Google models.

    ``fallback_checked`` is used as the check date when the model's comment names none.

    Raises:
        PricingError: genai-prices does not have the model (a different version is installed).
    """
    from genai_prices import data_snapshot

    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(gp_id, None, "google", None)
    except LookupError:
        info = None
    if info is None or info.id != gp_id:
        raise PricingError(
            f"genai-prices {version()} has no Google model {gp_id!r} (the overlay was checked against "
            "genai-prices 0.2.3); install genai-prices==0.2.3 or supply the rates with --prices FILE"
        )
    checked = _checked(info, fallback_checked)
    return GPModel(gp_id, info, _source(info, checked), checked)
