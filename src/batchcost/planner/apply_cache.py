"""``shard --apply-cache``: rewrite the requests an advised explicit cache serves so that they reference it.

Only the advice's *exact* caches are applied (``system``, ``leading_parts``, ``first_part``: every
member is known from the scan's hashes); a ``template`` cache is found on a sample and would need
each request's first text part split, so it is reported as not applied. Each member line is checked
against the cache's content before it is rewritten (hashes can collide, and tools are only sampled
by the advice): its ``systemInstruction``, ``tools`` and ``toolConfig`` must be exactly the cache's
(a request using a cache cannot send its own: the API answers 400), and its contents must start
with the cache's contents. A line that does not match is copied unchanged.

The rewrite removes what the cache holds (those fields, and the leading content parts) and adds
``"cachedContent": PLACEHOLDER`` at request level; the line is re-serialised compactly (every other
field and value kept, key order kept). ``submit`` swaps the placeholder for the cache's real name
while it uploads the shard (:func:`swap_placeholders`); the file on disk keeps the placeholder.

:func:`restore` is the inverse ``shard --verify`` uses: the rewritten request plus the cache's
content must give back the original request (compared as canonical JSON).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from ..money import usd

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from .caching import CachingAdvice

__all__ = [
    "APPLIED_KINDS",
    "HELD_FIELDS",
    "PLACEHOLDER_PREFIX",
    "AppliedCache",
    "CacheRewrite",
    "canonical_digest",
    "plan_cache_rewrite",
    "restore",
    "swap_placeholders",
]

APPLIED_KINDS: tuple[str, ...] = ("system", "leading_parts", "first_part")
#: Request fields a request using a cache cannot send itself: the cache holds them.
HELD_FIELDS: tuple[str, ...] = ("systemInstruction", "tools", "toolConfig")
#: ``cachedContent`` of a rewritten line until ``submit`` knows the cache's name (never a real name).
PLACEHOLDER_PREFIX = "batchcost-cache:"


def _canon_name(name: str) -> str | None:
    from ..batchfile import schema

    return schema.REQUEST_FIELDS.get(name)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_digest(line: Mapping[str, Any]) -> bytes:
    """SHA-256 of a parsed line as canonical JSON (sorted keys): equal for the same values in any order."""
    return hashlib.sha256(_key(line).encode("utf-8", "surrogatepass")).digest()


@dataclass
class AppliedCache:
    """One advised cache that the shards reference.

    Attributes:
        id: ``cache-1``, ``cache-2``... (the manifest's id; the placeholder carries it).
        candidate: the caching advice's candidate id (``system-1``...).
        kind: the candidate's kind.
        content: what the cache holds: the held request fields under the representative's own key
            names, and ``contents`` (whole Content objects; the last one may be the start of a
            Content the requests go on, see ``joined``).
        joined: the last cached Content and each request's first remaining Content are one Content
            of the original request (its parts were split between the cache and the request).
        parts: content parts moved into the cache.
        contents_key: the key name of ``contents`` in the member requests.
        tokens: the advice's prefix tokens.
        advice: the advice's figures for this cache (requests, costs, hours: strings of USD).
        rows: scan rows rewritten (filled while the shards are written).
    """

    id: str
    candidate: str
    kind: str
    content: dict[str, Any]
    joined: bool
    parts: int
    contents_key: str
    tokens: int
    advice: dict[str, Any]
    rows: list[int] = field(default_factory=list)

    @property
    def placeholder(self) -> str:
        return PLACEHOLDER_PREFIX + self.id

    def content_sha256(self) -> str:
        return hashlib.sha256(_key(self.content).encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class CacheRewrite:
    """The caches to apply while writing shards, and what was left out and why.

    ``member``: per scan row, the index in ``caches`` of the cache that may serve it (-1 none).
    ``not_applied``: ``(candidate id, why)`` for each advised cache that the shards do not use.
    ``unmatched``: per cache id, member rows copied unchanged because they did not match its content.
    """

    caches: list[AppliedCache]
    member: np.ndarray
    not_applied: list[tuple[str, str]]
    unmatched: dict[str, int] = field(default_factory=dict)

    def rewrite(self, row: int, raw: bytes) -> bytes | None:
        """The rewritten line (its line end kept) for a member row, or None to copy it unchanged."""
        k = int(self.member[row])
        if k < 0:
            return None
        cache = self.caches[k]
        body, end = _split_end(raw)
        out = _rewrite_line(cache, body)
        if out is None:
            self.unmatched[cache.id] = self.unmatched.get(cache.id, 0) + 1
            return None
        cache.rows.append(row)
        return out + (end or b"\n")

    def finish(self) -> None:
        """Drop caches no line ended up referencing (each gets a reason), after the shards are written."""
        kept = []
        for cache in self.caches:
            if cache.rows:
                cache.rows.sort()
                kept.append(cache)
            else:
                self.not_applied.append(
                    (cache.candidate, "no request matched the cache's content exactly, so none was rewritten")
                )
        self.caches = kept


def _split_end(raw: bytes) -> tuple[bytes, bytes]:
    if raw.endswith(b"\r\n"):
        return raw[:-2], b"\r\n"
    if raw.endswith(b"\n"):
        return raw[:-1], b"\n"
    return raw, b""


def _parts_key(content: Mapping[str, Any]) -> str | None:
    from ..batchfile import schema

    return next((k for k in content if schema.CONTENT_FIELDS.get(k) == "parts"), None)


def _held(request: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """Held fields of a request: canonical name -> (its key as spelled, value)."""
    out = {}
    for name, value in request.items():
        canon = _canon_name(name)
        if canon in HELD_FIELDS:
            out[canon] = (name, value)
    return out


def _contents(request: Mapping[str, Any]) -> tuple[str, list[Any]] | None:
    for name, value in request.items():
        if _canon_name(name) == "contents":
            return (name, value) if isinstance(value, list) else None
    return None


def _cut(contents: list[Any], n_parts: int) -> tuple[list[Any], list[Any], bool] | None:
    """(the first ``n_parts`` parts as Contents, the rest as Contents, whether a Content was split)."""
    head: list[Any] = []
    left = n_parts
    for i, content in enumerate(contents):
        if left == 0:
            return head, list(contents[i:]), False
        if not isinstance(content, dict):
            return None
        key = _parts_key(content)
        parts = content.get(key) if key is not None else None
        if not isinstance(parts, list) or not parts:
            return None
        if len(parts) <= left:
            head.append(content)
            left -= len(parts)
            continue
        first = {k: (parts[:left] if k == key else v) for k, v in content.items()}
        rest = {k: (parts[left:] if k == key else v) for k, v in content.items()}
        return [*head, first], [rest, *contents[i + 1 :]], True
    return (head, [], False) if left == 0 else None


def _rewrite_line(cache: AppliedCache, body: bytes) -> bytes | None:
    try:
        line = json.loads(body)
    except (ValueError, RecursionError):
        return None
    request = line.get("request") if isinstance(line, dict) else None
    if not isinstance(request, dict) or any(_canon_name(k) == "cachedContent" for k in request):
        return None
    held = _held(request)
    want = {_canon_name(k): (k, v) for k, v in cache.content.items() if k != "contents"}
    if set(held) != set(want) or any(held[c][0] != want[c][0] or _key(held[c][1]) != _key(want[c][1]) for c in want):
        return None
    found = _contents(request)
    if found is None or found[0] != cache.contents_key:
        return None
    cut = _cut(found[1], cache.parts)
    if cut is None:
        return None
    head, rest, joined = cut
    if joined != cache.joined or _key(head) != _key(cache.content.get("contents", [])) or not rest:
        return None
    new_request: dict[str, Any] = {}
    for k, v in request.items():
        if _canon_name(k) in HELD_FIELDS:
            continue
        new_request[k] = rest if k == cache.contents_key else v
    new_request["cachedContent"] = cache.placeholder
    new_line = {k: (new_request if k == "request" else v) for k, v in line.items()}
    try:
        return json.dumps(new_line, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape: kept as the input has it
        return None


def restore(line: Mapping[str, Any], content: Mapping[str, Any], joined: bool, placeholder: str) -> dict[str, Any]:
    """The original line a rewritten one stands for: its request plus the cache's content.

    Raises:
        ValueError: the line does not reference ``placeholder``, sends a field the cache holds, or
            has no contents to join the cache's to.
    """
    request = line.get("request")
    if not isinstance(request, dict):
        raise ValueError("it has no request object")
    if request.get("cachedContent") != placeholder:
        raise ValueError(f'its request does not reference the cache ("cachedContent": "{placeholder}")')
    if any(_canon_name(k) in HELD_FIELDS for k in request):
        raise ValueError("its request sends systemInstruction, tools or toolConfig itself, which the cache holds")
    found = _contents(request)
    if found is None or not found[1]:
        raise ValueError("its request has no contents after the cached ones")
    key, rest = found
    cached = list(content.get("contents", []))
    if joined:
        if not cached or not isinstance(rest[0], dict):
            raise ValueError("its first content cannot continue the cache's last one")
        last, first = cached[-1], rest[0]
        pk = _parts_key(last)
        if (
            pk is None
            or _parts_key(first) != pk
            or {k: v for k, v in last.items() if k != pk} != {k: v for k, v in first.items() if k != pk}
        ):
            raise ValueError("its first content is not the rest of the cache's last one")
        merged = [*cached[:-1], {k: (v + first[pk] if k == pk else v) for k, v in last.items()}, *rest[1:]]
    else:
        merged = [*cached, *rest]
    original: dict[str, Any] = {}
    for k, v in request.items():
        if k == "cachedContent":
            continue
        original[k] = merged if k == key else v
    for k, v in content.items():
        if k != "contents":
            original[k] = v
    return {k: (original if k == "request" else v) for k, v in line.items()}


def swap_placeholders(data: bytes, names: Mapping[str, str]) -> bytes:
    """A shard's bytes with each placeholder (``cachedContent`` of a rewritten line) swapped for its cache's name."""
    for placeholder, name in names.items():
        old = json.dumps({"cachedContent": placeholder}, separators=(",", ":"))[1:-1].encode()
        new = json.dumps({"cachedContent": name}, separators=(",", ":"))[1:-1].encode()
        data = data.replace(old, new)
    return data


def plan_cache_rewrite(scan: ScanResult, advice: CachingAdvice | None) -> CacheRewrite:
    """The caches of ``advice`` the shards can reference, each with its content read from a member.

    Advised caches that cannot be applied are listed in ``not_applied`` with the reason.
    """
    member = np.full(scan.lines, -1, np.int64)
    if advice is None or not advice.chosen or advice.row_groups is None:
        why = "caching does not pay here" if advice is None else advice.summary
        return CacheRewrite([], member, [("-", f"no explicit cache is advised ({why})")])
    candidates = {c.id: c for c in advice.candidates}
    caches: list[AppliedCache] = []
    not_applied: list[tuple[str, str]] = []
    groups = np.asarray(advice.row_groups)
    for gid, chosen in enumerate(advice.chosen):
        cand = candidates[chosen.candidate]
        rows = np.flatnonzero(groups == gid)
        if cand.kind not in APPLIED_KINDS:
            not_applied.append(
                (
                    cand.id,
                    "a template cache is found on a sample and needs each request's first text part split at the "
                    "shared start; it is not applied (its 'how' in the advice says how to do it by hand)",
                )
            )
            continue
        if not len(rows):
            not_applied.append((cand.id, "its requests are not known one by one"))
            continue
        content = _content_of(scan, int(rows[0]), cand.kind)
        if content is None:
            not_applied.append((cand.id, "its prefix could not be cut on whole content parts"))
            continue
        body, joined, parts, key = content
        advice_doc = {
            "requests": chosen.requests, "hours": usd(advice.hours), "no_cache": usd(chosen.no_cache),
            "cost": usd(chosen.cost), "saving": usd(chosen.saving), "creation": usd(chosen.creation),
            "storage": usd(chosen.storage), "cached_reads": usd(chosen.cost - chosen.creation - chosen.storage),
        }  # fmt: skip
        k = len(caches)
        caches.append(
            AppliedCache(f"cache-{k + 1}", cand.id, cand.kind, body, joined, parts, key, cand.prefix_tokens, advice_doc)
        )
        member[rows] = k
    return CacheRewrite(caches, member, not_applied)


def _content_of(scan: ScanResult, row: int, kind: str) -> tuple[dict[str, Any], bool, int, str] | None:
    """(cache content, joined, parts moved, contents key) from a member's request, or None."""
    [(_, raw)] = list(scan.read_lines([row]))
    try:
        request = json.loads(raw.removeprefix(b"\xef\xbb\xbf"))["request"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return None
    found = _contents(request)
    if found is None:
        return None
    key, contents = found
    total = 0
    for content in contents:
        pk = _parts_key(content) if isinstance(content, dict) else None
        parts = content.get(pk) if pk is not None else None
        if not isinstance(parts, list) or not parts:
            return None
        total += len(parts)
    n_parts = {"system": 0, "leading_parts": total - 1, "first_part": 1}[kind]
    if n_parts < 0 or n_parts >= total:
        return None
    cut = _cut(contents, n_parts)
    if cut is None:
        return None
    head, _, joined = cut
    body: dict[str, Any] = {name: value for _, (name, value) in sorted(_held(request).items())}
    if head:
        body["contents"] = head
    return body, joined, n_parts, key


def advice_totals(caches: Sequence[AppliedCache]) -> dict[str, Decimal]:
    """The advice's creation, storage and cached-read figures summed over ``caches``."""
    out = {"creation": Decimal(0), "storage": Decimal(0), "cached_reads": Decimal(0)}
    for c in caches:
        for name in out:
            out[name] += Decimal(str(c.advice[name]))
    return out
