"""Option value types and the option sets shared by several commands, each defined once.

The types keep the bounds and messages users rely on (a bad value is one line and exit 2). Option
sets are decorators: ``@prices_option`` gives ``--prices FILE`` to every command that prices.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import click

from ..text import one_line

F = TypeVar("F", bound=Callable[..., Any])

# Whole-number options are per-request or per-shard figures: beyond these bounds they are typing
# mistakes, and past them numpy's 64-bit sums over millions of requests could overflow.
MAX_WHOLE = 2**31 - 1  # the API's own integer fields (maxOutputTokens...) are 32-bit
MAX_TOTAL = 10**15  # token totals per shard or per quota
MAX_RATIO = 10_000.0  # output tokens per input token; beyond it a figure is a typing mistake
MAX_QUERIES = 1_000.0  # search queries per request; beyond it a figure is a typing mistake
MAX_SPEECH_SECONDS = 86_400.0  # seconds of speech per request; a day of it is a typing mistake
MAX_AUDIO_RATE = 10_000.0  # audio tokens per second of speech


class _Type(click.ParamType):
    """A click type from a plain converter that raises ValueError with the user's message."""

    def __init__(self, name: str, convert: Callable[[str], Any]) -> None:
        self.name = name
        self._convert = convert

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value  # a default already converted
        try:
            return self._convert(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


def _whole(text: str, minimum: int, maximum: int = MAX_WHOLE) -> int:
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if n < minimum:
        raise ValueError(f"{text!r} must be at least {minimum}" if minimum else f"{text!r} must not be negative")
    if n > maximum:
        raise ValueError(f"{text!r} is too large (at most {maximum:,})")
    return n


def _number(text: str, maximum: float | None = None) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if x < 0 or not math.isfinite(x):
        raise ValueError(f"{text!r} must be a finite number >= 0")
    if maximum is not None and x > maximum:
        raise ValueError(f"{text!r} is too large (at most {maximum:,g})")
    return x


def _positive_number(text: str, maximum: float = 1e12) -> float:
    x = _number(text, maximum)
    if x == 0:
        raise ValueError(f"{text!r} must be more than 0")
    return x


def _date(text: str) -> datetime.date:
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 2026-12-01") from None
    # prices and limits are dated facts: a day far outside them is a typing mistake (and 9999-12-31
    # would overflow the date arithmetic of the job window)
    if not datetime.date(2000, 1, 1) <= day <= datetime.date(2100, 12, 31):
        raise ValueError(f"{text!r} is out of range (2000-01-01 to 2100-12-31)")
    return day


def _csv(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ValueError("give at least one name")
    return items


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"{text!r} is not a size like 1024x768") from None
    if w < 1 or h < 1:
        raise ValueError(f"{text!r} must be positive")
    if w > 100_000 or h > 100_000:
        raise ValueError(f"{text!r} is too large (at most 100000x100000)")
    return w, h


def _byte_size(text: str) -> int:
    """``123``, ``500MB``, ``1.5GB``, ``512MiB`` -> bytes (kB/MB/GB decimal, KiB/MiB/GiB binary)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"{text!r} is not a size like 500000000, 500MB or 1GiB")
    unit = m.group(2).lower().rstrip("b")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}
    if unit not in scale:
        raise ValueError(f"{text!r}: unknown unit; use kB, MB, GB or KiB, MiB, GiB")
    try:
        value = int(Decimal(m.group(1)) * scale[unit])
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a size like 500000000, 500MB or 1GiB") from None
    if value < 1:
        raise ValueError(f"{text!r} must be at least 1 byte")
    if value > 10**15:
        raise ValueError(f"{text!r} is too large (at most 1PB)")
    return value


POSITIVE_INT = _Type("N", lambda t: _whole(t, 1))
NONNEGATIVE_INT = _Type("N", lambda t: _whole(t, 0))
TOKEN_TOTAL = _Type("T", lambda t: _whole(t, 1, MAX_TOTAL))
SEED = _Type("SEED", lambda t: _whole(t, 0, 2**32 - 1))
RATIO = _Type("R", lambda t: _number(t, MAX_RATIO))
QUERIES = _Type("N", lambda t: _number(t, MAX_QUERIES))
SPEECH_SECONDS = _Type("S", lambda t: _number(t, MAX_SPEECH_SECONDS))
AUDIO_RATE = _Type("R", lambda t: _positive_number(t, MAX_AUDIO_RATE))
BUDGET = _Type("USD", _number)
SECONDS = _Type("S", _positive_number)
DATE = _Type("YYYY-MM-DD", _date)
NAMES = _Type("M1,M2", _csv)
IMAGE_SIZE = _Type("WxH", _size)
BYTE_SIZE = _Type("B", _byte_size)


def stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Several option decorators as one, applied so that ``--help`` lists them in the order given."""

    def apply(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


def cache_dir_option(f: F) -> F:
    """``--cache-dir DIR``: inputs given as URLs copied whole into DIR once and read there."""
    return click.option(
        "--cache-dir", metavar="DIR",
        help="copy input files given as URLs (gs://, s3://, ...) whole into DIR and read them there; kept for the "
        "next run while unchanged (default: read by range, never copied to disk)",
    )(f)  # fmt: skip


def prices_option(f: F) -> F:
    return click.option(
        "--prices", multiple=True, metavar="FILE",
        help="price file that overrides or adds rates (same format as the packaged overlay; repeatable)",
    )(f)  # fmt: skip


# -- output formats: one vocabulary for every command ------------------------------------------

#: Every output format a command may offer, with the file extensions that name it (the first is
#: the one messages suggest). ``text`` is the default wherever it is offered; ``csv`` is offered
#: where the output is a table.
FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "text": (".txt",),
    "json": (".json",),
    "markdown": (".md", ".markdown"),
    "csv": (".csv",),
    "html": (".html", ".htm"),
}
#: How messages name a format: "a JSON file", "an HTML file".
FORMAT_NAMES = {"text": "a text", "json": "a JSON", "markdown": "a Markdown", "csv": "a CSV", "html": "an HTML"}
#: Old ``--format`` names that keep working for one release, with a deprecation line on stderr.
DEPRECATED_FORMATS: dict[str, str] = {"table": "text"}


class FormatChoice(click.Choice):
    """``--format``: the command's formats from :data:`FORMAT_SUFFIXES`, and their deprecated old names.

    Help, completion and error messages list the current names only.
    """

    def __init__(self, formats: tuple[str, ...]) -> None:
        unknown = set(formats) - FORMAT_SUFFIXES.keys()
        if unknown:
            raise ValueError(f"unknown formats {sorted(unknown)}")
        super().__init__(formats)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        new = DEPRECATED_FORMATS.get(value) if isinstance(value, str) else None
        if new in self.choices:
            if ctx is not None and not ctx.resilient_parsing and not ctx.meta.get("batchcost.format-deprecated"):
                ctx.meta["batchcost.format-deprecated"] = True
                from .common import Streams

                stream = ctx.obj.stderr if isinstance(ctx.obj, Streams) else click.get_text_stream("stderr")
                stream.write(
                    f"batchcost: --format {value} is deprecated: use --format {new}; it will be removed in the next "
                    "release\n"
                )
            value = new
        return super().convert(value, param, ctx)


def suffix_list(formats: tuple[str, ...]) -> str:
    """``.txt, .json, .md or .csv``: the extensions a command writes, for messages."""
    names = [FORMAT_SUFFIXES[f][0] for f in formats]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def output_format(
    given: str | None, path: str | None, formats: tuple[str, ...], *, default: str | None = "", option: str = "-o"
) -> str:
    """The format to write: ``--format`` when given, else the one ``path``'s extension names, else the default.

    ``path`` must name a format the command writes (``-o plan.pdf`` is refused), and the same one as
    ``--format`` when both are given (``--format json -o plan.md`` is refused). A name without an
    extension (``-o results``, ``-o /dev/stdout``) takes ``--format``, else ``default`` (the first
    of ``formats`` unless given; None: the name must say). Call it before any work.

    Raises:
        click.UsageError: one line naming the path and the extensions the command writes (exit 2).
    """
    import os.path

    if default == "":
        default = formats[0]
    suffix = os.path.splitext(path)[1].lower() if path else ""
    ctx = click.get_current_context(silent=True)
    what = ctx.info_name if ctx is not None and ctx.info_name else "batchcost"
    if not suffix:
        if given is None and default is None and path:
            raise click.UsageError(f"{option} {path}: give --format, or name the file {suffix_list(formats)}", ctx)
        return given or default or formats[0]
    named = next((f for f in formats if suffix in FORMAT_SUFFIXES[f]), None)
    if named is None:
        raise click.UsageError(f"{option} {path}: {what} writes {suffix_list(formats)} files", ctx)
    if given is not None and given != named:
        raise click.UsageError(
            f"{option} {path} names {FORMAT_NAMES[named]} file but --format {given} was given: drop --format, or "
            f"name the file {suffix_list((given,))}",
            ctx,
        )
    return named


def report_format(path: str | None, formats: tuple[str, ...], option: str = "--report") -> str | None:
    """The format of the report ``path`` names (``--report plan.html``), None without one; checked before any work.

    Raises:
        click.UsageError: an extension the report cannot be written as (``--report plan.pdf``), exit 2.
    """
    import os.path

    if not path:
        return None
    suffix = os.path.splitext(path)[1].lower()
    named = next((f for f in formats if suffix in FORMAT_SUFFIXES[f]), None)
    if named is None:
        raise click.UsageError(
            f"{option} {one_line(str(path))}: batchcost writes {suffix_list(formats)} reports",
            click.get_current_context(silent=True),
        )
    return named


def render_options(formats: tuple[str, ...], *, progress: bool = True) -> Callable[[F], F]:
    """``--format`` (``text`` or the first is the default), ``--output/-o`` and ``--quiet/-q``.

    ``--format`` is None when not given: :func:`output_format` then takes it from the ``-o`` file name.
    """
    names = ", ".join(FORMAT_SUFFIXES[f][0] for f in formats)
    quiet = "no progress bars or confirmations on stderr" if progress else "no confirmation on stderr"
    return stack(
        click.option(
            "--format", "format", type=FormatChoice(formats), default=None,
            help=f"output format (default: from the -o file name ({names}), else {formats[0]})",
        ),
        click.option("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout"),
        click.option("--quiet", "-q", is_flag=True, help=quiet),
    )  # fmt: skip


def output_expectation(f: F) -> F:
    """``--output-tokens`` / ``--output-ratio`` / ``--output-audio-seconds`` and the audio tokens per
    second it is turned into (estimate, plan, shard)."""
    return stack(
        click.option(
            "--output-tokens", type=NONNEGATIVE_INT, help="expected billed output tokens per request, thinking included"
        ),
        click.option(
            "--output-ratio", type=RATIO,
            help="expected billed output as R x each request's input tokens, thinking included",
        ),
        click.option(
            "--output-audio-seconds", type=SPEECH_SECONDS,
            help="text-to-speech models: expected seconds of speech per request (turned into audio tokens at "
            "--audio-tokens-per-second)",
        ),
        click.option(
            "--audio-tokens-per-second", type=AUDIO_RATE,
            help="audio tokens per second of generated speech (default 32, an assumption the notes cite)",
        ),
    )(f)  # fmt: skip


def tool_fee_options(f: F) -> F:
    """``--search-queries`` / ``--search-free-queries`` (estimate, plan, shard): the Google Search grounding fee."""
    return stack(
        click.option(
            "--search-queries", type=QUERIES,
            help="expected search queries per request that uses Google Search (default: 1, shown as a floor); "
            "per-prompt models count a request with any query as one grounded prompt",
        ),
        click.option(
            "--search-free-queries", type=NONNEGATIVE_INT,
            help="free Search grounding allowance left for this job (queries, or grounded prompts on per-prompt "
            "models): subtracted from the Search fee; without it the allowance is only mentioned",
        ),
    )(f)  # fmt: skip


def token_options(f: F) -> F:
    """How tokens are counted, and the sizes of media the file cannot size."""
    return stack(
        click.option(
            "--tokenizer", type=click.Choice(("auto", "local", "api", "heuristic")), default="auto",
            help="auto: exact local tokenizer when available, else the labelled heuristic; api: Google's countTokens "
            "(sends your prompts to Google; needs GEMINI_API_KEY or GOOGLE_API_KEY)",
        ),
        click.option(
            "--tokenizer-model", metavar="PATH", help="Gemma 3 SentencePiece model file (or set BATCHCOST_TOKENIZER_MODEL)"
        ),
        click.option("--offline", is_flag=True, help="never download a tokenizer model"),
        click.option(
            "--platform", type=click.Choice(("developer", "vertex")), default="developer",
            help="Gemini Developer API (default) or Vertex AI batch: sets the limits, caching rules and --tokenizer api",
        ),
        click.option("--sample-size", type=POSITIVE_INT, default="2000", help="initial sample (default 2000)"),
        click.option("--seed", type=SEED, default="0", help="sample seed, 0 to 2**32-1 (default 0)"),
        click.option("--exact", is_flag=True, help="count every request exactly (no sampling)"),
        click.option("--video-seconds", type=SECONDS, help="length of videos of unknown length"),
        click.option("--audio-seconds", type=SECONDS, help="length of audio of unknown length"),
        click.option("--pdf-pages", type=POSITIVE_INT, help="pages of PDFs whose page count is unknown"),
        click.option("--image-size", type=IMAGE_SIZE, metavar="WxH", help="size of images of unknown size"),
    )(f)  # fmt: skip


def limit_options(f: F) -> F:
    """Shard limits, shared by ``plan``, ``shard`` and ``estimate``: each can only tighten the platform's."""
    return stack(
        click.option(
            "--tier", type=click.Choice(("1", "2", "3")), callback=lambda c, p, v: None if v is None else int(v),
            help="Developer API billing tier for quotas and spend caps (default: 1, assumed and said so)",
        ),
        click.option("--max-bytes", type=BYTE_SIZE, help="bytes per shard file (e.g. 500MB)"),
        click.option("--max-requests", type=POSITIVE_INT, help="requests per shard"),
        click.option("--max-tokens-per-shard", type=TOKEN_TOTAL, help="estimated tokens per shard"),
        click.option(
            "--enqueued-token-limit", type=TOKEN_TOTAL,
            help="your project's batch enqueued-token quota for the model (replaces the published figure; "
            "needed where it is not published)",
        ),
        click.option("--concurrent-jobs", type=POSITIVE_INT, help="jobs in flight at once"),
        click.option(
            "--quota-counts", type=click.Choice(("input", "input+output-ceiling")), default="input",
            help="what counts against the enqueued-token quota (default input; whether output counts is not "
            "documented)",
        ),
    )(f)  # fmt: skip


def engine_options(f: F) -> F:
    """Where the scan and the token counting run: ``validate``, ``estimate``, ``plan`` and ``shard``."""
    return stack(
        click.option(
            "--engine", type=click.Choice(("local", "dask")), default="local",
            help="local: this machine's cores (default); dask: Dask tasks on a cluster, the same figures "
            "(needs batchcost[dask]; workers must see local input files at the same path, or read URLs)",
        ),
        click.option(
            "--scheduler", metavar="ADDRESS",
            help="the Dask scheduler for --engine dask (tcp://HOST:8786); default: a cluster on this machine, "
            "started and stopped by the command",
        ),
    )(f)  # fmt: skip


def planning_options(f: F) -> F:
    """Options shared by ``plan`` and ``shard``: model, run date, limits, token counting, cost (tool fees too:
    shard costs and the spend-cap checks count them)."""
    return stack(
        click.option("--model", "-m", help="model the jobs run on (default: request.model in the file)"),
        click.option("--run-date", type=DATE, help="day the jobs run (default: today)"),
        limit_options,
        token_options,
        output_expectation,
        tool_fee_options,
        prices_option,
        engine_options,
    )(f)
