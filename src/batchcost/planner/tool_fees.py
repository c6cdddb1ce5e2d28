"""The estimate's tool-fee component: Grounding with Google Search and Maps, per mode.

How many requests can ground is read from the file (``tools`` with ``googleSearch`` /
``googleSearchRetrieval`` or ``googleMaps``). How many units each issues comes from, in order:
``--search-queries N`` per request, what a previous job's results show (``--calibrate-from``),
or, without either, one per request, shown as a floor (the way an unknown output expectation is).
Units are what the model's fee counts: search queries (Gemini 3 and later), or grounded prompts
(Gemini 2.5, and Maps): a request grounds at most once, so N queries make one grounded prompt.

The fee is the price book's (per model, times the mode's factor: an assumption where Google is
silent, as for batch). A free allowance is mentioned and never subtracted, unless the user says how
much of it is left (``--search-free-queries N``, taken off the Search units of the job). Tool
results fed back as input (``toolUsePromptTokenCount``) are priced at the text input rate when past
results give a figure per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from ..money import usd
from ..pricing.tool_fees import TOOL_NAMES, fee_usd, unit_plural
from ..text import agree, plural

if TYPE_CHECKING:
    from ..afterjob.tool_use import PerRequest, ToolUse
    from ..batchfile import ScanResult
    from ..pricing import GroundingFee, ModeRates

ENDS = ("expected", "low", "high")


def _dec(x: float) -> Decimal:
    """A per-request mean as a Decimal (6 decimal places: exact for the figures users type)."""
    return Decimal(repr(round(float(x), 6)))


@dataclass(frozen=True)
class ToolExpectation:
    """Units per request that carries a tool, each end of its interval, and its source.

    Attributes:
        queries: search queries per request with Google Search (expected, low, high).
        grounded: grounded prompts per request with Google Search (at most 1).
        maps_grounded: grounded prompts per request with Google Maps (at most 1).
        tool_tokens: tool-result input tokens per request with Google Search (None: unknown).
        source: where the figures come from, in words.
        assumed: True when nothing was given: one unit per request, shown as a floor.
        maps_assumed: True when the Maps figure is the one-per-request assumption.
    """

    queries: tuple[Decimal, Decimal, Decimal]
    grounded: tuple[Decimal, Decimal, Decimal]
    maps_grounded: tuple[Decimal, Decimal, Decimal]
    tool_tokens: tuple[Decimal, Decimal, Decimal] | None
    source: str
    assumed: bool
    maps_assumed: bool = True


def _ends(p: PerRequest, cap: float | None = None) -> tuple[Decimal, Decimal, Decimal]:
    vals = (p.expected, p.low, p.high)
    if cap is not None:
        vals = tuple(min(v, cap) for v in vals)  # type: ignore[assignment]
    return (_dec(vals[0]), _dec(vals[1]), _dec(vals[2]))


def tool_expectation(search_queries: float | None, tool_use: ToolUse | None) -> ToolExpectation:
    """The expectation from ``--search-queries`` (first), learnt tool use, or the one-per-request floor."""
    one = (Decimal(1), Decimal(1), Decimal(1))
    if search_queries is not None:
        q = _dec(search_queries)
        g = min(q, Decimal(1))
        tokens = None if tool_use is None else _ends(tool_use.tool_tokens)
        return ToolExpectation(
            queries=(q, q, q), grounded=(g, g, g), maps_grounded=one, tool_tokens=tokens,
            source=f"--search-queries {search_queries:g} per request with Google Search", assumed=False,
        )  # fmt: skip
    if tool_use is not None and tool_use.search_requests:
        maps = one if tool_use.maps_grounded is None else _ends(tool_use.maps_grounded, 1.0)
        return ToolExpectation(
            queries=_ends(tool_use.queries), grounded=_ends(tool_use.grounded, 1.0), maps_grounded=maps,
            tool_tokens=_ends(tool_use.tool_tokens), source=tool_use.source, assumed=False,
            maps_assumed=tool_use.maps_grounded is None,
        )  # fmt: skip
    return ToolExpectation(
        queries=one, grounded=one, maps_grounded=one, tool_tokens=None,
        source="assumed: 1 search query (or grounded prompt) per request with the tool, a floor; give "
        "--search-queries N or --calibrate-from RESULTS for an expectation",
        assumed=True,
    )  # fmt: skip


def tool_requests(scan: ScanResult) -> dict[str, int]:
    """Usable requests that carry each tool (``google_search``, ``google_maps``)."""
    from ..batchfile.request import FLAG_GOOGLE_MAPS, FLAG_GOOGLE_SEARCH

    flags = scan.rows["flags"][scan.rows["usable"].astype(bool)].astype(np.int64)
    return {
        "google_search": int(((flags & FLAG_GOOGLE_SEARCH) > 0).sum()),
        "google_maps": int(((flags & FLAG_GOOGLE_MAPS) > 0).sum()),
    }


@dataclass
class ToolFee:
    """One tool's fee over the whole file in one mode."""

    tool: str
    unit: str
    requests: int
    usd_per_1k: Decimal | None
    units: dict[str, Decimal]
    usd: dict[str, Decimal] | None  # None: the fee is unknown (not priced, never $0)
    free_allowance: str | None
    free_units: int | None
    factor: Decimal
    factor_assumed: bool
    fee: Any = field(repr=False, default=None)  # the GroundingFee

    def to_json(self) -> dict[str, Any]:
        prov = self.fee.provenance if self.fee is not None else None
        return {
            "tool": self.tool,
            "unit": self.unit,
            "requests": self.requests,
            "units": {k: _num(v) for k, v in self.units.items()},
            "usd_per_1k": usd(self.usd_per_1k),
            "usd": None if self.usd is None else {k: usd(v) for k, v in self.usd.items()},
            "mode_factor": str(self.factor),
            "mode_factor_assumed": self.factor_assumed,
            "free_allowance": self.free_allowance,
            "free_units_subtracted": self.free_units,
            "source": "" if prov is None else prov.source,
            "checked": None if prov is None else prov.checked.isoformat(),
        }


@dataclass
class ModeTools:
    """Tool fees and tool-result tokens of the whole file in one mode."""

    fees: list[ToolFee]
    tool_tokens_usd: dict[str, Decimal]
    notes: list[str]

    def fee_total(self, end: str) -> Decimal:
        return sum((f.usd[end] for f in self.fees if f.usd is not None), Decimal(0))

    def tokens_total(self, end: str) -> Decimal:
        return self.tool_tokens_usd.get(end, Decimal(0))


def _fee(
    tool: str, fee: GroundingFee, n: int, per_request: tuple[Decimal, Decimal, Decimal], free: int | None
) -> ToolFee:
    units = {end: Decimal(n) * v for end, v in zip(ENDS, per_request, strict=True)}
    priced = fee.usd_per_1k is not None
    return ToolFee(
        tool=tool, unit=fee.unit, requests=n, usd_per_1k=fee.usd_per_1k, units=units,
        usd={end: fee_usd(fee, u, free) for end, u in units.items()} if priced else None,
        free_allowance=fee.free_allowance, free_units=free, factor=fee.mode_factor,
        factor_assumed=fee.factor_assumed, fee=fee,
    )  # fmt: skip


def price_tools(
    rates: ModeRates, requests: Mapping[str, int], exp: ToolExpectation, free_units: int | None = None
) -> ModeTools:
    """Tool fees and tool-result tokens in ``rates``' mode for the requests that carry each tool."""
    fees: list[ToolFee] = []
    notes: list[str] = []
    n_search, n_maps = requests.get("google_search", 0), requests.get("google_maps", 0)
    if n_search:
        g = rates.grounding
        if g is None:
            notes.append(
                f"{plural(n_search, 'request')} {agree(n_search, 'uses', 'use')} Grounding with Google Search but "
                f"the price book has no Search fee for {rates.model}: not included; add one with --prices FILE"
            )
        else:
            per = exp.queries if g.unit == "search query" else exp.grounded
            fees.append(_fee("google_search", g, n_search, per, free_units))
    if n_maps:
        m = rates.maps_grounding
        if m is None:
            notes.append(
                f"{plural(n_maps, 'request')} {agree(n_maps, 'uses', 'use')} Grounding with Google Maps but no "
                f"Maps fee is known for {rates.model}: not included; add one under tool_fees.google_maps with "
                "--prices FILE"
            )
        else:
            fees.append(_fee("google_maps", m, n_maps, exp.maps_grounded, None))
    for f in fees:
        if f.usd is None:
            notes.append(
                f"{TOOL_NAMES[f.tool]}: the fee for {rates.model} is unknown on {rates.run_date}: not included; add "
                "one with --prices FILE"
            )
    tokens_usd: dict[str, Decimal] = {}
    if exp.tool_tokens is not None and n_search:
        rate = rates.input["text"].usd_per_mtok
        tokens_usd = {
            end: (Decimal(n_search) * t * rate).scaleb(-6) for end, t in zip(ENDS, exp.tool_tokens, strict=True)
        }
    return ModeTools(fees=fees, tool_tokens_usd=tokens_usd, notes=notes)


def tools_json(
    requests: Mapping[str, int], exp: ToolExpectation, per_mode: Mapping[str, ModeTools], free_units: int | None
) -> dict[str, Any] | None:
    """The plan's ``tools`` section (None when no request carries a priced tool)."""
    if not any(requests.values()):
        return None
    return {
        "requests": dict(requests),
        "per_request": {
            "search_queries": _ends_json(exp.queries),
            "grounded_prompts": _ends_json(exp.grounded),
            "maps_grounded_prompts": _ends_json(exp.maps_grounded),
            "tool_result_tokens": None if exp.tool_tokens is None else _ends_json(exp.tool_tokens),
        },
        "source": exp.source,
        "assumed": exp.assumed,
        "free_units": free_units,
        "fees": {mode: [f.to_json() for f in mt.fees] for mode, mt in per_mode.items()},
    }


def _ends_json(values: tuple[Decimal, Decimal, Decimal]) -> dict[str, str]:
    return {end: _num(v) for end, v in zip(ENDS, values, strict=True)}


def _num(v: Decimal) -> str:
    """A unit count as a plain decimal string (``"2000"``, ``"1.5"``)."""
    return format(v.normalize(), "f")


def describe_fee(f: ToolFee) -> str:
    """One line: ``Grounding with Google Search: 2,000 search queries x $14.00/1k``."""
    rate = "fee unknown" if f.usd_per_1k is None else f"${f.usd_per_1k:,.2f}/1k"
    units = f.units["expected"]
    shown = f"{units:,.0f}" if units == units.to_integral() else f"{units:,.1f}"
    return f"{TOOL_NAMES[f.tool]}: {shown} {f.unit if units == 1 else unit_plural(f.unit)} x {rate}"


def shard_tool_fees(mt: ModeTools, flags: np.ndarray) -> tuple[Decimal, Decimal]:
    """``(expected, high)`` tool fees and tool-result tokens of the requests with these ``flags`` (one shard).

    Each request with a tool pays its share of the file's figure (the same units per request);
    a free allowance is not taken off per shard, so shard costs err high where one was given.
    """
    from ..batchfile.request import FLAG_GOOGLE_MAPS, FLAG_GOOGLE_SEARCH

    flags = np.asarray(flags).astype(np.int64)
    counts = {
        "google_search": int(((flags & FLAG_GOOGLE_SEARCH) > 0).sum()),
        "google_maps": int(((flags & FLAG_GOOGLE_MAPS) > 0).sum()),
    }
    out = {"expected": Decimal(0), "high": Decimal(0)}
    for end in out:
        for f in mt.fees:
            if f.usd is None or f.fee is None or not f.requests or not counts[f.tool]:
                continue
            out[end] += fee_usd(f.fee, f.units[end] / f.requests * counts[f.tool])
        n_search = next((f.requests for f in mt.fees if f.tool == "google_search"), 0)
        if mt.tool_tokens_usd and n_search and counts["google_search"]:
            out[end] += mt.tool_tokens_usd[end] / n_search * counts["google_search"]
    return out["expected"], out["high"]


def per_request_tool_fees(mt: ModeTools, flags: np.ndarray, usable: np.ndarray, end: str = "expected") -> np.ndarray:
    """Each request's share of the mode's tool fees and tool-result tokens, float64 USD (for tables).

    The file's fee for a tool (after any free allowance given) is shared equally by the usable requests
    that carry the tool, as shard costs share it; the tool-result tokens by those with Google Search.
    Summed, the column is the mode's tool fees plus tool-result tokens.
    """
    from ..batchfile.request import FLAG_GOOGLE_MAPS, FLAG_GOOGLE_SEARCH

    flags = np.asarray(flags).astype(np.int64)
    ok = np.asarray(usable, bool)
    has = {
        "google_search": ok & ((flags & FLAG_GOOGLE_SEARCH) > 0),
        "google_maps": ok & ((flags & FLAG_GOOGLE_MAPS) > 0),
    }
    out = np.zeros(len(flags), np.float64)
    for f in mt.fees:
        n = int(has[f.tool].sum())
        if f.usd is not None and n:
            out[has[f.tool]] += float(f.usd[end]) / n
    n_search = int(has["google_search"].sum())
    if mt.tool_tokens_usd.get(end) and n_search:
        out[has["google_search"]] += float(mt.tool_tokens_usd[end]) / n_search
    return out


def tool_warnings(requests: Mapping[str, int], exp: ToolExpectation) -> list[str]:
    """What the user should act on about the tool fees: a fee priced at the one-per-request floor."""
    out = []
    n_search, n_maps = requests.get("google_search", 0), requests.get("google_maps", 0)
    if exp.assumed and n_search:
        out.append(
            f"{plural(n_search, 'request')} {agree(n_search, 'uses', 'use')} Grounding with Google Search: "
            "its fee is priced at 1 search query (or grounded prompt) per request, a floor (a prompt may issue "
            "several); give --search-queries N or --calibrate-from RESULTS for an expectation"
        )
    if exp.maps_assumed and n_maps:
        out.append(
            f"{plural(n_maps, 'request')} {agree(n_maps, 'uses', 'use')} Grounding with Google Maps: its fee is priced "
            "at 1 grounded prompt per request"
        )
    return out


def allowance_notes(modes: Iterable[Any], free_units: int | None) -> list[str]:
    """The free allowance of each tool fee, mentioned once; subtracted only as the user said."""
    out = []
    for mode in modes:
        for f in [] if mode.tools is None else mode.tools.fees:
            name = TOOL_NAMES[f.tool]
            if f.free_allowance:
                if f.tool == "google_search" and free_units:
                    out.append(
                        f"{name}: free allowance {f.free_allowance}; {free_units:,} free "
                        f"{agree(free_units, f'{f.unit} is', f'{unit_plural(f.unit)} are')} subtracted "
                        "(--search-free-queries)"
                    )
                else:
                    hint = "; give --search-free-queries N with what is left of it" if f.tool == "google_search" else ""
                    out.append(
                        f"{name}: free allowance {f.free_allowance}, not subtracted (Google does not say whether it is "
                        f"per project or per billing account, nor when it resets){hint}"
                    )
            for note in f.fee.notes if f.fee is not None else ():
                out.append(f"{name}: {note}" if not note.startswith("Google") else note)
    return list(dict.fromkeys(out))
