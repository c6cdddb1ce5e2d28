"""Speech output: the models that answer with audio, and how many tokens a second of speech is.

A text-to-speech model bills its speech as output tokens at its output rate. How many tokens one
second of generated speech is, no Google page states for output: Google documents 32 tokens per
second for audio *input*, a Google reply on the developers forum applies it to TTS output, a third
party says 25. The estimate assumes 32 (the higher figure, so it errs high), says so wherever it
turns seconds into tokens, and takes another figure from ``--audio-tokens-per-second``. The
models and sources are in ``data/audio_output.yaml``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .records import Source


@dataclass(frozen=True)
class AudioOutput:
    """The speech-output models and the assumed tokens per second of speech, with its sources."""

    models: frozenset[str]
    tokens_per_second: float
    sources: tuple[Source, ...]

    def describe(self, tokens_per_second: float | None = None) -> str:
        """The assumption as a sentence: the figure used and where the default comes from."""
        cited = "; ".join(str(s) for s in self.sources)
        if tokens_per_second is not None and tokens_per_second != self.tokens_per_second:
            return (
                f"speech output at {tokens_per_second:g} audio tokens per second (--audio-tokens-per-second; the "
                f"default {self.tokens_per_second:g} rests on: {cited})"
            )
        return (
            f"speech output at {self.tokens_per_second:g} audio tokens per second, an assumption (no Google page "
            f"states it for output; --audio-tokens-per-second changes it): {cited}"
        )


@cache
def audio_output() -> AudioOutput:
    """The packaged table."""
    from .overlay import load_yaml_text

    text = resources.files("batchcost.pricing").joinpath("data/audio_output.yaml").read_text(encoding="utf-8")
    raw = load_yaml_text(text)
    sources = []
    for src in raw["sources"]:
        checked = src["checked"]
        day = checked if isinstance(checked, datetime.date) else datetime.date.fromisoformat(str(checked))
        sources.append(Source(str(src["title"]), src.get("url"), day, src.get("quote")))
    return AudioOutput(frozenset(raw["models"]), float(raw["tokens_per_second"]), tuple(sources))


def speaks(model_id: str) -> bool:
    """Whether a canonical model id answers with speech (its output tokens are audio tokens)."""
    return model_id in audio_output().models
