"""``batchcost prices``: the effective price book, every rate with its source and date."""

from __future__ import annotations

from argparse import Namespace
from typing import Any, TextIO

import click

from . import options as opt
from .common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_PROBLEMS,
    Streams,
    check_outputs,
    confirm_written,
    emit,
    verbatim,
)

FORMATS = ("text", "json", "csv")

PRICES_HELP = """\
List the effective price book: every rate per model and mode on a run date, with its source,
checked date and derived/overridden flags, after routing and any --prices files.

examples:
  batchcost prices --model gemini-2.5-flash
  batchcost prices --run-date 2027-01-01 --model gemini-3.8-flash --format json
  batchcost prices --prices negotiated.yaml
  batchcost prices --model gemini-2.5-flash,gemini-2.5-pro -o rates.csv
  batchcost prices --check model_prices_and_context_window.json

--check FILE compares the book with another price dataset (LiteLLM's model_prices_and_context_window.json
or genai-prices' data.json) and lists every rate that differs by more than 0.5%, with both sources, and
every Gemini model the dataset prices that the book lacks; exit code 1 when anything is listed (for a
scheduled CI job that watches the bundled prices go stale).
"""


@click.command("prices", help=verbatim(PRICES_HELP), epilog=verbatim(EXIT_CODES_HELP), short_help="list the price book")
@click.option(
    "--model", "-m", type=opt.NAMES, multiple=True, metavar="M", help="only these models (repeatable, or M1,M2)"
)
@click.option("--run-date", type=opt.DATE, help="prices of this day (default: today)")
@opt.prices_option
@click.option(
    "--check", "check", metavar="FILE", type=click.Path(dir_okay=False),
    help="compare the book with LiteLLM's or genai-prices' JSON price file; list every disagreement over 0.5%",
)  # fmt: skip
@opt.render_options(FORMATS, progress=False)
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    import datetime
    import json

    from ..pricing import PriceBook
    from ..reports import terminal

    check_outputs(args, [args.check] if args.check else [], args.output)
    fmt = opt.output_format(args.format, args.output, FORMATS)
    book = PriceBook.load(args.prices or None)
    models = [m for group in args.model for m in group] or None
    run_date = args.run_date or datetime.date.today()
    if args.check:
        return _check(args, book, run_date, fmt, stdout, stderr)
    rows = [r.as_dict() for r in book.rows(run_date, models)]
    from ..documents.prices import PRICES_SCHEMA

    doc = {"schema": PRICES_SCHEMA, "run_date": run_date.isoformat(), "rates": rows}
    if fmt == "json":
        emit(json.dumps(doc, indent=2) + "\n", args.output, stdout)
    elif fmt == "csv":
        from .tables import price_rows, to_csv

        emit(to_csv(price_rows(doc)), args.output, stdout)
    else:
        emit(terminal.render_prices_text(rows), args.output, stdout)
    confirm_written(args.output, args.quiet, stderr)
    return EXIT_OK


# -- helpers ------------------------------------------------------------------------------------


def _check(args: Any, book: Any, run_date: Any, fmt: str, stdout: TextIO, stderr: TextIO) -> int:
    """``--check FILE``: the disagreements between the book and another dataset."""
    import json

    from ..pricing.check import check_prices

    found = check_prices(book, args.check, run_date)
    if fmt == "json":
        doc = {
            "dataset": found.dataset,
            "format": found.dataset_format,
            "run_date": run_date.isoformat(),
            "rates_compared": found.compared,
            "models_compared": found.models_compared,
            "disagreements": [d.as_dict() for d in found.disagreements],
        }
        emit(json.dumps(doc, indent=2) + "\n", args.output, stdout)
    elif fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        rows = [d.as_dict() for d in found.disagreements]
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["model"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        emit(buf.getvalue(), args.output, stdout)
    else:
        kind = "LiteLLM" if found.dataset_format == "litellm" else "genai-prices"
        from ..text import plural

        lines = [
            f"{plural(found.compared, 'rate')} of {plural(found.models_compared, 'model')} compared with {kind} "
            f"({found.dataset}) on {run_date}: {plural(len(found.disagreements), 'disagreement')} over 0.5%"
        ]
        lines += [f"  - {d.describe()}" for d in found.disagreements]
        emit("\n".join(lines) + "\n", args.output, stdout)
    confirm_written(args.output, args.quiet, stderr)
    return EXIT_PROBLEMS if found.disagreements else EXIT_OK
