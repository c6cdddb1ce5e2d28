"""What a batch job's results cost: its ``usageMetadata`` priced with the book's rates, token for token."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.results import MODALITIES, OK, ResultSet
from ..text import agree, plural

if TYPE_CHECKING:
    from ..pricing import ModeRates


# -- actual cost ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActualCost:
    """The exact cost of the successful results in one mode.

    Attributes:
        rates: the rates used.
        total: USD.
        by_component: ``input`` (non-cached prompt and tool-use), ``cached_input``, ``output``.
        detail: ``prompt_input``, ``tool_use_input``, ``cached_input``, ``candidates_output``, (for an
            image-output model's generated images, at its image-output rate) ``image_output``, (for
            generated speech, candidatesTokensDetails AUDIO, at the output rate: a text-to-speech
            model's output rate is its audio rate) ``audio_output``, ``thoughts_output`` (sums to ``total``).
        input_by_modality: the ``input`` component by modality.
        cached_by_modality: the ``cached_input`` component by modality.
        uncached_input: what all prompt and tool-use tokens would cost at the input rates (no
            cache hits); used to measure what caching saved.
        requests_above_threshold: requests in the >200k tier.
        notes: notes from pricing.
        tool_units: what the tool fees count, for the tools some result used: ``search_queries``
            (per-query models), ``search_grounded_prompts`` (per-prompt models) or
            ``maps_grounded_prompts``.

    When results show Grounding with Google Search or Maps, ``by_component`` and ``detail`` gain
    ``tool_fees`` (included in ``total``); a fee the book does not know is left out with a note.
    """

    rates: ModeRates
    total: Decimal
    by_component: Mapping[str, Decimal]
    detail: Mapping[str, Decimal]
    input_by_modality: Mapping[str, Decimal]
    cached_by_modality: Mapping[str, Decimal]
    uncached_input: Decimal
    requests_above_threshold: int
    notes: tuple[str, ...] = ()
    tool_units: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Usage:
    """Successful results' usage as arrays, ready for :func:`price_tokens`."""

    prompt: np.ndarray  # prompt + tool-use: decides the tier
    noncached: dict[str, np.ndarray]
    cached: dict[str, np.ndarray]
    tool: dict[str, np.ndarray]
    uncached: dict[str, np.ndarray]
    candidates: np.ndarray
    thoughts: np.ndarray
    images: np.ndarray  # image tokens among the candidates (generated images)
    audio: np.ndarray  # audio tokens among the candidates (generated speech)

    @classmethod
    def of(cls, rs: ResultSet) -> _Usage:
        r = rs.rows
        ok = r["status"] == OK
        i8 = np.int64
        prompt_m = {m: r[f"prompt_{m}"][ok].astype(i8) for m in MODALITIES}
        cached_m = {m: r[f"cached_{m}"][ok].astype(i8) for m in MODALITIES}
        tool_m = {m: r[f"tool_{m}"][ok].astype(i8) for m in MODALITIES}
        return cls(
            prompt=r["prompt"][ok].astype(i8) + r["tool_use"][ok].astype(i8),
            noncached={m: prompt_m[m] - cached_m[m] + tool_m[m] for m in MODALITIES},
            cached=cached_m,
            tool=tool_m,
            uncached={m: prompt_m[m] + tool_m[m] for m in MODALITIES},
            candidates=r["candidates"][ok].astype(i8),
            thoughts=r["thoughts"][ok].astype(i8),
            images=r["candidates_image"][ok].astype(i8),
            audio=r["candidates_audio"][ok].astype(i8),
        )


def _linear(rates: ModeRates, tokens: Mapping[str, np.ndarray], above: np.ndarray | None) -> Decimal:
    """Input-rate cost of ``tokens`` (by modality), each request in its tier (exact)."""
    total = Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60
        for m, arr in tokens.items():
            high = int(arr[above].sum()) if above is not None and rates.input_above is not None else 0
            low = int(arr.sum()) - high
            total += Decimal(low) * rates.input[m].usd_per_mtok
            if high:
                assert rates.input_above is not None
                total += Decimal(high) * rates.input_above[m].usd_per_mtok
        return total.scaleb(-6)


def price_results(rs: ResultSet, rates: ModeRates) -> ActualCost:
    """Price the successful lines of ``rs`` with ``rates`` (see the module docstring for the rules).

    Raises:
        UnpricedError: cached tokens but no cache-read rate, or output but no output rate.
    """
    from ..pricing import price_tokens

    u = _Usage.of(rs)
    # An image-output model bills its generated images at the image-output rate; for any other model
    # image tokens among the candidates stay at the output rate, as before.
    images = u.images if rates.output_image is not None else np.zeros_like(u.images)
    u = dataclasses.replace(u, candidates=u.candidates - images)
    output = u.candidates + u.thoughts
    full = price_tokens(
        rates, prompt_tokens=u.prompt, input_by_modality=u.noncached, output_tokens=output, cached_tokens=u.cached
    )
    answers = price_tokens(
        rates,
        prompt_tokens=u.prompt,
        input_by_modality=u.noncached,
        output_tokens=u.candidates,
        cached_tokens=u.cached,
    )
    uncached = price_tokens(
        rates, prompt_tokens=u.prompt, input_by_modality=u.uncached, output_tokens=np.zeros_like(output)
    )
    above = u.prompt > rates.tier_threshold if rates.tier_threshold is not None else None
    tool_cost = _linear(rates, u.tool, above)
    thoughts_cost = full.by_component["output"] - answers.by_component["output"]
    detail = {
        "prompt_input": full.by_component["input"] - tool_cost,
        "tool_use_input": tool_cost,
        "cached_input": full.by_component["cached_input"],
        "candidates_output": answers.by_component["output"],
        "thoughts_output": thoughts_cost,
    }
    extra_notes: list[str] = []
    n_audio = int(u.audio.sum())
    if n_audio:  # speech, shown apart from the text answers (same output rate, so the total is unchanged)
        text_only = price_tokens(
            rates, prompt_tokens=u.prompt, input_by_modality=u.noncached, output_tokens=u.candidates - u.audio,
            cached_tokens=u.cached,
        )  # fmt: skip
        detail["audio_output"] = answers.by_component["output"] - text_only.by_component["output"]
        detail["candidates_output"] = text_only.by_component["output"]
        from ..pricing.audio_output import audio_output

        tps = audio_output().tokens_per_second
        extra_notes.append(
            f"{n_audio:,} generated speech tokens (candidatesTokensDetails AUDIO; about {n_audio / tps:,.0f} s of "
            f"speech at the assumed {tps:g} audio tokens per second) are priced at the model's output rate, which "
            "is its audio output rate for text-to-speech models"
        )
    by_component = dict(full.by_component)
    total = full.total
    n_images = int(images.sum())
    if n_images:
        assert rates.output_image is not None
        with localcontext() as ctx:
            ctx.prec = 60
            image_usd = (Decimal(n_images) * rates.output_image.usd_per_mtok).scaleb(-6)
        detail["image_output"] = image_usd  # only where images were priced: other documents keep their keys
        by_component["output"] += image_usd
        total += image_usd
    fees, units, notes = _tool_fees(rs, rates)
    if units:
        by_component["tool_fees"] = detail["tool_fees"] = fees
    return ActualCost(
        rates=rates,
        total=total + fees,
        by_component=by_component,
        detail=detail,
        input_by_modality=dict(full.input_by_modality),
        cached_by_modality=dict(full.cached_by_modality),
        uncached_input=uncached.total,
        requests_above_threshold=full.requests_above_threshold,
        notes=(*full.notes, *extra_notes, *notes),
        tool_units=units,
    )


_UNIT_KEYS = {
    ("google_search", True): "search_queries",
    ("google_search", False): "search_grounded_prompts",
    ("google_maps", False): "maps_grounded_prompts",
}


def tool_fees_per_result(rs: ResultSet, rates: ModeRates) -> np.ndarray:
    """Each successful result's Search and Maps fees, float64 USD (for tables); summed, the actual tool fees.

    A result pays for the queries (or the grounded prompt) it shows, as :func:`price_results` prices them
    for the whole file; a tool whose fee the book does not know adds nothing here either.
    """
    from ..batchfile.results import GROUNDED_MAPS, GROUNDED_SEARCH
    from ..pricing.tool_fees import fee_usd

    r = rs.rows
    ok = r["status"] == OK
    grounded = r["grounded"].astype(np.int64)
    queries = r["search_queries"].astype(np.int64)
    out = np.zeros(len(ok), np.float64)
    for tool, fee, bit in (
        ("google_search", rates.grounding, GROUNDED_SEARCH),
        ("google_maps", rates.maps_grounding, GROUNDED_MAPS),
    ):
        if fee is None or fee.usd_per_1k is None:
            continue
        per_query = tool == "google_search" and fee.unit == "search query"
        units = np.where(ok, queries if per_query else ((grounded & bit) > 0).astype(np.int64), 0)
        used = int(units.sum())
        if used:
            out += units * (float(fee_usd(fee, used)) / used)
    return out


def _tool_fees(rs: ResultSet, rates: ModeRates) -> tuple[Decimal, dict[str, int], list[str]]:
    """Search and Maps grounding fees of the successful results, in the units each fee counts."""
    from ..batchfile.results import GROUNDED_MAPS, GROUNDED_SEARCH
    from ..pricing.tool_fees import TOOL_NAMES, fee_usd, unit_plural

    r = rs.rows
    ok = r["status"] == OK
    grounded = r["grounded"][ok].astype(np.int64)
    queries = int(r["search_queries"][ok].astype(np.int64).sum())
    total = Decimal(0)
    units: dict[str, int] = {}
    notes: list[str] = []
    for tool, fee, bit in (
        ("google_search", rates.grounding, GROUNDED_SEARCH),
        ("google_maps", rates.maps_grounding, GROUNDED_MAPS),
    ):
        prompts = int(((grounded & bit) > 0).sum())
        per_query = tool == "google_search" and (fee is None or fee.unit == "search query")
        used = queries if per_query else prompts
        if not used:
            continue
        units[_UNIT_KEYS[tool, per_query]] = used
        name = TOOL_NAMES[tool]
        if fee is None or fee.usd_per_1k is None:
            notes.append(
                f"{name}: the results show {plural(used, 'use')} but the price book has no fee for {rates.model}: not "
                "included; add one with --prices FILE"
            )
            continue
        total += fee_usd(fee, used)
        if fee.factor_assumed and rates.mode != "standard":
            notes.append(
                f"{name}: {used:,} {agree(used, fee.unit, unit_plural(fee.unit))} priced at the full fee in "
                f"{rates.mode} (assumed)"
            )
    return total, units, notes
