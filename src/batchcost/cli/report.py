"""``batchcost report PLAN.json``: render a saved plan as HTML, Markdown or text."""

from __future__ import annotations

import contextlib
from argparse import Namespace
from collections.abc import Iterator
from typing import Any, TextIO

import click

from . import options as opt
from .common import EXIT_CODES_HELP, EXIT_OK, Streams, check_outputs, confirm_written, progress_display, verbatim

FORMATS = ("html", "markdown", "text")

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
  batchcost report plan.json -o plan.md        # format from the file name: .html, .md or .txt
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
    type=opt.FormatChoice(FORMATS),
    help="output format (default: from the -o file name (.html, .md, .txt); html on stdout)",
)
@click.option("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout")
@click.option("--quiet", "-q", is_flag=True, help="no progress or confirmation on stderr")
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    """Read the plan, render it, write it; 0 on success (errors are raised as BatchcostError)."""
    from ..documents.plan import read_plan
    from ..reports.html import render_report
    from ..storage.locations import is_url

    check_outputs(args, [], args.output)
    # a file name must say what it holds (-o plan.pdf, -o plan are refused); stdout is HTML by default
    fmt = opt.output_format(args.format, args.output, FORMATS, default=None)
    shown = progress_display(args.quiet, stderr)
    try:
        if is_url(args.plan):
            from ..storage import read_bytes

            plan = read_plan(args.plan, data=read_bytes(args.plan))
        else:
            plan = read_plan(args.plan)
        shown.stage("rendering the report", None)  # charts can take a few seconds on a large plan
        with plan_fields_checked(args.plan):
            text = render_report(plan, fmt)
    finally:
        shown.close()
    if args.output:
        from ..outputs import write_atomic

        write_atomic(args.output, text)
        confirm_written(args.output, args.quiet, stderr)
    else:
        stdout.write(text)
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
