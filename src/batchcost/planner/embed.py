"""Embedding batches in the estimate: the file's kind against the model's, and the per-request input limit.

An embedding job bills input tokens only, per input modality (an embedding is returned, not
tokens), so its output is known to be zero: the expected cost equals the floor and the ceiling.
Context caching does not apply (see :mod:`batchcost.planner.caching.advise`); shards work as for
generation (the enqueued-token quota counts input tokens).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import PricingError
from ..text import agree, plural

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from ..tokens import TokenEstimate

NO_OUTPUT_NOTE = (
    "embedding models bill input tokens only, per input modality: an embedding job has no output cost, so the "
    "expected cost is the input cost"
)


def embed_rows(scan: ScanResult) -> np.ndarray:
    """Per scan row, True for an embedding request."""
    from ..batchfile.embed_request import FLAG_EMBED

    return (scan.rows["flags"] & FLAG_EMBED) > 0


def check_kind(scan: ScanResult, model: str, kind: str) -> bool:
    """True when the job is an embedding job; the file's requests must be of the model's kind.

    Raises:
        PricingError: embedding requests priced on a generation model, or the other way round.
    """
    usable = scan.rows["usable"].astype(bool)
    n_embed = int((embed_rows(scan) & usable).sum())
    n_gen = int(usable.sum()) - n_embed
    if kind == "embed" and n_gen:
        raise PricingError(
            f"{model} is an embedding model but the file holds {plural(n_gen, 'generation request')} (contents); "
            "give a generation model with --model, or a file of embedding requests (content)"
        )
    if kind != "embed" and n_embed:
        raise PricingError(
            f"the file holds {plural(n_embed, 'embedding request')} (content, not contents) but {model} generates; "
            "give an embedding model with --model, e.g. gemini-embedding-001 or gemini-embedding-2"
        )
    return kind == "embed"


def input_limit_warnings(scan: ScanResult, tokens: TokenEstimate, model: str, limit: int | None) -> list[str]:
    """A warning when requests are estimated over the model's per-request input-token limit."""
    if limit is None:
        return []
    usable = scan.rows["usable"].astype(bool)
    zero = np.zeros(len(usable), np.int64)
    per_request = sum(tokens.per_request_by_modality.values(), zero)
    over = (per_request > limit) & usable
    n = int(over.sum())
    if not n:
        return []
    return [
        f"{plural(n, 'request')} {agree(n, 'is', 'are')} estimated above {model}'s input limit of {limit:,} tokens per "
        f"request (largest {int(per_request[over].max()):,}); the API may reject or truncate {agree(n, 'it', 'them')}: "
        f"split {agree(n, 'its', 'their')} text"
    ]
