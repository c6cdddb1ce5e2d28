"""The advised caches of a run (``shard --apply-cache``): created before the first wave, deleted after the last job.

``submit`` creates each cachedContent the manifest lists (with a TTL covering the planned hours) before
it uploads any shard, and swaps each rewritten line's placeholder for the cache's name in the copy it
uploads (the shard on disk keeps the placeholder, so its SHA-256 still matches the manifest). The
journal records the cache's name, creation time, expiry and tokens, and ``create_started_at`` before
the call: a run stopped between creation and journal finds the cache by its display name (the
manifest's SHA-256 prefix and the cache id) instead of creating a second one. ``collect`` deletes the
caches once every job has ended, ``cancel`` once it has cancelled them; both record it, and a cache
already gone counts as deleted.

:func:`cache_costs` sets what each cache really cost (creation at the standard input rate, storage
for the hours it lived, the cached reads the results report) against the advice's figures.
"""

from __future__ import annotations

import datetime
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, PricingError
from ..text import agree, plural
from .journal import Journal, iso
from .remote import EXPIRY, TERMINAL, Remote, parse_time

if TYPE_CHECKING:
    from ..pricing import PriceBook

__all__ = [
    "CacheCost",
    "cache_costs",
    "cache_lines",
    "delete_caches",
    "ensure_caches",
    "jobs_over",
    "keep_alive",
    "upload_copy",
]


def _content(journal: Journal, cache_id: str) -> Mapping[str, Any]:
    from ..planner.shard_manifest import MANIFEST_NAME, Manifest

    manifest = Manifest.read(journal.folder / MANIFEST_NAME)
    for c in manifest.plan.get("caches") or []:
        if c.get("id") == cache_id and isinstance(c.get("content"), dict):
            return c["content"]  # type: ignore[no-any-return]
    raise InputError(str(journal.folder / MANIFEST_NAME), f"lists no content for {cache_id}; write the shards again")


def ensure_caches(journal: Journal, remote: Remote, say: Callable[[str], None]) -> None:
    """Create (or find, after an interrupted run) every cache the run's shards reference, journalling each step.

    Raises:
        InputError: a cache expired or was deleted while shards that use it are still to be submitted.
        ApiError: the call failed after its retries.
    """
    for cache in journal.doc.get("caches") or []:
        todo = [s for s in journal.shards if int(s["index"]) in cache["shards"] and s["job"] is None]
        if cache["name"] is not None:
            expires = parse_time(cache["expires_at"])
            gone = cache["deleted_at"] is not None or (expires is not None and expires <= journal.clock())
            if gone and todo:
                raise InputError(
                    str(journal.path),
                    f"{cache['id']} ({cache['name']}) is deleted or expired while {plural(len(todo), 'shard')} that "
                    f"{agree(len(todo), 'uses it is', 'use it are')} not submitted; `batchcost collect` gathers what "
                    "finished and writes the rest to retry.jsonl",
                )
            continue
        if not todo:
            continue
        look = cache["create_started_at"] is not None
        cache["create_started_at"] = journal.now()
        journal.save()
        ttl_s = math.ceil(Decimal(cache["ttl_hours"]) * 3600)
        info, adopted = remote.create_cache(
            str(journal.doc["model"]),
            str(cache["display_name"]),
            _content(journal, cache["id"]),
            ttl_s,
            look_first=look,
        )
        now = journal.clock()
        cache["name"] = info.name
        cache["created_at"] = iso(info.created or now)
        cache["expires_at"] = iso(info.expires or (info.created or now) + datetime.timedelta(seconds=ttl_s))
        cache["tokens"] = info.tokens
        journal.event(None, "cache found" if adopted else "cache created", f"{cache['id']}: {info.name}")
        journal.save()
        what = "found the cache an earlier run created:" if adopted else "created"
        say(f"{cache['id']}: {what} {info.name} (expires {cache['expires_at']})")


# A cache is not extended for the last hour of a job's life (the next shard's job would extend it again by seconds).
_SLACK = datetime.timedelta(hours=1)


def keep_alive(journal: Journal, remote: Remote, say: Callable[[str], None], shard: Mapping[str, Any]) -> None:
    """Extend each cache ``shard`` reads so that it outlives the job about to be made (48 hours at most).

    The TTL covers the planned hours from the cache's creation (a day a wave); when waves run later or
    longer than planned, a job could outlive the cache and its requests would find none. A job ends
    within 48 hours of its creation (it expires then), so the cache is kept at least that long;
    ``collect`` deletes it once every job has ended, and storage is billed for the hours it lived.
    """
    index = int(shard["index"])
    for cache in journal.doc.get("caches") or []:
        if index not in cache["shards"] or not cache["name"] or cache["deleted_at"] is not None:
            continue
        now = journal.clock()
        want = now + EXPIRY
        expires = parse_time(cache["expires_at"])
        if expires is None or expires >= want - _SLACK:
            continue
        info = remote.extend_cache(str(cache["name"]), math.ceil(EXPIRY.total_seconds()))
        cache["expires_at"] = iso(info.expires or want)
        journal.event(index, "cache extended", f"{cache['id']}: {cache['name']} until {cache['expires_at']}")
        journal.save()
        say(
            f"{cache['id']}: kept until {cache['expires_at']} so that it outlives shard {index}'s job (which can run "
            "up to 48 hours); `batchcost collect` deletes it once every job has ended"
        )


def upload_copy(journal: Journal, shard: Mapping[str, Any]) -> Path | None:
    """A temporary copy of the shard with each placeholder swapped for its cache's name (None: no cache used).

    The caller uploads the copy and removes it.
    """
    from ..planner.apply_cache import swap_placeholders

    names = {
        str(c["placeholder"]): str(c["name"])
        for c in journal.doc.get("caches") or []
        if int(shard["index"]) in c["shards"] and c["name"]
    }
    if not names:
        return None
    fd, tmp = tempfile.mkstemp(prefix="batchcost-upload-", suffix=".jsonl")
    try:
        with os.fdopen(fd, "wb") as out, journal.shard_file(dict(shard)).open("rb") as fh:
            for line in fh:
                out.write(swap_placeholders(line, names))
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def jobs_over(journal: Journal) -> bool:
    """Every shard's job has ended (or will never be made: the run stopped or was cancelled)."""
    stopped = bool(journal.doc.get("stopped"))
    return all(
        (s["job"] is not None and s["state"] in TERMINAL) or (s["job"] is None and stopped) for s in journal.shards
    )


def delete_caches(journal: Journal, remote: Remote, say: Callable[[str], None], why: str) -> list[str]:
    """Delete every cache the run created and has not deleted; returns their ids (recorded in the journal)."""
    done = []
    for cache in journal.doc.get("caches") or []:
        if cache["name"] is None or cache["deleted_at"] is not None:
            continue
        existed = remote.delete_cache(str(cache["name"]))
        cache["deleted_at"] = journal.now()
        gone = "deleted" if existed else "already gone (expired or deleted)"
        journal.event(None, "cache deleted" if existed else "cache gone", f"{cache['id']}: {cache['name']} ({why})")
        journal.save()
        done.append(str(cache["id"]))
        say(f"{cache['id']}: {cache['name']} {gone} ({why})")
    return done


@dataclass(frozen=True)
class CacheCost:
    """What one cache really cost, against what the advice priced.

    Attributes:
        id, name: the manifest's id and the cache's name.
        tokens: the cache's tokens as the API reported them at creation (the advice's count when it did not).
        hours: hours it lived (created to deleted; to its expiry, or to now, while not deleted).
        creation, storage: USD (creation at the standard input rate; storage per token-hour); None when not priced.
        cached_tokens, cached_reads: cached tokens the results report (``cachedContentTokenCount``) of the
            shards that use it, and their cost at the batch cache-read rate (None when not priced).
        advice: the advice's creation, storage, cached_reads and hours (as the manifest records them).
        deleted: the cache is deleted (storage stopped).
    """

    id: str
    name: str | None
    tokens: int
    hours: Decimal
    creation: Decimal | None
    storage: Decimal | None
    cached_tokens: int
    cached_reads: Decimal | None
    advice: Mapping[str, Any]
    deleted: bool

    @property
    def total(self) -> Decimal | None:
        parts = (self.creation, self.storage, self.cached_reads)
        return None if any(p is None for p in parts) else sum(parts, Decimal(0))  # type: ignore[arg-type]

    @property
    def advised(self) -> Decimal:
        return sum((Decimal(str(self.advice[k])) for k in ("creation", "storage", "cached_reads")), Decimal(0))

    def to_json(self) -> dict[str, Any]:
        from ..money import usd

        return {
            "id": self.id, "name": self.name, "tokens": self.tokens, "hours": str(self.hours),
            "creation": usd(self.creation), "storage": usd(self.storage), "cached_tokens": self.cached_tokens,
            "cached_reads": usd(self.cached_reads), "total": usd(self.total), "advised": usd(self.advised),
            "advice": dict(self.advice), "deleted": self.deleted,
        }  # fmt: skip


def cache_costs(
    journal: Journal, book: PriceBook, day: datetime.date, results: Mapping[int, Path]
) -> tuple[list[CacheCost], list[str]]:
    """Each created cache's real cost (see :class:`CacheCost`) and notes on what could not be priced.

    ``results``: the results file of each collected shard, by shard index.
    """
    from ..afterjob.actual import price_results
    from ..batchfile.results import MODALITIES, read_results
    from ..planner.shard_manifest import MANIFEST_NAME, Manifest
    from ..pricing.cost import storage_cost

    caches = [c for c in journal.doc.get("caches") or [] if c["name"] is not None]
    if not caches:
        return [], []
    advice = {c["id"]: c for c in Manifest.read(journal.folder / MANIFEST_NAME).plan.get("caches") or []}
    model = str(journal.doc["model"])
    notes: list[str] = []
    try:
        batch = book.rates(model, "batch", day)
    except PricingError as e:
        batch = None
        notes.append(f"cache costs not priced: {e}")
    try:
        standard = book.rates(model, "standard", day)
    except PricingError as e:
        standard = None
        notes.append(f"cache creation not priced (it is billed at the standard input rate): {e}")
    reads: dict[int, tuple[int, Decimal | None]] = {}
    for index, path in results.items():
        rs = read_results(path)
        tokens = sum(int(rs.rows[f"cached_{m}"].sum()) for m in MODALITIES)
        cost: Decimal | None = None
        if batch is not None:
            try:
                cost = price_results(rs, batch).by_component.get("cached_input", Decimal(0))
            except PricingError:
                cost = None
        reads[index] = (tokens, cost)
    now = journal.clock()
    out = []
    for c in caches:
        entry = advice.get(c["id"], {})
        tokens = int(c["tokens"]) if c["tokens"] is not None else int(entry.get("tokens", 0))
        start = parse_time(c["created_at"]) or now
        end = parse_time(c["deleted_at"]) or min(now, parse_time(c["expires_at"]) or now)
        hours = (Decimal(max(0, int((end - start).total_seconds()))) / 3600).quantize(Decimal("0.0001"))
        creation = storage = None
        if standard is not None:
            rate = standard.input["text"].usd_per_mtok
            creation = (Decimal(tokens) * rate).scaleb(-6)
        if batch is not None:
            try:
                storage = storage_cost(batch, tokens, hours)
            except PricingError as e:
                notes.append(f"{c['id']}: storage not priced: {e}")
        mine = [reads[i] for i in c["shards"] if i in reads]
        read_cost: Decimal | None = Decimal(0)
        for _, cost in mine:
            read_cost = None if read_cost is None or cost is None else read_cost + cost
        out.append(
            CacheCost(
                id=str(c["id"]), name=c["name"], tokens=tokens, hours=hours, creation=creation, storage=storage,
                cached_tokens=sum(t for t, _ in mine), cached_reads=read_cost,
                advice={**dict(entry.get("advice") or {}), "tokens": entry.get("tokens")},
                deleted=c["deleted_at"] is not None,
            )
        )  # fmt: skip
    return out, notes


def cache_lines(costs: Sequence[CacheCost]) -> list[str]:
    """One line per cache for people: what it cost against the advice."""

    def money(v: Decimal | None) -> str:
        return "not priced" if v is None else f"${v:,.6f}"

    lines = []
    for c in costs:
        a = c.advice
        state = "deleted" if c.deleted else "still stored (collect deletes it once every job has ended)"
        lines.append(
            f"{c.id} ({c.name}, {state}): creation {c.tokens:,} tokens {money(c.creation)}, storage {c.hours} h "
            f"{money(c.storage)}, cached reads {c.cached_tokens:,} tokens {money(c.cached_reads)}: total "
            f"{money(c.total)}; the advice priced {money(c.advised)} (creation {money(Decimal(str(a['creation'])))}, "
            f"storage {a['hours']} h {money(Decimal(str(a['storage'])))}, cached reads "
            f"{money(Decimal(str(a['cached_reads'])))})"
        )
    extra = [c.creation for c in costs] + [c.storage for c in costs]
    if costs and all(v is not None for v in extra):
        total = sum((v for v in extra if v is not None), Decimal(0))
        lines.append(
            f"creation and storage ({money(total)}) come on top of the shards' actual cost, which holds the cached reads"
        )
    return lines
