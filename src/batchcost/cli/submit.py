"""``batchcost submit DIR/manifest.json``: upload the shards and create their batch jobs, wave by wave."""

from __future__ import annotations

import time
from argparse import Namespace
from decimal import Decimal
from typing import Any, TextIO

import click

from ..text import agree, one_line, plural, shell_word
from . import options as opt
from .common import EXIT_BUDGET, EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE, Streams, verbatim

SUBMIT_HELP = """\
Run the plan: upload each shard `batchcost shard` wrote (Files API) and create one Gemini
Developer API batch job per shard with google-genai, wave by wave. A shard goes only while the
jobs in flight stay within the manifest's enqueued-token quota and concurrent-job limit; the next
wave starts as earlier jobs end, and the results of the jobs that end are fetched and priced on
the way. This sends the shards' requests to Google: nothing is sent before you confirm.

It starts only when the shards' batch estimate fits --budget USD, or when you confirm the figure
(asked on a terminal; --yes for scripts). With --budget it stops submitting (jobs in flight go on)
when the actual cost collected so far plus the estimate for the shards left would pass it, and
says so. --budget-on picks the estimate: expected (the default when the shards were priced with an
output expectation) or ceiling (every request at its output limit; the default otherwise).

Every step is recorded in DIR/jobs.json (batchcost.jobs/1), written before and after each call:
after a crash or Ctrl-C, the same command goes on where it stopped and never uploads a shard or
creates its job twice (uploads and jobs carry the shard's SHA-256 prefix in their display name;
one an interrupted run made but did not record is found and adopted). --no-wait submits what fits
now and returns; run it again to go on. The API key comes from GEMINI_API_KEY (or GOOGLE_API_KEY)
and is never written anywhere. Calls that fail with 429, 5xx, a timeout or a reset connection are
retried with backoff.

Shards written with `batchcost shard --apply-cache` reference advised caches: submit creates each
cachedContent (the manifest's content, with a TTL covering the planned hours) before the first
wave, records it in jobs.json (a rerun finds it by display name, never making a second one), and
uploads each shard with the cache's name in place of its placeholder (the file on disk is left
as written). `batchcost collect` deletes the caches once every job has ended; `cancel` too.

examples:
  batchcost submit shards/manifest.json --budget 25
  batchcost submit shards/manifest.json --yes --no-wait
  batchcost status shards/ --watch
  batchcost collect shards/
"""

SUBMIT_EXIT_HELP = "  submit: 3 when the estimate is over --budget (nothing sent), or submitting stopped at it\n"


@click.command(
    "submit",
    help=verbatim(SUBMIT_HELP),
    epilog=verbatim(EXIT_CODES_HELP + SUBMIT_EXIT_HELP),
    short_help="upload the shards and create their batch jobs, wave by wave, within a budget",
)
@click.argument("manifest", metavar="DIR/manifest.json")
@click.option(
    "--budget", type=opt.BUDGET, help="start only when the estimate fits USD; stop submitting before passing it"
)
@click.option(
    "--budget-on", type=click.Choice(("expected", "ceiling")), default=None,
    help="the estimate held against --budget (default: expected when the shards have one, else ceiling)",
)  # fmt: skip
@click.option("--yes", "-y", is_flag=True, help="submit without asking (scripts); with no --budget, no spending limit")
@click.option("--no-wait", is_flag=True, help="submit the shards that fit now and return (run again to go on)")
@click.option(
    "--poll", type=click.FloatRange(0, min_open=True), default=60.0, show_default=True, metavar="SECONDS",
    help="first wait between checks for the next wave (it grows while nothing changes, up to 15 minutes)",
)  # fmt: skip
@opt.prices_option
@click.option("--quiet", "-q", is_flag=True, help="no step-by-step lines on stderr")
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO, *, sleep: Any = time.sleep) -> int:
    """``batchcost submit``: check the figure, confirm, submit, report."""
    import sys

    from ..run import OverBudget, preflight, submit

    pre = preflight(args.manifest, args.budget_on)
    figure = "not priced" if pre.high is None else f"${pre.high:,.4f} ({pre.basis})"
    yes = bool(args.yes)
    if args.budget is None and not yes:
        question = (
            f"submit {plural(pre.shards, 'batch job')} ({plural(pre.requests, 'request')}, "
            f"{plural(pre.waves, 'wave')}) on {pre.model}, "
            f"estimated {figure}?"
        )
        if not sys.stdin.isatty():
            stderr.write(f"batchcost submit: error: {question} pass --budget USD, or --yes to confirm\n")
            return EXIT_USAGE
        if not click.confirm(question, err=True):
            stderr.write("batchcost submit: nothing submitted\n")
            return EXIT_USAGE
        yes = True

    def say(text: str) -> None:
        if not args.quiet:
            stderr.write(text + "\n")
            stderr.flush()

    try:
        outcome = submit(
            args.manifest, budget=Decimal(str(args.budget)) if args.budget is not None else None,
            budget_basis=args.budget_on, yes=yes, wait=not args.no_wait, poll_s=args.poll, prices=args.prices,
            notify=say, sleep=sleep,
        )  # fmt: skip
    except OverBudget as e:
        stderr.write(f"batchcost submit: {e}; nothing submitted\n")
        return EXIT_BUDGET
    folder = str(outcome.journal.folder)
    made, found = len(outcome.submitted), len(outcome.adopted)
    stdout.write(
        f"submitted {plural(made, 'job')}"
        + (f"; {found} found from an earlier interrupted run" if found else "")
        + "\n"
    )
    if outcome.stopped:
        stdout.write(f"stopped: {outcome.stopped}; {plural(len(outcome.waiting), 'shard')} not submitted\n")
    elif outcome.waiting:
        n = len(outcome.waiting)
        stdout.write(
            f"{plural(n, 'shard')} {agree(n, 'waits', 'wait')} for the next wave: run the same command again later\n"
        )
    stdout.write(
        f"recorded in {one_line(str(outcome.journal.path))}; next: batchcost status {shell_word(folder)} --watch, "
        f"then batchcost collect {shell_word(folder)}\n"
    )
    return EXIT_BUDGET if outcome.stopped else EXIT_OK
