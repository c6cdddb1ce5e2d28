"""``batchcost shard FILE --out DIR --model M``: write the shard files a plan describes, and verify them."""

from __future__ import annotations

from typing import Any, TextIO

import click

from ..text import agree, one_line, plural
from . import options as opt
from .common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    Streams,
    human_size,
    progress_bar,
    progress_display,
    run_with_cache,
    verbatim,
)

FORMATS = ("text", "json")

SHARD_HELP = """\
Write the shards `batchcost plan` describes: each line copied byte for byte from the input
(CRLF line ends kept; a last line without a newline gets one), in input order within a shard,
plus manifest.json listing for every shard its path, requests, bytes, input lines, SHA-256,
estimated tokens and cost, and for the input its path, size and SHA-256. Keys stay unique
across shards and Vertex-form files stay Vertex-form, since lines are copied, never re-serialised.

The shards are written under temporary names and renamed only when all are complete; the
manifest comes last. A run that fails or is interrupted (Ctrl-C) removes what it wrote, so no
file that looks like a finished shard is left.

--out is created if missing. A folder that is not empty is refused unless --force, which first
removes exactly the files of an earlier shard set there (manifest.json, files named
NAME.shard-NNN.jsonl, and temporary files of a run that was killed) and leaves every other file
alone. A folder holding an input of the run is always refused.

An input with validation errors is refused (sharding would spread them), except for being too
large for one job, which is what sharding fixes. `--verify manifest.json` re-reads the input and
the shards and proves that every input line is in exactly one shard, once, byte-identical, and
that each shard is within its limits; it names the first difference otherwise, and every file in
the folder named like a shard that the manifest does not list.

--apply-cache writes the explicit caches the plan's caching advice recommends into the shards:
each request a cache serves is rewritten to reference it (its systemInstruction, tools and
leading content parts removed, "cachedContent" added at request level, holding a placeholder
that `batchcost submit` swaps for the cache's name when it creates the cache); every other line
is still copied byte for byte. Only caches whose requests are known one by one (a shared system
instruction, shared leading parts or first part) are applied, and only to requests that match
the cache's content exactly; the output says which advised cache was applied and why any was
not. manifest.json records each cache's content, model, TTL and the lines that use it, and
--verify proves each rewritten line is its input request with the cache's content taken out.

examples:
  batchcost shard requests.jsonl --out shards/ --model gemini-2.5-flash
  batchcost shard requests.jsonl --out shards/ --model gemini-2.5-flash --apply-cache
  batchcost shard requests.jsonl.gz --out shards/ --model gemini-2.5-flash --tier 2 \\
      --max-requests 10000
  batchcost shard requests.jsonl --out shards/ --model gemini-3.8-flash \\
      --enqueued-token-limit 50000000 --force
  batchcost shard --verify shards/manifest.json
"""

SHARD_EXIT_HELP = (
    "  shard: 1 when the input cannot be sharded (validation errors, a request over a limit) or when\n"
    "         --verify finds a difference or a stray shard; 2 when --out cannot be used (a file, not\n"
    "         empty without --force, holds an input, read-only, full) or the manifest is malformed\n"
)


@click.command(
    "shard",
    help=verbatim(SHARD_HELP),
    epilog=verbatim(EXIT_CODES_HELP + SHARD_EXIT_HELP),
    short_help="write shard files and a manifest (or --verify them)",
)
@click.argument("file", required=False, metavar="FILE")
@click.option("--out", metavar="DIR", help="folder for the shards and manifest.json (created if missing)")
@click.option(
    "--force",
    is_flag=True,
    help="write into a non-empty folder: remove the earlier shard set there first (its manifest, shard files "
    "and temporary files), and nothing else",
)
@click.option("--stem", metavar="NAME", help="shard file name stem (default: the input's name)")
@click.option(
    "--apply-cache",
    is_flag=True,
    help="rewrite the requests an advised explicit cache serves to reference it (see above)",
)
@click.option(
    "--verify", metavar="MANIFEST", help="check shards against their input instead of writing (needs nothing else)"
)
@opt.planning_options
@click.option("--format", "format", type=opt.FormatChoice(FORMATS), default="text", help="output format (default text)")
@click.option("--quiet", "-q", is_flag=True, help="no progress bars or confirmation on stderr")
@opt.cache_dir_option
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run_with_cache(values, run, streams)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    """``batchcost shard``: write shards (or verify a manifest) and report."""
    import json

    if args.verify:
        if args.file or args.out or args.apply_cache:
            stderr.write(
                "batchcost shard: error: --verify takes only the manifest; drop FILE, --out and --apply-cache\n"
            )
            return EXIT_USAGE
        from ..documents.manifest import SHARD_VERIFY_SCHEMA
        from ..planner.shard_verify import verify_manifest

        shown = progress_display(args.quiet, stderr)
        try:
            result = verify_manifest(args.verify, progress=progress_bar("verifying", "bytes", shown))
        finally:
            shown.close()
        if args.format == "json":
            doc = {
                "schema": SHARD_VERIFY_SCHEMA,
                "ok": result.ok, "message": result.message, "problems": list(result.problems),
                "lines": result.lines, "shards": result.shards,
            }  # fmt: skip
            stdout.write(json.dumps(doc, indent=2) + "\n")
        elif result.ok:
            stdout.write(result.message + "\n")
        else:
            stdout.write("".join(f"FAILED: {problem}\n" for problem in result.problems))
        return EXIT_OK if result.ok else EXIT_PROBLEMS
    if not args.file or not args.out:
        stderr.write(
            "batchcost shard: error: give FILE and --out DIR (or --verify MANIFEST); see `batchcost shard --help`\n"
        )
        return EXIT_USAGE

    from ..planner.shard_folder import check_out_dir
    from ..planner.shard_writer import write_shards
    from .plan import estimate_and_plan

    # Every file the run reads; none may be inside --out. Checked before the estimate, which can
    # take minutes, and again by write_shards before it changes anything.
    others = [*args.prices, args.tokenizer_model]
    check_out_dir(args.out, inputs=[args.file, *others], force=args.force)
    shown = progress_display(args.quiet, stderr)
    try:
        plan, shard_plan, _ = estimate_and_plan(args, shown)
        rewrite = None
        if args.apply_cache:
            from ..planner.apply_cache import plan_cache_rewrite

            rewrite = plan_cache_rewrite(plan.scan, plan.caching)
        n = len(shard_plan.shards)
        # the writer reports input bytes copied (MB/s); the label says how many shards they make
        writing = progress_bar(f"writing {n:,} shard{'s' if n != 1 else ''}", "bytes", shown)
        manifest = write_shards(
            plan.scan, shard_plan, args.out, force=args.force, stem=args.stem,
            input_sha256=plan.scan.files[0].sha256, model=plan.model, progress=writing, inputs=others,
            rewrite=rewrite,
        )  # fmt: skip
    finally:
        shown.close()
    doc = manifest.to_json()
    if not args.quiet:
        written = sum(s["bytes"] for s in doc["shards"])
        count = len(doc["shards"])
        stderr.write(
            f"wrote {count:,} shard{'s' if count != 1 else ''} ({human_size(written)}) and {one_line(str(manifest.path))}\n"
        )
    if args.format == "json":
        stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        from ..reports.shards import render_written_shards

        stdout.write(render_written_shards(doc, manifest.path))
        if "caches" in doc:
            stdout.write(render_applied_caches(doc))
    return EXIT_OK


def render_applied_caches(doc: dict[str, Any]) -> str:
    """Which advised caches the shards use (requests, shards, TTL) and why any was not applied."""
    lines = ["", "caches (--apply-cache):"]
    for c in doc["caches"]:
        shards = ", ".join(str(s["index"]) for s in c["shards"])
        n = c["unmatched"]
        skipped = (
            f"; {plural(n, 'member')} did not match its content exactly and {agree(n, 'was', 'were')} copied as "
            f"{agree(n, 'it is', 'they are')}"
            if n
            else ""
        )
        lines.append(
            f"  {c['id']} (advice {c['candidate']}): applied to {plural(c['requests'], 'request')} in "
            f"{agree(len(c['shards']), 'shard', 'shards')} {shards}, "
            f"{c['tokens']:,} tokens, TTL {c['ttl_hours']} h; `batchcost submit` creates it, `collect` deletes it{skipped}"
        )
    for c in doc["caches_not_applied"]:
        who = "advice" if c["candidate"] == "-" else c["candidate"]
        lines.append(f"  not applied ({who}): {c['reason']}")
    return "\n".join(lines) + "\n"
