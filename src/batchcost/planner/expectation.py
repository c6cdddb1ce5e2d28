"""Where an estimate's expected output comes from: the options, a learnt model, or nowhere.

Given per request (``--output-tokens``, ``--output-audio-seconds`` for a speech model, none for an
embedding job), as a ratio of the input, learnt from results (``--calibrate-from``, ``--pilot``), or
unknown, in which case the estimate shows the floor and the ceiling and says what to give.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .embed import NO_OUTPUT_NOTE
from .speech import speech_expectation

if TYPE_CHECKING:
    from ..afterjob.calibrate import OutputModel
    from ..batchfile import ScanResult


def output_expectation(
    result: ScanResult,
    *,
    embed: bool,
    output_model: OutputModel | None,
    output_tokens: int | None,
    output_ratio: float | None,
    output_audio_seconds: float | None,
    audio_tps: float | None,
    warnings: list[str],
) -> tuple[np.ndarray | None, str | None]:
    """The expected output per request where it is given per request (None otherwise: a ratio, a
    learnt model or nothing), and where the expectation comes from; warnings join ``warnings``."""
    n_rows = len(result.rows["offset"])
    expected_out: np.ndarray | None = None
    source: str | None = None
    if embed:
        if output_tokens is not None or output_ratio is not None:
            warnings.append("an embedding job has no output tokens: --output-tokens and --output-ratio are ignored")
        expected_out = np.zeros(n_rows, np.int64)
        source = NO_OUTPUT_NOTE
    elif output_model is not None:
        source = output_model.source
        warnings.extend(output_model.warnings)
        warnings.extend(output_model.warnings_for(result))
    elif output_audio_seconds is not None and audio_tps is not None:
        expected_out, source = speech_expectation(output_audio_seconds, audio_tps, n_rows)
    elif output_tokens is not None:
        expected_out = np.full(n_rows, output_tokens, np.int64)
        source = f"--output-tokens {output_tokens} per request: billed output, thinking included"
    elif output_ratio is not None:
        source = f"--output-ratio {output_ratio:g} x each request's input tokens: billed output, thinking included"
    elif audio_tps is not None:
        warnings.append(
            "expected output is unknown: costs show the floor (the input, and any tool fees and images the requests fix) and the ceiling; give the seconds of speech "
            "per request with --output-audio-seconds S (or --output-tokens N) for an expected cost"
        )
    else:
        warnings.append(
            "expected output is unknown: costs show the floor (the input, and any tool fees and images the requests fix) and the ceiling; give --output-tokens N or "
            "--output-ratio R for an expected cost"
        )
    return expected_out, source
