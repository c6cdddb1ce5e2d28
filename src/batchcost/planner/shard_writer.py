"""Writing the shard files a :class:`~batchcost.planner.shards.ShardPlan` describes, and proving them.

:func:`write_shards` copies every input line into its shard byte for byte (its own line end kept,
CRLF included; a last line without a newline gets ``"\\n"``, and the manifest records that). Plain
input is read through ``mmap`` (runs of consecutive lines are copied as one slice); gzip input is
streamed. Memory is proportional to the number of requests, never to the bytes.

The writer owns its output folder. It writes only into an empty (or new) folder; with ``force`` it
first removes exactly the files of an earlier shard set there (``manifest.json`` when it is a
shard manifest, files named like shards, :data:`SHARD_NAME`, and temporary files of a run that
was killed, :data:`TEMP_NAME`) and never touches anything else, nor an input. Shards are written
under temporary names and renamed only once every one is complete; ``manifest.json`` comes last.
A run that fails or is interrupted removes what it wrote, so no file that looks like a finished
shard is left. Only a hard kill (SIGKILL, power loss) while an earlier set is removed or during the
final renames can leave shard files without their manifest; a folder without its manifest is never
a finished set, and ``--force`` clears it.

:func:`verify_manifest` re-reads the input and the shards and proves, from the files themselves,
that every input line is in exactly one shard, once, byte for byte (128-bit SHA-256 digests per
line), that the SHA-256 of every file matches, that every shard is within the recorded limits, and
that the folder holds no shard-like file the manifest does not list.

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
      "warnings": [...], "notes": [...]
    }
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import mmap
import os
import re
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

import numpy as np

from ..errors import InputError, OutputError, PlanError
from ..money import usd
from ..outputs import describe_oserror, new_file_mode, write_atomic

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from .shards import ShardPlan

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "batchcost.shard-manifest/1"
# File-level problems that sharding itself fixes; any other error makes the file unfit to shard.
FIXED_BY_SHARDING = frozenset({"file-too-large", "too-many-requests"})
_MAX_OPEN = 128  # shard files open at once while streaming gzip input
_CHUNK = 8 * 1024 * 1024
_DIGEST = 16
# The names the writer gives its files. --force removes, and --verify flags when the manifest does
# not list them, files named like this and nothing else: ``<stem>.shard-001.jsonl`` and the
# ``.<name>.<random>.tmp`` files a run writes first (shards and the manifest).
SHARD_NAME = re.compile(r"[^/]+\.shard-[0-9]{3,}\.jsonl")
TEMP_NAME = re.compile(r"\.(?:[^/]+\.shard-[0-9]{3,}\.jsonl|manifest\.json)\.[A-Za-z0-9_]+\.tmp")

Progress = Callable[[int, int], None]


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


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_manifest`.

    Attributes:
        ok: True when every check passed.
        message: the first problem found, or a one-line summary when ``ok``.
        lines: input lines checked.
        shards: shards checked.
        problems: every problem, one line each: the first difference between the shards and the
            input (or the manifest's limits), then each shard-like file in the folder that the
            manifest does not list. Empty when ``ok``.
    """

    ok: bool
    message: str
    lines: int = 0
    shards: int = 0
    problems: tuple[str, ...] = ()


# -- writing --------------------------------------------------------------------------------------------


def blocking_problems(scan: ScanResult) -> dict[str, int]:
    """Error counts by kind that make a file unfit to shard (all but "too large for one job")."""
    from ..batchfile import KINDS, Severity

    return {
        code: n
        for code, n in sorted(scan.problem_counts.items())
        if n and code not in FIXED_BY_SHARDING and KINDS[code][0] is Severity.ERROR
    }


def _check_plan(scan: ScanResult, shard_plan: ShardPlan) -> None:
    if len(scan.files) != 1:
        raise PlanError(
            f"shard one input file at a time ({len(scan.files)} were scanned); run batchcost shard per file"
        )
    info = scan.files[0]
    blocking = blocking_problems(scan)
    if blocking:
        total = sum(blocking.values())
        kinds = ", ".join(f"{code} ({n:,})" for code, n in blocking.items())
        raise PlanError(
            f"{info.path} has {total:,} validation error{'s' if total != 1 else ''} ({kinds}); sharding it would "
            f"spread them over the shards: fix them first (`batchcost validate {info.path}` lists them)"
        )
    if shard_plan.oversized:
        first = shard_plan.oversized[0]
        n = len({o.row for o in shard_plan.oversized})
        raise PlanError(
            f"{n:,} request{'s' if n != 1 else ''} alone exceed{'s' if n == 1 else ''} a per-job limit and fit in no "
            f"shard (first: {first.describe()}): shorten or split {'them' if n != 1 else 'it'}, or raise the limit "
            "if your project's is higher; no shard was written"
        )
    seen = np.zeros(scan.lines, np.int32)
    for s in shard_plan.shards:
        if len(s.rows) and (int(s.rows.min()) < 0 or int(s.rows.max()) >= scan.lines):
            raise PlanError(f"shard {s.index} names rows outside the input; make the plan from this file's scan")
        np.add.at(seen, s.rows, 1)
    if scan.lines and not bool((seen == 1).all()):
        bad = int(np.flatnonzero(seen != 1)[0])
        raise PlanError(
            f"the shard plan puts input line {bad + 1} in {int(seen[bad])} shards; every line must be in exactly one "
            "(make the plan from this file's scan)"
        )


def _default_stem(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".gz", ".jsonl", ".json", ".ndjson"):
        name = name.removesuffix(suffix)
    return name or "shard"


# -- the output folder ------------------------------------------------------------------------------


def _shown(name: str) -> str:
    """A file name as a message shows it: escaped when it holds control characters (one line, no escapes)."""
    return name if name.isprintable() else repr(name)


def _file_ids(paths: Iterable[str | os.PathLike[str] | None]) -> dict[tuple[int, int], str]:
    ids: dict[tuple[int, int], str] = {}
    for path in paths:
        if path is None:
            continue
        try:
            st = os.stat(path)  # follows links: a link to an input is that input
        except (OSError, ValueError):
            continue
        ids[(st.st_dev, st.st_ino)] = os.fspath(path)
    return ids


def _is_shard_manifest(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("schema") == MANIFEST_SCHEMA


def is_shard_set_file(name: str) -> bool:
    """Whether a file name is one the writer gives (a shard, or a temporary file of a run)."""
    return bool(SHARD_NAME.fullmatch(name) or TEMP_NAME.fullmatch(name))


def check_out_dir(
    out_dir: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    force: bool = False,
) -> list[str]:
    """Check, changing nothing, that ``out_dir`` can take a new shard set; return what ``force`` removes.

    The folder may be missing (:func:`write_shards` creates it) or empty. With ``force`` it may
    hold an earlier shard set and any other files: the names returned are exactly that set's
    files (``manifest.json`` first, when it is a shard manifest; then every file named like a shard
    or a temporary file of a run, see :func:`is_shard_set_file`). Anything else is left alone.

    Args:
        out_dir: the folder for the shards.
        inputs: every file the run reads (the batch file first); none may be inside the folder.
        force: accept a non-empty folder.

    Raises:
        OutputError: ``out_dir`` is a file or a path through a file; it holds an input of the run
            (by path or through a link: the shards would sit beside the requests they copy, and
            ``force`` must never touch an input); it is not empty and ``force`` is not given; or,
            with ``force``, its ``manifest.json`` is not a shard manifest or a shard-like name is a folder.
    """
    out = Path(out_dir)
    shown = os.fspath(out_dir)
    try:
        st = os.stat(out)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        blocker = next((str(p) for p in [*reversed(out.parents), out] if p.is_file()), shown)
        raise OutputError(shown, f"is a path through the file {blocker}; give a folder for the shards") from None
    except OSError as e:
        raise OutputError(shown, f"cannot be used: {describe_oserror(e)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise OutputError(shown, "is a file, not a folder; give a folder for the shards (a missing one is created)")
    try:
        entries = sorted(os.listdir(out))
    except OSError as e:
        raise OutputError(shown, f"cannot be read: {describe_oserror(e)}") from None
    ids = _file_ids(inputs)
    for name in entries:
        try:
            est = os.stat(out / name)
        except OSError:
            continue
        clash = ids.get((est.st_dev, est.st_ino))
        if clash is not None:
            what = f"the input {clash}"
            if os.path.abspath(clash) != os.path.abspath(out / name):  # a link to it, or another name for it
                what = f"{out / _shown(name)}, which is the input {clash}"
            raise OutputError(
                shown,
                f"holds {what}; shards beside the input would submit its requests twice if the folder is "
                "uploaded, and batchcost never replaces or removes an input: choose a folder without it",
            )
    if not entries:
        return []
    if not force:
        n = len(entries)
        raise OutputError(
            shown,
            f"is not empty ({n:,} entr{'ies' if n != 1 else 'y'}, e.g. {entries[0]!r}); choose an empty or new "
            "folder, or pass --force if it holds an earlier shard set (--force replaces that set and nothing else)",
        )
    old: list[str] = []
    if MANIFEST_NAME in entries:
        if not _is_shard_manifest(out / MANIFEST_NAME):
            raise OutputError(
                str(out / MANIFEST_NAME),
                "is not a batchcost shard manifest, and --force would replace it: move it away or choose another "
                "folder",
            )
        old.append(MANIFEST_NAME)
    for name in entries:
        if is_shard_set_file(name):
            if (out / name).is_dir() and not (out / name).is_symlink():
                raise OutputError(
                    str(out / _shown(name)), "is a folder named like a shard; move it away or choose another folder"
                )
            old.append(name)
    return old


def _make_dir(out: Path) -> list[Path]:
    """Create ``out`` if missing; return the folders created, deepest first (removed again on failure)."""
    created: list[Path] = []
    p = out
    while not os.path.lexists(p) and p != p.parent:
        created.append(p)
        p = p.parent
    if not created:
        return []
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise OutputError(str(out), f"cannot create the folder: {describe_oserror(e)}") from None
    return created


def _remove_old(out: Path, names: Sequence[str]) -> None:
    """Remove an earlier shard set (its manifest first, so that what is left is never a complete set)."""
    for name in names:
        try:
            (out / name).unlink(missing_ok=True)
        except OSError as e:
            raise OutputError(str(out / _shown(name)), f"cannot be removed: {describe_oserror(e)}") from None


class _ShardSink:
    """A shard written under a temporary name (created on first use), hashing what it writes.

    Write failures (full disk, read-only folder...) are :class:`OutputError`; the caller
    discards every sink then.
    """

    def __init__(self, out_dir: Path, name: str, mode: int) -> None:
        self.out_dir = out_dir
        self.name = name
        self.mode = mode
        self.tmp: str | None = None
        self.fh: BinaryIO | None = None
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.lines = 0

    def _error(self, e: OSError) -> OutputError:
        return OutputError(str(self.out_dir / self.name), f"cannot be written: {describe_oserror(e)}")

    def _open(self) -> BinaryIO:
        if self.fh is None:
            if self.tmp is not None:
                raise AssertionError(f"shard {self.name} reopened after it was closed")
            try:
                fd, self.tmp = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".tmp", dir=self.out_dir)
            except OSError as e:
                raise self._error(e) from None
            try:
                os.fchmod(fd, self.mode)  # mkstemp makes it 0600; a shard gets the mode any new file gets
                self.fh = os.fdopen(fd, "wb", buffering=1024 * 1024)
            except BaseException as e:
                os.close(fd)
                if isinstance(e, OSError):
                    raise self._error(e) from None
                raise
        return self.fh

    def write(self, data: bytes | memoryview, lines: int) -> None:
        fh = self._open()
        try:
            fh.write(data)
        except OSError as e:
            raise self._error(e) from None
        self.sha.update(data)
        self.bytes += len(data)
        self.lines += lines

    def close(self) -> None:
        """Flush to disk (durable before the rename) and close; an unused sink becomes an empty file."""
        if self.tmp is None:
            self._open()
        if self.fh is not None:
            try:
                self.fh.flush()
                os.fsync(self.fh.fileno())
                self.fh.close()
            except OSError as e:
                raise self._error(e) from None
            self.fh = None

    def discard(self) -> None:
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
            self.fh = None
        if self.tmp is not None:
            with contextlib.suppress(OSError):
                Path(self.tmp).unlink(missing_ok=True)


def write_shards(
    scan: ScanResult,
    shard_plan: ShardPlan,
    out_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    stem: str | None = None,
    input_sha256: str | None = None,
    model: str | None = None,
    progress: Progress | None = None,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Manifest:
    """Write the shard files of ``shard_plan`` and their ``manifest.json`` into ``out_dir``.

    The folder is checked by :func:`check_out_dir` first. Shards are written under temporary
    names, renamed once all are complete, and ``manifest.json`` is written last. On any failure,
    Ctrl-C included, everything this call wrote is removed again (and a folder it created), so
    no file that looks like a finished shard is left; with ``force`` the earlier set is already gone.

    Args:
        scan: the scan of the (single) input file the plan was made from.
        shard_plan: from :func:`~batchcost.planner.shards.plan_shards` or ``shard_plan_for``.
        out_dir: folder for the shards (created if missing; must be empty unless ``force``).
        force: write into a non-empty folder: the files of an earlier shard set there (its
            manifest, files named like shards, temporary files of a killed run) are removed first;
            other files are left alone.
        stem: shard file name stem (default: the input name without ``.jsonl``/``.gz``).
        input_sha256: the input's SHA-256 when already known (``FileInfo.sha256``): the input is
            hashed again while writing, and a difference (the file changed) stops the write.
        model: model id to record in the manifest.
        progress: called with ``(input bytes done, total)``.
        inputs: other files the run read (price files...), which must not be inside ``out_dir``.

    Returns:
        The :class:`Manifest` (also written as ``out_dir/manifest.json``).

    Raises:
        PlanError: the input has validation errors (other than being too large for one job), a
            request fits in no shard, the plan does not cover every line exactly once, or the
            input changed while it was being copied.
        OutputError: the folder cannot be used (see :func:`check_out_dir`) or written (read-only,
            full disk...).
        InputError: the input cannot be read again.
    """
    _check_plan(scan, shard_plan)
    info = scan.files[0]
    out = Path(out_dir)
    stem = stem or _default_stem(info.path)
    if os.sep in stem or (os.altsep and os.altsep in stem) or stem.startswith(".") or not stem.isprintable():
        raise OutputError(
            os.fspath(out_dir),
            f"shard name stem {stem!r} must be a plain file name (no folders, not starting with '.', no control "
            "characters); give another --stem",
        )
    width = max(3, len(str(len(shard_plan.shards))))
    names = [f"{stem}.shard-{s.index:0{width}d}.jsonl" for s in shard_plan.shards]
    old = check_out_dir(out, inputs=[info.path, *inputs], force=force)
    offsets = scan.rows["offset"]
    nbytes = scan.rows["nbytes"]
    last_no_newline = bool(scan.lines) and int(offsets[-1]) + int(nbytes[-1]) == info.data_size

    digest: dict[str, str] = {}

    def hash_input() -> None:
        from ..batchfile.result import file_sha256

        digest["sha256"] = file_sha256(info.path)

    created = _make_dir(out)
    mode = new_file_mode()
    sinks = [_ShardSink(out, name, mode) for name in names]
    renamed: list[Path] = []
    manifest_started = False
    try:
        _remove_old(out, old)
        hasher = threading.Thread(target=hash_input, daemon=True)
        hasher.start()
        try:
            if info.compressed:
                _copy_gzip(info.path, scan.lines, shard_plan, sinks, info.size, progress)
            else:
                _copy_plain(info.path, info.data_size, offsets, nbytes, shard_plan, sinks, progress)
        except OSError as e:  # writes are OutputErrors already: this is reading the input
            raise InputError(info.path, f"cannot be read again: {e.strerror or e}") from None
        for sink in sinks:
            sink.close()
        hasher.join()
        sha = digest.get("sha256")
        if sha is None:
            raise PlanError(f"{info.path} could not be read again to hash it; check it is still there")
        if input_sha256 is not None and sha != input_sha256:
            raise PlanError(f"{info.path} changed since it was scanned (its SHA-256 differs); run the command again")
        for s, sink in zip(shard_plan.shards, sinks, strict=True):
            if sink.bytes != s.bytes or sink.lines != s.requests:
                raise PlanError(
                    f"{info.path} changed since it was scanned (shard {s.index} came out {sink.bytes:,} bytes, "
                    f"planned {s.bytes:,}); run the command again"
                )
        manifest = _manifest(out, info, scan.lines, last_no_newline, sha, shard_plan, names, sinks, model)
        text = json.dumps(manifest.to_json(), indent=2) + "\n"
        # Every shard is complete: give them their names, then write the manifest that makes the set whole.
        for name, sink in zip(names, sinks, strict=True):
            assert sink.tmp is not None
            try:
                os.replace(sink.tmp, out / name)
            except OSError as e:
                raise OutputError(str(out / name), f"cannot be written: {describe_oserror(e)}") from None
            renamed.append(out / name)
            sink.tmp = None
        manifest_started = True
        write_atomic(out / MANIFEST_NAME, text)
    except BaseException:
        for sink in sinks:
            sink.discard()
        # Interrupted while removing the earlier set (big files take a while to unlink): once its
        # manifest is gone, finish the job, so that none of its shards is left looking finished.
        if old and not os.path.lexists(out / MANIFEST_NAME):
            for name in old:
                with contextlib.suppress(OSError):
                    (out / name).unlink(missing_ok=True)
        # The folder held no manifest once the run started (empty, or the earlier one removed), so
        # one there now is this run's, written just before the interruption: remove it first.
        if manifest_started:
            with contextlib.suppress(OSError):
                (out / MANIFEST_NAME).unlink(missing_ok=True)
        for path in renamed:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return manifest


def _manifest(
    out: Path,
    info: Any,
    lines: int,
    last_no_newline: bool,
    sha: str,
    shard_plan: ShardPlan,
    names: Sequence[str],
    sinks: Sequence[_ShardSink],
    model: str | None,
) -> Manifest:
    shard_files = [
        ShardFile(
            index=s.index,
            path=name,
            wave=s.wave,
            requests=s.requests,
            bytes=sink.bytes,
            first_line=s.first_line,
            last_line=s.last_line,
            lines=s.line_ranges(),
            sha256=sink.sha.hexdigest(),
            tokens=s.tokens,
            cost=usd(s.cost),
            cost_ceiling=usd(s.cost_ceiling),
        )
        for s, name, sink in zip(shard_plan.shards, names, sinks, strict=True)
    ]
    inp = InputInfo(
        path=os.path.abspath(info.path), size=info.size, data_size=info.data_size, sha256=sha,
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
    return Manifest(path=str(out / MANIFEST_NAME), input=inp, shards=shard_files, plan=plan_fields)


def _copy_plain(
    path: str,
    size: int,
    offsets: np.ndarray,
    nbytes: np.ndarray,
    shard_plan: ShardPlan,
    sinks: Sequence[_ShardSink],
    progress: Progress | None,
) -> None:
    if size == 0:
        return
    done = 0
    with open(path, "rb") as fh:
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # an empty file cannot be mapped
            raise PlanError(f"{path} changed since it was scanned (it is empty now); run the command again") from None
    if len(mm) != size:
        mm.close()
        raise PlanError(f"{path} changed since it was scanned (size differs); run the command again")
    # The map is closed on success only. When an exception (Ctrl-C included) unwinds through
    # sink.write, the chunk being written is still referenced by the traceback's frames, and
    # closing a map with a live view raises BufferError in place of the real exception (Ctrl-C
    # then exited 1, not 130). Left open, the map goes with its last view.
    mv = memoryview(mm)
    for s, sink in zip(shard_plan.shards, sinks, strict=True):
        rows = s.rows
        if not len(rows):
            continue
        breaks = np.flatnonzero(np.diff(rows) != 1)
        run_starts = np.concatenate(([0], breaks + 1))
        run_ends = np.concatenate((breaks, [len(rows) - 1]))
        for a, b in zip(run_starts.tolist(), run_ends.tolist(), strict=True):
            r0, r1 = int(rows[a]), int(rows[b])
            start = int(offsets[r0])
            end = int(offsets[r1]) + int(nbytes[r1]) + 1
            newline = end > size  # the last line had no newline: add one
            end = min(end, size)
            pos = start
            while pos < end:
                stop = min(end, pos + _CHUNK)
                chunk = mv[pos:stop]
                sink.write(chunk, 0)
                chunk.release()
                pos = stop
            if newline:
                sink.write(b"\n", 0)
            sink.lines += b - a + 1
            done += end - start
            if progress is not None:
                progress(done, size)
        sink.close()
    mv.release()
    mm.close()


def _copy_gzip(
    path: str,
    lines: int,
    shard_plan: ShardPlan,
    sinks: Sequence[_ShardSink],
    size: int,
    progress: Progress | None,
) -> None:
    shard_of = np.full(lines, -1, np.int32)
    last_row = np.zeros(len(sinks), np.int64)
    for i, s in enumerate(shard_plan.shards):
        shard_of[s.rows] = i
        last_row[i] = int(s.rows[-1]) if len(s.rows) else -1
    # One pass when few shards are open at once (contiguous shards: one); else one pass per batch.
    firsts = sorted((int(s.rows[0]), i) for i, s in enumerate(shard_plan.shards) if len(s.rows))
    overlap = _max_overlap([(f, int(last_row[i])) for f, i in firsts])
    order = [i for _, i in firsts]
    batches = [order] if overlap <= _MAX_OPEN else [order[k : k + _MAX_OPEN] for k in range(0, len(order), _MAX_OPEN)]
    owner = memoryview(shard_of)
    for batch in batches:
        wanted = set(batch)
        with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) as fh:
            next_report = _CHUNK
            for row, line in enumerate(fh):
                if row >= lines:
                    raise PlanError(f"{path} changed since it was scanned (more lines); run the command again")
                i = owner[row]
                if i in wanted:
                    sink = sinks[i]
                    sink.write(line if line.endswith(b"\n") else line + b"\n", 1)
                    if row == last_row[i]:
                        sink.close()
                if progress is not None and raw.tell() >= next_report:
                    next_report = raw.tell() + _CHUNK
                    progress(raw.tell(), size)


def _max_overlap(intervals: Sequence[tuple[int, int]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b + 1, -1) for _, b in intervals], key=lambda e: (e[0], e[1]))
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


# -- verifying ------------------------------------------------------------------------------------------


def _input_lines(path: str, compressed: bool) -> Iterator[tuple[bytes, int]]:
    """Lines of the input (line ends kept), each with the stored bytes read so far."""
    with open(path, "rb") as raw:
        if compressed:
            with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
                for line in fh:
                    yield line, raw.tell()
        else:
            pos = 0
            for line in raw:
                pos += len(line)
                yield line, pos


def _digest(line: bytes) -> bytes:
    # SHA-256 (hardware-accelerated, faster per line here than BLAKE2b), first 128 bits
    return hashlib.sha256(line).digest()[:_DIGEST]


def verify_manifest(path: str | os.PathLike[str], *, progress: Progress | None = None) -> VerifyResult:
    """Prove that the shards a manifest lists hold every input line exactly once, byte for byte.

    Checks, in order (the first failure is reported): the input's SHA-256 and line count; that the
    manifest places every input line in exactly one shard; each shard's lines against the input
    lines it should hold (SHA-256 per line, first 128 bits), its byte count and SHA-256; and each
    shard and wave against the recorded limits (bytes and requests measured; tokens as recorded,
    since re-counting would need the tokenizer). Then, whatever the outcome, the manifest's folder
    is listed: every file named like a shard (or a temporary file of a shard run) that the manifest
    does not list is a problem of its own, since uploading the folder would submit it too.

    Args:
        path: the ``manifest.json`` written by :func:`write_shards`.
        progress: called with ``(bytes read, total bytes)``.

    Returns:
        A :class:`VerifyResult`; ``message`` names the first difference (shard and line) when not
        ok, and ``problems`` lists it with every unlisted shard-like file, one line each.

    Raises:
        InputError: the manifest is missing, unreadable, not a shard manifest or has a field of the
            wrong type; or a file it names cannot be read.
    """
    from concurrent.futures import ThreadPoolExecutor

    manifest = Manifest.read(path)
    base = Path(os.fspath(path)).parent
    if not os.path.isfile(manifest.input.path):
        result = VerifyResult(False, f"input {manifest.input.path} is missing; the manifest was written for it")
    else:
        # Whole-file SHA-256s run in a thread (hashlib releases the GIL on large blocks) while this
        # thread digests lines.
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            result = _verify(manifest, base, pool, progress)
        except OSError as e:
            raise InputError(str(e.filename or base), f"cannot be read: {e.strerror or e}") from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    # Paths in the messages come from the manifest, a file: escaped, so that each problem stays one line.
    problems = [_one_line(p) for p in ([] if result.ok else [result.message]) + _unlisted(manifest, base)]
    if not problems:
        return VerifyResult(True, _one_line(result.message), result.lines, result.shards)
    return VerifyResult(False, problems[0], result.lines, result.shards, tuple(problems))


def _one_line(text: str) -> str:
    """``text`` with control characters (line breaks, terminal escapes) shown as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _unlisted(manifest: Manifest, base: Path) -> list[str]:
    """One problem per file in the manifest's folder named like a shard set's that the manifest does not list."""
    listed = {os.path.normpath(s.path) for s in manifest.shards}
    try:
        names = sorted(os.listdir(base))
    except OSError as e:
        return [f"{base} cannot be listed ({e.strerror or e}), so files the manifest does not list cannot be ruled out"]
    problems = []
    for name in names:
        if name in listed:
            continue
        if TEMP_NAME.fullmatch(name):
            problems.append(
                f"{_shown(name)} in {base} is a temporary file of a batchcost shard run that did not finish: remove "
                "it, or write the shards again with --force"
            )
        elif SHARD_NAME.fullmatch(name):
            problems.append(
                f"{_shown(name)} in {base} is named like a shard but the manifest does not list it (left from another "
                "run?); uploading the folder would submit its requests too: remove it, or write the shards again "
                "with --force"
            )
    return problems


def _verify(manifest: Manifest, base: Path, pool: Any, progress: Progress | None) -> VerifyResult:
    from ..batchfile.result import file_sha256

    inp = manifest.input
    present = [s for s in manifest.shards if (base / s.path).is_file()]
    total = os.path.getsize(inp.path) + sum(os.path.getsize(base / s.path) for s in present)
    input_sha = pool.submit(file_sha256, inp.path)
    shard_sha = {s.path: pool.submit(file_sha256, str(base / s.path)) for s in present}

    # 1. the input: a digest per line (a missing last newline added), its SHA-256 as stored
    digests = bytearray()
    n = 0
    last_without_newline = False
    for line, pos in _input_lines(inp.path, inp.compressed):
        n += 1
        if not line.endswith(b"\n"):
            last_without_newline = True
            line += b"\n"
        digests += _digest(line)
        if progress is not None and n % 65536 == 0:
            progress(pos, total)
    done = os.path.getsize(inp.path)
    sha = input_sha.result()
    if sha != inp.sha256:
        return VerifyResult(
            False,
            f"input {inp.path} changed since the shards were written: its SHA-256 is {sha[:16]}..., the manifest "
            f"says {inp.sha256[:16]}...",
            n,
        )
    if n != inp.lines:
        return VerifyResult(False, f"input {inp.path} has {n:,} lines; the manifest says {inp.lines:,}", n)
    input_digests = bytes(digests)
    del digests

    # 2. every input line placed in exactly one shard
    owner = np.full(n, -1, np.int32)
    for k, s in enumerate(manifest.shards):
        for first, last in s.lines:
            if not (1 <= first <= last <= n):
                return VerifyResult(
                    False, f"shard {s.path}: the manifest lists input lines {first}-{last}, outside 1-{n}", n
                )
            seg = owner[first - 1 : last]
            taken = np.flatnonzero(seg >= 0)
            if len(taken):
                line_no = first + int(taken[0])
                other = manifest.shards[int(seg[taken[0]])].path
                return VerifyResult(False, f"input line {line_no:,} is in two shards: {other} and {s.path}", n)
            seg[:] = k
    missing = np.flatnonzero(owner < 0)
    if len(missing):
        return VerifyResult(False, f"input line {int(missing[0]) + 1:,} is in no shard", n)
    del owner

    # 3. each shard: its lines are exactly the input lines it should hold, and its SHA-256 matches
    for s in manifest.shards:
        shard_path = base / s.path
        if s.path not in shard_sha:
            return VerifyResult(False, f"shard {s.path} is missing from {base}", n)
        expected = [x for a, b in s.lines for x in range(a, b + 1)]
        problem = _check_shard(shard_path, s, expected, input_digests, inp)
        if problem is None:
            sha = shard_sha[s.path].result()
            if sha != s.sha256:
                problem = f"shard {s.path}: SHA-256 is {sha[:16]}..., the manifest says {s.sha256[:16]}..."
        if problem is not None:
            return VerifyResult(False, problem, n)
        done += shard_path.stat().st_size
        if progress is not None:
            progress(done, total)

    # 4. limits
    problem = _check_limits(manifest)
    if problem is not None:
        return VerifyResult(False, problem, n)
    added = " (the last had no newline; its copy has one)" if last_without_newline else ""
    return VerifyResult(
        True,
        f"ok: all {n:,} input lines are in exactly one of {len(manifest.shards):,} shards, once, byte for "
        f"byte{added}; every SHA-256 matches and every shard is within its limits",
        n,
        len(manifest.shards),
    )


def _check_shard(
    shard_path: Path, s: ShardFile, expected: list[int], input_digests: bytes, inp: InputInfo
) -> str | None:
    """The first difference between a shard file and the input lines it should hold, or None."""
    count = 0
    nbytes = 0
    with open(shard_path, "rb") as fh:
        for line in fh:
            nbytes += len(line)
            count += 1
            d = _digest(line)
            if count > len(expected):
                return (
                    f"shard {s.path} line {count:,}: an extra line (the manifest lists {len(expected):,})"
                    f"{_which(d, input_digests)}"
                )
            want = expected[count - 1]
            if input_digests[(want - 1) * _DIGEST : want * _DIGEST] != d:
                return f"shard {s.path} line {count:,} differs from input line {want:,}" + _detail(
                    line, want, d, input_digests, inp
                )
    if count < len(expected):
        return (
            f"shard {s.path} ends after {count:,} lines; the manifest lists {len(expected):,}: input line "
            f"{expected[count]:,} is missing from it"
        )
    if nbytes != s.bytes:
        return f"shard {s.path} is {nbytes:,} bytes; the manifest says {s.bytes:,}"
    if count != s.requests:
        return f"shard {s.path} has {count:,} lines; the manifest says {s.requests:,} requests"
    return None


def _find(d: bytes, input_digests: bytes) -> int | None:
    """1-based input line whose digest is ``d`` (first one), or None."""
    table = np.frombuffer(input_digests, dtype=np.uint64).reshape(-1, 2)
    hits = np.flatnonzero((table == np.frombuffer(d, dtype=np.uint64)).all(axis=1))
    return int(hits[0]) + 1 if len(hits) else None


def _which(d: bytes, input_digests: bytes) -> str:
    hit = _find(d, input_digests)
    return f"; it is a copy of input line {hit:,}" if hit is not None else "; it matches no input line"


def _detail(line: bytes, want: int, d: bytes, input_digests: bytes, inp: InputInfo) -> str:
    hit = _find(d, input_digests)
    if hit is not None:
        return f"; it is a copy of input line {hit:,} (a line dropped, duplicated or moved?)"
    original = _read_input_line(inp, want)
    if original is None:
        return ""
    if not line.endswith(b"\n") and line + b"\n" == original:
        return "; it has no line end"
    i = next((k for k, (x, y) in enumerate(zip(line, original, strict=False)) if x != y), min(len(line), len(original)))
    return f"; first difference at byte {i + 1:,} of the line"


def _read_input_line(inp: InputInfo, line_no: int) -> bytes | None:
    opener = gzip.open if inp.compressed else open
    with opener(inp.path, "rb") as fh:  # type: ignore[operator]
        for k, line in enumerate(fh, 1):
            if k == line_no:
                return line if line.endswith(b"\n") else line + b"\n"
    return None


def _check_limits(manifest: Manifest) -> str | None:
    limits = manifest.plan.get("limits") or {}

    def value(name: str) -> tuple[int | None, str]:
        entry = limits.get(name) or {}
        return entry.get("value"), entry.get("source", "")

    max_bytes, b_src = value("max_bytes")
    max_requests, r_src = value("max_requests")
    max_tokens, t_src = value("max_tokens")
    enqueued, e_src = value("enqueued_tokens")
    concurrent, c_src = value("concurrent_jobs")
    by_index = {s.index: s for s in manifest.shards}
    for s in manifest.shards:
        if max_bytes is not None and s.bytes > max_bytes:
            return f"shard {s.path} is {s.bytes:,} bytes, over max_bytes {max_bytes:,} ({b_src})"
        if max_requests is not None and s.requests > max_requests:
            return f"shard {s.path} has {s.requests:,} requests, over max_requests {max_requests:,} ({r_src})"
        if max_tokens is not None and s.tokens > max_tokens:
            return f"shard {s.path} has {s.tokens:,} tokens, over max_tokens {max_tokens:,} ({t_src})"
        if enqueued is not None and s.tokens > enqueued:
            return f"shard {s.path} has {s.tokens:,} tokens, over the enqueued-token quota {enqueued:,} ({e_src})"
    for k, wave in enumerate(manifest.plan.get("waves") or [], 1):
        if concurrent is not None and len(wave) > concurrent:
            return f"wave {k} submits {len(wave)} shards at once, over concurrent_jobs {concurrent} ({c_src})"
        tokens = sum(by_index[i].tokens for i in wave if i in by_index)
        if enqueued is not None and tokens > enqueued:
            return f"wave {k} enqueues {tokens:,} tokens, over the enqueued-token quota {enqueued:,} ({e_src})"
    return None
