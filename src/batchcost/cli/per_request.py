"""``--per-request FILE``: the per-request table of ``estimate`` and ``reconcile``, as CSV or Parquet (``--format csv`` tables are in ``tables``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def per_request_option(rows: str) -> Callable[[F], F]:
    """The ``--per-request FILE`` option; ``rows`` says what one row is."""
    return click.option(
        "--per-request",
        metavar="FILE",
        help=f"also write one row per {rows} to FILE: CSV, or Parquet when FILE ends in .parquet "
        "(needs pip install 'batchcost[parquet]'); money in float64 dollars, exact figures stay in the JSON",
    )


def check_per_request(path: str | None) -> None:
    """Before any work: a Parquet file without pyarrow is refused (exit 2, one line naming the extra)."""
    if path:
        from ..table_files import check_table_path

        check_table_path(path)


def write_per_request(table: Callable[[], Any], path: str | None) -> None:
    """Build the table (only when asked for: it loads pandas) and write it whole or not at all."""
    if path:
        from ..table_files import write_table

        write_table(table(), path)
