"""Choosing a token counter: ``local``, ``api``, ``heuristic`` or ``auto``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import TokenizerError
from .base import RequestCounter, TextCounter

TOKENIZERS = ("auto", "local", "api", "heuristic")


@dataclass(frozen=True)
class CounterChoice:
    """The counter to use and what the user must be told about it.

    Attributes:
        counter: the counter.
        assumptions: notes to show beside every figure it produces.
        approx_error_pct: the heuristic's stated error (None for exact counters).
        tokenizer_assumed: the model's tokenizer is not known and Gemma 3's stands in for it.
    """

    counter: TextCounter | RequestCounter
    assumptions: tuple[str, ...] = field(default_factory=tuple)
    approx_error_pct: float | None = None
    # the model's own tokenizer is not known: Gemma 3 counts stand in for it (exact for Gemma 3 only)
    tokenizer_assumed: bool = False


def family_assumption(model: str, family: str) -> str | None:
    """The note owed when Gemma 3 counts stand in for another tokenizer (tokenizer.md)."""
    if family == "gemma3":
        return None
    if family == "gemma4":
        return (
            f"google-genai maps {model} to the Gemma 4 tokenizer, which is not available offline; Gemma 3 counts "
            "are used: on ordinary text they gave identical ids in all 14 published Gemma 4 cases (an assumption "
            "on a small sample)"
        )
    return (
        f"no public tokenizer is known for {model}; Gemma 3 counts are used, the tokenizer of the Gemini 2.x and 3 "
        "models (an assumption: newer models may count differently)"
    )


def choose_counter(
    kind: str = "auto",
    *,
    model: str,
    family: str = "unknown",
    tokenizer_model: str | os.PathLike[str] | None = None,
    offline: bool = False,
    env: Mapping[str, str] | None = None,
    platform: str = "developer",
    api_progress: Callable[[int, int], None] | None = None,
    api_options: Mapping[str, object] | None = None,
) -> CounterChoice:
    """Make the counter the user asked for.

    Args:
        kind: ``auto`` (first exact counter that sends nothing anywhere, else the heuristic),
            ``local``, ``api`` (sends prompts to Google's countTokens) or ``heuristic``.
        model: the model the requests run on.
        family: tokenizer family of the model (``gemma3``, ``gemma4``, ``unknown``) from the price book.
        tokenizer_model: path of a Gemma 3 SentencePiece model file.
        offline: never download the tokenizer model.
        env: environment mapping (the CLI passes ``os.environ``); read for the tokenizer path and API keys.
        platform: ``developer`` or ``vertex`` (API counter only).
        api_progress: progress callback for the API counter.
        api_options: extra keyword arguments for :class:`batchcost.tokens.api.ApiCounter`.

    Raises:
        TokenizerError: the counter cannot be made (model file missing or wrong, API key missing).
    """
    env = env if env is not None else {}
    if kind not in TOKENIZERS:
        raise TokenizerError(f"unknown tokenizer {kind!r}; choose one of {', '.join(TOKENIZERS)}")
    if kind == "heuristic":
        return _heuristic("asked for with --tokenizer heuristic")
    if kind == "api":
        from .api import ApiCounter

        counter = ApiCounter.from_env(model, env, platform=platform, progress=api_progress, **dict(api_options or {}))
        return CounterChoice(counter, ("token counts from Google's countTokens API (prompts were sent to Google)",))
    from .gemma3 import LocalCounter

    try:
        local = LocalCounter.load(tokenizer_model, offline=offline, env=env, num_threads=min(2, os.cpu_count() or 1))
    except TokenizerError as e:
        if kind == "local" or tokenizer_model is not None or env.get("BATCHCOST_TOKENIZER_MODEL"):
            raise  # a tokenizer the user named must work; never fall back silently
        return _heuristic(f"no exact local tokenizer was available ({e})")
    notes = ["local counts follow google-genai's LocalTokenizer (text only, no per-turn overhead)"]
    extra = family_assumption(model, family)
    if extra:
        notes.append(extra)
    return CounterChoice(local, tuple(notes), tokenizer_assumed=extra is not None)


def _heuristic(why: str) -> CounterChoice:
    from .heuristic import HeuristicCounter, stated_error_pct

    pct = stated_error_pct()
    return CounterChoice(
        HeuristicCounter(),
        (f"token counts are approximate (±{pct:g}%): heuristic per-script rule, {why}",),
        approx_error_pct=pct,
    )
