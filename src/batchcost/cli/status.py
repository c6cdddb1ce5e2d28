"""``batchcost status DIR``: one line per job (state, batchStats counts, age, time left before expiry)."""

from __future__ import annotations

import datetime
import time
from argparse import Namespace
from typing import TYPE_CHECKING, Any, TextIO

import click

from ..text import plural
from . import options as opt
from .common import EXIT_CODES_HELP, EXIT_OK, EXIT_PROBLEMS, Streams, verbatim

if TYPE_CHECKING:
    from ..run import Journal, Summary

FORMATS = ("text", "json")
EXIT_UNFINISHED = 4

STATUS_HELP = """\
Where every batch job of a shard folder stands: one line per shard with its job's state, the
request counts the API reports (batchStats: succeeded, failed, pending), its age and the time left
before the 48-hour expiry (a job still pending or running 48 hours after it was created expires
with no results), then a total, and a line per advised cache (shard --apply-cache): its name,
tokens and time left before it expires, or when it was deleted. Jobs that have not ended are asked about (needs GEMINI_API_KEY or
GOOGLE_API_KEY); what is learnt is recorded in DIR/jobs.json, unless a submit is running there.

--watch asks again until every job has ended, waiting longer between checks while nothing
changes (from --interval up to 10 minutes). --format json prints DIR/jobs.json
(batchcost.jobs/1) as it stands.

examples:
  batchcost status shards/
  batchcost status shards/ --watch
  batchcost status shards/ --format json
"""

STATUS_EXIT_HELP = (
    "  status: 1 when a job failed, expired or was cancelled, or requests failed; 4 while jobs have\n"
    "          not ended (or shards are not submitted yet); 0 when every job succeeded\n"
)


@click.command(
    "status",
    help=verbatim(STATUS_HELP),
    epilog=verbatim(EXIT_CODES_HELP + STATUS_EXIT_HELP),
    short_help="the state of every batch job of a shard folder",
)
@click.argument("folder", metavar="DIR")
@click.option("--watch", is_flag=True, help="ask again until every job has ended")
@click.option(
    "--interval", type=click.FloatRange(0, min_open=True), default=30.0, show_default=True, metavar="SECONDS",
    help="first wait between checks with --watch (it grows while nothing changes)",
)  # fmt: skip
@click.option("--format", "format", type=opt.FormatChoice(FORMATS), default="text", help="output format (default text)")
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO, *, sleep: Any = time.sleep) -> int:
    """``batchcost status``: show (and with --watch follow) the jobs of a folder."""
    import json

    from ..run import status

    delay = float(args.interval)
    while True:
        journal, summary = status(args.folder)
        if args.format == "text":
            stdout.write(render_status(journal, summary))
            stdout.flush()
        if not args.watch or not summary.unfinished:
            break
        sleep(delay)
        delay = min(600.0, delay * 1.5)
    if args.format == "json":
        stdout.write(json.dumps(journal.doc, indent=2) + "\n")
    return exit_code(summary)


def exit_code(summary: Summary) -> int:
    """1 when something failed, 4 while jobs run, 0 when every job succeeded."""
    bad = any(summary.states.get(s) for s in ("failed", "expired", "cancelled")) or summary.failed
    if bad:
        return EXIT_PROBLEMS
    return EXIT_UNFINISHED if summary.unfinished or summary.stopped else EXIT_OK


def duration(value: datetime.timedelta | None) -> str:
    """``1d 02h``, ``3h 05m``, ``12m``, ``-`` for None."""
    if value is None:
        return "-"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    return f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def render_status(journal: Journal, summary: Summary) -> str:
    """The status table and its total."""
    from ..reports.terminal import table

    rows = [
        [str(r.index), r.job or "-", r.state.replace("_", " "), f"{r.requests:,}", _count(r.succeeded),
         _count(r.failed), _count(r.pending), duration(r.age), duration(r.left)]
        for r in summary.rows
    ]  # fmt: skip
    head = ["shard", "job", "state", "requests", "succeeded", "failed", "pending", "age", "expires in"]
    states = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(summary.states.items()))
    lines = [
        *table([head, *rows], "rllrrrrrr"),
        f"total: {plural(len(summary.rows), 'shard')}: {states}; {plural(summary.requests, 'request')}: "
        f"{summary.succeeded:,} "
        f"succeeded, {summary.failed:,} failed, {summary.pending:,} pending",
    ]
    if summary.stopped:
        lines.append(f"submitting stopped: {summary.stopped}")
    now = datetime.datetime.now(datetime.UTC)
    lines.extend(cache_line(c, now) for c in journal.doc.get("caches") or [])
    return "\n".join(lines) + "\n"


def cache_line(cache: dict[str, Any], now: datetime.datetime) -> str:
    """One advised cache of the run (``shard --apply-cache``): its name, size and time left, or why it has none."""
    head = f"cache {cache['id']} (shard{'s' if len(cache['shards']) != 1 else ''} {_ranges(cache['shards'])})"
    if cache["deleted_at"]:
        return f"{head}: deleted {cache['deleted_at'][:16].replace('T', ' ')} UTC"
    if not cache["name"]:
        return f"{head}: not created yet (submit creates it before the first wave)"
    tokens = f"{cache['tokens']:,} tokens, " if cache["tokens"] is not None else ""
    if not cache["expires_at"]:
        return f"{head}: {cache['name']}, {tokens}expiry not reported"
    left = datetime.datetime.fromisoformat(cache["expires_at"]) - now
    if left.total_seconds() <= 0:
        return f"{head}: {cache['name']}, {tokens}EXPIRED {duration(-left)} ago; requests still to run cannot read it"
    return f"{head}: {cache['name']}, {tokens}expires in {duration(left)}"


def _ranges(values: list[int]) -> str:
    """``1-3, 5`` for [1, 2, 3, 5]."""
    out: list[str] = []
    for v in sorted(values):
        if out and int(out[-1].rsplit("-", 1)[-1]) == v - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{v}"
        else:
            out.append(str(v))
    return ", ".join(out)
