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
      "shards": {...},                          # batchcost.shards/1, see batchcost.planner.shards
      "warnings": ["..."]                       # the estimate's warnings
    }
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import click

from . import options as opt
from .common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_PROBLEMS,
    Streams,
    check_outputs,
    emit,
    environment,
    limit_values,
    media_defaults,
    stage_progress,
    verbatim,
)

if TYPE_CHECKING:
    from ..planner.plan import Plan
    from ..planner.shards import ShardPlan
    from ..pricing import PriceBook

PLAN_DOC_SCHEMA = "batchcost.shard-plan/1"

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
@opt.render_options(("table", "json"))
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def estimate_and_plan(args: Any, stderr: TextIO) -> tuple[Plan, ShardPlan, PriceBook]:
    """Run the estimate for ``args.file``, which plans the shards (and the caches they keep together)."""
    from ..planner.estimate import EstimateOptions, estimate
    from ..pricing import PriceBook

    options = EstimateOptions(
        run_date=args.run_date, tokenizer=args.tokenizer, tokenizer_model=args.tokenizer_model,
        offline=args.offline, platform=args.platform, sample_size=args.sample_size, seed=args.seed,
        exact=args.exact, output_tokens=args.output_tokens, output_ratio=args.output_ratio, prices=args.prices,
        media_defaults=media_defaults(args), env=environment(), **limit_values(args),
    )  # fmt: skip
    book = PriceBook.load(args.prices or None)
    progress, close = stage_progress(args.quiet, stderr)
    try:
        plan = estimate(args.file, model=args.model, options=options, book=book, progress=progress)
    finally:
        close()
    assert plan.shards is not None
    return plan, plan.shards, book


def plan_document(plan: Plan, shard_plan: ShardPlan) -> dict[str, Any]:
    """The ``batchcost.shard-plan/1`` document: the input, the model and ``shards`` (``batchcost.shards/1``)."""
    from ..planner.shard_writer import blocking_problems

    scan = plan.scan
    return {
        "schema": PLAN_DOC_SCHEMA,
        "run_date": plan.run_date.isoformat(),
        "model": plan.model,
        "billed_model": plan.cost.billed_model,
        "files": [f.to_json() for f in scan.files],
        "requests": plan.requests,
        "validation": {
            "valid": scan.valid(),
            "errors": scan.errors,
            "blocking": blocking_problems(scan),
        },
        "tokens": {"method": plan.tokens.method, "tokenizer": plan.tokens.tokenizer},
        "shards": shard_plan.to_json(),
        "warnings": list(plan.warnings),
    }


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    """``batchcost plan``: estimate, plan, render; exit 1 when the plan cannot be submitted as is."""
    import json

    check_outputs(args, [args.file], args.output)
    plan, shard_plan, _ = estimate_and_plan(args, stderr)
    doc = plan_document(plan, shard_plan)
    text = json.dumps(doc, indent=2) + "\n" if args.format == "json" else render_text(doc)
    emit(text, args.output, stdout)
    ok = not doc["validation"]["blocking"] and shard_plan.submittable
    return EXIT_OK if ok else EXIT_PROBLEMS


# -- rendering --------------------------------------------------------------------------------------

_LIMIT_LABELS = {
    "max_bytes": "bytes per shard",
    "max_requests": "requests per shard",
    "max_tokens": "tokens per shard",
    "enqueued_tokens": "enqueued tokens (all jobs in flight)",
    "concurrent_jobs": "jobs in flight at once",
}
_MAX_ROWS = 30


def _lines(ranges: Sequence[Sequence[int]]) -> str:
    parts = [f"{a:,}" if a == b else f"{a:,}-{b:,}" for a, b in ranges[:2]]
    more = f" (+{len(ranges) - 2} ranges)" if len(ranges) > 2 else ""
    return ", ".join(parts) + more


def render_text(doc: Mapping[str, Any]) -> str:
    """Plain-text rendering of a ``batchcost.shard-plan/1`` document."""
    from ..reports.terminal import money

    s = doc["shards"]
    files = ", ".join(f["path"] for f in doc["files"])
    platform = "Vertex AI" if s["platform"] == "vertex" else "Gemini Developer API"
    tier = "" if s["tier"] is None else f", tier {s['tier']}" + (" (assumed)" if s["tier_assumed"] else "")
    billed = f" (billed as {doc['billed_model']})" if doc["billed_model"] != doc["model"] else ""
    t = s["totals"]
    basis = s["cost_basis"] or "not priced"
    out = [
        f"shard plan: {files} on {doc['model']}{billed}, {platform}{tier}",
        f"  {t['requests']:,} requests, {t['bytes']:,} bytes, {t['tokens']:,} tokens ({s['token_basis']})",
    ]
    if s["cost_basis"]:
        out.append(
            f"  batch cost {money(t['cost'])} ({basis}), ceiling {money(t['cost_ceiling']) if t['cost_ceiling'] is not None else 'unknown'}"
        )
    out += ["", "limits"]
    rows = []
    for name, label in _LIMIT_LABELS.items():
        entry = s["limits"][name]
        value = "no limit" if entry["value"] is None else f"{entry['value']:,}"
        rows.append((label, value, entry["source"]))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    out += [f"  {a.ljust(w0)}  {b.rjust(w1)}  {c}".rstrip() for a, b, c in rows]
    n_shards, n_waves = t["shards"], t["waves"]
    out += [
        "",
        f"{n_shards:,} shard{'s' if n_shards != 1 else ''} in {n_waves} wave{'s' if n_waves != 1 else ''}"
        f" (up to {s['in_flight']:,} in flight at once)",
    ]
    if s["shards"]:
        table = [("shard", "wave", "requests", "bytes", "tokens", f"cost ({basis})", "input lines")]
        shards = s["shards"]
        shown = shards if len(shards) <= _MAX_ROWS else [*shards[: _MAX_ROWS - 3], None, *shards[-2:]]
        for sh in shown:
            if sh is None:
                table.append(("...", "", f"{len(shards) - _MAX_ROWS + 1:,} more", "", "", "", "(--format json)"))
                continue
            table.append(
                (str(sh["index"]), str(sh["wave"]), f"{sh['requests']:,}", f"{sh['bytes']:,}", f"{sh['tokens']:,}",
                 money(sh["cost"]), _lines(sh["lines"]))
            )  # fmt: skip
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        for r in table:
            cells = [c.rjust(w) if i < 6 else c for i, (c, w) in enumerate(zip(r, widths, strict=True))]
            out.append("  " + "  ".join(cells).rstrip())
    out += ["", f"time: {s['time_bound']}"]
    if s["oversized"]:
        out += ["", "cannot be submitted as is (a request alone exceeds a per-job limit):"]
        for o in s["oversized"][:10]:
            unit = "bytes" if o["limit"] == "max_bytes" else "tokens"
            out.append(f"  line {o['line']:,}: {o['figure']:,} {unit} > {o['allowed']:,} ({o['limit']})")
        if len(s["oversized"]) > 10:
            out.append(f"  ... and {len(s['oversized']) - 10:,} more")
    blocking = doc["validation"]["blocking"]
    warnings = list(doc.get("warnings", [])) + list(s["warnings"])
    if blocking:
        kinds = ", ".join(f"{k} ({n:,})" for k, n in sorted(blocking.items()))
        warnings.insert(0, f"the input has validation errors that sharding cannot fix: {kinds}; run batchcost validate")
    if warnings:
        out += ["", "warnings:"] + [f"  - {w}" for w in dict.fromkeys(warnings)]
    if s["notes"]:
        out += ["", "notes:"] + [f"  - {n}" for n in s["notes"]]
    return "\n".join(out) + "\n"
