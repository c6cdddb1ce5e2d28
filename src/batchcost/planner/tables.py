"""A plan as pandas DataFrames: one row per request, and the per-request cost in each mode.

Money in these tables is float64 US dollars (``cost_batch_usd``): good for sums, joins and charts,
exact to far below a cent when summed. The exact figures, Decimal strings, are in the plan's JSON
document (``plan.to_json()``). Token counts are int64. Missing values are pandas' missing values
(``NaN`` in float columns, ``<NA>`` in nullable integer columns), never 0.

pandas is imported only here and in the other table modules, when a table is asked for:
``import batchcost``, ``batchcost --help`` and ``batchcost validate`` never load it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..pricing.per_request import cost_per_request
from .tool_fees import per_request_tool_fees

REQUEST_COLUMNS: Mapping[str, str] = {
    "key": "the line's key, read back from the file (missing for Vertex lines and lines without a string key)",
    "file": "the input file's path (categorical)",
    "line": "1-based line number in that file",
    "status": "'usable' (priced) or 'error' (a validation error: not priced, tokens and costs 0) (categorical)",
    "input_tokens": "expected input tokens of the request: text and media",
    "input_tokens_estimated": "True where the text tokens are estimated (sampling or the heuristic), "
    "False where counted exactly (media tokens follow Google's rules)",
    "input_<modality>_tokens": "the same split by modality: text, image, video, audio, document",
    "output_tokens": "expected billed output tokens, thinking included (only when the plan has an output expectation)",
    "output_tokens_ceiling": "the most output the request can produce (<NA> where nobody can bound it)",
    "cost_<mode>_usd": "expected cost in USD, float64: input plus expected output (the images an image-output "
    "model is asked for included; for a request with Google Search or Maps, its equal share of the mode's tool "
    "fees and tool-result tokens), for standard, batch and "
    "batch_cached (batch with the recommended explicit caches, when caching pays)",
    "cost_<mode>_floor_usd": "without an output expectation: the cost in USD of the input (and of the images "
    "and tool fees, which the requests determine); output comes on top. Instead of cost_<mode>_usd",
    "shard": "1-based shard (job) the request is planned in (<NA>: in no shard)",
    "wave": "1-based wave that shard is submitted in",
    "cache_group": "id of the recommended explicit cache that serves the request (categorical; missing: none)",
}
"""The columns of :func:`request_table`, in order, with their meaning and units."""

MODES_PER_REQUEST: tuple[str, ...] = ("standard", "batch")
"""Modes priced per request (and ``batch_cached`` when caching pays)."""


def request_table(plan: Any) -> pd.DataFrame:
    """One row per line of the input files (see :data:`REQUEST_COLUMNS` for the columns).

    Args:
        plan: a :class:`batchcost.Plan` (``planner/plan.py`` imports this module, so it is not
            imported back here).

    Returns:
        A DataFrame whose ``cost_batch_usd`` sums to the plan's ``cost.batch.expected`` (float64
        dollars; to within float rounding) and whose ``input_tokens`` sums to
        ``tokens.input.expected``. ``df.attrs`` holds ``model``, ``billed_model``, ``run_date``
        and ``cost_basis`` (``expected``, or ``floor`` when the plan has no output expectation).
    """
    from ..batchfile.frame import categorical
    from ..batchfile.keys import read_keys

    scan, tokens, mc = plan.scan, plan.tokens, plan.cost
    rows = scan.rows
    n = len(rows["offset"])
    usable = rows["usable"].astype(bool)
    file_index = rows["file"].astype(np.int64)
    first_row = np.array([f.first_row for f in scan.files], np.int64)
    cols: dict[str, Any] = {
        "key": read_keys(scan),
        "file": categorical(rows["file"], [f.path for f in scan.files]),
        "line": np.arange(n, dtype=np.int64) - first_row[file_index] + 1 if len(first_row) else np.zeros(0, np.int64),
        "status": pd.Categorical.from_codes(np.where(usable, 0, 1).astype(np.int8), ["usable", "error"]),
        "input_tokens": np.asarray(tokens.per_request, np.int64),
        "input_tokens_estimated": _estimated(plan, usable),
    }
    inputs = {m: np.asarray(v, np.int64) for m, v in tokens.per_request_by_modality.items()}
    for modality, arr in inputs.items():
        cols[f"input_{modality}_tokens"] = arr
    output = mc.per_request_output
    if output is not None:
        cols["output_tokens"] = np.where(usable, output, 0).astype(np.int64)
    ceiling = np.asarray(mc.per_request_ceiling, np.int64)
    cols["output_tokens_ceiling"] = pd.arrays.IntegerArray(np.maximum(ceiling, 0), ceiling < 0)
    basis = "expected" if output is not None else "floor"
    suffix = "_usd" if output is not None else "_floor_usd"
    prompt = cols["input_tokens"]
    from .images import planned_images

    batch_cost: npt.NDArray[np.float64] | None = None
    for mode in MODES_PER_REQUEST:
        rates = mc.rates.get(mode)
        if rates is None:
            continue  # not priced (--allow-unpriced): no column rather than a column of zeros
        cost = cost_per_request(rates, prompt_tokens=prompt, input_by_modality=inputs, output_tokens=output)
        tools = mc.modes[mode].tools if mode in mc.modes else None
        # an image-output model's generated images (known from each request) are in every cost figure
        images = planned_images(scan, rates.model, None)
        if images is not None and rates.output_image is not None:
            cost += np.asarray(images.tokens, np.float64) * (float(rates.output_image.usd_per_mtok) / 1_000_000)
        if tools is not None and (tools.fees or tools.tool_tokens_usd):
            # Search and Maps fees (and tool-result tokens) are in the mode's figures: in the column too
            cost += per_request_tool_fees(tools, rows["flags"], usable)
        cost[~usable] = 0.0
        cols[f"cost_{mode}{suffix}"] = cost
        if mode == "batch":
            batch_cost = cost
    cached = _cached_costs(plan, batch_cost, usable)
    if cached is not None:
        cols[f"cost_batch_cached{suffix}"] = cached
    shard, wave = _shards(plan, n)
    cols["shard"], cols["wave"] = shard, wave
    cols["cache_group"] = _cache_groups(plan, n)
    df = pd.DataFrame(cols, copy=False)
    df.attrs.update(
        model=plan.model, billed_model=mc.billed_model, run_date=plan.run_date.isoformat(), cost_basis=basis
    )
    return df


def _estimated(plan: Any, usable: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Rows whose text tokens are estimated rather than counted exactly."""
    tokens = plan.tokens
    text = np.asarray(tokens.per_request_by_modality["text"])
    if tokens.method == "approximate":
        return usable & (text > 0)
    counted = np.zeros(len(usable), bool)
    counted[np.asarray(tokens.counted_rows, np.int64)] = True
    return usable & ~counted & (text > 0)


def _cached_costs(
    plan: Any, batch: npt.NDArray[np.float64] | None, usable: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64] | None:
    """Batch cost with the recommended caches: each cache's saving shared by the requests it serves.

    A cache whose members are known (shared system instruction, shared leading parts) lowers its
    requests' cost equally. A cache found on the sample (a templated prefix) has no known members:
    its saving is shared equally by the requests outside the known caches, so the column still
    sums to ``cost.batch_cached``; those requests' figures are then an average, not their own.
    """
    advice = plan.caching
    if batch is None or advice is None or advice.batch_cached is None:
        return None
    out = batch.copy()
    groups = advice.row_groups if advice.row_groups is not None else np.full(len(out), -1, np.int64)
    counts = np.bincount(groups[groups >= 0], minlength=len(advice.chosen))
    unplaced = 0.0
    for gid, cache in enumerate(advice.chosen):
        saving = float(cache.saving)
        if counts[gid]:
            out[groups == gid] -= saving / counts[gid]
        else:
            unplaced += saving
    if unplaced:
        others = usable & (groups < 0)
        out[others] -= unplaced / max(1, int(others.sum()))
    return out


def _shards(plan: Any, n: int) -> tuple[pd.api.extensions.ExtensionArray, pd.api.extensions.ExtensionArray]:
    """Shard and wave per row (nullable Int32; <NA> for rows in no shard)."""
    shard = np.zeros(n, np.int32)
    wave = np.zeros(n, np.int32)
    sp = plan.shard_plan
    for s in sp.shards if sp is not None else ():
        shard[s.rows] = s.index
        wave[s.rows] = s.wave
    missing = shard == 0
    return pd.arrays.IntegerArray(shard, missing), pd.arrays.IntegerArray(wave, missing.copy())


def _cache_groups(plan: Any, n: int) -> pd.Categorical:
    from ..batchfile.frame import categorical

    advice = plan.caching
    names = [] if advice is None else [c.candidate for c in advice.chosen]
    groups = None if advice is None else advice.row_groups
    return categorical(np.full(n, -1, np.int64) if groups is None else np.asarray(groups), names)
