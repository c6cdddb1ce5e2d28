"""The token section: input tokens by modality and place, the output expectation, the size histogram."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .. import charts
from ..terminal import output_units
from .context import Chart, TokenRow, TokenSection
from .display import count, interval, markup, pct, tokens_or_unknown


def method_label(t: Mapping[str, Any]) -> str:
    """How the tokens were counted: exactly, on a sample, or by the labelled heuristic."""
    m = t["method"]
    if m == "exact":
        return f"Exact: every request counted with the {t['tokenizer']} tokenizer"
    if m == "sampled":
        return (
            f"Sampled: {count(t['counted_exactly'], 'request')} counted exactly with the {t['tokenizer']} tokenizer, "
            "the rest extrapolated; ranges are 95% intervals"
        )
    err = t.get("approx_error_pct")
    return f"APPROXIMATE: {t['tokenizer']} heuristic" + (f" (typical error ±{err:g}%)" if err is not None else "")


def token_section(plan: Mapping[str, Any]) -> TokenSection:
    """Input tokens (total, by modality, by place) and the output expectation and ceiling."""
    t = plan["tokens"]
    tin = t["input"]
    whole = Decimal(tin["expected"] or 0)

    def row(label: str, d: Mapping[str, Any]) -> TokenRow:
        return TokenRow(label, f"{d['expected']:,}", interval(d), pct(Decimal(d["expected"]), whole))

    mods = [row(k, v) for k, v in tin.get("by_modality", {}).items() if v["expected"] or k == "text"]
    place_names = {"system": "system instruction", "contents": "contents", "tools": "tools"}
    places = [row(place_names.get(k, k), v) for k, v in (tin.get("by_place") or {}).items()]
    o = t["output"]
    above = t.get("above_200k") or {}
    above_text = ""
    if above.get("expected"):
        above_text = count(above["expected"], "request") + " above 200k input tokens"
        if above.get("low") != above.get("high"):
            above_text += f" (95%: {above['low']:,} - {above['high']:,})"
        above_text += ": all their tokens are billed at the >200k rates"
    return TokenSection(
        method=method_label(t),
        approximate=t["method"] == "approximate",
        interval_label="range (heuristic error)" if t["method"] == "approximate" else "95% interval",
        description=str(t.get("tokenizer_description") or ""),
        total=row("all input", tin),
        by_modality=mods,
        by_place=places,
        output_expected="unknown" if o.get("expected") is None else f"{o['expected']:,}",
        output_source=str(o.get("source") or "no expectation given (use --output-tokens or --output-ratio)"),
        output_ceiling=tokens_or_unknown(o["ceiling"]),
        output_units=output_units(o),
        above_tier=above_text,
    )


def tokens_chart(plan: Mapping[str, Any]) -> Chart | None:
    """The histogram of input tokens per request, or None when the plan has no distribution."""
    t = plan["tokens"]
    tiered = any(p.get("tier") for p in plan["prices"])
    dist = t.get("distribution") or {"edges": [], "counts": []}
    hist_svg = charts.token_histogram(dist["edges"], dist["counts"], tier=tiered)
    return (
        None
        if hist_svg is None
        else Chart(
            "histogram",
            "Input tokens per request",
            "How many requests fall in each size band"
            + (
                "; bars right of the dashed line are billed at the higher >200k prompt rates."
                if tiered and dist["edges"] and dist["edges"][-1] > charts.TIER_THRESHOLD
                else "."
            )
            + (" Sizes are estimated from the sample." if t["method"] != "exact" else ""),
            markup(hist_svg),
        )
    )
