"""``batchcost validate FILE...``: every problem in a batch file, FILE:LINE, grouped by kind."""

from __future__ import annotations

from typing import Any, TextIO

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
    progress_bar,
    progress_display,
    run_with_cache,
    verbatim,
)

FORMATS = ("text", "json", "csv")

VALIDATE_HELP = """\
Check every line of Gemini batch input files and report every problem as FILE:LINE: what is
wrong; how to fix it. Problems are grouped and counted by kind.

Accepted: Gemini Developer API lines {"key": ..., "request": {...}}, Vertex AI lines
{"request": {...}}, gzip-compressed files, camelCase or snake_case field names.

examples:
  batchcost validate requests.jsonl
  batchcost validate part-*.jsonl.gz --max-problems 3
  batchcost validate requests.jsonl --strict --format json > validation.json
  batchcost validate requests.jsonl -o problems.csv     # every problem listed, one per row
  batchcost validate /shared/run-42/*.jsonl --engine dask --scheduler tcp://10.0.0.5:8786
"""


@click.command(
    "validate",
    help=verbatim(VALIDATE_HELP),
    epilog=verbatim(EXIT_CODES_HELP),
    short_help="check batch input files line by line",
)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--max-problems",
    type=opt.POSITIVE_INT,
    default="10",
    help="show the first N problems of each kind (all are counted; default 10)",
)
@click.option("--strict", is_flag=True, help="warnings (e.g. unknown fields) also fail")
@opt.engine_options
@opt.render_options(FORMATS)
@opt.cache_dir_option
@click.pass_obj
def command(streams: Streams, **values: Any) -> int:
    return run_with_cache(values, run, streams)


def run(args: Any, stdout: TextIO, stderr: TextIO) -> int:
    from ..batchfile import scan
    from ..batchfile.validation import validation_document
    from ..reports import validation

    check_outputs(args, args.files, args.output)
    fmt = opt.output_format(args.format, args.output, FORMATS)
    shown = progress_display(args.quiet, stderr)
    try:
        with engine_for(args) as engine:
            # only what the checks need: text byte counts and hashes are for estimates
            result = (scan if engine is None else engine.scan)(
                args.files,
                keep_problems=args.max_problems,
                progress=progress_bar("validating", "bytes", shown),
                text_figures=False,
            )
    finally:
        shown.close()
    doc = validation_document(result, max_problems=args.max_problems, strict=args.strict)
    if fmt == "json":
        import json

        emit(json.dumps(doc, indent=2) + "\n", args.output, stdout)
    elif fmt == "csv":
        from .tables import problem_rows, to_csv

        emit(to_csv(problem_rows(doc)), args.output, stdout)
    else:
        emit(validation.render_text(doc), args.output, stdout)
    confirm_written(args.output, args.quiet, stderr)
    return EXIT_OK if result.valid(strict=args.strict) else EXIT_PROBLEMS
