"""``--format csv``: the table a command shows, as CSV (header row first), for spreadsheets and scripts.

Each table has the rows of the text table it mirrors, read from the same JSON document, with the
figures exactly as the document has them: money as its exact decimal string (``"0.00112935"``, never
rounded as on screen), counts as plain integers, an unknown figure as an empty cell, and flags as
``true``/``false``. Nothing is computed here; a column's value is a document field. The table is
never cut short the way the screen's is (every shard, every problem the document lists).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def to_csv(rows: Iterable[Sequence[Any]]) -> str:
    """Rows (the header first) as CSV text: RFC 4180 quoting, ``\\n`` line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


PRICE_COLUMNS = (
    "model", "billed_model", "mode", "component", "modality", "tier", "usd", "unit", "checked", "source", "note",
    "derived", "overridden",
)  # fmt: skip


def price_rows(doc: Mapping[str, Any]) -> list[list[Any]]:
    """``prices``: one row per rate of the ``batchcost.prices/1`` document (``usd`` in USD per 1M tokens)."""
    return [list(PRICE_COLUMNS), *([rate.get(c) for c in PRICE_COLUMNS] for rate in doc["rates"])]


def problem_rows(doc: Mapping[str, Any]) -> list[list[Any]]:
    """``validate``: one row per problem the ``batchcost.validation/1`` document lists, kind by kind.

    ``kind_count`` is how many problems of that kind the files have in all (``--max-problems`` limits
    the rows listed per kind, as on screen).
    """
    rows: list[list[Any]] = [["severity", "code", "title", "kind_count", "path", "line", "message"]]
    for kind in doc["problems"]:
        for p in kind["shown"]:
            rows.append(
                [kind["severity"], kind["code"], kind["title"], kind["count"], p["path"], p["line"], p["message"]]
            )
    return rows


COST_FIGURES = ("floor", "expected", "low", "high", "ceiling")


def cost_rows(doc: Mapping[str, Any]) -> list[list[Any]]:
    """``estimate``: the cost table of a ``batchcost.plan/1`` document, one row per model and mode.

    The estimated model's modes first, then each ``--compare`` model's; a mode the price book does
    not price has empty figures and its reason in ``not_priced``.
    """
    rows: list[list[Any]] = [["model", "billed_model", "mode", *COST_FIGURES, "not_priced"]]
    for entry in [doc, *(doc.get("compare") or ())]:
        for mode, cost in entry["cost"].items():
            if "not_priced" in cost:
                rows.append(
                    [entry["model"], entry["billed_model"], mode, *([None] * len(COST_FIGURES)), cost["not_priced"]]
                )
            else:
                rows.append([entry["model"], entry["billed_model"], mode, *(cost[f] for f in COST_FIGURES), None])
    return rows


SHARD_COLUMNS = ("shard", "wave", "requests", "bytes", "tokens", "cost", "cost_ceiling", "first_line", "last_line")


def shard_rows(doc: Mapping[str, Any]) -> list[list[Any]]:
    """``plan``: one row per shard of a ``batchcost.shard-plan/1`` document.

    ``cost`` is on the plan's cost basis (``shards.cost_basis``: expected, or the input-only floor);
    ``lines`` lists the input line ranges of the shard, space-separated (``1-176 208 348-400``).
    """
    rows: list[list[Any]] = [[*SHARD_COLUMNS, "lines"]]
    for sh in doc["shards"]["shards"]:
        lines = " ".join(str(a) if a == b else f"{a}-{b}" for a, b in sh["lines"])
        rows.append([sh["index"], *(sh[c] for c in SHARD_COLUMNS[1:]), lines])
    return rows
