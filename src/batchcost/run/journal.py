"""``DIR/jobs.json``: the journal that makes every step of a run safe to repeat (``batchcost.jobs/1``).

It is written atomically (``outputs.write_atomic``) after every step, and before every call that
creates something remotely (``upload_started_at``, ``create_started_at``), so that a run stopped
at any point and started again knows which shard may already have a file or a job, and looks for
it by display name before creating another. One run works on a folder at a time (a lock file).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..documents.jobs import JOBS_SCHEMA
from ..errors import InputError, OutputError
from ..money import usd
from ..planner.shard_manifest import MANIFEST_NAME, Manifest

__all__ = [
    "JOURNAL_NAME",
    "LOCK_NAME",
    "RETRY_NAME",
    "Clock",
    "FolderBusy",
    "FolderLock",
    "Journal",
    "display_name",
    "folder_lock",
    "iso",
    "journal_caches",
    "utc_now",
]

JOURNAL_NAME = "jobs.json"
LOCK_NAME = ".jobs.lock"
RETRY_NAME = "retry.jsonl"

Clock = Callable[[], datetime.datetime]


def utc_now() -> datetime.datetime:
    """Now, in UTC (the default clock)."""
    return datetime.datetime.now(datetime.UTC)


def iso(when: datetime.datetime | None) -> str | None:
    """``2026-12-04T09:00:00Z`` (seconds; UTC), or None."""
    if when is None:
        return None
    return when.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def display_name(index: int, sha256: str) -> str:
    """The name a shard's file and job carry: its index and the first 16 hex digits of its SHA-256."""
    return f"batchcost-shard-{index:03d}-{sha256[:16]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _new_shard(s: Any) -> dict[str, Any]:
    return {
        "index": s.index, "path": s.path, "sha256": s.sha256, "requests": s.requests, "tokens": s.tokens,
        "wave": s.wave, "estimate": s.cost, "ceiling": s.cost_ceiling, "display_name": display_name(s.index, s.sha256),
        "upload_started_at": None, "file": None, "uploaded_at": None, "create_started_at": None, "job": None,
        "submitted_at": None, "state": "not_submitted", "job_created_at": None, "expires_at": None,
        "ended_at": None, "checked_at": None, "stats": None, "error": None, "results_file": None, "results": None,
        "cancelled_at": None,
    }  # fmt: skip


@dataclass
class Journal:
    """A folder's journal, held as its ``batchcost.jobs/1`` document (plain JSON values).

    Attributes:
        folder: the shard folder.
        doc: the document; :meth:`save` writes it.
        clock: where times come from.
    """

    folder: Path
    doc: dict[str, Any]
    clock: Clock = field(default=utc_now)

    @property
    def path(self) -> Path:
        return self.folder / JOURNAL_NAME

    @property
    def shards(self) -> list[dict[str, Any]]:
        return self.doc["shards"]  # type: ignore[no-any-return]

    def now(self) -> str:
        """The clock's time, as the journal writes times."""
        stamp = iso(self.clock())
        assert stamp is not None
        return stamp

    def event(self, shard: int | None, event: str, detail: str = "") -> None:
        """Record one step (kept in memory until :meth:`save`)."""
        self.doc["events"].append({"at": self.now(), "shard": shard, "event": event, "detail": detail})

    def save(self) -> None:
        """Write the journal whole or not at all."""
        from ..outputs import write_atomic

        self.doc["updated_at"] = self.now()
        write_atomic(self.path, json.dumps(self.doc, indent=2) + "\n")

    def shard_file(self, shard: dict[str, Any]) -> Path:
        return self.folder / str(shard["path"])

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, clock: Clock = utc_now) -> Journal:
        """Read ``folder/jobs.json`` (checked against its contract).

        Raises:
            InputError: no journal (nothing was submitted from this folder), or not a valid one.
        """
        from ..documents import load

        where = Path(folder)
        if where.name == JOURNAL_NAME or where.name == MANIFEST_NAME:
            where = where.parent
        path = where / JOURNAL_NAME
        try:
            folder_there, journal_there = where.is_dir(), path.is_file()
        except OSError as exc:  # a name too long: pathlib raises where a missing name gives False
            raise InputError(str(folder), f"cannot be used: {exc.strerror or exc}") from None
        if not folder_there:
            raise InputError(str(folder), "no such folder; give the folder `batchcost shard` wrote and `submit` used")
        if not journal_there:
            raise InputError(
                str(path),
                "no such file: nothing was submitted from this folder; run `batchcost submit DIR/manifest.json`",
            )
        load(path, JOBS_SCHEMA)  # every field checked; the plain values are what the run changes
        return cls(where, json.loads(path.read_text(encoding="utf-8")), clock)

    @classmethod
    def begin(
        cls,
        manifest_path: str | os.PathLike[str],
        *,
        budget: Decimal | None,
        budget_basis: str | None,
        clock: Clock = utc_now,
    ) -> tuple[Journal, Manifest]:
        """The journal for a manifest: the one already in its folder, or a new one (not yet saved).

        Raises:
            InputError: the manifest cannot be read, has no model, is not Developer API form, a shard
                is missing or changed, or the folder's journal belongs to another manifest.
        """
        manifest = Manifest.read(manifest_path)
        shown = os.fspath(manifest_path)
        folder = Path(shown).parent
        model = manifest.plan.get("model")
        if not model:
            raise InputError(
                shown, "the manifest has no model; write the shards again with `batchcost shard --model M`"
            )
        if manifest.plan.get("platform") != "developer" or manifest.input.form != "developer":
            raise InputError(shown, "submit runs Gemini Developer API jobs; these shards are for Vertex AI")
        manifest_sha = _sha256(Path(shown))
        if (folder / JOURNAL_NAME).is_file():
            journal = cls.load(folder, clock=clock)
            if journal.doc["manifest_sha256"] != manifest_sha:
                raise InputError(
                    str(journal.path),
                    "belongs to another shard set (the manifest changed since it was submitted); shard into a new "
                    "folder, or move jobs.json away once its jobs are collected",
                )
            return journal, manifest
        for s in manifest.shards:
            path = folder / s.path
            if not path.is_file():
                raise InputError(str(path), "shard file missing; write the shards again with `batchcost shard`")
            if path.stat().st_size != s.bytes or _sha256(path) != s.sha256:
                raise InputError(
                    str(path), "differs from the manifest (SHA-256); check with `batchcost shard --verify`"
                )
        from ..version import __version__

        journal = cls(folder, {}, clock)
        stamp = journal.now()
        journal.doc = {
            "schema": JOBS_SCHEMA, "batchcost_version": __version__, "manifest": MANIFEST_NAME,
            "manifest_sha256": manifest_sha, "model": str(model), "platform": "developer", "budget": usd(budget),
            "budget_basis": budget_basis, "created_at": stamp, "updated_at": stamp, "stopped": None,
            "retry_file": None, "shards": [_new_shard(s) for s in manifest.shards], "events": [],
        }  # fmt: skip
        if manifest.plan.get("caches"):
            journal.doc["caches"] = journal_caches(manifest.plan, manifest_sha)
        return journal, manifest


def journal_caches(manifest_plan: Mapping[str, Any], manifest_sha256: str) -> list[dict[str, Any]]:
    """The journal's entries for the caches a manifest lists (nothing created yet)."""
    out = []
    for c in manifest_plan.get("caches") or []:
        out.append(
            {
                "id": c["id"], "display_name": f"batchcost-{c['id']}-{manifest_sha256[:16]}",
                "placeholder": c["placeholder"], "ttl_hours": str(c["ttl_hours"]),
                "shards": [int(s["index"]) for s in c["shards"]], "create_started_at": None, "name": None,
                "created_at": None, "expires_at": None, "tokens": None, "deleted_at": None,
            }
        )  # fmt: skip
    return out


class FolderBusy(OutputError):
    """Another batchcost run holds the folder's lock."""


class FolderLock:
    """The folder's lock file (``.jobs.lock``), held with ``flock``: one run writes a journal at a time.

    A crashed run's lock goes with its process, so a lock is never left stale.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free; False when another run holds it.

        Raises:
            OutputError: the lock file cannot be made.
        """
        import fcntl

        path = self.folder / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(str(path), f"cannot create the lock file: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the folder's lock: a second batchcost writing the same journal is refused, never interleaved.

    Raises:
        FolderBusy: another run holds it.
        OutputError: the lock file cannot be made.
    """
    lock = FolderLock(folder)
    if not lock.acquire():
        raise FolderBusy(
            str(Path(folder) / JOURNAL_NAME),
            "another batchcost submit, collect or cancel is working on this folder; wait for it to finish "
            "(`batchcost status DIR` works meanwhile)",
        )
    try:
        yield
    finally:
        lock.release()
