"""The price book against another price dataset: every rate both give that differs by more than 0.5%.

Two JSON formats are read:

* LiteLLM's ``model_prices_and_context_window.json``: an object of entries by model name; Gemini API
  entries are named ``gemini/<model>`` (``litellm_provider`` ``gemini``); rates are USD per token:
  ``input_cost_per_token``, ``input_cost_per_audio_token``, ``output_cost_per_token``,
  ``cache_read_input_token_cost``, ``output_cost_per_image_token`` (image-output models), each also with a
  ``_batches``, ``_flex`` or ``_priority`` suffix.
* genai-prices' ``data.json``: a list of providers (or ``{"providers": [...]}``); the ``google``
  provider's models have ``prices`` (an object of ``*_mtok`` rates, USD per 1M tokens, or a list of
  ``{"constraint": {"start_date": ...}, "prices": {...}}``, the latest started one applying) and
  ``price_variants`` (``{"when": {"processing": "batch"} | {"service_tier": "flex"}, "prices": ...}``).

Only flat rates are compared (the rate at or below a prompt-size tier). A model the other dataset
names but the book lacks is listed too, so a new model shows up.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from batchcost.errors import InputError, PricingError
from batchcost.pricing.book import PriceBook, normalise_model_id

TOLERANCE = Decimal("0.005")
"""Relative difference above which two rates disagree (0.5%)."""

_MILLION = Decimal(1_000_000)
_LITELLM_MODES = {"standard": "", "batch": "_batches", "flex": "_flex", "priority": "_priority"}
# (component, modality) -> LiteLLM field stem
_LITELLM_FIELDS = {
    ("input", "text"): "input_cost_per_token",
    ("input", "audio"): "input_cost_per_audio_token",
    ("output", ""): "output_cost_per_token",
    ("cache_read", "text"): "cache_read_input_token_cost",
    ("output_image", ""): "output_cost_per_image_token",
}
_GP_CONTEXT = {
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}
_GP_FIELDS = {
    ("input", "text"): "input_mtok",
    ("input", "image"): "input_image_mtok",
    ("input", "video"): "input_video_mtok",
    ("input", "audio"): "input_audio_mtok",
    ("output", ""): "output_mtok",
    ("output_image", ""): "output_image_mtok",
    ("cache_read", "text"): "cache_read_mtok",
    ("cache_read", "audio"): "cache_audio_read_mtok",
}


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One rate the two sources give differently, or a model only the other dataset prices.

    ``ours``/``theirs`` are USD per 1M tokens (None: that source has no such model); ``ours_source``
    cites the book's figure as 'Title, DATE'.
    """

    model: str
    mode: str
    component: str
    modality: str
    ours: Decimal | None
    theirs: Decimal | None
    ours_source: str
    theirs_source: str

    def describe(self) -> str:
        if self.ours is None:
            return f"{self.model}: not in batchcost's price book; {self.theirs_source} prices it"
        what = f"{self.model} {self.mode} {self.component.replace('_', '-')}" + (
            f" ({self.modality})" if self.modality else ""
        )
        return (
            f"{what}: batchcost {_num(self.ours)} ({self.ours_source}) vs {_num(self.theirs)} "
            f"({self.theirs_source}) per 1M tokens"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "mode": self.mode,
            "component": self.component,
            "modality": self.modality,
            "batchcost_usd_per_mtok": None if self.ours is None else _num(self.ours),
            "other_usd_per_mtok": None if self.theirs is None else _num(self.theirs),
            "batchcost_source": self.ours_source,
            "other_source": self.theirs_source,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What ``prices --check`` found: the rates compared and the disagreements."""

    dataset: str
    dataset_format: str
    run_date: datetime.date
    compared: int
    models_compared: int
    disagreements: tuple[Disagreement, ...]


def _num(value: Decimal | None) -> str:
    if value is None:
        return "none"
    text = format(value.normalize(), "f")
    return text


def _dec(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def read_dataset(path: str | os.PathLike[str]) -> tuple[str, dict[str, dict[tuple[str, str, str], Decimal]]]:
    """``(format, {model: {(mode, component, modality): USD per 1M tokens}})`` of a LiteLLM or genai-prices file.

    Raises:
        InputError: the file cannot be read or is neither format.
    """
    shown = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
    except OSError as exc:
        raise InputError(shown, f"cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise InputError(shown, f"is not JSON ({exc}); give LiteLLM's or genai-prices' JSON price file") from None
    if isinstance(data, dict) and not isinstance(data.get("providers"), list):
        return "litellm", _litellm(data)
    providers = data.get("providers") if isinstance(data, dict) else data
    if isinstance(providers, list):
        return "genai-prices", _genai_prices(providers)
    raise InputError(
        shown, "is neither LiteLLM's price file (an object of models) nor genai-prices' (a list of providers)"
    )


def _litellm(data: dict[str, Any]) -> dict[str, dict[tuple[str, str, str], Decimal]]:
    out: dict[str, dict[tuple[str, str, str], Decimal]] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or entry.get("litellm_provider") != "gemini" or not name.startswith("gemini/"):
            continue
        rates: dict[tuple[str, str, str], Decimal] = {}
        for mode, suffix in _LITELLM_MODES.items():
            for (component, modality), stem in _LITELLM_FIELDS.items():
                value = _dec(entry.get(stem + suffix))
                if value is not None:
                    rates[(mode, component, modality)] = value * _MILLION
        if rates:
            out[normalise_model_id(name.removeprefix("gemini/"))] = rates
    return out


def _gp_prices(prices: Any, day: datetime.date) -> dict[str, Any]:
    if isinstance(prices, dict):
        return prices
    best: tuple[str, dict[str, Any]] | None = None
    for item in prices if isinstance(prices, list) else ():
        if not isinstance(item, dict) or not isinstance(item.get("prices"), dict):
            continue
        start = str((item.get("constraint") or {}).get("start_date") or "0000-00-00")
        if start <= day.isoformat() and (best is None or start >= best[0]):
            best = (start, item["prices"])
    return best[1] if best else {}


def _gp_rate(value: Any) -> Decimal | None:
    if isinstance(value, dict):  # tiered: {"base": ..., "tiers": [...]}: the base rate
        value = value.get("base")
    return _dec(value)


def _genai_prices(
    providers: list[Any], day: datetime.date | None = None
) -> dict[str, dict[tuple[str, str, str], Decimal]]:
    day = day or datetime.date.today()
    out: dict[str, dict[tuple[str, str, str], Decimal]] = {}
    for provider in providers:
        if not isinstance(provider, dict) or provider.get("id") != "google":
            continue
        for model in provider.get("models") or ():
            if not isinstance(model, dict) or not isinstance(model.get("id"), str):
                continue
            rates: dict[tuple[str, str, str], Decimal] = {}
            standard = _gp_prices(model.get("prices"), day)
            layers = [("standard", standard)]
            for variant in model.get("price_variants") or ():
                if not isinstance(variant, dict):
                    continue
                mode = next((m for m, when in _GP_CONTEXT.items() if variant.get("when") == when), None)
                if mode is not None:
                    layers.append((mode, {**standard, **_gp_prices(variant.get("prices"), day)}))
            for mode, prices in layers:
                for (component, modality), key in _GP_FIELDS.items():
                    value = _gp_rate(prices.get(key))
                    if value is not None:
                        rates[(mode, component, modality)] = value
            if rates:
                out[normalise_model_id(model["id"])] = rates
    return out


def check_prices(
    book: PriceBook, path: str | os.PathLike[str], run_date: datetime.date, *, built: str | None = None
) -> CheckResult:
    """Compare ``book`` on ``run_date`` with the dataset at ``path``.

    Args:
        book: the price book.
        path: LiteLLM's or genai-prices' JSON file.
        run_date: the day whose book rates are compared.
        built: how to name the dataset's date in the citations (default: the file's modification date).

    Raises:
        InputError: the file cannot be read or is in neither format.
    """
    fmt, other = read_dataset(path)
    if fmt == "genai-prices":
        with open(path, "rb") as fh:
            data = json.loads(fh.read())
        other = _genai_prices(data.get("providers") if isinstance(data, dict) else data, run_date)
    when = built or datetime.date.fromtimestamp(os.stat(path).st_mtime).isoformat()
    label = f"{'LiteLLM' if fmt == 'litellm' else 'genai-prices'} dataset {os.path.basename(os.fspath(path))}, {when}"
    found: list[Disagreement] = []
    compared = 0
    models = 0
    for name, rates in sorted(other.items()):
        try:
            book.resolve(name)
        except PricingError:
            found.append(Disagreement(name, "", "", "", None, None, "", label))
            continue
        models += 1
        for (mode, component, modality), theirs in sorted(rates.items()):
            try:
                mr = book.rates(name, mode, run_date)
            except PricingError:
                continue
            rate = _book_rate(mr, component, modality)
            if rate is None:
                continue
            compared += 1
            ours = rate.usd_per_mtok
            if _differs(ours, theirs):
                found.append(
                    Disagreement(
                        name,
                        mode,
                        component,
                        modality,
                        ours,
                        theirs,
                        rate.provenance.cite() + (" (derived)" if rate.provenance.derived else ""),
                        label,
                    )
                )
    return CheckResult(os.fspath(path), fmt, run_date, compared, models, tuple(found))


def _book_rate(mr: Any, component: str, modality: str) -> Any:
    if component == "output":
        return mr.output
    if component == "output_image":
        return mr.output_image
    table = mr.input if component == "input" else mr.cache_read
    return None if table is None else table.get(modality)


def _differs(ours: Decimal, theirs: Decimal) -> bool:
    high = max(abs(ours), abs(theirs))
    return high != 0 and abs(ours - theirs) / high > TOLERANCE
