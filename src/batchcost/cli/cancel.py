"""``batchcost cancel DIR``: cancel every batch job of a shard folder that has not ended."""

from __future__ import annotations

from argparse import Namespace
from typing import Any, TextIO

import click

from ..text import agree, one_line, plural, shell_word
from .common import EXIT_CODES_HELP, EXIT_OK, Streams, verbatim

CANCEL_HELP = """\
Cancel every batch job of a shard folder that has not ended (Google stops processing its
requests; what it finished stays billable and collectable) and record it in DIR/jobs.json. Shards
not yet submitted will not be: a later `batchcost submit` of the folder refuses to go on. Caches
the run created for its shards (shard --apply-cache) are deleted, so their storage stops.
`batchcost collect DIR` then gathers what finished and writes the rest to retry.jsonl.

Needs GEMINI_API_KEY (or GOOGLE_API_KEY) when a job is to be cancelled.

examples:
  batchcost cancel shards/
  batchcost cancel shards/ && batchcost collect shards/
"""


@click.command(
    "cancel",
    help=verbatim(CANCEL_HELP),
    epilog=verbatim(EXIT_CODES_HELP),
    short_help="cancel every unfinished batch job of a shard folder",
)
@click.argument("folder", metavar="DIR")
@click.option("--quiet", "-q", is_flag=True, help="no step-by-step lines on stderr")
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run(Namespace(**values), streams.stdout, streams.stderr)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    """``batchcost cancel``: cancel and report."""
    from ..run import cancel

    def say(text: str) -> None:
        if not args.quiet:
            stderr.write(text + "\n")

    journal, cancelled = cancel(args.folder, notify=say)
    waiting = sum(1 for s in journal.shards if s["state"] == "not_submitted")
    if cancelled:
        n = len(cancelled)
        stdout.write(f"cancelled {plural(n, 'job')}: {agree(n, 'shard', 'shards')} {', '.join(map(str, cancelled))}\n")
    else:
        stdout.write("no job to cancel: every submitted job has ended\n")
    if waiting:
        stdout.write(f"{plural(waiting, 'shard')} not submitted will not be\n")
    stdout.write(f"recorded in {one_line(str(journal.path))}; next: batchcost collect {shell_word(args.folder)}\n")
    return EXIT_OK
