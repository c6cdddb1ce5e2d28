"""``batchcost collect DIR``: download the finished jobs' results, check the keys, reconcile, write retry.jsonl."""

from __future__ import annotations

from argparse import Namespace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

import click

from ..text import plural
from . import options as opt
from .common import EXIT_CODES_HELP, EXIT_OK, EXIT_PROBLEMS, Streams, verbatim

if TYPE_CHECKING:
    from ..run import Collected

FORMATS = ("text", "json")
EXIT_UNFINISHED = 4

COLLECT_HELP = """\
Download the results of every batch job of a shard folder that has ended, beside its shard
(NAME.shard-001.results.jsonl; a SUCCEEDED job's results file is sometimes not there at once:
it is asked for again, with backoff, for up to --wait seconds). Then check that every key of every
shard has exactly one result, price every result line at batch rates (as `reconcile` does), and
reconcile all shards together (DIR/reconcile.json, batchcost.reconcile/1; with --plan, the
estimate-vs-actual variance too), with each shard's actual cost beside its estimate.

Requests that failed and requests without a result (an expired or failed job, a line missing from
the results, shards a stopped run never submitted) are copied byte for byte from the shards into
DIR/retry.jsonl, ready for another round (shard and submit it). Failed requests are not billed;
an expired job leaves no results. Needs GEMINI_API_KEY (or GOOGLE_API_KEY) while there is
something to download. --format json prints DIR/jobs.json (batchcost.jobs/1) as collected.

When the shards reference advised caches (shard --apply-cache), collect deletes them once every
job has ended (storage billing stops) and shows what each really cost: creation (its tokens at
the standard input rate), storage (the hours it lived) and the cached reads the results report,
against what the caching advice priced.

examples:
  batchcost collect shards/
  batchcost collect shards/ --plan plan.json
  batchcost collect shards/ --format json
"""

COLLECT_EXIT_HELP = (
    "  collect: 1 when requests failed or have no result (see retry.jsonl); 4 while jobs have not\n"
    "           ended or a results file is not ready yet (collect again later)\n"
)


@click.command(
    "collect",
    help=verbatim(COLLECT_HELP),
    epilog=verbatim(EXIT_CODES_HELP + COLLECT_EXIT_HELP),
    short_help="download, check and reconcile the results of a shard folder's jobs",
)
@click.argument("folder", metavar="DIR")
@click.option("--plan", metavar="PLAN.json", help="the estimate's plan (estimate --format json), for the variance")
@click.option(
    "--wait", type=click.FloatRange(0), default=600.0, show_default=True, metavar="SECONDS",
    help="how long to keep asking for a SUCCEEDED job's results file that is not there yet",
)  # fmt: skip
@opt.prices_option
@click.option("--format", "format", type=opt.FormatChoice(FORMATS), default="text", help="output format (default text)")
@click.option("--quiet", "-q", is_flag=True, help="no step-by-step lines on stderr")
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO, *, sleep: Any = None) -> int:
    """``batchcost collect``: collect and report."""
    import json

    from ..run import collect

    def say(text: str) -> None:
        if not args.quiet:
            stderr.write(text + "\n")

    done = collect(args.folder, plan=args.plan, prices=args.prices, wait_s=args.wait, notify=say, sleep=sleep)
    if args.format == "json":
        stdout.write(json.dumps(done.journal.doc, indent=2) + "\n")
    else:
        stdout.write(render_collected(done))
    if done.waiting:
        return EXIT_UNFINISHED
    return EXIT_OK if done.complete else EXIT_PROBLEMS


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"${value:,.6f}"


def render_collected(done: Collected) -> str:
    """Per-shard results, estimate and actual; totals; what to do; then the reconciliation."""
    from ..reports.reconcile import render_text
    from ..reports.terminal import table

    head = ["shard", "state", "requests", "succeeded", "failed", "missing", "estimate", "actual"]
    rows = [
        [str(s.index), s.state.replace("_", " "), f"{s.requests:,}", f"{s.succeeded:,}", f"{s.failed:,}",
         f"{s.missing:,}", _money(s.estimate), _money(s.actual)]
        for s in done.shards
    ]  # fmt: skip
    lines = ["Collected", *table([head, *rows], "rlrrrrrr")] if rows else ["Nothing collected yet"]
    if rows:
        lines.append(f"estimate {_money(done.estimate)}, actual {_money(done.actual)} for the shards collected")
    for index, why in done.waiting:
        lines.append(f"shard {index}: not collected: {why}")
    lines += done.notes
    if done.caches:
        from ..run.caches import cache_lines

        lines += ["", "Caches (shard --apply-cache): real cost against the advice", *cache_lines(done.caches)]
    if done.retry_path is not None:
        lines.append(f"{plural(done.retry_lines, 'request')} to run again, byte for byte: {done.retry_path}")
    if done.reconcile_path is not None and done.reconciliation is not None:
        lines += ["", f"Reconciliation of every result collected ({done.reconcile_path})", ""]
        return "\n".join(lines) + "\n" + render_text(done.reconciliation.to_json())
    return "\n".join(lines) + "\n"
