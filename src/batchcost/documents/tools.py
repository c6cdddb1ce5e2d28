"""The plan's ``tools`` section: the fees of Grounding with Google Search and Maps.

Present only when some request carries a tool with a fee. ``per_request`` is what each request
with the tool is expected to issue (search queries; grounded prompts, at most one per request) and
``source`` says where it comes from (``assumed`` true: one per request, a floor). ``fees`` lists, per
mode, each tool's units over the file, its fee per 1,000 units (times the mode's factor, an
assumption where Google is silent) and what it costs; the same figures are the ``tool_fees`` part
of ``cost.<mode>.by_component``.
"""

from __future__ import annotations

import datetime
from typing import Literal

from .common import ComponentCost, Count, ExactDecimal, Strict

__all__ = ["ToolFeeEntry", "ToolsPerRequest", "ToolsSection", "UnitFigures"]


class UnitFigures(Strict):
    """Units (queries, grounded prompts or tokens), each end of the interval."""

    expected: ExactDecimal
    low: ExactDecimal
    high: ExactDecimal


class ToolsPerRequest(Strict):
    """Per request that carries the tool (``tool_result_tokens`` null: unknown, not priced)."""

    search_queries: UnitFigures
    grounded_prompts: UnitFigures
    maps_grounded_prompts: UnitFigures
    tool_result_tokens: UnitFigures | None


class ToolFeeEntry(Strict):
    """One tool's fee over the file in one mode (``usd`` null when the fee is unknown, never 0)."""

    tool: Literal["google_search", "google_maps"]
    unit: Literal["search query", "grounded prompt"]
    requests: Count
    units: UnitFigures
    usd_per_1k: ExactDecimal | None
    usd: ComponentCost | None
    mode_factor: ExactDecimal
    mode_factor_assumed: bool
    free_allowance: str | None
    free_units_subtracted: Count | None
    source: str
    checked: datetime.date


class ToolsSection(Strict):
    """Requests per tool, the expectation and its source, and the fees per mode."""

    requests: dict[str, Count]
    per_request: ToolsPerRequest
    source: str
    assumed: bool
    free_units: Count | None
    fees: dict[str, list[ToolFeeEntry]]
