"""``batchcost estimate FILE...``: what a batch file costs, in every mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

import click

from ..outputs import together
from ..text import agree, plural
from . import options as opt
from .common import (
    EXIT_BUDGET,
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_PROBLEMS,
    Streams,
    check_outputs,
    confirm_written,
    emit,
    engine_for,
    environment,
    limit_values,
    media_defaults,
    progress_display,
    run_with_cache,
    stage_progress,
    stdin_is_a_terminal,
    text_width,
    verbatim,
)
from .per_request import check_per_request, per_request_option, write_per_request

if TYPE_CHECKING:
    from .._progress import Display

FORMATS = ("text", "json", "markdown", "csv")
REPORT_FORMATS = ("html", "markdown", "text")

ESTIMATE_HELP = """\
Price a batch file: count its tokens (exactly, or on a sample with a 95% interval) and cost it
synchronously (standard), in batch, flex and priority where the price book has them, on the
date the job will run. Every price shown names its source and checked date.

Output tokens are the big unknown: give --output-tokens N (billed output per request, thinking
included: --output-tokens 500 prices exactly 500 output tokens per request on any model) or
--output-ratio R (R x each request's input tokens). Without either, the estimate shows the
input-only floor and the ceiling (maxOutputTokens or the model's limit, plus thinking) and says the
expectation is unknown.

Requests with Grounding with Google Search (or Maps) pay a fee per search query (Gemini 3 and
later) or per grounded prompt (Gemini 2.5, Maps) on top of their tokens: give --search-queries N
per request, or --calibrate-from a past job's results; without either the fee is priced at one per
request, shown as a floor. Free allowances are mentioned, not subtracted, unless
--search-free-queries N says how much of one is left.

examples:
  batchcost estimate requests.jsonl --model gemini-2.5-flash
  batchcost estimate requests.jsonl --model gemini-3.8-flash --output-tokens 400 \\
      --run-date 2027-01-02
  batchcost estimate requests.jsonl --model gemini-2.5-pro \\
      --compare gemini-3.8-flash,gemini-2.5-flash-lite
  batchcost estimate requests.jsonl --model gemini-2.5-flash --output-ratio 0.5 \\
      --budget 250 --format json
  batchcost estimate requests.jsonl --model gemini-3.8-flash --output-tokens 400 \\
      --report plan.html
  batchcost estimate requests.jsonl --model gemini-2.5-flash --output-tokens 300 \\
      --compare gemini-2.5-pro -o costs.csv      # the cost table, one row per model and mode
  batchcost estimate research.jsonl --model gemini-3.8-flash --output-tokens 800 \\
      --search-queries 2                       # Google Search fee at 2 queries per request
"""

ESTIMATE_EXIT_HELP = "  estimate: 1 when the input has validation errors (figures still shown), 3 over --budget\n"


@click.command(
    "estimate",
    help=verbatim(ESTIMATE_HELP),
    epilog=verbatim(EXIT_CODES_HELP + ESTIMATE_EXIT_HELP),
    short_help="price a batch file (standard, batch, flex, priority)",
)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--model", "-m", help="model the job runs on (default: request.model in the file)")
@click.option("--run-date", type=opt.DATE, help="day the job runs (default: today)")
@opt.token_options
@opt.output_expectation
@opt.tool_fee_options
@click.option(
    "--calibrate-from",
    multiple=True,
    metavar="RESULTS [REQUESTS]",
    help="learn expected output (and its interval) from a previous job's results file; add the requests file "
    "that produced it to tell thinking settings and maxOutputTokens apart",
)
@click.option(
    "--pilot",
    type=opt.POSITIVE_INT,
    help="send N sampled requests now (synchronous, paid at standard rates; asks first) and learn from their "
    "output; needs GEMINI_API_KEY or GOOGLE_API_KEY",
)
@click.option("--yes", "-y", is_flag=True, help="do not ask before --pilot spends money")
@opt.prices_option
@click.option("--allow-unpriced", is_flag=True, help='show "not priced" modes instead of failing')
@click.option("--compare", type=opt.NAMES, callback=lambda c, p, v: v or [], help="also price the file on these models")
@click.option("--budget", type=opt.BUDGET, help="exit 3 when the batch cost exceeds USD")
@click.option(
    "--budget-on",
    type=click.Choice(("high", "ceiling")),
    default="high",
    help="compare --budget with the high end of the batch estimate (default) or with its ceiling",
)
@opt.limit_options
@opt.engine_options
@opt.render_options(FORMATS)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="also show the cost of every mode, every warning, the notes and the prices used with their sources",
)
@click.option(
    "--report",
    metavar="FILE.html",
    help="also write the self-contained HTML pre-flight report to FILE (.html; or .md Markdown, .txt text)",
)
@per_request_option("line of the input (key, tokens, output, cost per mode, shard, cache group)")
@opt.cache_dir_option
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run_with_cache(values, run, streams)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    check_per_request(args.per_request)
    check_outputs(args, args.files, args.output, args.report, args.per_request)
    fmt = opt.output_format(args.format, args.output, FORMATS)
    report_fmt = opt.report_format(args.report, REPORT_FORMATS)

    shown = progress_display(args.quiet, stderr)
    try:
        with engine_for(args) as engine:
            doc = estimate_document(args, stdout, stderr, fmt, report_fmt, shown, engine)
    finally:
        shown.close()
    confirm_written(args.report, args.quiet, stderr)
    confirm_written(args.per_request, args.quiet, stderr)
    if args.budget is not None:
        over = over_budget(doc, args.budget, args.budget_on)
        if over:
            stderr.write(f"batchcost: {over}\n")
            return EXIT_BUDGET
    return EXIT_OK if doc["validation"]["valid"] else EXIT_PROBLEMS


def estimate_document(
    args: Any, stdout: TextIO, stderr: TextIO, fmt: str, report_fmt: str | None, shown: Display, engine: Any = None
) -> dict[str, Any]:
    """Estimate, write the output (and confirm it) and the report, with progress on ``shown``; the plan document.

    ``engine``: where the scan and the token counting run (None: this machine; see :func:`.common.engine_for`).
    """
    import json

    from ..planner.estimate import EstimateOptions, estimate
    from ..reports.markdown import render_plan_markdown

    options = EstimateOptions(
        run_date=args.run_date, tokenizer=args.tokenizer, tokenizer_model=args.tokenizer_model,
        offline=args.offline, platform=args.platform, sample_size=args.sample_size, seed=args.seed,
        exact=args.exact, output_tokens=args.output_tokens, output_ratio=args.output_ratio, prices=args.prices,
        output_audio_seconds=args.output_audio_seconds, audio_tokens_per_second=args.audio_tokens_per_second,
        allow_unpriced=args.allow_unpriced, compare=args.compare, media_defaults=media_defaults(args),
        env=environment(), **limit_values(args),
        calibrate_from=args.calibrate_from or (), pilot=args.pilot,
        pilot_confirm=pilot_confirm(args, stderr, shown),
        search_queries=args.search_queries, search_free_queries=args.search_free_queries, engine=engine,
    )  # fmt: skip
    plan = estimate(args.files, model=args.model, options=options, progress=stage_progress(shown))
    shown.clear()
    doc = plan.to_json()
    if fmt == "json":
        text = json.dumps(doc, indent=2) + "\n"
    elif fmt == "markdown":
        text = render_plan_markdown(doc)
    elif fmt == "csv":
        from .tables import cost_rows, to_csv

        text = to_csv(cost_rows(doc))
    else:
        from ..reports.plan_text import render_plan_screen

        text = render_plan_screen(doc, verbose=args.verbose, width=text_width(stdout, args.output))
    with together():  # the output, the report and the table appear together or not at all
        emit(text, args.output, stdout)
        if args.report:
            from ..reports.html import write_report

            shown.stage(f"writing {args.report}", None)
            write_report(doc, args.report, format=report_fmt)
        if args.per_request:
            shown.stage(f"writing {args.per_request}", None)
            write_per_request(plan.requests, args.per_request)
    confirm_written(args.output, args.quiet, stderr)
    return doc


def pilot_confirm(args: Any, stderr: TextIO, shown: Display) -> Callable[[Any], bool]:
    """Ask on the terminal before the pilot spends money (``--yes`` skips the question)."""

    def confirm(max_usd: Any) -> bool:
        with shown.suspend():  # no progress line over the question and the answer
            return ask(max_usd)

    def ask(max_usd: Any) -> bool:
        from ..reports.terminal import money

        stderr.write(
            f"--pilot sends {plural(args.pilot, 'request')} to the Gemini API now, synchronously, at standard rates: "
            f"at most {money(max_usd)}.\n"
        )
        if args.yes:
            return True
        if not stdin_is_a_terminal():
            stderr.write("batchcost: no terminal to ask for confirmation; pass --yes to send the pilot\n")
            return False
        stderr.write(f"Send {agree(args.pilot, 'it', 'them')}? [y/N] ")
        stderr.flush()
        return click.get_text_stream("stdin").readline().strip().lower() in ("y", "yes")

    return confirm


def over_budget(doc: dict[str, Any], budget: float, on: str) -> str | None:
    from decimal import Decimal

    batch = doc["cost"].get("batch")
    if not batch or "not_priced" in batch:
        return "over budget check impossible: the batch mode is not priced"
    figure, basis = (batch["high"], "high end") if on == "high" else (batch["ceiling"], "ceiling")
    if figure is None:
        figure, basis = batch["ceiling"], "ceiling (no output expectation was given)"
    if figure is None:
        # Fail safe: a budget gate must not pass on a figure nobody can bound.
        return (
            f"over budget check impossible: the batch {basis.split(' ')[0]} is unknown, because some requests have no "
            "known output ceiling; set maxOutputTokens in the requests, or give an output expectation and "
            "--budget-on high"
        )
    if Decimal(figure) > Decimal(str(budget)):
        return f"over budget: batch {basis} ${Decimal(figure):,.2f} > --budget ${budget:,.2f}"
    return None
