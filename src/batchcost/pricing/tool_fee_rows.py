"""The price book's tool-fee rows: how modes treat tool fees, and the fees not held per model.

Grounding with Google Search is priced per model (each model's ``grounding`` block, over
genai-prices' ``web_searches_kcount``). This module reads the ``tool_fees:`` section that the
packaged ``data/tool_fees.yaml`` and a user's ``--prices FILE`` share:

* ``modes``: per non-standard mode, the factor tool fees are multiplied by there. Google does not
  say whether batch (or flex) discounts tool fees, so the packaged factor is an *assumption* (the
  higher of the plausible figures, 1 = not discounted), shown wherever the fee is, and a user can
  set another one.
* ``free_allowance_scope``: what is known of the free allowances' scope and reset window (a note).
* ``google_maps``: Grounding with Google Maps, one row per group of models: unit, fee per 1,000
  units, start date, free allowance, provenance. A model no row names has no known Maps fee.

Parsing is given the overlay's readers (:class:`Readers`) so that sources, dates and rates are read
and reported exactly as everywhere else in the price files.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from batchcost.pricing.records import MODES, Provenance, frozen_map

TOOLS: tuple[str, ...] = ("google_search", "google_maps")
"""Tools with a fee: Grounding with Google Search and with Google Maps."""

UNITS: tuple[str, ...] = ("search query", "grounded prompt")


@dataclass(frozen=True, slots=True)
class ModeFactor:
    """What tool fees are multiplied by in one mode.

    Attributes:
        mode: ``batch``, ``flex`` or ``priority``.
        factor: the multiplier (1 = the standard fee).
        assumption: True when no source states it (the note says what was assumed and why).
        note: one line for the reader.
        provenance: where it comes from.
    """

    mode: str
    factor: Decimal
    assumption: bool
    note: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ToolFeeRow:
    """A tool's fee for a group of models.

    Attributes:
        tool: one of :data:`TOOLS`.
        models: canonical ids of the models it applies to.
        unit: ``search query`` or ``grounded prompt``.
        fee_per_1k: USD per 1,000 units; None when unknown (never priced at $0).
        start: first day it is billed (None: as long as the sources go back).
        free_allowance: the allowance as the source states it (text), or None.
        provenance: the sources.
    """

    tool: str
    models: tuple[str, ...]
    unit: str
    fee_per_1k: Decimal | None
    start: datetime.date | None
    free_allowance: str | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ToolFeeTable:
    """The ``tool_fees`` section after every layer (later layers first in :meth:`row`)."""

    modes: Mapping[str, ModeFactor] = field(default_factory=frozen_map)
    rows: tuple[ToolFeeRow, ...] = ()
    free_allowance_scope: str = ""

    def row(self, tool: str, model: str, day: datetime.date) -> ToolFeeRow | None:
        """The row pricing ``tool`` on ``model`` on ``day`` (the last layer's, the latest start)."""
        found = [r for r in self.rows if r.tool == tool and model in r.models and (r.start is None or r.start <= day)]
        if not found:
            return None
        # a user's row (appended later) wins over the packaged one, and a later start over an earlier
        return max(enumerate(found), key=lambda ir: (ir[1].start or datetime.date.min, ir[0]))[1]


@dataclass(frozen=True, slots=True)
class Readers:
    """The overlay's readers for one file (each reports its own problems with the path)."""

    error: Callable[[str, str], None]
    provenance: Callable[[str, Mapping[str, Any]], Provenance]
    rate: Callable[[str, Any], Decimal | None]
    date: Callable[[str, Any], datetime.date | None]
    text: Callable[[str, Any], str | None]
    keys: Callable[[str, Mapping[str, Any], set[str]], None]


def parse_tool_fees(raw: Any, base: ToolFeeTable, read: Readers) -> ToolFeeTable:
    """Read a ``tool_fees:`` section on top of ``base`` (modes replace, rows add).

    Problems are reported through ``read.error``; the caller raises them all at once.
    """
    if raw is None:
        return base
    if not isinstance(raw, Mapping):
        read.error("tool_fees", "must be a mapping (modes, free_allowance_scope, google_maps)")
        return base
    read.keys("tool_fees", raw, {"modes", "free_allowance_scope", "google_maps"})
    modes = dict(base.modes)
    modes_raw = raw.get("modes")
    if modes_raw is not None:
        if not isinstance(modes_raw, Mapping):
            read.error("tool_fees.modes", "must map modes (batch, flex, priority) to a factor")
        else:
            for mode, item in modes_raw.items():
                factor = _mode_factor(str(mode), item, read)
                if factor is not None:
                    modes[factor.mode] = factor
    scope = base.free_allowance_scope
    if "free_allowance_scope" in raw:
        scope = read.text("tool_fees.free_allowance_scope", raw["free_allowance_scope"]) or ""
    rows = list(base.rows)
    maps_raw = raw.get("google_maps")
    if maps_raw is not None:
        if not isinstance(maps_raw, list):
            read.error("tool_fees.google_maps", "must be a list of rows (models, unit, fee_per_1k, ...)")
        else:
            for i, item in enumerate(maps_raw):
                row = _row("google_maps", f"tool_fees.google_maps[{i}]", item, read)
                if row is not None:
                    rows.append(row)
    return ToolFeeTable(modes=frozen_map(modes), rows=tuple(rows), free_allowance_scope=scope)


def _mode_factor(mode: str, item: Any, read: Readers) -> ModeFactor | None:
    where = f"tool_fees.modes.{mode}"
    if mode not in MODES or mode == "standard":
        read.error(where, f"unknown mode; use one of {', '.join(m for m in MODES if m != 'standard')}")
        return None
    if not isinstance(item, Mapping):
        item = {"factor": item}  # a user may write just `batch: "0.5"`
    read.keys(where, item, {"factor", "assumption", "note", "source", "checked"})
    factor = read.rate(f"{where}.factor", item.get("factor"))
    if factor is None:
        read.error(f"{where}.factor", 'must be a decimal multiplier such as "1" or "0.5"')
        return None
    assumption = item.get("assumption", False)
    if not isinstance(assumption, bool):
        read.error(f"{where}.assumption", "must be true or false")
        assumption = False
    note = read.text(f"{where}.note", item.get("note")) or ""
    return ModeFactor(mode, factor, assumption, note, read.provenance(where, item))


def _row(tool: str, where: str, item: Any, read: Readers) -> ToolFeeRow | None:
    if not isinstance(item, Mapping):
        read.error(where, "must be a mapping")
        return None
    read.keys(where, item, {"models", "unit", "fee_per_1k", "start", "free_allowance", "source", "checked", "note"})
    models = item.get("models")
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
        read.error(f"{where}.models", "must list the model ids the fee applies to")
        return None
    unit = item.get("unit")
    if unit not in UNITS:
        read.error(f"{where}.unit", f"must be one of {', '.join(repr(u) for u in UNITS)}")
        return None
    if "fee_per_1k" not in item:
        read.error(f"{where}.fee_per_1k", 'missing: USD per 1,000 units as a quoted decimal ("25"), or null if unknown')
        return None
    start = item.get("start")
    return ToolFeeRow(
        tool=tool,
        models=tuple(m.strip().lower().removeprefix("models/") for m in models),
        unit=unit,
        fee_per_1k=read.rate(f"{where}.fee_per_1k", item.get("fee_per_1k")),
        start=None if start is None else read.date(f"{where}.start", start),
        free_allowance=read.text(f"{where}.free_allowance", item.get("free_allowance")),
        provenance=read.provenance(where, item),
    )
