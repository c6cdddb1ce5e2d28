"""Tool use learnt from results: Search queries, grounded prompts and tool-result tokens per request.

What a request with Grounding with Google Search (or Maps) costs beyond its tokens depends on how
often the model searched: ``groundingMetadata.webSearchQueries`` per result (Gemini 3 and later
bill per query), whether the answer was grounded at all (Gemini 2.5 bills per grounded prompt)
and ``toolUsePromptTokenCount`` (search results fed back, billed as input). This module measures
them on a previous job's results, per request that carried the tool, with a 95% interval on each
mean, for the next estimate (``--calibrate-from``).

Which results carried the tool is known from the requests file (joined by key or line order).
Without it, the results that show grounding are taken as the requests that carried the tool:
requests that had the tool but did not search are then missed, so the means err high (a warning
says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..text import plural

if TYPE_CHECKING:
    from ..batchfile.results import ResultSet

MIN_TOOL_RESULTS = 2
"""Fewest results with the tool for a learnt expectation (a mean and its interval need two)."""


@dataclass(frozen=True)
class PerRequest:
    """A mean per request with its 95% interval (``low <= expected <= high``, never negative)."""

    expected: float
    low: float
    high: float

    @classmethod
    def of(cls, values: np.ndarray) -> PerRequest:
        from ..tokens.interval import t975

        n = len(values)
        mean = float(values.mean())
        if n < 2:
            return cls(mean, mean, mean)
        half = t975(n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
        return cls(mean, max(0.0, mean - half), mean + half)

    @classmethod
    def fixed(cls, value: float) -> PerRequest:
        return cls(value, value, value)

    def to_json(self) -> dict[str, float]:
        return {"expected": round(self.expected, 4), "low": round(self.low, 4), "high": round(self.high, 4)}


@dataclass(frozen=True)
class ToolUse:
    """Tool use per request that carried a tool, learnt from results.

    Attributes:
        source: where it was learnt, in words.
        search_requests: results counted as requests with Google Search.
        queries: ``webSearchQueries`` per such request.
        grounded: share of them grounded with Search (per-prompt billing).
        tool_tokens: ``toolUsePromptTokenCount`` per such request.
        maps_requests: results counted as requests with Google Maps.
        maps_grounded: share of them grounded with Maps (None without any).
        warnings: caveats (no requests file: the means err high).
    """

    source: str
    search_requests: int
    queries: PerRequest
    grounded: PerRequest
    tool_tokens: PerRequest
    maps_requests: int = 0
    maps_grounded: PerRequest | None = None
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "search_requests": self.search_requests,
            "queries": self.queries.to_json(),
            "grounded": self.grounded.to_json(),
            "tool_tokens": self.tool_tokens.to_json(),
            "maps_requests": self.maps_requests,
            "maps_grounded": None if self.maps_grounded is None else self.maps_grounded.to_json(),
        }


def learn_tool_use(rs: ResultSet, flags: np.ndarray | None, label: str) -> ToolUse | None:
    """Tool use per request with the tool, from the successful results of ``rs``.

    Args:
        rs: the results.
        flags: per successful result, the request's ``FLAG_*`` bits (-1 when its request is unknown),
            or None when no requests file was given.
        label: the results, as named in the source (file names).

    Returns:
        None when fewer than :data:`MIN_TOOL_RESULTS` results carried a tool.
    """
    from ..batchfile.request import FLAG_GOOGLE_MAPS, FLAG_GOOGLE_SEARCH
    from ..batchfile.results import GROUNDED_MAPS, GROUNDED_SEARCH, OK

    r = rs.rows
    ok = r["status"] == OK
    queries = r["search_queries"][ok].astype(np.float64)
    grounded = r["grounded"][ok].astype(np.int64)
    tokens = r["tool_use"][ok].astype(np.float64)
    warnings: list[str] = []
    shows_search = (queries > 0) | ((grounded & GROUNDED_SEARCH) > 0)
    shows_maps = (grounded & GROUNDED_MAPS) > 0
    if flags is not None and bool((flags >= 0).any()):
        known = flags >= 0
        search = known & ((flags & FLAG_GOOGLE_SEARCH) > 0)
        maps = known & ((flags & FLAG_GOOGLE_MAPS) > 0)
        # a result whose request is unknown counts when it shows grounding (the join missed it)
        search |= ~known & shows_search
        maps |= ~known & shows_maps
    else:
        search, maps = shows_search, shows_maps
        if search.any() or maps.any():
            warnings.append(
                "without the requests file, the results that show grounding are taken as the requests that carried "
                "the tool; requests that had it but did not search are missed, so the search expectation errs high"
            )
    n = int(search.sum())
    if n < MIN_TOOL_RESULTS and int(maps.sum()) < MIN_TOOL_RESULTS:
        return None
    zero = np.zeros(1)
    q = PerRequest.of(queries[search] if n else zero)
    g = PerRequest.of(((grounded[search] & GROUNDED_SEARCH) > 0).astype(np.float64) if n else zero)
    t = PerRequest.of(tokens[search] if n else zero)
    n_maps = int(maps.sum())
    mg = PerRequest.of(((grounded[maps] & GROUNDED_MAPS) > 0).astype(np.float64)) if n_maps else None
    source = (
        f"learnt from {label}: {plural(n, 'result')} with Google Search, {q.expected:.2f} search queries each "
        f"(95% {q.low:.2f} to {q.high:.2f}), {g.expected:.0%} grounded, {t.expected:,.0f} tool-result tokens each"
    )
    if n_maps:
        assert mg is not None
        source += f"; {n_maps:,} with Google Maps, {mg.expected:.0%} grounded"
    return ToolUse(
        source=source, search_requests=n, queries=q, grounded=g, tool_tokens=t, maps_requests=n_maps,
        maps_grounded=mg, warnings=tuple(warnings),
    )  # fmt: skip
