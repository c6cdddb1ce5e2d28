"""Each request's output ceiling: the most billed output (thinking included) it can produce.

From the request's ``maxOutputTokens``, ``candidateCount`` and thinking settings and the model's
limits. Used by the estimate (the cost ceiling), the shard plan (quota counting) and the pilot (its
most expensive case).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.request import UNSET
from ..text import agree, plural

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from .records import ModelInfo


def output_ceiling(scan: ScanResult, info: ModelInfo, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each request's output ceiling (billed output, thinking included) and where it is unknown.

    A ceiling is unknown when it depends on a limit nobody published: a request without
    maxOutputTokens on a model whose output limit is unknown, or thinking without a bound there.
    Unknown ceilings hold 0 in the first array and True in the second; they are never priced as 0.
    Thinking budgets above the model's output limit are capped at it: the API does not think past
    what the model can write (no source the book relies on states a separate maximum thinking
    budget per model, so the output limit is the cap). One note says how many were capped, to what.
    Where the output limit is unknown, a budget is counted as given (still a true bound) and a note
    says how to cap it.
    """
    # One int64 array of every request is made (the ceilings, worked out in place) besides the
    # thinking tokens: each such array is 13.5 MB on 1.7 M requests, and five were made before.
    rows = scan.rows
    usable = rows["usable"].astype(bool)
    limit = info.output_limit
    max_out = rows["max_output_tokens"]  # int32, read as it is
    if info.kind == "embed":
        return np.zeros(len(max_out), np.int64), np.zeros(len(max_out), bool)
    unset = max_out == UNSET
    unknown = np.zeros(len(max_out), bool)
    if limit is None:
        unknown |= unset & usable
        if n_unknown := int(unknown.sum()):
            notes.append(
                f"the output limit of {info.id} is unknown, so {plural(n_unknown, 'request')} without maxOutputTokens "
                f"{agree(n_unknown, 'has', 'have')} no known output ceiling (the high end of the cost cannot be "
                f"bounded for {agree(n_unknown, 'it', 'them')}); set maxOutputTokens in the "
                f"{agree(n_unknown, 'request', 'requests')}"
            )
        out = max_out.astype(np.int64)
        out[unset] = 0
    else:
        capped = (~unset) & (max_out > limit) & usable
        if n_capped := int(capped.sum()):
            notes.append(
                f"{plural(n_capped, 'request')} {agree(n_capped, 'asks', 'ask')} for maxOutputTokens above "
                f"{info.id}'s output limit ({limit:,}); the limit is used"
            )
        out = max_out.astype(np.int64)
        np.minimum(out, limit, out=out)
        out[unset] = limit
    del unset
    budget = rows["thinking_budget"]  # int32, read as it is
    level = rows["thinking_level"]
    thinking = info.thinking
    default_off = thinking is not None and thinking.default_budget == 0 and not thinking.levels
    think = np.zeros(len(out), np.int64)
    explicit = budget > 0
    think[explicit] = budget[explicit]
    if limit is not None:
        over = explicit & usable & (budget > limit)
        if n_over := int(over.sum()):
            think[over] = limit
            notes.append(
                f"{plural(n_over, 'request')} {agree(n_over, 'sets', 'set')} thinkingBudget above {info.id}'s output "
                f"limit ({limit:,}; largest asked {int(budget[over].max()):,}); the API cannot think past it, so the "
                f"ceiling counts {limit:,} thinking tokens for {agree(n_over, 'it', 'them')}"
            )
    else:
        asked = explicit & usable & ~unknown
        if n_asked := int(asked.sum()):
            # The budget is still a true bound (the API never thinks past it), only maybe a loose one.
            whose = plural(n_asked, "request's", "requests'")
            notes.append(
                f"the output limit of {info.id} is unknown, so {whose} thinkingBudget is "
                f"counted as given in the ceiling (largest {int(budget[asked].max()):,}); the API caps thinking at "
                f"the model's limit, so give output_limit for {info.id} in --prices to cap it there"
            )
    open_ended = (budget == -1) | ((budget == UNSET) & ((level >= 0) | (not default_off)))
    open_ended &= usable
    if n_open := int(open_ended.sum()):
        bound: int | None = limit
        if thinking is not None and thinking.default_budget and thinking.default_budget > 0:
            bound = thinking.default_budget
        if bound is None:
            unknown |= open_ended
            notes.append(
                f"{plural(n_open, 'request')} {agree(n_open, 'thinks', 'think')} without a thinkingBudget bound on "
                f"{info.id}, whose limits are unknown: {agree(n_open, 'its', 'their')} thinking has no known ceiling; "
                "set thinkingBudget to bound it"
            )
        else:
            think[open_ended] = bound
            notes.append(
                f"{plural(n_open, 'request')} {agree(n_open, 'thinks', 'think')} without a thinkingBudget bound on "
                f"{info.id}; the output ceiling allows {bound:,} thinking tokens{agree(n_open, '', ' each')} "
                "(billed as output); set thinkingBudget to tighten it"
            )
    ceiling = out
    ceiling += think
    del think
    ceiling *= rows["candidate_count"]
    ceiling[~usable | unknown] = 0
    return ceiling, unknown & usable
