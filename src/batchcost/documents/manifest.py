"""``batchcost.shard-manifest/1`` (``DIR/manifest.json``, ``planner/shard_manifest.py``) and
``batchcost.shard-verify/1`` (what ``shard --verify --format json`` prints, ``cli/shard.py``).

``shard --verify`` reads the manifest back (``Manifest.read``, which checks the fields it uses);
lines are 1-based input line numbers, shard paths are relative to the manifest.
"""

from __future__ import annotations

from typing import Any, Literal

from .common import Count, ExactDecimal, LineRange, Strict
from .shards import Limits

MANIFEST_SCHEMA = "batchcost.shard-manifest/1"
SHARD_VERIFY_SCHEMA = "batchcost.shard-verify/1"

__all__ = [
    "MANIFEST_SCHEMA",
    "SHARD_VERIFY_SCHEMA",
    "CacheAdvice",
    "CacheNotApplied",
    "CacheShard",
    "ManifestCache",
    "ManifestInput",
    "ManifestShard",
    "ShardManifest",
    "ShardVerify",
]


class ManifestInput(Strict):
    """The input the shards were cut from (``data_size``: JSONL bytes, decompressed for gzip).

    ``last_line_newline_added``: the input's last line had no newline; its shard copy ends with one.
    """

    path: str
    size: Count
    data_size: Count
    sha256: str
    compressed: bool
    form: Literal["developer", "vertex"]
    lines: Count
    last_line_newline_added: bool


class ManifestShard(Strict):
    """One written shard file (``path`` relative to the manifest) and what it holds."""

    index: Count
    path: str
    wave: Count
    requests: Count
    bytes: Count
    first_line: Count
    last_line: Count
    lines: list[LineRange]
    sha256: str
    tokens: Count
    cost: ExactDecimal | None
    cost_ceiling: ExactDecimal | None


class CacheShard(Strict):
    """The input lines of one shard that reference a cache."""

    index: Count
    lines: list[LineRange]


class CacheAdvice(Strict):
    """What the caching advice priced for this cache (USD; ``hours`` of storage), to set the real cost against."""

    requests: Count
    hours: ExactDecimal
    no_cache: ExactDecimal
    cost: ExactDecimal
    saving: ExactDecimal
    creation: ExactDecimal
    storage: ExactDecimal
    cached_reads: ExactDecimal


class ManifestCache(Strict):
    """An advised explicit cache the shards reference (``shard --apply-cache``).

    ``content`` is what ``submit`` creates the cachedContent with (the requests' shared
    systemInstruction, tools, toolConfig under their own key names, and ``contents``: the leading
    contents; with ``joined`` the last of them continues in each request's first content).
    Rewritten lines carry ``"cachedContent": placeholder`` until ``submit`` swaps in the cache's
    name while uploading. ``ttl_hours`` is the storage time the advice priced (the jobs' planned
    hours); ``tokens`` the advice's prefix size; ``unmatched`` the group's requests that did not
    match the content exactly and were copied unchanged.
    """

    id: str
    candidate: str
    kind: Literal["system", "leading_parts", "first_part"]
    placeholder: str
    model: str | None
    ttl_hours: ExactDecimal
    content: dict[str, Any]
    content_sha256: str
    joined: bool
    tokens: Count
    requests: Count
    unmatched: Count
    shards: list[CacheShard]
    advice: CacheAdvice


class CacheNotApplied(Strict):
    """An advised cache the shards do not use, and why (``candidate`` ``-``: no cache was advised)."""

    candidate: str
    reason: str


class ShardManifest(Strict, tag_field="schema", tag=MANIFEST_SCHEMA, omit_defaults=True):
    """``batchcost.shard-manifest/1``: the shard files ``shard`` wrote, with the plan they follow.

    ``model`` is null when the shards were written without one; ``waves`` lists shard indexes per
    wave; the other plan fields are as in ``batchcost.shards/1``. ``caches`` and
    ``caches_not_applied`` are written with ``--apply-cache`` only (absent, read as null: no line
    references a cache).
    """

    batchcost_version: str
    model: str | None
    input: ManifestInput
    platform: Literal["developer", "vertex"]
    tier: int | None
    tier_assumed: bool
    limits: Limits
    token_basis: str
    cost_basis: Literal["expected", "floor"] | None
    time_bound: str
    waves: list[list[Count]]
    shards: list[ManifestShard]
    warnings: list[str]
    notes: list[str]
    caches: list[ManifestCache] | None = None
    caches_not_applied: list[CacheNotApplied] | None = None


class ShardVerify(Strict, tag_field="schema", tag=SHARD_VERIFY_SCHEMA):
    """``batchcost.shard-verify/1``: the outcome of ``shard --verify``.

    ``message`` is the first problem, or a one-line summary when ``ok``; ``problems`` lists every
    problem, one line each (empty when ``ok``); ``lines`` and ``shards`` are what was checked.
    """

    ok: bool
    message: str
    problems: list[str]
    lines: Count
    shards: Count
