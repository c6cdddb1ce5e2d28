"""What every command shares: exit codes, writing outputs, progress bars, help text layout."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
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


def read_by(args: Any) -> list[str]:
    """Every file a command's options make it read, besides its positional inputs."""
    found: list[str] = []
    for name in ("prices", "requests", "calibrate_from"):
        found += [str(v) for v in getattr(args, name, None) or ()]
    for name in ("tokenizer_model", "plan"):
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


def progress_bar(label: str, quiet: bool, stderr: TextIO) -> Any:
    from .._progress import ProgressBar

    return ProgressBar(label, enabled=not quiet, stream=stderr)


def stage_progress(quiet: bool, stderr: TextIO) -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A ``progress(stage, done, total)`` callback that shows one bar per stage, and its closer."""
    labels = {"scan": "scanning", "tokens": "counting tokens", "pilot": "pilot requests"}
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            close()
            bars[stage] = progress_bar(labels.get(stage, stage), quiet, stderr)
        bars[stage](done, total)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return progress, close


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
