"""What every command shares: exit codes, writing outputs, progress bars, help text layout."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .._progress import Display

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_BUDGET = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process SIGTERM stopped

EXIT_CODES_HELP = """exit codes:
  0    success (input valid)
  1    problems found in the input (errors; warnings too with --strict; failed results)
  2    usage error, or a file, option value, output or network that cannot be used
  3    estimated cost over --budget (estimate)
  130  interrupted (Ctrl-C)
  143  stopped by SIGTERM (the same clean-up as Ctrl-C)
"""


def verbatim(text: str) -> str:
    """Help text for click: prose paragraphs are wrapped to the terminal, lists and examples kept as written.

    click rewraps a paragraph unless it starts with a ``\\b`` line; a block whose lines are indented
    or that is headed "examples:" / "exit codes:" is a list and keeps its lines.
    """
    blocks = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.split("\n")
        listing = lines[0].rstrip().endswith(":") or any(line.startswith("  ") for line in lines)
        blocks.append("\b\n" + block if listing else " ".join(line.strip() for line in lines))
    return "\n\n".join(blocks)


class Streams:
    """The streams a command writes to (the CLI's, or a test's)."""

    def __init__(self, stdout: TextIO, stderr: TextIO) -> None:
        self.stdout = stdout
        self.stderr = stderr


def run_with_cache(values: dict[str, Any], run: Callable[[Any, TextIO, TextIO], int], streams: Streams) -> int:
    """Run a command, reading URL inputs through its ``--cache-dir`` folder when one is given."""
    from argparse import Namespace

    from ..storage import cache_dir

    with cache_dir(values.get("cache_dir")):
        return run(Namespace(**values), streams.stdout, streams.stderr)


def read_by(args: Any) -> list[str]:
    """Every file a command's options make it read, besides its positional inputs."""
    found: list[str] = []
    for name in ("prices", "requests", "calibrate_from"):
        found += [str(v) for v in getattr(args, name, None) or ()]
    for name in ("tokenizer_model", "plan", "estimated"):
        value = getattr(args, name, None)
        if value:
            found.append(str(value))
    return found


def check_outputs(args: Any, inputs: Sequence[str], *outputs: str | None) -> None:
    """Refuse, before any work, an output that would replace an input or cannot be written (exit 2)."""
    from ..outputs import check_outputs as check

    check([*inputs, *read_by(args)], outputs)


def emit(text: str, output: str | None, stdout: TextIO) -> None:
    """Write a command's result to ``--output`` (whole or not at all) or to stdout."""
    if output:
        from ..outputs import write_atomic

        write_atomic(output, text)
    else:
        stdout.write(text)


# The library's stages, as ``progress(stage, done, total)`` names them: what the line says, and the
# unit the counts are in (None: no measurable progress, a spinner).
STAGES: dict[str, tuple[str, str | None]] = {
    "scan": ("scanning", "bytes"),
    "tokens": ("counting tokens", "requests"),
    "pilot": ("pilot requests", "requests"),
    "pricing": ("pricing every mode, planning shards and caching", None),
}
# What the estimate does after a stage completes and before the next one reports: named at once, so
# the screen is never blank. (Token counting has no entry: it samples in rounds, and the library
# announces "pricing" when the last round is done.)
AFTER: dict[str, str] = {
    "scan": "loading the tokenizer, drawing the sample",
    "pilot": "pricing every mode, planning shards and caching",
}


def progress_display(quiet: bool, stderr: TextIO) -> Display:
    """The command's progress line on stderr: drawn only on a terminal, never with ``-q``."""
    from .._progress import display

    return display(stderr, quiet=quiet, env=environment())


def progress_bar(label: str, unit: str, shown: Display) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback for one stage counted in ``unit``, drawn on ``shown``."""
    shown.stage(label, unit)
    return shown.update


def stage_progress(shown: Display) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback (the estimate's): one line per stage, in its unit.

    When a stage completes, the step that follows it is named at once (:data:`AFTER`).
    """
    state: dict[str, Any] = {"stage": None, "after": False}

    def progress(stage: str, done: int, total: int) -> None:
        if stage != state["stage"] or (state["after"] and done < total):
            state["stage"], state["after"] = stage, False
            label, unit = STAGES.get(stage, (stage, None))
            shown.stage(label, unit)
        elif state["after"]:
            return  # a repeated final report of a finished stage
        shown.update(done, total)
        if done >= total > 0 and stage in AFTER:
            state["after"] = True
            shown.stage(AFTER[stage], None)

    return progress


def confirm_written(path: str | None, quiet: bool, stderr: TextIO, what: str | None = None) -> None:
    """``wrote plan.html (70 kB)`` on stderr, for a regular file the command wrote (not with ``-q``).

    Nothing for a device or pipe (``-o /dev/stdout``): the output is the confirmation.
    """
    import stat

    if quiet or not path:
        return
    from ..storage.locations import is_url

    if is_url(path):
        stderr.write(f"wrote {what or path}\n")
        return
    try:
        st = os.stat(path)
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        stderr.write(f"wrote {what or path} ({human_size(st.st_size)})\n")


def human_size(n: int) -> str:
    """A size people read at a glance: ``512 bytes``, ``7.5 kB``, ``70 kB``, ``1.2 GB`` (decimal units)."""
    if n < 1000:
        return "1 byte" if n == 1 else f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB", "TB"):
        value /= 1000
        if value < 999.5 or unit == "TB":  # 999.6 kB reads 1.0 MB, not 1000 kB
            break
    # one decimal below 10 ("7.5 kB"), whole numbers above ("70 kB")
    return f"{value:.1f} {unit}" if value < 9.95 else f"{value:,.0f} {unit}"


def media_defaults(args: Any) -> Any:
    from ..tokens.media_tokens import MediaDefaults

    w, h = args.image_size or (None, None)
    return MediaDefaults(
        video_seconds=args.video_seconds, audio_seconds=args.audio_seconds, pdf_pages=args.pdf_pages,
        image_width=w, image_height=h,
    )  # fmt: skip


def limit_values(args: Any) -> dict[str, Any]:
    """The EstimateOptions fields the shard-limit options set."""
    return {
        "tier": args.tier,
        "max_bytes": args.max_bytes,
        "max_requests": args.max_requests,
        "max_tokens_per_shard": args.max_tokens_per_shard,
        "enqueued_token_limit": args.enqueued_token_limit,
        "concurrent_jobs": args.concurrent_jobs,
        "quota_counts": args.quota_counts,
    }


@contextlib.contextmanager
def engine_for(args: Any) -> Iterator[Any]:
    """The engine of ``--engine``/``--scheduler``: None (this machine), or a started Dask engine, closed on the way out."""
    scheduler = getattr(args, "scheduler", None)
    if getattr(args, "engine", "local") != "dask":
        if scheduler:
            import click

            raise click.UsageError("--scheduler goes with --engine dask")
        yield None
        return
    from ..engine import DaskEngine

    with DaskEngine(scheduler) as engine:
        yield engine


def environment() -> Mapping[str, str]:
    return dict(os.environ)


def text_width(stdout: TextIO, output: str | None) -> int:
    """Columns to wrap prose to: the terminal's when writing to one, else 100."""
    if output is None and stdout.isatty():
        import shutil

        return shutil.get_terminal_size((100, 24)).columns
    return 100


def stdin_is_a_terminal() -> bool:
    return sys.stdin.isatty()
