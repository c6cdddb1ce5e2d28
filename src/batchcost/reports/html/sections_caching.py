"""The caching section: what to cache and what it saves, the shared prefixes priced, or why caching does not pay."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ..terminal import money
from .context import CachingSection, CandidateRow, ChosenCacheRow, Money
from .display import num

MAX_CANDIDATES = 8


def caching_section(c: Any, batch_cached: Any) -> CachingSection | None:
    """The ``caching`` key (``CachingAdvice.to_json()``), or None when absent."""
    if not isinstance(c, Mapping):
        return None
    rec = c.get("recommendation") if isinstance(c.get("recommendation"), Mapping) else None
    candidates_in = [x for x in c.get("candidates") or [] if isinstance(x, Mapping)]
    described = {str(x.get("id")): str(x.get("description") or x.get("id")) for x in candidates_in}
    chosen = [
        ChosenCacheRow(
            candidate=described.get(str(ch.get("candidate")), str(ch.get("candidate"))),
            requests=num(ch.get("requests")), no_cache=Money.of(ch.get("no_cache")), cost=Money.of(ch.get("cost")),
            creation=Money.of(ch.get("creation")), storage=Money.of(ch.get("storage")),
            saving=Money.of(ch.get("saving")),
        )
        for ch in (rec or {}).get("caches") or []
    ]  # fmt: skip
    candidates = []
    for x in candidates_in[:MAX_CANDIDATES]:
        options = x.get("options") or {}
        ex = options.get("explicit") or {}
        im = options.get("implicit_best_case") or {}
        requests = num(x.get("requests")) + (" (est.)" if x.get("estimated") else "")
        hours = ex.get("break_even_hours")
        candidates.append(
            CandidateRow(
                id=str(x.get("id", "")), description=_excerpt(x.get("description")), requests=requests,
                prefix_tokens=num(x.get("prefix_tokens")), no_cache=Money.of((options.get("no_cache") or {}).get("cost")),
                explicit_cost=Money.of(ex.get("cost")) if ex.get("available") else Money("n/a"),
                explicit_saving=Money.of(ex.get("saving")) if ex.get("available") else Money("n/a"),
                break_even_requests=num(ex.get("break_even_requests")),
                break_even_hours="-" if hours is None else f"{Decimal(str(hours)):f} h",
                implicit_saving=Money.of(im.get("best_case_saving")) if im.get("available") else Money("n/a"),
                pays=bool(ex.get("pays")),
                why="; ".join(str(r.get("text", "")) for r in ex.get("reasons") or [] if isinstance(r, Mapping)),
            )
        )  # fmt: skip
    more = ""
    if len(candidates_in) > MAX_CANDIDATES:
        more = f"Showing the {MAX_CANDIDATES} best of {len(candidates_in):,} shared prefixes."
    bc = batch_cached if isinstance(batch_cached, Mapping) else c.get("batch_cached")
    bc_value = None
    if isinstance(bc, Mapping) and "not_priced" not in bc:
        bc_value = bc.get("expected") if bc.get("expected") is not None else bc.get("floor")
    saving = ""
    if rec and rec.get("saving") is not None:
        saving = money(rec["saving"])
        if rec.get("saving_percent") is not None:
            saving += f" ({rec['saving_percent']}% of the batch {rec.get('basis') or 'expected'} cost)"
    implicit = ""
    if c.get("implicit_best_case_saving") is not None:
        implicit = (
            f"Implicit caching could save up to {money(c['implicit_best_case_saving'])} if every eligible request "
            "hit the cache; there is no guarantee, so it is in no expected figure."
        )
    hours = c.get("hours")
    return CachingSection(
        pays=bool(c.get("pays")),
        summary=_sentence(str(c.get("summary") or c.get("reason") or "")),
        recommendation="explicit cache"
        if rec and len(chosen) == 1
        else (f"{len(chosen)} explicit caches" if rec else "no cache"),
        batch_cached=None if bc_value is None else Money.of(bc_value),
        saving=saving,
        hours="" if hours is None else f"{Decimal(str(hours)):f} h",
        chosen=chosen,
        candidates=candidates,
        more=more,
        implicit=implicit,
        notes=[str(n) for n in c.get("notes") or []],
    )


def _sentence(text: str) -> str:
    """Capitalised and ending with a full stop, for a line shown as a sentence."""
    text = text.strip()
    if not text:
        return ""
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


def _excerpt(text: Any, limit: int = 160) -> str:
    s = "" if text is None else " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"
