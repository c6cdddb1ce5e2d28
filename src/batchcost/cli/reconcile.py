"""``batchcost reconcile``: the actual cost of a finished batch job, and its variance against a saved plan."""

from __future__ import annotations

from argparse import Namespace
from typing import Any, TextIO

import click

from ..errors import InputError
from ..outputs import together
from . import options as opt
from .common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    Streams,
    check_outputs,
    confirm_written,
    emit,
    progress_bar,
    progress_display,
    text_width,
    verbatim,
)
from .per_request import check_per_request, per_request_option, write_per_request

FORMATS = ("text", "json")
REPORT_FORMATS = ("html", "markdown", "text")

RECONCILE_HELP = """\
Price the results of a finished batch job exactly, line by line, from each result's usageMetadata,
with the same price book and rules as `estimate`: non-cached prompt tokens at the input rate of
their modality, cached tokens at the cache-read rate, tool-use prompt tokens as input, answers plus
thinking at the output rate, each request in its own >200k tier, at batch rates (--mode prices
another mode). Failed requests (an error, or a non-empty status) are counted apart: not billed.

With --plan (a plan saved by `estimate --format json`), also compare estimate and actual per
component (input, cached, output, thinking, cost): ratio, whether the actual fell inside the
estimate's interval, and the largest contributors to the difference. Result keys are checked
against the job's input file (the plan's, or --requests).

Accepted: Gemini Developer API results ({"key", "response"} or {"key", "error"/"status"}), Vertex AI
batch output ({"request", "response"} or {"request", "status"}), gzip-compressed files.

examples:
  batchcost reconcile results.jsonl --model gemini-2.5-flash
  batchcost reconcile results.jsonl --plan plan.json
  batchcost reconcile results.jsonl.gz --plan plan.json --requests requests.jsonl \\
      --format json -o rec.json
  batchcost reconcile results.jsonl --model gemini-3.8-flash --run-date 2026-12-03 \\
      --mode standard
"""


RECONCILE_EXIT_HELP = "  reconcile: 1 when requests failed or result lines cannot be read (figures still shown)\n"


@click.command(
    "reconcile",
    help=verbatim(RECONCILE_HELP),
    epilog=verbatim(EXIT_CODES_HELP + RECONCILE_EXIT_HELP),
    short_help="actual cost of a job's results, and estimate vs actual",
)
@click.argument("results", nargs=-1, required=True, metavar="RESULTS...")
@click.option("--plan", metavar="PLAN.json", help="plan saved by `batchcost estimate --format json -o PLAN.json`")
@click.option("--model", "-m", help="model the job ran on (default: the plan's, else the results' modelVersion)")
@click.option(
    "--mode",
    type=click.Choice(("batch", "standard", "flex", "priority")),
    default="batch",
    help="pricing mode of the cost (default batch: results come from a batch job)",
)
@click.option("--run-date", type=opt.DATE, help="day the job ran (default: the plan's run date, else today)")
@click.option(
    "--requests",
    multiple=True,
    metavar="FILE",
    help="the job's input file, to check result keys (default: the plan's input files; repeatable)",
)
@opt.prices_option
@click.option("--max-problems", type=opt.POSITIVE_INT, default="10", help="show the first N problems of each kind")
@click.option("--max-keys", type=opt.POSITIVE_INT, default="20", help="list at most N mismatched keys")
@opt.render_options(FORMATS)
@click.option(
    "--verbose", "-v", is_flag=True, help="also show the cost table, contributors, problems, notes and prices used"
)
@click.option(
    "--report",
    metavar="FILE.html",
    help="with --plan: write the plan's HTML report with an 'Estimate vs actual' section to FILE (.html; or "
    ".md Markdown, .txt text)",
)
@per_request_option("result line (key, status, error, tokens by component, actual cost)")
@click.option(
    "--estimated",
    metavar="FILE",
    help="with --per-request: the per-request table `estimate --per-request` wrote for the same input (CSV or "
    "Parquet); each result gets its request's estimate and the difference, joined by key",
)
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    """Run ``batchcost reconcile``; returns the exit code."""
    import json

    if args.report and not args.plan:
        stderr.write(
            "batchcost: error: --report needs --plan PLAN.json: the report is the plan's, with the variance added\n"
        )
        return EXIT_USAGE
    if args.estimated and not args.per_request:
        stderr.write(
            "batchcost: error: --estimated joins the estimate into the --per-request table; give --per-request FILE too\n"
        )
        return EXIT_USAGE
    check_per_request(args.per_request)
    check_outputs(args, args.results, args.output, args.report, args.per_request)
    fmt = opt.output_format(args.format, args.output, FORMATS)
    report_fmt = opt.report_format(args.report, REPORT_FORMATS)
    from ..afterjob.reconcile import reconcile
    from ..reports.reconcile import render_text

    shown = progress_display(args.quiet, stderr)
    try:
        reading = progress_bar("reading results", "bytes", shown)

        def progress(done: int, total: int) -> None:
            reading(done, total)
            if done >= total > 0:  # what follows reports no progress: named, not a blank screen
                shown.stage("pricing the results, checking keys against the input", None)

        estimated = None
        if args.estimated:  # read before the results: a wrong file is said before minutes of work
            from ..table_files import read_table

            estimated = read_table(args.estimated)
            if "key" not in estimated or "input_tokens" not in estimated:
                raise InputError(
                    args.estimated,
                    "is not a per-request table of `batchcost estimate --per-request` (no key and input_tokens "
                    "columns)",
                )
        rec = reconcile(
            args.results,
            model=args.model,
            plan=args.plan,
            requests=args.requests,
            mode=args.mode,
            run_date=args.run_date,
            prices=args.prices,
            keep_problems=args.max_problems,
            progress=progress,
        )
        shown.clear()
        doc = rec.to_json(max_keys=args.max_keys, max_problems=args.max_problems)
        if fmt == "json":
            text = json.dumps(doc, indent=2) + "\n"
        else:
            text = render_text(doc, verbose=args.verbose, width=text_width(stdout, args.output))
        with together():  # the output, the table and the report appear together or not at all
            emit(text, args.output, stdout)
            if args.per_request:
                shown.stage(f"writing {args.per_request}", None)
                write_per_request(lambda: rec.requests(estimated), args.per_request)
            if args.report:
                from ..afterjob.reconcile import load_plan
                from ..reports.html import write_report
                from ..reports.reconcile import variance_section
                from .report import plan_fields_checked

                shown.stage(f"writing {args.report}", None)
                plan_doc = dict(load_plan(args.plan))
                with plan_fields_checked(args.plan):
                    plan_doc["reconciliation"] = variance_section(doc)
                    write_report(plan_doc, args.report, format=report_fmt)
    finally:
        shown.close()
    confirm_written(args.output, args.quiet, stderr)
    confirm_written(args.report, args.quiet, stderr)
    confirm_written(args.per_request, args.quiet, stderr)
    # failed requests are problems in the input as much as unreadable lines (documented: exit 1)
    return EXIT_PROBLEMS if rec.results.errors or rec.results.failed else EXIT_OK
