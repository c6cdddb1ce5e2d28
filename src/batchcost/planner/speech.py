"""Speech-output (text-to-speech) models in the estimate: the expectation in seconds of speech.

A TTS model's output tokens are audio tokens, billed at its output rate. Users know how long the
speech will be, not how many tokens it is, so ``--output-audio-seconds S`` gives the expectation in
seconds and the estimate turns it into tokens at the assumed audio tokens per second (see
:mod:`batchcost.pricing.audio_output`; ``--audio-tokens-per-second`` overrides it). The plan gives
the output figures back in seconds, and its notes state the assumption whenever the model speaks.
"""

from __future__ import annotations

import numpy as np

from ..errors import PricingError
from ..pricing.audio_output import audio_output, speaks


def check_speech_options(model_id: str, seconds: float | None, tokens_per_second: float | None) -> None:
    """Refuse the speech options for a model that does not answer with speech.

    Raises:
        PricingError: ``--output-audio-seconds`` or ``--audio-tokens-per-second`` for such a model.
    """
    if (seconds is None and tokens_per_second is None) or speaks(model_id):
        return
    option = "--output-audio-seconds" if seconds is not None else "--audio-tokens-per-second"
    models = ", ".join(sorted(audio_output().models))
    raise PricingError(
        f"{model_id} does not answer with speech: {option} applies to text-to-speech models ({models}); "
        "give --output-tokens N instead"
    )


def speech_tokens_per_second(model_id: str, tokens_per_second: float | None) -> float | None:
    """The audio tokens per second used for a speech model (the option, else the table's); None otherwise."""
    if not speaks(model_id):
        return None
    return tokens_per_second if tokens_per_second is not None else audio_output().tokens_per_second


def speech_note(tokens_per_second: float | None) -> str:
    """The assumption, with its sources, for the plan's notes."""
    return audio_output().describe(tokens_per_second)


def speech_expectation(seconds: float, tokens_per_second: float, n_rows: int) -> tuple[np.ndarray, str]:
    """Expected output tokens per request for ``seconds`` of speech each, and the source line."""
    per_request = round(seconds * tokens_per_second)
    source = (
        f"--output-audio-seconds {seconds:g} per request x {tokens_per_second:g} audio tokens per second = "
        f"{per_request:,} output tokens"
    )
    return np.full(n_rows, per_request, np.int64), source
