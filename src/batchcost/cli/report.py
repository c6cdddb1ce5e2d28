"""``batchcost report PLAN.json``: render a saved plan as HTML, Markdown or text."""

from __future__ import annotations

import contextlib
from argparse import Namespace
from collections.abc import Iterator
from typing import Any, TextIO

import click

from .common import EXIT_CODES_HELP, EXIT_OK, Streams, check_outputs, verbatim

REPORT_HELP = """\
Render a saved plan (the JSON written by `batchcost estimate ... --format json`) as the
self-contained HTML pre-flight report to send to whoever approves the budget, as compact
Markdown for a pull-request comment or ticket, or as text. The plan is rendered exactly as
estimate would have rendered it: no file is re-read and no price is looked up again.

The HTML page needs no network and no script: charts and styles are inline, it opens the
same as an email attachment, offline or printed to PDF.

examples:
  batchcost estimate requests.jsonl --model gemini-2.5-flash --format json -o plan.json
  batchcost report plan.json -o plan.html
  batchcost report plan.json --format markdown > comment.md
  batchcost report plan.json -o plan.md        # format from the file name: .md, .txt, else html
"""


@click.command(
    "report",
    help=verbatim(REPORT_HELP),
    epilog=verbatim(EXIT_CODES_HELP),
    short_help="render a saved plan as an HTML report (or Markdown, text)",
)
@click.argument("plan", metavar="PLAN.json")
@click.option(
    "--format",
    "format",
    type=click.Choice(("html", "markdown", "text")),
    help="output format (default: from the --output file name, .md markdown, .txt text; else html)",
)
@click.option("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout")
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    """Read the plan, render it, write it; 0 on success (errors are raised as BatchcostError)."""
    from ..documents.plan import read_plan
    from ..reports.html import format_for_path, render_report, write_report

    if args.output and not args.format:
        format_for_path(args.output)  # refuse an extension the report cannot be written as, before reading
    check_outputs(args, [], args.output)
    plan = read_plan(args.plan)
    with plan_fields_checked(args.plan):
        if args.output:
            write_report(plan, args.output, format=args.format or format_for_path(args.output))
        else:
            stdout.write(render_report(plan, args.format or "html"))
    return EXIT_OK


@contextlib.contextmanager
def plan_fields_checked(path: str) -> Iterator[None]:
    """Turn a field the renderer cannot use, in a plan that passed the loader's checks, into one line."""
    from ..errors import InputError

    try:
        yield
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as e:
        raise InputError(
            path,
            f"holds a field batchcost cannot read ({type(e).__name__}: {str(e)[:80]}); was it edited? estimate again",
        ) from None
