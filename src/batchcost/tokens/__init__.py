"""Token counting: exact where possible, sampled with an honest interval, approximate only when labelled.

Public API::

    from batchcost.tokens import choose_counter, count_tokens
    choice = choose_counter("auto", model="gemini-2.5-flash", env=os.environ)
    estimate = count_tokens(scan, model="gemini-2.5-flash", counter=choice.counter,
                            assumptions=choice.assumptions, approx_error_pct=choice.approx_error_pct)
    estimate.total          # Interval(expected, low, high)
    estimate.per_request    # numpy int64, one per row of the scan

Counters: ``local`` (:class:`~batchcost.tokens.gemma3.LocalCounter`, exact Gemma 3 for text),
``api`` (:class:`~batchcost.tokens.api.ApiCounter`, Google's countTokens; sends prompts to Google),
``heuristic`` (:class:`~batchcost.tokens.heuristic.HeuristicCounter`, approximate, labelled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .count import Interval, TokenEstimate, count_tokens
    from .media_tokens import MediaDefaults
    from .select import CounterChoice, choose_counter

__all__ = ["CounterChoice", "Interval", "MediaDefaults", "TokenEstimate", "choose_counter", "count_tokens"]

_LAZY = {
    "Interval": "count",
    "TokenEstimate": "count",
    "count_tokens": "count",
    "MediaDefaults": "media_tokens",
    "CounterChoice": "select",
    "choose_counter": "select",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
