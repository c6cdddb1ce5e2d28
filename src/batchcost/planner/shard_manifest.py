"""The shard manifest, ``manifest.json``: the record of a written shard set, built and read back.

:func:`manifest_for` builds the :class:`Manifest` of the shards
:func:`~batchcost.planner.shard_writer.write_shards` wrote; :meth:`Manifest.read` loads one again,
checking the type of every field ``--verify`` uses, so that a damaged manifest is an error that
names the field.

Manifest (``batchcost.shard-manifest/1``; lines are 1-based input line numbers)::

    {
      "schema": "batchcost.shard-manifest/1",
      "batchcost_version": "0.1.0",
      "model": "gemini-2.5-flash" | null,
      "input": {"path": "/abs/path/requests.jsonl", "size": 1234, "data_size": 1234, "sha256": "...",
                "compressed": false, "form": "developer" | "vertex", "lines": 100,
                "last_line_newline_added": false},
      "platform": "developer", "tier": 1, "tier_assumed": true,
      "limits": {"max_bytes": {"value", "source"}, ...},          # as in batchcost.shards/1
      "token_basis": "...", "cost_basis": "expected" | "floor" | null,
      "time_bound": "...",
      "waves": [[1, 2], [3]],
      "shards": [{"index": 1, "path": "requests.shard-001.jsonl",   # relative to the manifest
                  "wave": 1, "requests": 40, "bytes": 5000, "first_line": 1, "last_line": 40,
                  "lines": [[1, 40]], "sha256": "...", "tokens": 1234, "cost": "0.01" | null,
                  "cost_ceiling": "0.2" | null}],
      "warnings": [...], "notes": [...],
      # with --apply-cache only (absent: no request references a cache):
      "caches": [{"id": "cache-1", "candidate": "system-1", "kind": "system",
                  "placeholder": "batchcost-cache:cache-1", "model": "...", "ttl_hours": "24",
                  "content": {"systemInstruction": {...}, "contents": [...]}, "content_sha256": "...",
                  "joined": false, "tokens": 1234, "requests": 40, "unmatched": 0,
                  "shards": [{"index": 1, "lines": [[1, 40]]}], "advice": {...}}],
      "caches_not_applied": [{"candidate": "template-1", "reason": "..."}]
    }
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..documents.manifest import MANIFEST_SCHEMA  # the id is defined once, with the contract
from ..errors import InputError
from ..money import usd
from ..storage.locations import is_url, join

if TYPE_CHECKING:
    from ..batchfile import FileInfo
    from .apply_cache import CacheRewrite
    from .shard_types import ShardPlan

MANIFEST_NAME = "manifest.json"

# -- manifest records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InputInfo:
    """The input file the shards were cut from.

    Attributes:
        path: absolute path.
        size: bytes on disk.
        data_size: bytes of JSONL (decompressed size for gzip).
        sha256: SHA-256 of the file as stored.
        compressed: gzip input.
        form: ``developer`` or ``vertex``.
        lines: lines in the input.
        last_line_newline_added: the last line had no newline; its shard copy ends with ``"\\n"``.
    """

    path: str
    size: int
    data_size: int
    sha256: str
    compressed: bool
    form: str
    lines: int
    last_line_newline_added: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "data_size": self.data_size,
            "sha256": self.sha256,
            "compressed": self.compressed,
            "form": self.form,
            "lines": self.lines,
            "last_line_newline_added": self.last_line_newline_added,
        }


@dataclass(frozen=True)
class ShardFile:
    """One written shard, as the manifest records it (``path`` is relative to the manifest)."""

    index: int
    path: str
    wave: int
    requests: int
    bytes: int
    first_line: int
    last_line: int
    lines: list[list[int]]
    sha256: str
    tokens: int
    cost: str | None
    cost_ceiling: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "path": self.path,
            "wave": self.wave,
            "requests": self.requests,
            "bytes": self.bytes,
            "first_line": self.first_line,
            "last_line": self.last_line,
            "lines": self.lines,
            "sha256": self.sha256,
            "tokens": self.tokens,
            "cost": self.cost,
            "cost_ceiling": self.cost_ceiling,
        }


@dataclass(frozen=True)
class Manifest:
    """What :func:`write_shards` wrote; :meth:`to_json` is the ``manifest.json`` document.

    Attributes:
        path: where ``manifest.json`` is.
        input: the input file.
        shards: the shard files, in submission order.
        plan: the other top-level fields (model, platform, tier, limits, waves, time bound, notes...).
    """

    path: str
    input: InputInfo
    shards: list[ShardFile]
    plan: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from ..version import __version__

        doc: dict[str, Any] = {"schema": MANIFEST_SCHEMA, "batchcost_version": __version__}
        doc["model"] = self.plan.get("model")
        doc["input"] = self.input.to_json()
        for name in ("platform", "tier", "tier_assumed", "limits", "token_basis", "cost_basis", "time_bound", "waves"):
            doc[name] = self.plan.get(name)
        doc["shards"] = [s.to_json() for s in self.shards]
        doc["warnings"] = list(self.plan.get("warnings", []))
        doc["notes"] = list(self.plan.get("notes", []))
        if "caches" in self.plan:  # written with --apply-cache
            doc["caches"] = list(self.plan["caches"])
            doc["caches_not_applied"] = list(self.plan.get("caches_not_applied", []))
        return doc

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Manifest:
        """Load a ``manifest.json``, checking the type of every field :func:`verify_manifest` uses.

        Raises:
            InputError: missing, unreadable, not JSON, not a batchcost shard manifest, or a field
                missing or of the wrong type (the message names the field).
        """
        shown = os.fspath(path)
        try:
            if is_url(shown):
                from ..storage import read_bytes

                doc = json.loads(read_bytes(shown))  # its failures are InputErrors already
            else:
                with open(shown, "rb") as fh:
                    doc = json.loads(fh.read())
        except FileNotFoundError:
            raise InputError(shown, "no such file; give the manifest.json that `batchcost shard` wrote") from None
        except IsADirectoryError:
            raise InputError(shown, "is a folder; give the manifest.json inside it") from None
        except OSError as e:
            raise InputError(shown, f"cannot read: {e.strerror or e}") from None
        except (ValueError, RecursionError) as e:
            reason = "nested too deeply" if isinstance(e, RecursionError) else str(e)
            raise InputError(
                shown, f"not JSON ({reason}); give the manifest.json that `batchcost shard` wrote"
            ) from None
        if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA:
            raise InputError(shown, f"not a batchcost shard manifest (schema is not {MANIFEST_SCHEMA!r})")
        fields = _Fields(shown)
        raw_input = fields.get(doc, "input", dict, "input")
        inp = InputInfo(
            path=fields.get(raw_input, "path", str, "input.path"),
            size=fields.count(raw_input, "size", "input.size"),
            data_size=fields.count(raw_input, "data_size", "input.data_size"),
            sha256=fields.get(raw_input, "sha256", str, "input.sha256"),
            compressed=fields.get(raw_input, "compressed", bool, "input.compressed"),
            form=fields.get(raw_input, "form", str, "input.form"),
            lines=fields.count(raw_input, "lines", "input.lines"),
            last_line_newline_added=fields.get(
                raw_input, "last_line_newline_added", bool, "input.last_line_newline_added"
            ),
        )
        shards = [fields.shard(s, f"shards[{k}]") for k, s in enumerate(fields.get(doc, "shards", list, "shards"))]
        limits = doc.get("limits")
        if limits is not None:
            limits = fields.get(doc, "limits", dict, "limits")
            for name in ("max_bytes", "max_requests", "max_tokens", "enqueued_tokens", "concurrent_jobs"):
                entry = limits.get(name)
                if entry is None:
                    continue
                entry = fields.get(limits, name, dict, f"limits.{name}")
                if entry.get("value") is not None:
                    fields.count(entry, "value", f"limits.{name}.value")
                if "source" in entry:
                    fields.get(entry, "source", str, f"limits.{name}.source")
        if doc.get("waves") is not None:
            for k, wave in enumerate(fields.get(doc, "waves", list, "waves")):
                if not isinstance(wave, list) or not all(_is_int(i) for i in wave):
                    fields.fail(f"waves[{k}]", wave, "a list of shard indexes")
        plan = {k: v for k, v in doc.items() if k not in ("schema", "batchcost_version", "input", "shards")}
        return cls(path=shown, input=inp, shards=shards, plan=plan)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    """What a JSON value is, in words (the value itself is not shown: it may hold anything)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number" if not _is_int(value) or value >= 0 else "a negative number"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


_WANT = {str: "a string", bool: "true or false", dict: "an object", list: "a list"}


class _Fields:
    """Typed reads of manifest fields; a wrong one is an InputError naming the file and the field."""

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def fail(self, where: str, value: Any, want: str) -> NoReturn:
        raise InputError(
            self.shown,
            f"field {where} is {_json_type(value)}, expected {want}; give the manifest.json that `batchcost shard` "
            "wrote, or write the shards again",
        )

    def get(self, obj: dict[str, Any], key: str, kind: type, where: str) -> Any:
        if key not in obj:
            raise InputError(
                self.shown, f"field {where} is missing; give the manifest.json that `batchcost shard` wrote, or write "
                "the shards again",
            )  # fmt: skip
        value = obj[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(where, value, _WANT[kind])
        return value

    def count(self, obj: dict[str, Any], key: str, where: str) -> int:
        if key not in obj:
            self.get(obj, key, int, where)
        value = obj[key]
        if not _is_int(value) or value < 0:
            self.fail(where, value, "a whole number, 0 or more")
        return int(value)

    def shard(self, raw: Any, where: str) -> ShardFile:
        if not isinstance(raw, dict):
            self.fail(where, raw, "an object")
        lines = self.get(raw, "lines", list, f"{where}.lines")
        for k, pair in enumerate(lines):
            if not (isinstance(pair, list) and len(pair) == 2 and all(_is_int(x) for x in pair)):
                self.fail(f"{where}.lines[{k}]", pair, "[first, last] input line numbers")
        costs = {}
        for key in ("cost", "cost_ceiling"):
            value = raw.get(key)
            if value is not None and not isinstance(value, str):
                self.fail(f"{where}.{key}", value, "a string of US dollars or null")
            costs[key] = value
        path = self.get(raw, "path", str, f"{where}.path")
        if not path:
            self.fail(f"{where}.path", path, "a file name")
        return ShardFile(
            index=self.count(raw, "index", f"{where}.index"),
            path=path,
            wave=self.count(raw, "wave", f"{where}.wave"),
            requests=self.count(raw, "requests", f"{where}.requests"),
            bytes=self.count(raw, "bytes", f"{where}.bytes"),
            first_line=self.count(raw, "first_line", f"{where}.first_line"),
            last_line=self.count(raw, "last_line", f"{where}.last_line"),
            lines=[list(pair) for pair in lines],
            sha256=self.get(raw, "sha256", str, f"{where}.sha256"),
            tokens=self.count(raw, "tokens", f"{where}.tokens"),
            cost=costs["cost"],
            cost_ceiling=costs["cost_ceiling"],
        )


# -- building ---------------------------------------------------------------------------------------


def manifest_for(
    out: Path | str,
    info: FileInfo,
    lines: int,
    last_no_newline: bool,
    sha: str,
    shard_plan: ShardPlan,
    names: Sequence[str],
    sizes: Sequence[int],
    digests: Sequence[str],
    model: str | None,
) -> Manifest:
    """The manifest of a written shard set (not written here: the caller writes it last).

    Args:
        out: the shard folder (the manifest goes in it as ``manifest.json``).
        info: the input file the shards were cut from.
        lines: lines in the input.
        last_no_newline: the input's last line had no newline (its shard copy got one).
        sha: the input's SHA-256, as hashed while the shards were written.
        shard_plan: the plan the shards were written from.
        names: each shard's file name, in plan order.
        sizes: each shard's bytes as written, in plan order.
        digests: each shard's SHA-256 (hex), in plan order.
        model: model id to record.
    """
    shard_files = [
        ShardFile(
            index=s.index,
            path=name,
            wave=s.wave,
            requests=s.requests,
            bytes=size,
            first_line=s.first_line,
            last_line=s.last_line,
            lines=s.line_ranges(),
            sha256=digest,
            tokens=s.tokens,
            cost=usd(s.cost),
            cost_ceiling=usd(s.cost_ceiling),
        )
        for s, name, size, digest in zip(shard_plan.shards, names, sizes, digests, strict=True)
    ]
    inp = InputInfo(
        path=info.path if is_url(info.path) else os.path.abspath(info.path), size=info.size, data_size=info.data_size, sha256=sha,
        compressed=info.compressed, form=info.form, lines=lines, last_line_newline_added=last_no_newline,
    )  # fmt: skip
    plan_doc = shard_plan.to_json()
    plan_fields = {k: plan_doc[k] for k in ("platform", "tier", "tier_assumed", "limits", "token_basis",
                                            "cost_basis", "time_bound", "warnings", "notes")}  # fmt: skip
    plan_fields["waves"] = [list(w) for w in shard_plan.waves]
    plan_fields["model"] = model
    if last_no_newline:
        plan_fields["notes"] = [
            *plan_fields["notes"],
            f"input line {lines:,} had no newline at the end; its copy in the shard ends with one",
        ]
    return Manifest(path=join(os.fspath(out), MANIFEST_NAME), input=inp, shards=shard_files, plan=plan_fields)


def with_caches(manifest: Manifest, rewrite: CacheRewrite, shard_plan: ShardPlan, model: str | None) -> Manifest:
    """The manifest with the caches its shards reference (``caches``) and those not applied, with why."""
    import numpy as np

    from .shard_types import line_ranges

    shard_of = np.zeros(manifest.input.lines, np.int64)
    for s in shard_plan.shards:
        shard_of[s.rows] = s.index
    entries = []
    for cache in rewrite.caches:
        rows = np.asarray(cache.rows, dtype=np.int64)
        by_shard: dict[int, list[int]] = {}
        for r in rows.tolist():
            by_shard.setdefault(int(shard_of[r]), []).append(r)
        entries.append(
            {
                "id": cache.id, "candidate": cache.candidate, "kind": cache.kind, "placeholder": cache.placeholder,
                "model": model, "ttl_hours": cache.advice["hours"], "content": cache.content,
                "content_sha256": cache.content_sha256(), "joined": cache.joined, "tokens": cache.tokens,
                "requests": len(cache.rows), "unmatched": rewrite.unmatched.get(cache.id, 0),
                "shards": [
                    {"index": index, "lines": line_ranges(np.asarray(rs, dtype=np.int64) + 1)}
                    for index, rs in sorted(by_shard.items())
                ],
                "advice": dict(cache.advice),
            }
        )  # fmt: skip
    plan = dict(manifest.plan)
    plan["caches"] = entries
    plan["caches_not_applied"] = [{"candidate": c, "reason": why} for c, why in rewrite.not_applied]
    return Manifest(path=manifest.path, input=manifest.input, shards=manifest.shards, plan=plan)
