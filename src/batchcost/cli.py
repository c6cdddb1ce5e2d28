"""The ``batchcost`` command: parse arguments, make one library call, render, return an exit code.

Exit codes (also in ``batchcost --help``):
  0  success; the input is valid
  1  problems were found in the input (validation errors; warnings too with --strict)
  2  usage error, or an input file or option value cannot be used (missing file, bad option)
  3  budget exceeded (``estimate --budget``)
  130 interrupted (Ctrl-C)

Nothing here does domain work: every command calls the library and renders what it returns.
Heavy modules are imported inside the command that needs them so ``--help`` starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_BUDGET = 3
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """exit codes:
  0    success (input valid)
  1    problems found in the input (errors; warnings too with --strict)
  2    usage error, or an input file / option value that cannot be used
  3    estimated cost over --budget (estimate)
  130  interrupted (Ctrl-C)
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit 2 with one line and a pointer to --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _write_atomic(path: str, text: str) -> None:
    """Write a whole file or nothing: temporary file in the same folder, then rename."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _emit(text: str, output: str | None, stdout: TextIO) -> None:
    if output:
        _write_atomic(output, text)
    else:
        stdout.write(text)


# -- validate -----------------------------------------------------------------------------------

VALIDATE_HELP = """\
Check every line of Gemini batch input files and report every problem as FILE:LINE: what is
wrong; how to fix it. Problems are grouped and counted by kind.

Accepted: Gemini Developer API lines {"key": ..., "request": {...}}, Vertex AI lines
{"request": {...}}, gzip-compressed files, camelCase or snake_case field names.

examples:
  batchcost validate requests.jsonl
  batchcost validate part-*.jsonl.gz --max-problems 3
  batchcost validate requests.jsonl --strict --format json > validation.json
"""


def _add_validate(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check batch input files line by line",
        description=VALIDATE_HELP,
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="batch input file(s): .jsonl or .jsonl.gz")
    p.add_argument(
        "--max-problems",
        type=_positive_int,
        default=10,
        metavar="N",
        help="show the first N problems of each kind (all are counted; default 10)",
    )
    p.add_argument("--strict", action="store_true", help="warnings (e.g. unknown fields) also fail")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE (atomically) instead of stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_validate)


def _run_validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from .batchfile import scan
    from .reports import validation

    bar = _progress_bar("validating", args.quiet, stderr)
    try:
        result = scan(args.files, keep_problems=args.max_problems, progress=bar)
    finally:
        bar.close()
    if args.format == "json":
        import json

        doc = validation.to_json(result, max_problems=args.max_problems, strict=args.strict)
        _emit(json.dumps(doc, indent=2) + "\n", args.output, stdout)
    else:
        _emit(
            validation.render_text(result, max_problems=args.max_problems, strict=args.strict),
            args.output,
            stdout,
        )
    return EXIT_OK if result.valid(strict=args.strict) else EXIT_PROBLEMS


# -- helpers ------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return n


def _progress_bar(label: str, quiet: bool, stderr: TextIO) -> Callable[[int, int], None] | Any:
    from ._progress import ProgressBar

    return ProgressBar(label, enabled=not quiet, stream=stderr)


MAIN_HELP = """\
Know what a Gemini API Batch Mode job will cost, and whether its file is valid, before you submit it.

examples:
  batchcost validate requests.jsonl
  batchcost COMMAND --help
"""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="batchcost", description=MAIN_HELP, epilog=EXIT_CODES_HELP, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"batchcost {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    _add_validate(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    from .errors import BatchcostError

    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) else EXIT_USAGE
    if not hasattr(args, "run"):
        parser.print_help(stdout)
        return EXIT_USAGE
    try:
        return int(args.run(args, stdout, stderr))
    except KeyboardInterrupt:
        stderr.write("\nbatchcost: interrupted\n")
        return EXIT_INTERRUPTED
    except BatchcostError as e:
        stderr.write(f"batchcost: error: {e}\n")
        return EXIT_USAGE if _is_usage(e) else EXIT_PROBLEMS
    except BrokenPipeError:
        # Output piped into something that stopped reading (e.g. `| head`): not an error.
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return EXIT_OK


def _is_usage(e: Exception) -> bool:
    from .errors import InputError, PricingError, TokenizerError

    return isinstance(e, InputError | PricingError | TokenizerError)
