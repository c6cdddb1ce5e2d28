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
from collections.abc import Callable, Sequence
from typing import Any, TextIO

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_BUDGET = 3
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """exit codes:
  0    success (input valid)
  1    problems found in the input (errors; warnings too with --strict; failed results)
  2    usage error, or a file, option value, output or network that cannot be used
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
    """Write a whole file or nothing (see :func:`batchcost.outputs.write_atomic`)."""
    from .outputs import write_atomic

    write_atomic(path, text)


def _read_by(args: argparse.Namespace) -> list[str]:
    """Every file a command's options make it read, besides its positional inputs."""
    found: list[str] = []
    for name in ("prices", "requests", "calibrate_from"):
        found += [str(v) for v in getattr(args, name, None) or ()]
    for name in ("tokenizer_model", "plan"):
        value = getattr(args, name, None)
        if value:
            found.append(str(value))
    return found


def _check_outputs(args: argparse.Namespace, inputs: Sequence[str], *outputs: str | None) -> None:
    """Refuse, before any work, an output that would replace an input or cannot be written (exit 2)."""
    from .outputs import check_outputs

    check_outputs([*inputs, *_read_by(args)], outputs)


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
    from .batchfile.validation import validation_document
    from .reports import validation

    _check_outputs(args, args.files, args.output)
    bar = _progress_bar("validating", args.quiet, stderr)
    try:
        result = scan(args.files, keep_problems=args.max_problems, progress=bar)
    finally:
        bar.close()
    doc = validation_document(result, max_problems=args.max_problems, strict=args.strict)
    if args.format == "json":
        import json

        _emit(json.dumps(doc, indent=2) + "\n", args.output, stdout)
    else:
        _emit(validation.render_text(doc), args.output, stdout)
    return EXIT_OK if result.valid(strict=args.strict) else EXIT_PROBLEMS


# -- estimate -----------------------------------------------------------------------------------

ESTIMATE_HELP = """\
Price a batch file: count its tokens (exactly, or on a sample with a 95% interval) and cost it
synchronously (standard), in batch, flex and priority where the price book has them, on the
date the job will run. Every price shown names its source and checked date.

Output tokens are the big unknown: give --output-tokens N (billed output per request, thinking
included: --output-tokens 500 prices exactly 500 output tokens per request on any model) or
--output-ratio R (R x each request's input tokens). Without either, the estimate shows the
input-only floor and the ceiling (maxOutputTokens or the model's limit, plus thinking) and says the
expectation is unknown.

examples:
  batchcost estimate requests.jsonl --model gemini-2.5-flash
  batchcost estimate requests.jsonl --model gemini-3.8-flash --output-tokens 400 --run-date 2027-01-02
  batchcost estimate requests.jsonl --model gemini-2.5-pro --compare gemini-3.8-flash,gemini-2.5-flash-lite
  batchcost estimate requests.jsonl --model gemini-2.5-flash --output-ratio 0.5 --budget 250 --format json
  batchcost estimate requests.jsonl --model gemini-3.8-flash --output-tokens 400 --report plan.html
"""


def _add_estimate(sub: Any) -> None:
    p = sub.add_parser(
        "estimate",
        help="price a batch file (standard, batch, flex, priority)",
        description=ESTIMATE_HELP,
        epilog=EXIT_CODES_HELP
        + "  estimate: 1 when the input has validation errors (figures still shown), 3 over --budget\n",
        formatter_class=_Formatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="batch input file(s): .jsonl or .jsonl.gz")
    p.add_argument("--model", "-m", help="model the job runs on (default: request.model in the file)")
    p.add_argument("--run-date", type=_date, metavar="YYYY-MM-DD", help="day the job runs (default: today)")
    _add_token_options(p)
    out = p.add_argument_group("output tokens")
    _add_output_expectation(out)
    out.add_argument(
        "--calibrate-from", nargs="+", action=_OneOrTwo, metavar=("RESULTS", "REQUESTS"),
        help="learn expected output (and its interval) from a previous job's results file; add the requests file "
        "that produced it to tell thinking settings and maxOutputTokens apart",
    )  # fmt: skip
    out.add_argument(
        "--pilot", type=_positive_int, metavar="N",
        help="send N sampled requests now (synchronous, paid at standard rates; asks first) and learn from their "
        "output; needs GEMINI_API_KEY or GOOGLE_API_KEY",
    )  # fmt: skip
    out.add_argument("--yes", "-y", action="store_true", help="do not ask before --pilot spends money")
    pr = p.add_argument_group("prices")
    _add_prices_option(pr)
    pr.add_argument("--allow-unpriced", action="store_true", help='show "not priced" modes instead of failing')
    pr.add_argument("--compare", type=_csv, default=[], metavar="M1,M2", help="also price the file on these models")
    pr.add_argument("--budget", type=_nonnegative_float, metavar="USD", help="exit 3 when the batch cost exceeds USD")
    pr.add_argument(
        "--budget-on", choices=("high", "ceiling"), default="high",
        help="compare --budget with the high end of the batch estimate (default) or with its ceiling",
    )  # fmt: skip
    from .commands.plan import add_limit_options

    add_limit_options(p)
    _add_render_options(p, ("table", "json", "markdown"))
    p.add_argument(
        "--report", metavar="FILE.html",
        help="also write the self-contained HTML pre-flight report (or .md for Markdown) to FILE",
    )  # fmt: skip
    p.set_defaults(run=_run_estimate)


def _add_token_options(p: Any) -> None:
    g = p.add_argument_group("token counting")
    g.add_argument(
        "--tokenizer", choices=("auto", "local", "api", "heuristic"), default="auto",
        help="auto: exact local tokenizer when available, else the labelled heuristic; api: Google's countTokens "
        "(sends your prompts to Google; needs GEMINI_API_KEY or GOOGLE_API_KEY)",
    )  # fmt: skip
    g.add_argument(
        "--tokenizer-model", metavar="PATH",
        help="Gemma 3 SentencePiece model file (or set BATCHCOST_TOKENIZER_MODEL)",
    )  # fmt: skip
    g.add_argument("--offline", action="store_true", help="never download a tokenizer model")
    g.add_argument(
        "--platform", choices=("developer", "vertex"), default="developer",
        help="Gemini Developer API (default) or Vertex AI batch: sets the limits, caching rules and --tokenizer api",
    )  # fmt: skip
    g.add_argument("--sample-size", type=_positive_int, default=2000, metavar="N", help="initial sample (default 2000)")
    g.add_argument("--seed", type=_seed, default=0, help="sample seed, 0 to 2**32-1 (default 0)")
    g.add_argument("--exact", action="store_true", help="count every request exactly (no sampling)")
    m = p.add_argument_group("media the file cannot size")
    m.add_argument("--video-seconds", type=_positive_float, metavar="S", help="length of videos of unknown length")
    m.add_argument("--audio-seconds", type=_positive_float, metavar="S", help="length of audio of unknown length")
    m.add_argument("--pdf-pages", type=_positive_int, metavar="N", help="pages of PDFs whose page count is unknown")
    m.add_argument("--image-size", type=_size, metavar="WxH", help="size of images of unknown size")


def _add_output_expectation(g: Any) -> None:
    """--output-tokens / --output-ratio (estimate, plan, shard)."""
    g.add_argument(
        "--output-tokens", type=_nonnegative_int, metavar="N",
        help="expected billed output tokens per request, thinking included",
    )  # fmt: skip
    g.add_argument(
        "--output-ratio", type=_ratio, metavar="R",
        help="expected billed output as R x each request's input tokens, thinking included",
    )  # fmt: skip


def _add_prices_option(g: Any) -> None:
    g.add_argument(
        "--prices", action="append", default=[], metavar="FILE",
        help="price file that overrides or adds rates (same format as the packaged overlay; repeatable)",
    )  # fmt: skip


def _add_render_options(p: Any, formats: tuple[str, ...]) -> None:
    p.add_argument("--format", choices=formats, default=formats[0], help=f"output format (default {formats[0]})")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def _media_defaults(args: argparse.Namespace) -> Any:
    from .tokens.media_tokens import MediaDefaults

    w, h = args.image_size or (None, None)
    return MediaDefaults(
        video_seconds=args.video_seconds, audio_seconds=args.audio_seconds, pdf_pages=args.pdf_pages,
        image_width=w, image_height=h,
    )  # fmt: skip


def _run_estimate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import json

    from .commands.plan import limit_options
    from .planner.estimate import EstimateOptions, estimate
    from .reports import terminal

    if args.report:
        from .reports.html import format_for_path

        format_for_path(args.report)  # an extension the report cannot be written as is refused now
    _check_outputs(args, args.files, args.output, args.report)

    options = EstimateOptions(
        run_date=args.run_date, tokenizer=args.tokenizer, tokenizer_model=args.tokenizer_model,
        offline=args.offline, platform=args.platform, sample_size=args.sample_size, seed=args.seed,
        exact=args.exact, output_tokens=args.output_tokens, output_ratio=args.output_ratio, prices=args.prices,
        allow_unpriced=args.allow_unpriced, compare=args.compare, media_defaults=_media_defaults(args),
        env=dict(os.environ), **limit_options(args),
        calibrate_from=args.calibrate_from or (), pilot=args.pilot, pilot_confirm=_pilot_confirm(args, stderr),
    )  # fmt: skip
    progress, close = _stage_progress(args.quiet, stderr)
    try:
        plan = estimate(args.files, model=args.model, options=options, progress=progress)
    finally:
        close()
    doc = plan.to_json()
    if args.format == "json":
        text = json.dumps(doc, indent=2) + "\n"
    elif args.format == "markdown":
        text = terminal.render_plan_markdown(doc)
    else:
        text = terminal.render_plan_text(doc)
    _emit(text, args.output, stdout)
    if args.report:
        from .reports.html import write_report

        write_report(doc, args.report)
    if args.budget is not None:
        over = _over_budget(doc, args.budget, args.budget_on)
        if over:
            stderr.write(f"batchcost: {over}\n")
            return EXIT_BUDGET
    return EXIT_OK if doc["validation"]["valid"] else EXIT_PROBLEMS


class _OneOrTwo(argparse.Action):
    """nargs='+' limited to one or two values (RESULTS [REQUESTS])."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        if len(values) > 2:
            parser.error(f"{option_string} takes RESULTS and at most one REQUESTS file (put the batch FILE first)")
        setattr(namespace, self.dest, list(values))


def _pilot_confirm(args: argparse.Namespace, stderr: TextIO) -> Callable[[Any], bool]:
    """Ask on the terminal before the pilot spends money (``--yes`` skips the question)."""

    def confirm(max_usd: Any) -> bool:
        from .reports.terminal import money

        stderr.write(
            f"--pilot sends {args.pilot:,} requests to the Gemini API now, synchronously, at standard rates: "
            f"at most {money(max_usd)}.\n"
        )
        if args.yes:
            return True
        if not sys.stdin.isatty():
            stderr.write("batchcost: no terminal to ask for confirmation; pass --yes to send the pilot\n")
            return False
        stderr.write("Send them? [y/N] ")
        stderr.flush()
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    return confirm


def _over_budget(doc: dict[str, Any], budget: float, on: str) -> str | None:
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


# -- prices -------------------------------------------------------------------------------------

PRICES_HELP = """\
List the effective price book: every rate per model and mode on a run date, with its source,
checked date and derived/overridden flags, after routing and any --prices files.

examples:
  batchcost prices --model gemini-2.5-flash
  batchcost prices --run-date 2027-01-01 --model gemini-3.8-flash --format json
  batchcost prices --prices negotiated.yaml
"""


def _add_prices(sub: Any) -> None:
    p = sub.add_parser(
        "prices",
        help="list the price book",
        description=PRICES_HELP,
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    p.add_argument(
        "--model",
        "-m",
        action="append",
        type=_csv,
        default=[],
        metavar="M",
        help="only these models (repeatable, or M1,M2)",
    )
    p.add_argument("--run-date", type=_date, metavar="YYYY-MM-DD", help="prices of this day (default: today)")
    _add_prices_option(p)
    _add_render_options(p, ("table", "json"))
    p.set_defaults(run=_run_prices)


def _run_prices(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import datetime
    import json

    from .pricing import PriceBook
    from .reports import terminal

    _check_outputs(args, [], args.output)
    book = PriceBook.load(args.prices or None)
    models = [m for group in args.model for m in group] or None
    run_date = args.run_date or datetime.date.today()
    rows = [r.as_dict() for r in book.rows(run_date, models)]
    if args.format == "json":
        doc = {"schema": "batchcost.prices/1", "run_date": run_date.isoformat(), "rates": rows}
        _emit(json.dumps(doc, indent=2) + "\n", args.output, stdout)
    else:
        _emit(terminal.render_prices_text(rows), args.output, stdout)
    return EXIT_OK


# -- helpers ------------------------------------------------------------------------------------


# Whole-number options are per-request or per-shard figures: beyond these bounds they are typing
# mistakes, and past them numpy's 64-bit sums over millions of requests could overflow.
MAX_WHOLE = 2**31 - 1  # the API's own integer fields (maxOutputTokens...) are 32-bit
MAX_TOTAL = 10**15  # token totals per shard or per quota


def _whole(text: str, minimum: int, maximum: int = MAX_WHOLE) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < minimum:
        raise argparse.ArgumentTypeError(
            f"{text!r} must be at least {minimum}" if minimum else f"{text!r} must not be negative"
        )
    if n > maximum:
        raise argparse.ArgumentTypeError(f"{text!r} is too large (at most {maximum:,})")
    return n


def _positive_int(text: str) -> int:
    return _whole(text, 1)


def _nonnegative_int(text: str) -> int:
    return _whole(text, 0)


def _token_total(text: str) -> int:
    """A token figure for a whole shard or quota (may pass 2**31)."""
    return _whole(text, 1, MAX_TOTAL)


def _seed(text: str) -> int:
    """A sampling seed: numpy's generators take 0 .. 2**32 - 1."""
    return _whole(text, 0, 2**32 - 1)


MAX_RATIO = 10_000.0  # output tokens per input token; beyond it a figure is a typing mistake


def _nonnegative_float(text: str, maximum: float | None = None) -> float:
    import math

    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if x < 0 or not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number >= 0")
    if maximum is not None and x > maximum:
        raise argparse.ArgumentTypeError(f"{text!r} is too large (at most {maximum:,g})")
    return x


def _ratio(text: str) -> float:
    return _nonnegative_float(text, MAX_RATIO)


def _positive_float(text: str) -> float:
    x = _nonnegative_float(text, 1e12)
    if x == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return x


def _date(text: str) -> Any:
    import datetime

    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-01") from None
    # prices and limits are dated facts: a day far outside them is a typing mistake (and 9999-12-31
    # would overflow the date arithmetic of the job window)
    if not datetime.date(2000, 1, 1) <= day <= datetime.date(2100, 12, 31):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range (2000-01-01 to 2100-12-31)")
    return day


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("give at least one name")
    return items


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1024x768") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    if w > 100_000 or h > 100_000:
        raise argparse.ArgumentTypeError(f"{text!r} is too large (at most 100000x100000)")
    return w, h


def _stage_progress(quiet: bool, stderr: TextIO) -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A ``progress(stage, done, total)`` callback that shows one bar per stage, and its closer."""
    labels = {"scan": "scanning", "tokens": "counting tokens", "pilot": "pilot requests"}
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            close()
            bars[stage] = _progress_bar(labels.get(stage, stage), quiet, stderr)
        bars[stage](done, total)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return progress, close


def _progress_bar(label: str, quiet: bool, stderr: TextIO) -> Callable[[int, int], None] | Any:
    from ._progress import ProgressBar

    return ProgressBar(label, enabled=not quiet, stream=stderr)


MAIN_HELP = """\
Know what a Gemini API Batch Mode job will cost, and whether its file is valid, before you submit it.

examples:
  batchcost validate requests.jsonl
  batchcost estimate requests.jsonl --model gemini-2.5-flash --output-tokens 300
  batchcost prices --model gemini-3.8-flash
  batchcost COMMAND --help
"""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="batchcost", description=MAIN_HELP, epilog=EXIT_CODES_HELP, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"batchcost {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    _add_validate(sub)
    _add_estimate(sub)
    _add_prices(sub)
    import importlib

    from .commands import COMMANDS

    for name in COMMANDS:
        importlib.import_module(f"batchcost.commands.{name}").register(sub)
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
        from .redact import redact

        # last line of defence: no message carries a URL password or a key query parameter
        stderr.write(f"batchcost: error: {redact(str(e))}\n")
        return EXIT_USAGE if _is_usage(e) else EXIT_PROBLEMS
    except BrokenPipeError:
        # Output piped into something that stopped reading (e.g. `| head`): not an error.
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return EXIT_OK


def _is_usage(e: Exception) -> bool:
    from .errors import ApiError, CredentialsError, InputError, OutputError, PricingError, TokenizerError

    # Exit 2: the run could not use a file, an option, an output or the network. Everything else
    # (PlanError, problems found in the input) is exit 1.
    return isinstance(e, InputError | OutputError | PricingError | TokenizerError | CredentialsError | ApiError)
