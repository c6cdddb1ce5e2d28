"""Caching advisor: find prompt prefixes that many requests share, and price caching them.

Candidates come from the scan's per-request hashes (exact groups) and from the sample:

* ``system``: requests with the same system instruction (``system_hash``);
* ``leading_parts``: requests with the same content parts before their last one (``prefix_hash``),
  e.g. one shared document followed by different questions;
* ``first_part``: requests with the same first content part (``first_hash``) whose later parts differ;
* ``template``: requests whose first text part starts with the same long string (templated prompts),
  found on the scan's sample and scaled to the whole file by the share of the sample it covers.

A request that uses an explicit cache cannot also send ``systemInstruction``, ``tools`` or
``toolConfig`` (the API answers 400 "CachedContent can not be used with GenerateContent request setting
system_instruction, tools or tool_config"; googleapis/python-genai#348), so a cache
holds the group's system instruction and tools too, and a group is split by system instruction.

Each candidate is priced three ways with the price book (per 1M tokens, each request in its own
prompt-size tier):

* **no cache**: its prefix tokens at the batch input rate (what the batch plan already contains);
* **explicit cache** (guaranteed): prefix tokens read at the batch cache-read rate, plus creating
  the cache once at the *standard* input rate, plus storage per token-hour for the hours the jobs
  need. Not available on Vertex batch, nor on models without explicit caching (Gemini 4);
* **implicit caching** (no guarantee): the same reads without creation or storage, only when the
  prefix reaches the model's implicit minimum. Shown as a best case, never in the expected figure.
  On Vertex batch a cache hit gets the 90% cache discount on the *standard* price instead of the
  batch discount (they do not stack).

The recommendation is the set of non-overlapping explicit caches (a request can reference only one
``cachedContent``) chosen greedily by saving; ``batch_cached`` is the plan's batch cost minus that
saving. When nothing pays, ``reason`` says why.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PlanError, PricingError
from ..money import exact, usd
from .plan import ModeCost

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from ..pricing import ModelInfo, ModeRates, PriceBook
    from ..tokens.base import TextCounter
    from .plan import Plan

__all__ = [
    "KINDS",
    "PLATFORMS",
    "REASONS",
    "CacheCandidate",
    "CachingAdvice",
    "ChosenCache",
    "ExplicitOption",
    "ImplicitOption",
    "advise_caching",
]

KINDS: tuple[str, ...] = ("system", "leading_parts", "first_part", "template")
PLATFORMS: tuple[str, ...] = ("developer", "vertex")
DEFAULT_TTL_HOURS = 1  # the caching doc: an explicit cache without ttl/expire_time lives 1 hour
MAX_GROUPS_PER_KIND = 8  # exact groups measured per kind (ranked by shared characters first)
MAX_FORCED_FIRST = 8  # extra greedy selections, each starting from one of the best candidates
TOOLS_CHECK_ROWS = 16  # group members read to check that their tools are identical
TEMPLATE_KEY_CHARS: tuple[int, ...] = (64, 256, 1024, 4096, 16384)  # cluster keys: leading characters
TEMPLATE_PER_LEVEL = 3  # template clusters kept per key length
SNIPPET_CHARS = 60

REASONS: Mapping[str, str] = MappingProxyType(
    {
        "no-shared-prefix": "no prefix is shared by enough requests",
        "too-few-requests": "too few requests share the prefix",
        "prefix-too-small": "the shared prefix is too small",
        "storage-too-long": "storage for the time the jobs need costs more than the cache saves",
        "no-explicit-caching": "the model has no explicit caching",
        "explicit-caching-unknown": "whether the model supports explicit caching is unknown",
        "vertex-batch": "explicit caching is not supported in Vertex batch",
        "mixed-tools": "the requests send different tools, which a shared cache cannot hold",
        "not-priced": "a rate caching needs is unknown",
        "no-discount": "cached tokens cost no less than batch input",
    }
)

_MILLION_EXP = -6
_TOOL_FIELDS = ("tools", "toolConfig")
_WS = re.compile(r"\s+")


# ----------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class ExplicitOption:
    """An explicit cache (``cachedContents``) for one candidate, as priced.

    Attributes:
        available: the cache can be used here (platform, model, tools, minimum size allow it).
        cost: cached reads + creation + storage, USD (None when a rate is unknown).
        saving: ``no_cache - cost`` (negative when caching costs more); None when not priced.
        cached_reads: prefix tokens of every request at the batch cache-read rate.
        creation: the prefix once at the standard input rate (cache creation).
        storage: prefix tokens x hours x storage rate.
        break_even_requests: fewest requests sharing the prefix for the cache to pay at these hours
            (None when it can never pay: cached reads are not cheaper).
        break_even_hours: longest storage time (hours, rounded down to 0.01) for which the cache
            still pays with these requests (0 when creation alone outweighs the discount).
        minimum_tokens: smallest cache assumed accepted (the implicit-cache minimum; the explicit
            minimum for 3.x models is UNKNOWN), None when unknown.
        reasons: ``(code, text)`` pairs saying why it is unavailable or does not pay (codes in
            :data:`REASONS`).
    """

    available: bool
    cost: Decimal | None = None
    saving: Decimal | None = None
    cached_reads: Decimal | None = None
    creation: Decimal | None = None
    storage: Decimal | None = None
    break_even_requests: int | None = None
    break_even_hours: Decimal | None = None
    minimum_tokens: int | None = None
    reasons: tuple[tuple[str, str], ...] = ()

    @property
    def pays(self) -> bool:
        """True when the cache is usable and saves money."""
        return self.available and self.saving is not None and self.saving > 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings)."""
        return {
            "available": self.available,
            "pays": self.pays,
            "cost": usd(self.cost),
            "saving": usd(self.saving),
            "cached_reads": usd(self.cached_reads),
            "creation": usd(self.creation),
            "storage": usd(self.storage),
            "break_even_requests": self.break_even_requests,
            "break_even_hours": usd(self.break_even_hours),
            "minimum_tokens": self.minimum_tokens,
            "reasons": [{"code": c, "text": t} for c, t in self.reasons],
        }


@dataclass(frozen=True)
class ImplicitOption:
    """Implicit caching for one candidate: a best case with no guarantee.

    Attributes:
        available: the prefix can be cached implicitly (size at least the model's minimum, a
            cache-read rate known).
        cost: every request's prefix at the cache-read rate (best case: every request hits).
        saving: ``no_cache - cost``.
        reasons: ``(code, text)`` pairs: why unavailable, or caveats.
    """

    available: bool
    cost: Decimal | None = None
    saving: Decimal | None = None
    reasons: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings)."""
        return {
            "available": self.available,
            "best_case_cost": usd(self.cost),
            "best_case_saving": usd(self.saving),
            "reasons": [{"code": c, "text": t} for c, t in self.reasons],
        }


@dataclass(frozen=True)
class CacheCandidate:
    """A prefix shared by a group of requests, with its three priced options.

    Attributes:
        id: short id (``system-1``, ``leading_parts-2``...), used by the recommendation.
        kind: one of :data:`KINDS`.
        requests: requests in the group (an estimate for ``template``: see ``estimated``).
        estimated: True when ``requests`` is scaled from the sample.
        sampled: members of the group found in the scan's sample.
        prefix_tokens: tokens a cache of the prefix would hold (system instruction and tools
            included when the group shares them).
        prefix_by_modality: the same split by modality (``text``, ``image``, ...).
        tokens_exact: True when counted by an exact tokenizer (else estimated: see the notes).
        description: what is shared, for people (texts are not escaped: the reports layer does it).
        cached: what the cache would hold (``system instruction``, ``tools``, ``2 leading content parts``...).
        how: how to use an explicit cache for this group.
        requests_above_tier: requests of the group above the prompt-size tier threshold.
        no_cache: USD the prefix tokens cost in batch without caching (None when not priced).
        explicit: the explicit-cache option.
        implicit: the implicit-caching best case.
        notes: assumptions particular to this candidate.
    """

    id: str
    kind: str
    requests: int
    estimated: bool
    sampled: int
    prefix_tokens: int
    prefix_by_modality: Mapping[str, int]
    tokens_exact: bool
    description: str
    cached: tuple[str, ...]
    how: str
    requests_above_tier: int
    no_cache: Decimal | None
    explicit: ExplicitOption
    implicit: ImplicitOption
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings); the three options under ``options``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "requests": self.requests,
            "estimated": self.estimated,
            "sampled": self.sampled,
            "prefix_tokens": self.prefix_tokens,
            "prefix_by_modality": dict(self.prefix_by_modality),
            "tokens_exact": self.tokens_exact,
            "description": self.description,
            "cached": list(self.cached),
            "how": self.how,
            "requests_above_tier": self.requests_above_tier,
            "options": {
                "no_cache": {"cost": usd(self.no_cache)},
                "explicit": self.explicit.to_json(),
                "implicit_best_case": self.implicit.to_json(),
            },
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ChosenCache:
    """One explicit cache of the recommendation.

    Attributes:
        candidate: the :class:`CacheCandidate` id.
        requests: requests that reference it (after removing those another chosen cache serves).
        no_cache: their prefix tokens at the batch input rate.
        cost: cached reads + creation + storage.
        saving: ``no_cache - cost``.
        creation: creation part of ``cost``.
        storage: storage part of ``cost``.
    """

    candidate: str
    requests: int
    no_cache: Decimal
    cost: Decimal
    saving: Decimal
    creation: Decimal
    storage: Decimal

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as decimal strings)."""
        return {
            "candidate": self.candidate,
            "requests": self.requests,
            "no_cache": usd(self.no_cache),
            "cost": usd(self.cost),
            "saving": usd(self.saving),
            "creation": usd(self.creation),
            "storage": usd(self.storage),
        }


@dataclass(frozen=True)
class CachingAdvice:
    """What caching would do for a plan, and what to do.

    Attributes:
        model: the model asked for.
        billed_model: the model whose rates apply on the run date.
        platform: ``developer`` or ``vertex``.
        run_date: date of the prices.
        hours: storage hours priced for an explicit cache (the time the jobs need).
        candidates: every shared prefix found, best saving first.
        chosen: the recommended explicit caches (non-overlapping), empty when caching does not pay.
        saving: USD the recommendation saves against the batch plan (None when it does not pay).
        saving_percent: ``saving`` as a percentage of the batch cost on ``basis``, one decimal.
        basis: ``expected`` or ``floor`` (the batch figure the percentage is taken of).
        batch_cached: the batch cost with the recommended caches (same fields as the plan's
            modes, each lowered by ``saving``); None when caching does not pay.
        implicit_best_case: USD implicit caching would save if every eligible request hit the cache
            (never part of any expected figure); None when no candidate qualifies.
        reason: why caching does not pay (None when it does).
        reason_codes: codes of ``reason`` (see :data:`REASONS`).
        notes: assumptions and sources, to show with the advice.
    """

    model: str
    billed_model: str
    platform: str
    run_date: datetime.date
    hours: Decimal
    candidates: tuple[CacheCandidate, ...]
    chosen: tuple[ChosenCache, ...]
    saving: Decimal | None
    saving_percent: Decimal | None
    basis: str | None
    batch_cached: ModeCost | None
    implicit_best_case: Decimal | None
    reason: str | None
    reason_codes: tuple[str, ...]
    notes: tuple[str, ...]
    row_groups: np.ndarray | None = field(default=None, compare=False, repr=False)
    """Per scan row, the index of the chosen cache that serves it (-1 none); for the shard planner."""

    @property
    def pays(self) -> bool:
        """True when an explicit cache is recommended."""
        return self.batch_cached is not None

    @property
    def summary(self) -> str:
        """One line for people: the recommendation with its saving, or why caching does not pay."""
        if not self.pays or self.saving is None:
            return f"caching does not pay here: {self.reason}"
        n = sum(c.requests for c in self.chosen)
        caches = "1 explicit cache" if len(self.chosen) == 1 else f"{len(self.chosen)} explicit caches"
        pct = f" ({self.saving_percent}% of the batch {self.basis} cost)" if self.saving_percent is not None else ""
        shown = self.saving.quantize(Decimal("0.01") if self.saving >= 1 else Decimal("0.0001"))
        return f"use {caches} for {n:,} requests: saves {exact(shown)}{pct}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (USD as exact decimal strings) for the plan's ``caching`` key."""
        return {
            "model": self.model,
            "billed_model": self.billed_model,
            "platform": self.platform,
            "run_date": self.run_date.isoformat(),
            "hours": usd(self.hours),
            "pays": self.pays,
            "summary": self.summary,
            "recommendation": None
            if not self.pays
            else {
                "option": "explicit",
                "caches": [c.to_json() for c in self.chosen],
                "saving": usd(self.saving),
                "saving_percent": None if self.saving_percent is None else str(self.saving_percent),
                "basis": self.basis,
            },
            "batch_cached": None if self.batch_cached is None else self.batch_cached.to_json(),
            "implicit_best_case_saving": usd(self.implicit_best_case),
            "reason": self.reason,
            "reason_codes": list(self.reason_codes),
            "candidates": [c.to_json() for c in self.candidates],
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------------------------- money


def _money(tokens: int, usd_per_mtok: Decimal) -> Decimal:
    if tokens == 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 60  # exact for any token count x rate
        return (Decimal(tokens) * usd_per_mtok).scaleb(_MILLION_EXP)


def _as_hours(hours: float | int | Decimal) -> Decimal:
    try:
        value = hours if isinstance(hours, Decimal) else Decimal(str(hours))
    except ArithmeticError:
        value = Decimal("NaN")
    if isinstance(hours, bool) or not value.is_finite() or value <= 0:
        raise PlanError(f"caching: hours must be a positive number of storage hours, got {hours!r}")
    return Decimal(format(value.normalize(), "f"))  # 24.0 -> 24, 100 stays 100 (not 1E+2)


# ----------------------------------------------------------------------------------------------- groups


@dataclass(eq=False)  # compared by identity (it holds numpy arrays)
class _Group:
    """A candidate before pricing (internal)."""

    kind: str
    rows: np.ndarray | None  # every member, when known exactly
    sample_rows: np.ndarray  # members in the scan's sample
    n: int  # members (exact, or estimated)
    high_share: float  # share of members above the tier threshold
    system_hash: int
    rep: int  # representative row
    template_prefix: str | None = None
    texts: list[str] = field(default_factory=list)
    chars: int = 0
    media: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    description: str = ""
    notes: list[str] = field(default_factory=list)
    blocker: tuple[str, str] | None = None
    unknown_media: int = 0


@dataclass(frozen=True)
class _Ctx:
    scan: ScanResult
    eligible: np.ndarray  # bool per row
    sample: np.ndarray  # eligible rows of the scan's sample
    per_request: np.ndarray
    threshold: int | None
    min_requests: int
    media_model: str


def _snippet(text: str) -> str:
    flat = _WS.sub(" ", text).strip()
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS].rstrip() + "..."


def _group_by(keys: np.ndarray, rows: np.ndarray, min_n: int) -> list[np.ndarray]:
    """Member rows of each key shared by at least ``min_n`` rows (keys 0 = none are skipped)."""
    keep = keys != 0
    keys, rows = keys[keep], rows[keep]
    if not len(keys):
        return []
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    big = np.flatnonzero(counts >= min_n)
    if not len(big):
        return []
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    return [rows[order[starts[g] : starts[g + 1]]] for g in big]


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One 64-bit key from two (wrapping arithmetic; 0 stays "none" only when ``a`` is 0)."""
    with np.errstate(over="ignore"):
        mixed = a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + b.astype(np.uint64)
    mixed[mixed == 0] = 1
    mixed[a == 0] = 0
    return mixed


def _exact_groups(ctx: _Ctx) -> list[_Group]:
    """Groups by system instruction, leading parts and first part; the largest by shared characters
    x requests are kept (MAX_GROUPS_PER_KIND each) and measured exactly later."""
    rows_all = np.flatnonzero(ctx.eligible)
    cols = ctx.scan.rows
    sys_h = cols["system_hash"][rows_all]
    prefix_h = cols["prefix_hash"][rows_all]
    first_h = cols["first_hash"][rows_all]
    sys_chars = cols["system_chars"].astype(np.int64)
    prefix_chars = cols["prefix_chars"].astype(np.int64)
    out: list[_Group] = []
    specs: list[tuple[str, np.ndarray, Callable[[np.ndarray], float]]] = [
        ("system", sys_h, lambda m: float(sys_chars[m[0]])),
        ("leading_parts", _mix(prefix_h, sys_h), lambda m: float(prefix_chars[m[0]] + sys_chars[m[0]])),
        ("first_part", _mix(first_h, sys_h), lambda m: float(prefix_chars[m].min() + sys_chars[m[0]])),
    ]
    for kind, keys, chars_of in specs:
        groups = _group_by(keys, rows_all, ctx.min_requests)
        if kind == "first_part":
            # the same members as a leading-parts group (all have two parts) would be a duplicate
            groups = [m for m in groups if len(np.unique(cols["prefix_hash"][m])) > 1]
        ranked = sorted(groups, key=lambda m: -(len(m) * chars_of(m)))[:MAX_GROUPS_PER_KIND]
        out.extend(_new_group(ctx, kind, members, int(cols["system_hash"][members[0]])) for members in ranked)
    return out


def _new_group(ctx: _Ctx, kind: str, members: np.ndarray, system_hash: int) -> _Group:
    in_sample = np.intersect1d(members, ctx.sample, assume_unique=True)
    rep = int(in_sample[0]) if len(in_sample) else int(members[0])
    return _Group(kind, members, in_sample, len(members), _high_share(ctx, members), system_hash, rep)


def _high_share(ctx: _Ctx, rows: np.ndarray) -> float:
    if ctx.threshold is None or not len(rows):
        return 0.0
    return float((ctx.per_request[rows] > ctx.threshold).mean())


# ----------------------------------------------------------------------------------------------- request parts


def _field(req: Mapping[str, Any], canonical: str) -> Any:
    from ..batchfile import schema

    for name, value in req.items():
        if schema.REQUEST_FIELDS.get(name) == canonical:
            return value
    return None


def _flat_parts(req: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Content parts in order, the ones the scan hashed (``request._contents``)."""
    from ..batchfile import schema

    contents = _field(req, "contents")
    out: list[dict[str, Any]] = []
    if not isinstance(contents, list):
        return out
    for content in contents:
        if not isinstance(content, dict):
            continue
        parts = next((v for k, v in content.items() if schema.CONTENT_FIELDS.get(k) == "parts"), None)
        if not isinstance(parts, list):
            continue
        for part in parts:
            if not isinstance(part, dict):
                continue
            data = [(schema.PART_DATA_FIELDS[k], v) for k, v in part.items() if k in schema.PART_DATA_FIELDS]
            if len(data) != 1:
                continue
            kind, value = data[0]
            if kind == "text" and not isinstance(value, str):
                continue
            if kind in ("functionCall", "functionResponse") and not isinstance(value, dict):
                continue
            out.append(part)
    return out


def _part_label(part: Mapping[str, Any]) -> str:
    text = part.get("text")
    if isinstance(text, str):
        return f'"{_snippet(text)}"'
    for key in ("inlineData", "inline_data", "fileData", "file_data"):
        blob = part.get(key)
        if isinstance(blob, dict):
            mime = blob.get("mimeType", blob.get("mime_type")) or "media"
            uri = blob.get("fileUri", blob.get("file_uri"))
            return f"[{mime} {uri}]" if isinstance(uri, str) else f"[inline {mime}]"
    return f"[{next(iter(part), 'part')}]"


def _walk(req: Mapping[str, Any]) -> Any:
    from ..batchfile.request import Walker

    return Walker(lambda code, msg: None, probe_media=False).walk(dict(req))


def _tools_key(req: Mapping[str, Any]) -> bytes | None:
    import msgspec

    values = {name: _field(req, name) for name in _TOOL_FIELDS}
    if all(v is None for v in values.values()):
        return None
    return msgspec.json.encode(values, order="sorted")


# ----------------------------------------------------------------------------------------------- measuring


def _prefix_media(ctx: _Ctx, row: int, n_contents: int, with_system: bool) -> tuple[dict[str, int], int]:
    """Media tokens of a row's first ``n_contents`` contents media parts (+ its system media)."""
    from ..batchfile.request import PLACES
    from ..tokens.media_tokens import media_tokens

    media = ctx.scan.media
    if not len(media["row"]) or (n_contents == 0 and not with_system):
        return {}, 0
    idx = np.flatnonzero(media["row"] == row)  # walk order: contents parts first, then system
    place = media["place"][idx]
    take = idx[place == PLACES.index("contents")][:n_contents]
    if with_system:
        take = np.concatenate([take, idx[place == PLACES.index("system")]])
    if not len(take):
        return {}, 0
    sub = {name: arr[take] for name, arr in media.items()}
    sub["row"] = np.zeros(len(take), dtype=media["row"].dtype)
    found = media_tokens(
        sub, 1, model=ctx.media_model, request_resolution=ctx.scan.rows["media_resolution"][row : row + 1]
    )
    return {m: int(a[0]) for m, a in found.per_request.items() if int(a[0])}, found.unknown_parts


def _check_tools(ctx: _Ctx, g: _Group, rep_req: Mapping[str, Any], known: Mapping[int, Mapping[str, Any]]) -> bool:
    """Whether the group's tools are shared (then the cache holds them); sets ``g.blocker`` if not."""
    from ..batchfile.request import (
        FLAG_CODE_EXECUTION,
        FLAG_GOOGLE_SEARCH,
        FLAG_OTHER_TOOL,
        FLAG_TOOLS,
        FLAG_URL_CONTEXT,
    )

    tool_bits = FLAG_TOOLS | FLAG_GOOGLE_SEARCH | FLAG_CODE_EXECUTION | FLAG_URL_CONTEXT | FLAG_OTHER_TOOL
    rep_key = _tools_key(rep_req)
    members = g.rows if g.rows is not None else g.sample_rows
    bits = ctx.scan.rows["flags"][members] & tool_bits
    if rep_key is None and not bits.any():
        return False
    mixed = (
        "mixed-tools",
        "the requests send different tools/toolConfig; a request using a cache cannot send its own "
        "(the API answers 400), so one cache cannot serve them all",
    )
    if len(np.unique(bits)) > 1:
        g.blocker = mixed
        return False
    check = [int(r) for r in g.sample_rows[:TOOLS_CHECK_ROWS]]
    if len(check) < TOOLS_CHECK_ROWS and g.rows is not None:
        extra = np.setdiff1d(g.rows[: TOOLS_CHECK_ROWS * 2], g.sample_rows)[: TOOLS_CHECK_ROWS - len(check)]
        check.extend(int(r) for r in extra)
    todo = [r for r in check if r not in known]
    seen = dict(known)
    seen.update(ctx.scan.read_requests(todo))
    if any(_tools_key(seen[r]) != rep_key for r in check if r in seen):
        g.blocker = mixed
        return False
    if g.n > len(check):
        g.notes.append(
            f"tools/toolConfig were identical in the {len(check)} requests checked and are assumed identical "
            f"in all {g.n:,} (the scan keeps no hash of them); the cache holds them"
        )
    return True


def _measure(ctx: _Ctx, g: _Group, req: Mapping[str, Any], known: Mapping[int, Mapping[str, Any]]) -> None:
    """Fill the group's texts, media, description and what the cache holds, from its representative."""
    from ..batchfile.request import request_texts

    with_system = g.system_hash != 0
    if with_system:
        si = _field(req, "systemInstruction")
        g.texts.extend(request_texts({"systemInstruction": si})["system"])
        g.cached.append("the system instruction")
        g.removed.append("systemInstruction")
    if _check_tools(ctx, g, req, known):
        g.texts.extend(request_texts({"tools": _field(req, "tools")})["tools"])
        g.cached.append("the tools (and toolConfig)")
        g.removed.append("tools/toolConfig")
    parts = _flat_parts(req)
    n_media = 0
    if g.kind == "system":
        si_parts = (_field(req, "systemInstruction") or {}).get("parts") or [{}]
        g.description = f"system instruction {_part_label(si_parts[0]) if isinstance(si_parts[0], dict) else ''}"
    elif g.kind in ("leading_parts", "first_part"):
        lead = parts[:-1] if g.kind == "leading_parts" else parts[:1]
        info = _walk({"contents": [{"role": "user", "parts": lead}]})
        g.texts.extend(info.texts["contents"])
        n_media = len(info.media)
        what = "the first content part" if len(lead) == 1 else f"the first {len(lead)} content parts"
        g.cached.append(what)
        g.removed.append(what)
        g.description = f"{what[4:]} {_part_label(lead[0])}" if lead else what
        if with_system:
            g.description += " (with a shared system instruction)"
    else:
        assert g.template_prefix is not None
        g.texts.append(g.template_prefix)
        g.cached.append(f"the shared start of the first text part ({len(g.template_prefix):,} characters)")
        g.removed.append("the shared start of the first text part")
        g.description = f'templated prompt start "{_snippet(g.template_prefix)}"'
        if with_system:
            g.description += " (with a shared system instruction)"
    g.chars = sum(map(len, g.texts))
    g.media, g.unknown_media = _prefix_media(ctx, g.rep, n_media, with_system)
    if g.unknown_media:
        g.notes.append(
            f"{g.unknown_media} media part(s) of the prefix have no known size and are not in its tokens "
            "(a lower bound)"
        )


def _template_groups(ctx: _Ctx, reqs: Mapping[int, Mapping[str, Any]], n_eligible: int) -> list[_Group]:
    """Clusters of sampled requests whose first text part starts alike (see the module docstring)."""
    firsts: list[tuple[int, int, str]] = []
    for row in ctx.sample:
        parts = _flat_parts(reqs[int(row)])
        text = parts[0].get("text") if parts else None
        if isinstance(text, str) and len(text) >= TEMPLATE_KEY_CHARS[0]:
            firsts.append((int(row), int(ctx.scan.rows["system_hash"][row]), text))
    n_sample = len(ctx.sample)
    if not firsts or not n_sample:
        return []
    whole = n_sample >= n_eligible  # the sample is every eligible request: counts are exact
    found: dict[tuple[int, ...], tuple[np.ndarray, str, int]] = {}
    for width in TEMPLATE_KEY_CHARS:
        clusters: dict[tuple[int, str], list[tuple[int, str]]] = {}
        for row, sh, text in firsts:
            if len(text) >= width:
                clusters.setdefault((sh, text[:width]), []).append((row, text))
        scored = []
        for (sh, _), members in clusters.items():
            if len(members) < 2:
                continue
            texts = [t for _, t in members]
            if len(set(texts)) == 1:
                continue  # identical first parts: a first-part group (or duplicate requests)
            prefix = _word_prefix(_common_prefix(texts))
            if len(prefix) < width // 2:
                continue
            scored.append((len(members) * len(prefix), np.array(sorted(r for r, _ in members)), prefix, sh))
        for _, rows, prefix, sh in sorted(scored, key=lambda s: -s[0])[:TEMPLATE_PER_LEVEL]:
            key = tuple(rows.tolist())
            if key not in found or len(found[key][1]) < len(prefix):
                found[key] = (rows, prefix, sh)
    out = []
    for rows, prefix, sh in found.values():
        n = len(rows) if whole else round(len(rows) * n_eligible / n_sample)
        if n < ctx.min_requests:
            continue
        g = _Group("template", rows if whole else None, rows, n, _high_share(ctx, rows), sh, int(rows[0]))
        g.template_prefix = prefix
        if not whole:
            g.notes.append(
                f"estimated: {len(rows):,} of {n_sample:,} sampled requests start with this text, scaled to "
                f"{n:,} of {n_eligible:,} requests"
            )
        out.append(g)
    return out


def _common_prefix(texts: Sequence[str]) -> str:
    """Longest string every text starts with (that of the smallest and largest text, in order)."""
    low, high = min(texts), max(texts)
    n = 0
    for a, b in zip(low, high, strict=False):
        if a != b:
            break
        n += 1
    return low[:n]


def _word_prefix(common: str) -> str:
    """The common prefix cut before its last whitespace, so the rest starts a word (natural tokens)."""
    cut = max(common.rfind(" "), common.rfind("\n"), common.rfind("\t"))
    return common[:cut] if cut > 0 else ""


# ----------------------------------------------------------------------------------------------- pricing


@dataclass(frozen=True)
class _Rates:
    batch: ModeRates
    standard: ModeRates | None
    info: ModelInfo
    platform: str
    hours: Decimal
    minimum: int | None
    expiry_hours: int | None = None


def _rate(mr: ModeRates | None, component: str, modality: str, above: bool) -> Decimal | None:
    if mr is None:
        return None
    above = above and mr.tier_threshold is not None
    if component == "input":
        table = mr.input_above if above else mr.input
    else:
        table = mr.cache_read_above if above else mr.cache_read
    return None if table is None else table[modality].usd_per_mtok


def _price_tokens(
    mr: ModeRates | None, component: str, tokens: Mapping[str, int], n_low: int, n_high: int
) -> Decimal | None:
    total = Decimal(0)
    for modality, t in tokens.items():
        for n, above in ((n_low, False), (n_high, True)):
            if not n or not t:
                continue
            rate = _rate(mr, component, modality, above)
            if rate is None:
                return None
            total += _money(t * n, rate)
    return total


@dataclass(frozen=True)
class _Priced:
    no_cache: Decimal | None
    explicit: ExplicitOption
    implicit: ImplicitOption


def _price(r: _Rates, g: _Group, n: int, n_high: int) -> _Priced:
    n_low = n - n_high
    t_total = sum(g.tokens.values())
    no_cache = _price_tokens(r.batch, "input", g.tokens, n_low, n_high)
    return _Priced(
        no_cache,
        _explicit(r, g, t_total, n, n_low, n_high, no_cache),
        _implicit(r, g, t_total, n_low, n_high, no_cache),
    )


def _explicit(
    r: _Rates, g: _Group, t_total: int, n: int, n_low: int, n_high: int, no_cache: Decimal | None
) -> ExplicitOption:
    blockers: list[tuple[str, str]] = []
    model = r.batch.model
    if r.platform == "vertex":
        blockers.append(
            (
                "vertex-batch",
                "explicit caching is not supported in Vertex batch prediction (Vertex AI batch inference docs)",
            )
        )
    if r.info.explicit_cache is False:
        blockers.append(("no-explicit-caching", f"{model} has no explicit caching (Gemini 4 Argon and later)"))
    elif r.info.explicit_cache is None:
        blockers.append(("explicit-caching-unknown", f"whether {model} supports explicit caching is unknown"))
    if blockers:
        # not offered here at all: no figures to show
        return ExplicitOption(False, minimum_tokens=r.minimum, reasons=tuple(blockers))
    if g.blocker is not None:
        blockers.append(g.blocker)
    if r.minimum is not None and t_total < r.minimum:
        blockers.append(
            (
                "prefix-too-small",
                f"the prefix is {t_total:,} tokens, below the {r.minimum:,}-token minimum assumed for {model}",
            )
        )
    elif t_total == 0:
        blockers.append(("prefix-too-small", "the prefix has no countable tokens"))
    storage_rate = r.batch.cache_storage or (r.standard.cache_storage if r.standard else None)
    above_create = (
        r.standard is not None and r.standard.tier_threshold is not None and t_total > r.standard.tier_threshold
    )
    reads = _price_tokens(r.batch, "cache", g.tokens, n_low, n_high)
    creation = _price_tokens(r.standard, "input", g.tokens, 0 if above_create else 1, 1 if above_create else 0)
    missing = [
        name
        for name, v in (("batch cache-read", reads), ("standard input", creation), ("cache storage", storage_rate))
        if v is None
    ]
    if missing or no_cache is None or reads is None or creation is None or storage_rate is None:
        what = ", ".join(missing) or "batch input"
        reasons = (*blockers, ("not-priced", f"{model}: the {what} rate is unknown; not priced (never $0)"))
        return ExplicitOption(False, minimum_tokens=r.minimum, reasons=tuple(reasons))
    per_hour = _money(t_total, storage_rate.usd_per_mtok)
    storage = per_hour * r.hours
    cost = reads + creation + storage
    saving = no_cache - cost
    discount = no_cache - reads
    be_n: int | None = None
    be_h: Decimal | None = None
    fixed = creation + storage
    with localcontext() as c:
        c.prec = 60
        if discount > 0 and n:
            per_request = discount / n
            be_n = int((fixed / per_request).to_integral_value(ROUND_FLOOR)) + 1
        if per_hour > 0:
            be_h = max(Decimal(0), ((discount - creation) / per_hour).quantize(Decimal("0.01"), ROUND_FLOOR))
    reasons = list(blockers)
    if saving <= 0:
        if discount <= 0:
            reasons.append(("no-discount", f"{model} batch cache reads cost no less than batch input"))
        else:
            if be_n is not None and n < be_n:
                reasons.append(
                    (
                        "too-few-requests",
                        f"{n:,} requests share the prefix; with {r.hours} h of storage it pays from {be_n:,} requests",
                    )
                )
            if be_h is not None and be_h > 0:
                reasons.append(
                    (
                        "storage-too-long",
                        f"it pays only if the cache is stored under {be_h.normalize():f} h; the jobs need {r.hours} h",
                    )
                )
    return ExplicitOption(
        available=not blockers,
        cost=cost,
        saving=saving,
        cached_reads=reads,
        creation=creation,
        storage=storage,
        break_even_requests=be_n,
        break_even_hours=be_h,
        minimum_tokens=r.minimum,
        reasons=tuple(reasons),
    )


def _implicit(r: _Rates, g: _Group, t_total: int, n_low: int, n_high: int, no_cache: Decimal | None) -> ImplicitOption:
    model = r.batch.model
    minimum = r.info.implicit_cache_min_tokens
    reasons: list[tuple[str, str]] = []
    # Vertex: a hit gets the cache discount on the standard price instead of the batch discount.
    source = r.standard if r.platform == "vertex" else r.batch
    reads = _price_tokens(source, "cache", g.tokens, n_low, n_high)
    if reads is None or no_cache is None:
        return ImplicitOption(False, reasons=(("not-priced", f"{model}: cache-read rate unknown; not priced"),))
    available = True
    if minimum is None:
        reasons.append(
            ("prefix-too-small", f"the implicit-cache minimum of {model} is unknown; the prefix may be too small")
        )
    elif t_total < minimum:
        available = False
        reasons.append(
            (
                "prefix-too-small",
                f"the prefix is {t_total:,} tokens, below {model}'s implicit-cache minimum of {minimum:,}",
            )
        )
    return ImplicitOption(available, reads, no_cache - reads, tuple(reasons))


# ----------------------------------------------------------------------------------------------- selection


def _effective(ctx: _Ctx, g: _Group, taken: np.ndarray, by_template: np.ndarray) -> tuple[int, int, np.ndarray]:
    """(requests, of them above the tier, rows now free) of a group, after chosen caches took theirs."""
    if g.rows is not None:
        free = g.rows[~taken[g.rows]]
        free_sample = np.intersect1d(free, ctx.sample, assume_unique=True)
        share = 1.0 - (float(by_template[free_sample].mean()) if len(free_sample) else 0.0)
        n = round(len(free) * share)
        return n, round(n * _high_share(ctx, free)), free
    s = g.sample_rows
    free = s[~(taken[s] | by_template[s])]
    n = round(g.n * len(free) / len(s)) if len(s) else 0
    return n, round(n * g.high_share), free


Score = Callable[[_Group, int, int], Decimal | None]
Selection = list[tuple[_Group, int, int, Decimal]]


def _greedy(ctx: _Ctx, groups: Sequence[_Group], score: Score, *, per_request: bool, first: _Group | None) -> Selection:
    """Non-overlapping groups picked one by one (by saving, or saving per request), each priced on
    the requests still free; ``first`` is forced as the first pick."""
    n_rows = len(ctx.eligible)
    taken = np.zeros(n_rows, bool)
    by_template = np.zeros(n_rows, bool)
    left = list(groups)
    chosen: Selection = []
    while left:
        best: tuple[Decimal, Decimal, _Group, int, int, np.ndarray] | None = None
        for g in [first] if first is not None and not chosen else left:
            n, n_high, free = _effective(ctx, g, taken, by_template)
            if n < ctx.min_requests:
                continue
            s = score(g, n, n_high)
            if s is None or s <= 0:
                continue
            key = s / n if per_request else s
            if best is None or key > best[0]:
                best = (key, s, g, n, n_high, free)
        if best is None:
            break
        _, s, g, n, n_high, free = best
        (taken if g.rows is not None else by_template)[free] = True
        chosen.append((g, n, n_high, s))
        left.remove(g)
    return chosen


def _select(ctx: _Ctx, groups: Sequence[_Group], score: Score) -> Selection:
    """The best of a few greedy selections of non-overlapping groups (a request uses one cache).

    Greedy by saving alone can take a large group that blocks two better smaller ones (a shared system
    instruction over every request vs a shared document plus that instruction over some), so greedy
    by saving per request and greedy runs forced to start from each of the best candidates are tried
    too, and the selection saving the most wins. A group's saving only falls as it loses requests, so
    groups that do not pay whole are left out.
    """
    useful = [g for g in groups if (s := score(g, g.n, round(g.n * g.high_share))) is not None and s > 0]
    if not useful:
        return []
    runs = [_greedy(ctx, useful, score, per_request=p, first=None) for p in (False, True)]
    runs += [_greedy(ctx, useful, score, per_request=False, first=g) for g in useful[:MAX_FORCED_FIRST]]
    return max(runs, key=lambda run: sum((s for *_, s in run), Decimal(0)))


# ----------------------------------------------------------------------------------------------- advice


def advise_caching(
    plan: Plan,
    book: PriceBook,
    counter: TextCounter | None,
    *,
    platform: str = "developer",
    hours: float | Decimal = 24.0,
    min_requests: int = 2,
) -> CachingAdvice:
    """Find shared prefixes in the plan's file and price caching them (see the module docstring).

    Args:
        plan: from :func:`batchcost.planner.estimate.estimate`.
        book: the price book the plan was priced with.
        counter: the text counter to size prefixes exactly (the local Gemma 3 tokenizer); None
            sizes them by the plan's tokens per character (an estimate, said in the notes).
        platform: ``developer`` (Gemini API batch) or ``vertex`` (Vertex batch prediction: no
            explicit caching; implicit hits get the cache discount instead of the batch one).
        hours: hours an explicit cache must be stored: the time every job needs (the shard plan's
            waves x 24 h target turnaround; 24 h for one wave).
        min_requests: fewest requests a prefix must be shared by to be a candidate.

    Returns:
        A :class:`CachingAdvice`.

    Raises:
        PlanError: ``platform``, ``hours`` or ``min_requests`` is invalid.
    """
    if platform not in PLATFORMS:
        raise PlanError(f"caching: platform must be one of {', '.join(PLATFORMS)}, got {platform!r}")
    if min_requests < 1:
        raise PlanError(f"caching: min_requests must be at least 1, got {min_requests}")
    h = _as_hours(hours)
    model, run_date = plan.model, plan.run_date
    notes: list[str] = []
    try:
        batch = book.rates(model, "batch", run_date)
    except PricingError as exc:
        return _empty(plan, platform, h, "not-priced", f"batch mode is not priced: {exc}", notes)
    try:
        standard: ModeRates | None = book.rates(model, "standard", run_date)
    except PricingError:
        standard = None
    info = book.model_info(batch.model, run_date)
    expiry = book.limits().vertex_queue_hours if platform == "vertex" else book.limits().expiry_hours
    rates = _Rates(batch, standard, info, platform, h, info.implicit_cache_min_tokens, expiry)
    ctx = _context(plan, min_requests, batch.tier_threshold)
    excluded = int((plan.scan.rows["usable"].astype(bool) & ~ctx.eligible).sum())
    if excluded:
        notes.append(
            f"{excluded:,} requests already reference a cachedContent and are left out (one cache per request)"
        )

    sample_reqs = dict(plan.scan.read_requests(ctx.sample.tolist()))
    ratio = _tokens_per_char(plan)
    groups = _exact_groups(ctx) + _template_groups(ctx, sample_reqs, int(ctx.eligible.sum()))
    reps = dict(plan.scan.read_requests(sorted({g.rep for g in groups} - sample_reqs.keys())))
    reps.update(sample_reqs)
    for g in groups:
        _measure(ctx, g, reps[g.rep], reps)
    _count(groups, counter, ratio)

    priced = {id(g): _price(rates, g, g.n, round(g.n * g.high_share)) for g in groups}
    order = sorted(groups, key=lambda g: _sort_key(priced[id(g)]))
    ids = _ids(order)
    candidates = tuple(_candidate(ids[id(g)], g, priced[id(g)], rates, counter) for g in order)

    def explicit_score(g: _Group, n: int, n_high: int) -> Decimal | None:
        e = _price(rates, g, n, n_high).explicit
        return e.saving if e.available else None

    def implicit_score(g: _Group, n: int, n_high: int) -> Decimal | None:
        i = _price(rates, g, n, n_high).implicit
        return i.saving if i.available else None

    chosen = []
    # Requests served by the same chosen cache must go into the same batch job (shard).
    row_groups = np.full(len(ctx.eligible), -1, np.int64)
    for gid, (g, n, n_high, _) in enumerate(_select(ctx, order, explicit_score)):
        if g.rows is not None:
            members = g.rows[row_groups[g.rows] < 0]
            row_groups[members] = gid
        p = _price(rates, g, n, n_high)
        e = p.explicit
        assert p.no_cache is not None and e.cost is not None and e.saving is not None
        assert e.creation is not None and e.storage is not None
        chosen.append(ChosenCache(ids[id(g)], n, p.no_cache, e.cost, e.saving, e.creation, e.storage))
    implicit = _select(ctx, order, implicit_score)
    implicit_total = sum((s for *_, s in implicit), Decimal(0)) if implicit else None
    notes.extend(_notes(rates, candidates, counter, ratio))
    advice = _advice(plan, rates, candidates, tuple(chosen), implicit_total, notes)
    return dataclasses.replace(advice, row_groups=row_groups if chosen else None)


def _context(plan: Plan, min_requests: int, threshold: int | None) -> _Ctx:
    from ..batchfile.request import FLAG_CACHED_CONTENT

    rows = plan.scan.rows
    eligible = rows["usable"].astype(bool) & ((rows["flags"] & FLAG_CACHED_CONTENT) == 0)
    sample = np.asarray(plan.scan.sample, dtype=np.int64)
    sample = np.sort(sample[eligible[sample]]) if len(sample) else np.zeros(0, np.int64)
    return _Ctx(
        scan=plan.scan,
        eligible=eligible,
        sample=sample,
        per_request=np.asarray(plan.tokens.per_request, dtype=np.int64),
        threshold=threshold,
        min_requests=min_requests,
        media_model=plan.tokens.model,
    )


def _tokens_per_char(plan: Plan) -> float:
    rows = plan.scan.rows
    usable = rows["usable"].astype(bool)
    chars = int(
        (
            rows["system_chars"][usable].astype(np.int64) + rows["contents_chars"][usable] + rows["tools_chars"][usable]
        ).sum()
    )
    text = plan.tokens.by_modality["text"].expected
    return text / chars if chars else 0.25  # the token-counting doc rule of thumb: about 4 characters a token


def _count(groups: Sequence[_Group], counter: TextCounter | None, ratio: float) -> None:
    """Prefix tokens of every group: its texts counted in one batch (or by the ratio), plus media."""
    if counter is None:
        for g in groups:
            g.tokens = {"text": round(g.chars * ratio)} if g.chars else {}
    else:
        flat = [t for g in groups for t in g.texts]
        counts = counter.count_texts(flat)
        i = 0
        for g in groups:
            k = len(g.texts)
            text = sum(counts[i : i + k])
            i += k
            g.tokens = {"text": text} if text else {}
    for g in groups:
        for modality, t in g.media.items():
            g.tokens[modality] = g.tokens.get(modality, 0) + t


def _sort_key(p: _Priced) -> tuple[int, Decimal]:
    e = p.explicit
    if e.pays and e.saving is not None:
        return (0, -e.saving)
    if e.saving is not None:
        return (1, -e.saving)
    i = p.implicit.saving
    return (2, -(i if i is not None else Decimal(0)))


def _ids(groups: Iterable[_Group]) -> dict[int, str]:
    seen: dict[str, int] = {}
    out = {}
    for g in groups:
        seen[g.kind] = seen.get(g.kind, 0) + 1
        out[id(g)] = f"{g.kind}-{seen[g.kind]}"
    return out


def _candidate(cid: str, g: _Group, p: _Priced, r: _Rates, counter: TextCounter | None) -> CacheCandidate:
    removed = ", ".join(g.removed)
    how = (
        f"create one cachedContent for {r.batch.model} holding {' + '.join(g.cached)}, with a TTL covering "
        f"{r.hours} h (the default TTL is {DEFAULT_TTL_HOURS} h); in each of the {g.n:,} requests remove {removed} "
        'and add "cachedContent": "cachedContents/<id>" at request level (not inside generationConfig); '
        "delete the cache when the last job ends"
    )
    if g.kind == "template":
        how += (
            ". An explicit cache holds whole Content parts, not a string prefix: rewrite each request's first "
            "text part into the cached prefix part and a part with the rest (the split is at a word boundary, "
            "so the token count of the rest may differ by a token)"
        )
    exact = counter is not None and bool(getattr(counter, "exact", False))
    return CacheCandidate(
        id=cid,
        kind=g.kind,
        requests=g.n,
        estimated=g.rows is None,
        sampled=len(g.sample_rows),
        prefix_tokens=sum(g.tokens.values()),
        prefix_by_modality=MappingProxyType(dict(g.tokens)),
        tokens_exact=exact,
        description=g.description,
        cached=tuple(g.cached),
        how=how,
        requests_above_tier=round(g.n * g.high_share),
        no_cache=p.no_cache,
        explicit=p.explicit,
        implicit=p.implicit,
        notes=tuple(g.notes),
    )


def _notes(r: _Rates, candidates: Sequence[CacheCandidate], counter: TextCounter | None, ratio: float) -> list[str]:
    notes: list[str] = []
    model = r.batch.model
    cr = r.batch.cache_read["text"] if r.batch.cache_read is not None else None
    if cr is not None:
        notes.append(
            f"{model} batch cache-read rate {exact(cr.usd_per_mtok)}/1M tokens ({cr.provenance.source}, checked "
            f"{cr.provenance.checked}); Google's batch page (2026-02-19) says cached tokens in batch cost the same as "
            "non-batch, while the per-model Batch tab halves them for some newer models: the book's per-model value "
            "is used"
        )
    if r.platform == "developer" and r.standard is not None:
        notes.append(
            f"cache creation is billed at the standard input rate ({exact(r.standard.input['text'].usd_per_mtok)}/1M; "
            "input tokens used to create a cache are billed at standard input price: Vertex context-cache overview)"
        )
    storage = r.batch.cache_storage
    if r.platform == "developer" and storage is not None:
        notes.append(
            f"storage priced for {r.hours} h at {exact(storage.usd_per_mtok)}/1M tokens per hour ({storage.provenance.source}); "
            f"set the cache's TTL to cover every job (the default TTL is {DEFAULT_TTL_HOURS} h) and delete it after "
            "the last job to stop storage billing"
        )
    if r.platform == "developer" and r.info.explicit_cache:
        if r.minimum is not None:
            notes.append(
                f"the explicit-cache minimum size for {model} is UNKNOWN; its implicit-cache "
                f"minimum of {r.minimum:,} tokens is assumed"
            )
        else:
            notes.append(f"the explicit- and implicit-cache minimum sizes for {model} are unknown; no minimum applied")
    if r.platform == "vertex":
        notes.append(
            "Vertex batch: explicit caching is not supported; an implicit cache hit gets the 90% cache discount on the "
            "standard price instead of the 50% batch discount (the discounts don't stack: Vertex AI batch inference docs); Vertex prices are "
            "assumed equal to the Developer API prices in the book"
        )
        if not re.match(r"gemini-(2\.5|3)[.-]", model):
            notes.append(
                f"The Vertex AI batch inference docs say implicit caching works in batch for Gemini 2.5 and 3 models; whether it does for {model} "
                "is UNKNOWN"
            )
    notes.append(
        "implicit caching has no guarantee (best effort, a short undocumented lifetime): its figures are a best case "
        "where every request hits, never part of an expected cost"
    )
    notes.append(
        "a request that uses an explicit cache cannot send its own systemInstruction, tools or toolConfig (API 400): "
        "they move into the cache, which is why groups are split by system instruction"
    )
    if counter is None:
        notes.append(
            f"prefix sizes are estimated at {ratio:.4f} tokens per character (the plan's ratio; no tokenizer given)"
        )
    elif not getattr(counter, "exact", False):
        notes.append(f"prefix sizes are approximate ({counter.description})")
    else:
        notes.append(
            "prefix tokens are counted exactly for text (without the small per-turn overhead the server adds, so its "
            "cachedContentTokenCount may differ slightly)"
        )
    if any(c.estimated for c in candidates):
        notes.append("template candidates are found on the sample and their request counts are estimates")
    return notes


def _advice(
    plan: Plan,
    r: _Rates,
    candidates: tuple[CacheCandidate, ...],
    chosen: tuple[ChosenCache, ...],
    implicit_total: Decimal | None,
    notes: list[str],
) -> CachingAdvice:
    batch_mc = plan.cost.modes.get("batch")
    saving = sum((c.saving for c in chosen), Decimal(0)) if chosen else None
    reason, codes = None, ()
    batch_cached = None
    pct, basis = None, None
    if saving is not None and batch_mc is not None and batch_mc.not_priced_reason is None:
        batch_cached = _lowered(batch_mc, saving)
        per_hour = sum((c.storage for c in chosen), Decimal(0)) / r.hours
        notes.append(
            f"storage of the recommended cache(s) costs {exact(per_hour.quantize(Decimal('0.0001')))} per hour: "
            f"if the jobs run longer than {r.hours} h (a job expires after {r.expiry_hours} h) the saving shrinks by "
            "that much an hour"
        )
        basis = "expected" if batch_mc.expected is not None else "floor"
        base = batch_mc.expected if batch_mc.expected is not None else batch_mc.floor
        if base:
            pct = (saving / base * 100).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
    elif saving is not None:
        saving = None
        reason, codes = "the batch cost itself is not priced, so no saving can be shown", ("not-priced",)
    else:
        reason, codes = _why_not(candidates, r)
    return CachingAdvice(
        model=plan.model,
        billed_model=r.batch.model,
        platform=r.platform,
        run_date=plan.run_date,
        hours=r.hours,
        candidates=candidates,
        chosen=chosen,
        saving=saving,
        saving_percent=pct,
        basis=basis,
        batch_cached=batch_cached,
        implicit_best_case=implicit_total,
        reason=reason,
        reason_codes=tuple(codes),
        notes=tuple(dict.fromkeys(notes)),
    )


def _lowered(mc: ModeCost, saving: Decimal) -> ModeCost:
    def low(v: Decimal | None) -> Decimal | None:
        return None if v is None else v - saving

    return ModeCost(
        "batch_cached", floor=low(mc.floor), ceiling=low(mc.ceiling), expected=low(mc.expected), low=low(mc.low),
        high=low(mc.high),
    )  # fmt: skip


def _why_not(candidates: Sequence[CacheCandidate], r: _Rates) -> tuple[str, tuple[str, ...]]:
    if not candidates:
        return (
            "no prefix is shared: no two requests have the same system instruction or leading content parts, and "
            "no templated prompt start was found in the sample",
            ("no-shared-prefix",),
        )
    # Explain with the largest shared prefix (most requests x tokens): that is the one a reader
    # expects caching to help, even when a tiny prefix is numerically "closest to paying".
    best = max(candidates, key=lambda c: (c.requests * c.prefix_tokens, -candidates.index(c)))
    reasons = list(dict.fromkeys(best.explicit.reasons))
    if not reasons:
        reasons = [("not-priced", "explicit caching could not be priced")]
    text = "; ".join(t for _, t in reasons)
    lead = (
        f"the largest shared prefix ({best.description}, {best.requests:,} requests, {best.prefix_tokens:,} tokens): "
    )
    if len(candidates) > 1:
        text += f" ({len(candidates)} shared prefixes checked)"
    return lead + text, tuple(dict.fromkeys(c for c, _ in reasons))


def _empty(plan: Plan, platform: str, hours: Decimal, code: str, reason: str, notes: list[str]) -> CachingAdvice:
    return CachingAdvice(
        model=plan.model, billed_model=plan.cost.billed_model, platform=platform, run_date=plan.run_date,
        hours=hours, candidates=(), chosen=(), saving=None, saving_percent=None, basis=None, batch_cached=None,
        implicit_best_case=None, reason=reason, reason_codes=(code,), notes=tuple(notes),
    )  # fmt: skip
