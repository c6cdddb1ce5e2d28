"""``batchcost plan FILE --model M``: how to submit a batch file as jobs (shards and waves), and how long.

Also home of the planning options and the estimate-then-plan step that ``batchcost shard`` shares.

``--format json`` writes ``batchcost.shard-plan/1``::

    {
      "schema": "batchcost.shard-plan/1",
      "run_date": "2026-11-27", "model": "...", "billed_model": "...",
      "files": [{"path", "form", "compressed", "bytes", "lines", "sha256"}],
      "requests": 1234,
      "validation": {"valid": bool, "errors": int,
                     "blocking": {code: n}},   # errors sharding cannot fix (all but file-too-large...)
      "tokens": {"method", "tokenizer"},
      "shards": {...},                          # batchcost.shards/1, see batchcost.planner.shard_types
      "warnings": ["..."]                       # the estimate's warnings
    }
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TextIO

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
    engine_for,
    environment,
    limit_values,
    media_defaults,
    progress_display,
    run_with_cache,
    stage_progress,
    text_width,
    verbatim,
)

if TYPE_CHECKING:
    from .._progress import Display
    from ..planner.plan import Plan
    from ..planner.shard_types import ShardPlan
    from ..pricing import PriceBook

FORMATS = ("text", "json", "csv")

PLAN_HELP = """\
Plan how to submit a batch file: the fewest jobs (shards) that fit every limit, balanced by
estimated tokens, with requests, bytes, tokens and batch cost per shard; how many can be in
flight at once, in how many waves, and how long until all results are back.

Limits come from the price book: the input-file size (2 GB Developer API; 1 GB and 200,000
requests on Vertex with --platform vertex), the model's batch enqueued-token quota for your
billing tier (tokens of all active jobs), 100 concurrent jobs, and the tier's spend caps. Any
limit can be tightened (e.g. small shards are cheap to retry). When a quota is UNKNOWN for the
model the plan says so; give yours with --enqueued-token-limit. --platform also selects the limits.

examples:
  batchcost plan requests.jsonl --model gemini-2.5-flash
  batchcost plan requests.jsonl --model gemini-2.5-flash --tier 2 --max-requests 20000
  batchcost plan requests.jsonl --model gemini-3.8-flash \\
      --enqueued-token-limit 50000000 --format json
  batchcost plan requests.jsonl --model gemini-2.5-pro --platform vertex --output-tokens 400
  batchcost plan requests.jsonl --model gemini-2.5-flash -o shards.csv   # one row per shard
"""

PLAN_EXIT_HELP = "  plan: 1 when the input has validation errors or a request alone exceeds a limit\n"


@click.command(
    "plan",
    help=verbatim(PLAN_HELP),
    epilog=verbatim(EXIT_CODES_HELP + PLAN_EXIT_HELP),
    short_help="plan shards and waves for a batch file (limits, time, cost per shard)",
)
@click.argument("file", metavar="FILE")
@opt.planning_options
@opt.render_options(FORMATS)
@click.option(
    "--verbose", "-v", is_flag=True, help="also show the limits with their sources, every shard and the notes"
)
@opt.cache_dir_option
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run_with_cache(values, run, streams)


def estimate_and_plan(args: Any, shown: Display) -> tuple[Plan, ShardPlan, PriceBook]:
    """Run the estimate for ``args.file``, which plans the shards (and the caches they keep together).

    Progress is drawn on ``shown`` and cleared when the estimate ends. The scan and the token counting
    run on ``--engine`` (a Dask cluster is started, or connected to, for the estimate only).
    """
    from ..planner.estimate import EstimateOptions, estimate
    from ..pricing import PriceBook

    options = EstimateOptions(
        run_date=args.run_date, tokenizer=args.tokenizer, tokenizer_model=args.tokenizer_model,
        offline=args.offline, platform=args.platform, sample_size=args.sample_size, seed=args.seed,
        exact=args.exact, output_tokens=args.output_tokens, output_ratio=args.output_ratio, prices=args.prices,
        search_queries=args.search_queries, search_free_queries=args.search_free_queries,
        output_audio_seconds=args.output_audio_seconds, audio_tokens_per_second=args.audio_tokens_per_second,
        media_defaults=media_defaults(args), env=environment(), **limit_values(args),
    )  # fmt: skip
    book = PriceBook.load(args.prices or None)
    with engine_for(args) as engine:
        options = dataclasses.replace(options, engine=engine)
        plan = estimate(args.file, model=args.model, options=options, book=book, progress=stage_progress(shown))
    shown.clear()
    assert plan.shard_plan is not None
    return plan, plan.shard_plan, book


def plan_document(plan: Plan, shard_plan: ShardPlan) -> dict[str, Any]:
    """The ``batchcost.shard-plan/1`` document: the input, the model and ``shards`` (``batchcost.shards/1``)."""
    from ..planner.shard_writer import blocking_problems

    scan = plan.scan
    from ..documents.shards import SHARD_PLAN_SCHEMA

    return {
        "schema": SHARD_PLAN_SCHEMA,
        "run_date": plan.run_date.isoformat(),
        "model": plan.model,
        "billed_model": plan.cost.billed_model,
        "files": [f.to_json() for f in scan.files],
        "requests": plan.scan.requests,
        "validation": {
            "valid": scan.valid(),
            "errors": scan.errors,
            "blocking": blocking_problems(scan),
        },
        "tokens": {"method": plan.tokens.method, "tokenizer": plan.tokens.tokenizer},
        "shards": shard_plan.to_json(),
        # the estimate's own warnings; its pricing notes (also in plan.warnings) stay with the estimate
        "warnings": [w for w in plan.warnings if w not in plan.cost.notes],
        "other_tiers": list(plan.other_tiers),
    }


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    """``batchcost plan``: estimate, plan, render; exit 1 when the plan cannot be submitted as is."""
    import json

    from ..reports.shards import render_shard_plan

    check_outputs(args, [args.file], args.output)
    fmt = opt.output_format(args.format, args.output, FORMATS)
    shown = progress_display(args.quiet, stderr)
    try:
        plan, shard_plan, _ = estimate_and_plan(args, shown)
    finally:
        shown.close()
    doc = plan_document(plan, shard_plan)
    if fmt == "json":
        text = json.dumps(doc, indent=2) + "\n"
    elif fmt == "csv":
        from .tables import shard_rows, to_csv

        text = to_csv(shard_rows(doc))
    else:
        text = render_shard_plan(doc, verbose=args.verbose, width=text_width(stdout, args.output))
    emit(text, args.output, stdout)
    confirm_written(args.output, args.quiet, stderr)
    ok = not doc["validation"]["blocking"] and shard_plan.submittable
    return EXIT_OK if ok else EXIT_PROBLEMS


# -- rendering --------------------------------------------------------------------------------------
