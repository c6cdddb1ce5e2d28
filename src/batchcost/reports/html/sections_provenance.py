"""Where the figures come from: the assumptions made, the rates used with their sources, the input files."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ...text import one_line
from ..terminal import price_rows
from .context import FileRow, PriceRow
from .display import file_name, size
from .sections_tokens import method_label

_URL = re.compile(r"https?://[^\s<>\"')]+")
_RATE = re.compile(r"\$[\d.,]+/1M")  # "$0.125/1M tokens": a note that quotes a rate


def assumptions(plan: Mapping[str, Any]) -> list[str]:
    """What the figures assume (output expectation, approximate counts, routing, derived rates) and the plan's warnings."""
    out: list[str] = []
    t = plan["tokens"]
    o = t["output"]
    if o.get("expected") is None:
        out.append(
            "Output expectation unknown: the report shows the input-only floor and the ceiling. "
            "Give --output-tokens N or --output-ratio R for an expected cost."
        )
    elif o.get("source"):
        out.append(f"Output expectation: {o['source']}.")
    if t["method"] == "approximate":
        out.append(f"Token counts are APPROXIMATE ({method_label(t)}); use the local tokenizer for exact counts.")
    if plan["billed_model"] != plan["model"]:
        out.append(f"{plan['model']} is billed as {plan['billed_model']} on {plan['run_date']} (model routing).")
    derived = sorted({f"{p['model']} {p['mode']} {p['component']}" for p in plan["prices"] if p.get("derived")})
    if derived:
        out.append("Derived rates (not read on Google's price page; see the notes): " + ", ".join(derived) + ".")
    overridden = sorted({f"{p['model']} {p['mode']} {p['component']}" for p in plan["prices"] if p.get("overridden")})
    if overridden:
        out.append("Rates overridden by a --prices file: " + ", ".join(overridden) + ".")
    out.extend(str(w) for w in plan.get("warnings") or [])
    return out


def prices_shown(prices: Sequence[Mapping[str, Any]]) -> list[PriceRow]:
    """The rates used, each with its source split into text and link."""
    rows = []
    for mode, component, modality, tier, rate_text, checked, source in price_rows(prices)[1:]:
        m = _URL.search(source)
        url = m.group(0).rstrip(".,;") if m else None
        # "Title (url), checked DATE" reads as "Title, checked DATE" beside its link
        text = source if url is None else source.replace(f" ({url})", "").replace(url, "").rstrip(" :")
        rows.append(PriceRow(mode, component, modality or "-", tier or "all", rate_text, checked, text, url))
    return rows


def cache_rates(plan: Mapping[str, Any]) -> list[str]:
    """The caching advice's notes that quote a rate it used (cache read, creation, storage), with their sources.

    The plan's ``prices`` list holds the rates of the mode costs; the caching advice priced its
    explicit caches with three more (cache read, creation at the standard input rate, storage per
    hour) and says which, with their sources, in its notes. They are shown as written.
    """
    caching = plan.get("caching")
    if not isinstance(caching, Mapping):
        return []
    listed = {(p.get("component"), p.get("mode")) for p in plan.get("prices") or []}
    if {("cache_read", "batch"), ("cache_storage", "batch")} <= listed:
        return []  # the price table has them
    return [str(n) for n in caching.get("notes") or [] if _RATE.search(str(n))]


def file_row(f: Mapping[str, Any]) -> FileRow:
    """One input file of the plan, by name (the JSON plan keeps where it is), with its fingerprint."""
    form = str(f.get("form") or "")
    if f.get("compressed"):
        form += ", gzip"
    lines = f.get("lines")
    requests = f.get("requests")
    return FileRow(
        name=one_line(file_name(f.get("path", ""))),
        size=size(f.get("bytes")),
        lines="-" if lines is None else f"{lines:,}",
        requests="-" if requests is None else f"{requests:,}",
        form=form,
        sha256=str(f.get("sha256") or "not computed"),
    )
