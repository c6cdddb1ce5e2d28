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

F = TypeVar("F", bound=Callable[..., Any])

# Whole-number options are per-request or per-shard figures: beyond these bounds they are typing
# mistakes, and past them numpy's 64-bit sums over millions of requests could overflow.
MAX_WHOLE = 2**31 - 1  # the API's own integer fields (maxOutputTokens...) are 32-bit
MAX_TOTAL = 10**15  # token totals per shard or per quota
MAX_RATIO = 10_000.0  # output tokens per input token; beyond it a figure is a typing mistake


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


def _positive_number(text: str) -> float:
    x = _number(text, 1e12)
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


def prices_option(f: F) -> F:
    return click.option(
        "--prices", multiple=True, metavar="FILE",
        help="price file that overrides or adds rates (same format as the packaged overlay; repeatable)",
    )(f)  # fmt: skip


def render_options(formats: tuple[str, ...], *, progress: bool = True) -> Callable[[F], F]:
    """``--format`` (the first is the default), ``--output/-o`` and, for commands with a bar, ``--quiet/-q``."""
    options = [
        click.option(
            "--format", "format", type=click.Choice(formats), default=formats[0],
            help=f"output format (default {formats[0]})",
        ),
        click.option("--output", "-o", metavar="FILE", help="write to FILE (atomically) instead of stdout"),
    ]  # fmt: skip
    if progress:
        options.append(click.option("--quiet", "-q", is_flag=True, help="no progress output"))
    return stack(*options)


def output_expectation(f: F) -> F:
    """``--output-tokens`` / ``--output-ratio`` (estimate, plan, shard)."""
    return stack(
        click.option(
            "--output-tokens", type=NONNEGATIVE_INT, help="expected billed output tokens per request, thinking included"
        ),
        click.option(
            "--output-ratio", type=RATIO,
            help="expected billed output as R x each request's input tokens, thinking included",
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


def planning_options(f: F) -> F:
    """Options shared by ``plan`` and ``shard``: model, run date, limits, token counting, cost."""
    return stack(
        click.option("--model", "-m", help="model the jobs run on (default: request.model in the file)"),
        click.option("--run-date", type=DATE, help="day the jobs run (default: today)"),
        limit_options,
        token_options,
        output_expectation,
        prices_option,
    )(f)
