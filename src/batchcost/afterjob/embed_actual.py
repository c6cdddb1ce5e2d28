"""What an embedding job's results cost: their input tokens, counted from the job's input file.

An embedding result line (``{"key": ..., "response": {"embedding": {"values": [...]}}}``) carries no
``usageMetadata``, so nothing in the results says how many tokens were billed. An embedding job
bills input tokens only, per modality, so its actual cost is derived from the requests that got a
result: each successful result is matched to its input line by key, that line's input is counted
exactly (text with the model's tokenizer where it is known, else the counter the estimate uses,
with its assumption stated; media parts by the token rules), and those tokens are priced. Without
the input file the actual cost cannot be derived, and reconcile says so.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.results import MODALITIES, OK, ResultSet
from ..errors import InputError
from ..text import agree, plural

if TYPE_CHECKING:
    from ..pricing import PriceBook

HOW = (
    "embedding results carry no usageMetadata: the actual cost is the input tokens of the requests that got "
    "a result (matched by key), counted exactly from the input file and priced per input modality"
)


def fill_embedding_usage(
    rs: ResultSet,
    inputs: Sequence[str | os.PathLike[str]],
    *,
    model: str,
    book: PriceBook,
    run_date: datetime.date,
) -> tuple[ResultSet, list[str]]:
    """``rs`` with each successful embedding line's prompt tokens counted from ``inputs``, and notes.

    Raises:
        InputError: there are embedding results but no input file to count them from, or an input
            file cannot be read.
    """
    ok = (rs.rows["status"] == OK) & (rs.rows["embedding"] == 1)
    if not ok.any():
        return rs, []
    if not inputs:
        n_ok = int(ok.sum())
        raise InputError(
            rs.files[0].path if rs.files else "results",
            f"{plural(n_ok, 'embedding result')} {agree(n_ok, 'carries', 'carry')} no usageMetadata, so "
            f"{agree(n_ok, 'its', 'their')} cost is counted from the job's "
            "input file: pass --requests FILE (or --plan PLAN.json made from it)",
        )
    from ..batchfile import scan
    from ..batchfile.keys import read_keys
    from ..tokens import choose_counter, count_tokens
    from ..tokens.media_tokens import MediaDefaults

    result = scan([os.fspath(p) for p in inputs], sample_size=0)
    info = book.model_info(model, run_date)
    choice = choose_counter("auto", model=model, family=info.tokenizer, offline=True, env={})
    tokens = count_tokens(
        result, model=model, counter=choice.counter, exact=True, assumptions=choice.assumptions,
        approx_error_pct=choice.approx_error_pct, media_defaults=MediaDefaults(),
    )  # fmt: skip
    usable = result.rows["usable"].astype(bool)
    input_keys = read_keys(result)
    where = {k: i for i, k in enumerate(input_keys.tolist()) if k is not None and usable[i]}
    rows = {name: col.copy() for name, col in rs.rows.items()}
    missing = 0
    for r in np.flatnonzero(ok):
        i = where.get(rs.keys[r]) if rs.keys[r] is not None else None
        if i is None:
            missing += 1
            continue
        total = 0
        for m in MODALITIES:
            n = int(tokens.per_request_by_modality[m][i])
            rows[f"prompt_{m}"][r] = n
            total += n
        rows["prompt"][r] = total
    notes = [HOW, *tokens.notes]
    if missing:
        raise InputError(
            os.fspath(inputs[0]),
            f"{plural(missing, 'embedding result')} {agree(missing, 'has', 'have')} no matching key in this input, "
            f"so {agree(missing, 'its', 'their')} input tokens cannot be "
            "counted: give the job's own input file with --requests",
        )
    return dataclasses.replace(rs, rows=rows), notes
