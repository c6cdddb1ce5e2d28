"""``batchcost.shard()``: estimate a batch file, plan its shards and write them, in one call."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .estimate import EstimateOptions, estimate
from .shard_folder import check_out_dir
from .shard_manifest import Manifest
from .shard_writer import write_shards

if TYPE_CHECKING:
    from ..pricing import PriceBook


def shard(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    model: str | None = None,
    force: bool = False,
    stem: str | None = None,
    book: PriceBook | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    **options: Any,
) -> Manifest:
    """Write the shards of one batch file into ``out``, with their ``manifest.json``.

    The same as ``batchcost shard PATH --out OUT``: the file is estimated (``options`` are the
    :class:`~batchcost.planner.estimate.EstimateOptions` fields: ``output_tokens``, ``tier``,
    ``max_requests``, ``max_bytes``...), its requests are packed into the fewest shards that fit
    every limit, and each line is copied byte for byte.

    Example::

        manifest = batchcost.shard("requests.jsonl", "shards/", model="gemini-2.5-flash", max_requests=50_000)
        [s.path for s in manifest.shards]

    Args:
        path: the batch input file (``.jsonl`` or ``.jsonl.gz``).
        out: the folder for the shards (created if missing; it must be empty unless ``force``).
        model: the model the jobs run on (default: the one the file names).
        force: replace the earlier shard set in ``out`` (its manifest, shard and temporary files only).
        stem: shard file name stem (default: the input's name).
        book: a loaded price book (default: the packaged one plus ``options["prices"]``).
        progress: called with ``(stage, done, total)``.

    Returns:
        The :class:`~batchcost.planner.shard_manifest.Manifest` written as ``out/manifest.json``.

    Raises:
        OutputError: ``out`` cannot take the shards (a file, not empty without ``force``, holds an
            input, read-only, full). PlanError: the file has validation errors or a request fits
            in no shard. InputError, PricingError, TokenizerError: as :func:`~batchcost.estimate`.
    """
    opts = EstimateOptions(**options)
    others = [*opts.prices, opts.tokenizer_model]
    # the folder is checked before the estimate, which can take minutes, and again before writing
    check_out_dir(out, inputs=[path, *others], force=force)
    plan = estimate(path, model=model, options=opts, book=book, progress=progress)
    assert plan.shard_plan is not None  # estimate always plans shards for one file
    return write_shards(
        plan.scan, plan.shard_plan, out, force=force, stem=stem, input_sha256=plan.scan.files[0].sha256,
        model=plan.model, inputs=others,
    )  # fmt: skip
