"""``batchcost reconcile``: the actual cost of a finished batch job, and its variance against a saved plan."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

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
  batchcost reconcile results.jsonl.gz --plan plan.json --requests requests.jsonl --format json -o rec.json
  batchcost reconcile results.jsonl --model gemini-3.8-flash --run-date 2026-12-03 --mode standard
"""


def register(sub: Any) -> None:
    """Add the ``reconcile`` subcommand to the CLI's subparsers."""
    from ..cli import EXIT_CODES_HELP, _date, _Formatter, _positive_int

    p = sub.add_parser(
        "reconcile",
        help="actual cost of a job's results, and estimate vs actual",
        description=RECONCILE_HELP,
        epilog=EXIT_CODES_HELP + "  reconcile: 1 when lines of the results file cannot be read (figures still shown)\n",
        formatter_class=_Formatter,
    )
    p.add_argument("results", nargs="+", metavar="RESULTS", help="batch results file(s): .jsonl or .jsonl.gz")
    p.add_argument("--plan", metavar="PLAN.json", help="plan saved by `batchcost estimate --format json -o PLAN.json`")
    p.add_argument("--model", "-m", help="model the job ran on (default: the plan's, else the results' modelVersion)")
    p.add_argument(
        "--mode",
        choices=("batch", "standard", "flex", "priority"),
        default="batch",
        help="pricing mode of the cost (default batch: results come from a batch job)",
    )
    p.add_argument(
        "--run-date",
        type=_date,
        metavar="YYYY-MM-DD",
        help="day the job ran (default: the plan's run date, else today)",
    )
    p.add_argument(
        "--requests",
        action="append",
        default=[],
        metavar="FILE",
        help="the job's input file, to check result keys (default: the plan's input files; repeatable)",
    )
    p.add_argument(
        "--prices", action="append", default=[], metavar="FILE", help="price file(s) that override or add rates"
    )
    p.add_argument(
        "--max-problems", type=_positive_int, default=10, metavar="N", help="show the first N problems of each kind"
    )
    p.add_argument("--max-keys", type=_positive_int, default=20, metavar="N", help="list at most N mismatched keys")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument(
        "--report", metavar="FILE.html",
        help="with --plan: write the plan's HTML report with an 'Estimate vs actual' section to FILE",
    )  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Run ``batchcost reconcile``; returns the exit code."""
    import json

    from ..cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, _check_outputs, _emit, _progress_bar

    if args.report and not args.plan:
        stderr.write(
            "batchcost: error: --report needs --plan PLAN.json: the report is the plan's, with the variance added\n"
        )
        return EXIT_USAGE
    if args.report:
        from ..reports.html import format_for_path

        format_for_path(args.report)
    _check_outputs(args, args.results, args.output, args.report)
    from ..afterjob.reconcile import reconcile
    from ..reports.reconcile import render_text

    bar = _progress_bar("reading results", args.quiet, stderr)
    try:
        rec = reconcile(
            args.results,
            model=args.model,
            plan=args.plan,
            requests=args.requests,
            mode=args.mode,
            run_date=args.run_date,
            prices=args.prices,
            keep_problems=args.max_problems,
            progress=bar,
        )
    finally:
        bar.close()
    doc = rec.to_json(max_keys=args.max_keys, max_problems=args.max_problems)
    text = json.dumps(doc, indent=2) + "\n" if args.format == "json" else render_text(doc)
    _emit(text, args.output, stdout)
    if args.report:
        from ..afterjob.reconcile import load_plan
        from ..reports.html import write_report
        from ..reports.reconcile import variance_section
        from .report import plan_fields_checked

        plan_doc = dict(load_plan(args.plan))
        with plan_fields_checked(args.plan):
            plan_doc["reconciliation"] = variance_section(doc)
            write_report(plan_doc, args.report)
    # failed requests are problems in the input as much as unreadable lines (documented: exit 1)
    return EXIT_PROBLEMS if rec.results.errors or rec.results.failed else EXIT_OK
