"""One model's costs in every mode its book prices: floor, interval ends, ceiling, and the rates used.

:func:`model_cost` prices an estimate's per-request input tokens (each request in its own prompt
tier) with the output expectation capped at each request's ceiling; see :mod:`.estimate` for what
the figures mean.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UnpricedError
from ..heap import zeros_view
from ..pricing.ceiling import output_ceiling
from ..pricing.used import PriceUsed
from ..text import agree, plural
from ..tokens.totals import total_input
from .images import image_cost, planned_images
from .inputs import scaled_inputs
from .mode_cost import mode_cost
from .plan import ModeCost, ModelCost, OutputTokens
from .speech import speech_tokens_per_second

if TYPE_CHECKING:
    from ..afterjob.calibrate import OutputModel
    from ..batchfile import ScanResult
    from ..pricing import Cost, ModeRates, PriceBook
    from ..tokens import TokenEstimate
    from .tool_fees import ToolExpectation


def _cost(rates: ModeRates, inputs: Mapping[str, np.ndarray], output: np.ndarray) -> Cost:
    from ..pricing import price_tokens

    prompt = total_input(inputs, len(output))
    return price_tokens(rates, prompt_tokens=prompt, input_by_modality=inputs, output_tokens=output)


def _price(rates: ModeRates, inputs: Mapping[str, np.ndarray], output: np.ndarray) -> Decimal:
    return _cost(rates, inputs, output).total


def model_cost(
    book: PriceBook,
    model: str,
    run_date: datetime.date,
    scan: ScanResult,
    tokens: TokenEstimate,
    expected_out: np.ndarray | None,
    ratio: float | None,
    allow_unpriced: bool,
    output_model: OutputModel | None = None,
    price_notes: list[str] | None = None,
    tools: tuple[Mapping[str, int], ToolExpectation, int | None] | None = None,
    audio_tokens_per_second: float | None = None,
) -> ModelCost:
    """One model's costs; the price book's notes (not warnings) are added to ``price_notes``."""
    info = book.model_info(model, run_date)
    notes: list[str] = []
    ceiling_out, unknown_ceiling = output_ceiling(scan, info, notes)
    ceiling_known = not bool(unknown_ceiling.any())
    # What expectations are capped at: an unknown ceiling caps nothing (the expectation is used as given).
    # Made only for an expectation, and only as a copy when a ceiling is unknown (8 bytes a request).
    cap = ceiling_out
    if not ceiling_known and (expected_out is not None or ratio is not None or output_model is not None):
        cap = np.where(unknown_ceiling, np.iinfo(np.int64).max, ceiling_out)
    # An output learnt from the prompt or a ratio of it needs every end of the input at once; otherwise
    # the low end is priced on its own and let go before the high end is made (on 1.7 M requests each
    # end is 13.5 MB, and making one takes 27 MB of working arrays: with the other held, that was the
    # peak of pricing).
    one_end_at_a_time = expected_out is not None or (ratio is None and output_model is None)
    ends_held = ("expected",) if one_end_at_a_time else ("expected", "low", "high")
    inputs = {w: scaled_inputs(tokens, w) for w in ends_held}
    outs: dict[str, np.ndarray] | None = None
    if expected_out is not None:
        capped_out = np.minimum(expected_out, cap)  # the same for every end: one array, read only
        outs = dict.fromkeys(("expected", "low", "high"), capped_out)
    elif ratio is not None:
        outs = {}
        for w, per in inputs.items():
            total_in = total_input(per, len(ceiling_out))
            outs[w] = np.minimum(np.rint(total_in * ratio).astype(np.int64), cap)
    elif output_model is not None:
        # Each end of the output from the same end of the input (a learnt output can grow with the
        # prompt): the low end is the model's low end at the input's low end, and so on. The lower of
        # the two input ends is taken for the low end (and the higher for the high end), so a fit whose
        # output falls as the prompt grows still gives a low end below the expectation.
        pred = {w: output_model.predict(scan, total_input(per, len(ceiling_out)), cap) for w, per in inputs.items()}
        expected = pred["expected"][0]
        low = np.minimum(np.minimum(pred["low"][1], pred["high"][1]), expected)
        high = np.maximum(np.maximum(pred["low"][2], pred["high"][2]), expected)
        outs = {"expected": expected, "low": low, "high": high}
    usable = scan.rows["usable"].astype(bool)
    if outs is not None:
        # counted among the usable requests: an unusable line's ceiling is 0, and it is not priced
        below = outs["expected"] < (expected_out if expected_out is not None else outs["expected"])
        capped = int((below & usable).sum())
        if capped:
            notes.append(
                f"{plural(capped, 'request')} can produce fewer output tokens than the expectation "
                f"({agree(capped, 'its', 'their')} ceiling is lower); "
                f"the ceiling is used for {agree(capped, 'it', 'them')}"
            )
    used_modalities = {k: int(v[usable].sum()) for k, v in tokens.per_request_by_modality.items()}
    images = planned_images(scan, info.id, price_notes)
    modes: dict[str, ModeCost] = {}
    mode_rates: dict[str, ModeRates] = {}
    prices: list[PriceUsed] = []
    billed = info.id
    mode_order = book.modes(model, run_date) or ["standard", "batch"]
    for mode in mode_order:
        try:
            mode_rates[mode] = book.rates(model, mode, run_date)
        except UnpricedError as e:
            if not allow_unpriced:
                raise
            modes[mode] = ModeCost.not_priced(mode, str(e))
    zero_out = zeros_view(len(ceiling_out))  # no output: 8 bytes a request for nothing otherwise
    low_costs: dict[str, Cost] = {}
    if one_end_at_a_time:
        low = scaled_inputs(tokens, "low")
        low_costs = {m: _cost(r, low, zero_out if outs is None else outs["low"]) for m, r in mode_rates.items()}
        del low
        inputs["high"] = scaled_inputs(tokens, "high")
    for mode, rates in mode_rates.items():
        billed = rates.model
        for warning in rates.warnings:  # ModelCost.notes are shown as warnings
            if warning not in notes:
                notes.append(warning)
        if price_notes is not None:
            price_notes.extend(n for n in rates.notes if n not in price_notes)
        floor = _price(rates, inputs["expected"], zero_out)
        # generated images are known from the requests: in every figure, the floor too (mode_cost adds them)
        pics = image_cost(rates, images, usable)
        ceiling = _price(rates, inputs["high"], ceiling_out) + pics if ceiling_known else None
        mt = None
        if tools is not None:
            from .tool_fees import price_tools

            mt = price_tools(rates, tools[0], tools[1], tools[2])
            for note in mt.notes:
                if note not in notes:
                    notes.append(note)
        ends = {w: low_costs[mode] if w == "low" and one_end_at_a_time else
                   _cost(rates, inputs[w], zero_out if outs is None else outs[w])
                for w in ("expected", "low", "high")}  # fmt: skip
        modes[mode] = mode_cost(mode, floor, ceiling, ends, outs is not None, mt, pics)
        for component, modality, above, rate in rates.rates():
            if component == "output_image" and (images is None or not int(images.tokens[usable].sum())):
                continue
            if component == "input" and modality != "text" and not used_modalities.get(modality):
                continue  # only the rates that priced something
            if component == "cache_read":
                continue  # no cached tokens are priced by estimate (see the caching advice)
            prices.append(PriceUsed.of(rates, component, modality, above, rate))
    modes = {mode: modes[mode] for mode in mode_order if mode in modes}  # in the book's order, priced or not
    if not modes:
        raise UnpricedError(f"no mode of {model} is priced on {run_date}")
    output = OutputTokens(
        ceiling=int(ceiling_out[usable].sum()) if ceiling_known else None,
        expected=None if outs is None else int(outs["expected"][usable].sum()),
        low=None if outs is None else int(outs["low"][usable].sum()),
        high=None if outs is None else int(outs["high"][usable].sum()),
        source=None,
        images=None if images is None else int(images.images[usable].sum()),
        image_tokens=None if images is None else int(images.tokens[usable].sum()),
        audio_tokens_per_second=speech_tokens_per_second(info.id, audio_tokens_per_second),
    )
    return ModelCost(
        model=model, billed_model=billed, modes=modes, output=output, prices=prices, notes=notes,
        # -1 where unknown; with none unknown the ceilings themselves (a fresh array: no second copy of it)
        per_request_ceiling=ceiling_out if ceiling_known else np.where(unknown_ceiling, -1, ceiling_out),
        per_request_output=None if outs is None else outs["expected"], rates=mode_rates,
    )  # fmt: skip
