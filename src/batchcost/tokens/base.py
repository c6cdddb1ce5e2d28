"""The small interface every token counter implements.

Two shapes exist because the sources differ in what they can see:

* :class:`TextCounter` counts plain texts (the local Gemma 3 tokenizer, the heuristic). A request's
  text tokens are the sum over the texts that :func:`batchcost.batchfile.texts.request_texts`
  extracts from it (the same texts google-genai's ``LocalTokenizer`` counts), so the scan's character
  figures and the counted texts always describe the same thing.
* :class:`RequestCounter` counts whole requests, media included (the ``countTokens`` API).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TextCounter(Protocol):
    """Counts tokens of plain texts.

    Attributes:
        name: short id shown to users: ``"local"`` or ``"heuristic"``.
        exact: True when counts are exact for text (not an approximation).
        description: one line naming the tokenizer and where its model came from.
    """

    name: str
    exact: bool
    description: str

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Return the token count of each text, in order (one call may carry thousands)."""
        ...


@dataclass(frozen=True, slots=True)
class RequestCount:
    """What a request-level counter learnt about one request.

    Attributes:
        total: prompt tokens of the whole request (system instruction, tools, contents, media).
        by_modality: tokens per modality as the server reports them (``TEXT``, ``IMAGE``, ``AUDIO``,
            ``VIDEO``, ``DOCUMENT``); empty when the server gives no breakdown.
        cached: tokens served from ``cachedContent`` (already included in ``total``).
    """

    total: int
    by_modality: Mapping[str, int]
    cached: int = 0


@runtime_checkable
class RequestCounter(Protocol):
    """Counts whole ``GenerateContentRequest`` bodies (as they appear in the batch file)."""

    name: str
    exact: bool
    description: str

    def count_requests(self, requests: Sequence[Mapping[str, Any]]) -> list[RequestCount]:
        """Return one :class:`RequestCount` per request body, in order."""
        ...
