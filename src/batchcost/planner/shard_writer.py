"""Writing the shard files a :class:`~batchcost.planner.shards.ShardPlan` describes, and proving them.

:func:`write_shards` copies every input line into its shard byte for byte (its own line end kept,
CRLF included; a last line without a newline gets ``"\\n"``, and the manifest records that). Plain
input is read through ``mmap`` (runs of consecutive lines are copied as one slice); gzip input is
streamed. Shards are written under temporary names in the output folder and renamed once all are
complete; ``manifest.json`` is written last, the same way. Memory is proportional to the number of
requests, never to the bytes.

:func:`verify_manifest` re-reads the input and the shards and proves, from the files themselves,
that every input line is in exactly one shard, once, byte for byte (128-bit SHA-256 digests per
line), that the SHA-256 of every file matches, and that every shard is within the recorded limits.

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
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from ..errors import InputError, PlanError

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
        from .. import __version__

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
        """Load a ``manifest.json``.

        Raises:
            InputError: missing, unreadable, not JSON, or not a batchcost shard manifest.
        """
        shown = os.fspath(path)
        try:
            with open(shown, "rb") as fh:
                doc = json.loads(fh.read())
        except FileNotFoundError:
            raise InputError(shown, "no such file; give the manifest.json that `batchcost shard` wrote") from None
        except OSError as e:
            raise InputError(shown, f"cannot read: {e.strerror}") from None
        except ValueError as e:
            raise InputError(shown, f"not JSON ({e}); give the manifest.json that `batchcost shard` wrote") from None
        if not isinstance(doc, dict) or doc.get("schema") != MANIFEST_SCHEMA:
            raise InputError(shown, f"not a batchcost shard manifest (schema is not {MANIFEST_SCHEMA!r})")
        try:
            inp = InputInfo(**doc["input"])
            shards = [ShardFile(**s) for s in doc["shards"]]
        except (KeyError, TypeError) as e:
            raise InputError(
                shown, f"manifest is incomplete or malformed ({e}); write it again with batchcost shard"
            ) from None
        plan = {k: v for k, v in doc.items() if k not in ("schema", "batchcost_version", "input", "shards")}
        return cls(path=shown, input=inp, shards=shards, plan=plan)


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_manifest`.

    Attributes:
        ok: True when every check passed.
        message: the first difference found, or a one-line summary when ``ok``.
        lines: input lines checked.
        shards: shards checked.
    """

    ok: bool
    message: str
    lines: int = 0
    shards: int = 0


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


def _prepare_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise PlanError(f"{out_dir} exists and is not a folder; give a folder for the shards")
    if out_dir.is_dir():
        entries = [e.name for e in os.scandir(out_dir)]
        if entries and not force:
            raise PlanError(
                f"{out_dir} is not empty ({len(entries):,} entr{'ies' if len(entries) != 1 else 'y'}, e.g. "
                f"{sorted(entries)[0]!r}); give an empty or new folder, or pass --force to replace the shards there"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PlanError(f"cannot create {out_dir}: {e.strerror}; give a folder you can write to") from None


class _ShardSink:
    """A shard written under a temporary name (created on first use), hashing what it writes."""

    def __init__(self, out_dir: Path, name: str) -> None:
        self.out_dir = out_dir
        self.name = name
        self.tmp: str | None = None
        self.fh: BinaryIO | None = None
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.lines = 0

    def _open(self) -> BinaryIO:
        if self.fh is None:
            if self.tmp is not None:
                raise AssertionError(f"shard {self.name} reopened after it was closed")
            fd, self.tmp = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".tmp", dir=self.out_dir)
            self.fh = os.fdopen(fd, "wb", buffering=1024 * 1024)
        return self.fh

    def write(self, data: bytes | memoryview, lines: int) -> None:
        self._open().write(data)
        self.sha.update(data)
        self.bytes += len(data)
        self.lines += lines

    def close(self) -> None:
        """Flush to disk (durable before the rename) and close; an unused sink becomes an empty file."""
        if self.tmp is None:
            self._open()
        if self.fh is not None:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None

    def discard(self) -> None:
        if self.fh is not None:
            with contextlib.suppress(OSError):
                self.fh.close()
            self.fh = None
        if self.tmp is not None:
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
) -> Manifest:
    """Write the shard files of ``shard_plan`` and their ``manifest.json`` into ``out_dir``.

    Args:
        scan: the scan of the (single) input file the plan was made from.
        shard_plan: from :func:`~batchcost.planner.shards.plan_shards` or ``shard_plan_for``.
        out_dir: folder for the shards (created if missing; must be empty unless ``force``).
        force: write into a non-empty folder, replacing same-named files and the shards an earlier
            manifest there listed.
        stem: shard file name stem (default: the input name without ``.jsonl``/``.gz``).
        input_sha256: the input's SHA-256 when already known (``FileInfo.sha256``): the input is
            hashed again while writing, and a difference (the file changed) stops the write.
        model: model id to record in the manifest.
        progress: called with ``(input bytes done, total)``.

    Returns:
        The :class:`Manifest` (also written as ``out_dir/manifest.json``).

    Raises:
        PlanError: the input has validation errors (other than being too large for one job), a
            request fits in no shard, the plan does not cover every line exactly once, the folder is
            not empty without ``force``, or the input changed while it was being copied.
    """
    _check_plan(scan, shard_plan)
    info = scan.files[0]
    out = Path(out_dir)
    _prepare_dir(out, force)
    stem = stem or _default_stem(info.path)
    if os.sep in stem or (os.altsep and os.altsep in stem) or stem.startswith("."):
        raise PlanError(f"shard name stem {stem!r} must be a plain file name (no folders, not starting with '.')")
    width = max(3, len(str(len(shard_plan.shards))))
    names = [f"{stem}.shard-{s.index:0{width}d}.jsonl" for s in shard_plan.shards]
    input_real = os.path.realpath(info.path)
    for name in names:
        if os.path.realpath(out / name) == input_real:
            raise PlanError(f"shard {name} would overwrite the input; give another --out folder or stem")
    offsets = scan.rows["offset"]
    nbytes = scan.rows["nbytes"]
    last_no_newline = bool(scan.lines) and int(offsets[-1]) + int(nbytes[-1]) == info.data_size

    digest: dict[str, str] = {}

    def hash_input() -> None:
        from ..batchfile.result import file_sha256

        digest["sha256"] = file_sha256(info.path)

    hasher = threading.Thread(target=hash_input, daemon=True)
    hasher.start()
    sinks = [_ShardSink(out, name) for name in names]
    try:
        if info.compressed:
            _copy_gzip(info.path, scan.lines, shard_plan, sinks, info.size, progress)
        else:
            _copy_plain(info.path, info.data_size, offsets, nbytes, shard_plan, sinks, progress)
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
    except BaseException:
        for sink in sinks:
            sink.discard()
        raise
    previous = _previous_shards(out / MANIFEST_NAME) if force else set()
    for name, sink in zip(names, sinks, strict=True):
        assert sink.tmp is not None
        os.replace(sink.tmp, out / name)
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
            cost=_usd(s.cost),
            cost_ceiling=_usd(s.cost_ceiling),
        )
        for s, name, sink in zip(shard_plan.shards, names, sinks, strict=True)
    ]
    inp = InputInfo(
        path=os.path.abspath(info.path), size=info.size, data_size=info.data_size, sha256=sha,
        compressed=info.compressed, form=info.form, lines=scan.lines, last_line_newline_added=last_no_newline,
    )  # fmt: skip
    plan_doc = shard_plan.to_json()
    plan_fields = {k: plan_doc[k] for k in ("platform", "tier", "tier_assumed", "limits", "token_basis",
                                            "cost_basis", "time_bound", "warnings", "notes")}  # fmt: skip
    plan_fields["waves"] = [list(w) for w in shard_plan.waves]
    plan_fields["model"] = model
    if last_no_newline:
        plan_fields["notes"] = [
            *plan_fields["notes"],
            f"input line {scan.lines:,} had no newline at the end; its copy in the shard ends with one",
        ]
    manifest = Manifest(path=str(out / MANIFEST_NAME), input=inp, shards=shard_files, plan=plan_fields)
    _write_text_atomic(out / MANIFEST_NAME, json.dumps(manifest.to_json(), indent=2) + "\n")
    for stale in sorted(previous - set(names)):
        (out / stale).unlink(missing_ok=True)
    return manifest


def _usd(value: Any) -> str | None:
    from .shards import _usd as usd

    return usd(value)


def _previous_shards(manifest_path: Path) -> set[str]:
    """Shard names an earlier manifest in the folder lists (only plain names inside the folder)."""
    try:
        doc = json.loads(manifest_path.read_bytes())
        if doc.get("schema") != MANIFEST_SCHEMA:
            return set()
        names = {str(s["path"]) for s in doc["shards"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()
    return {n for n in names if n and os.path.basename(n) == n and n != MANIFEST_NAME}


def _write_text_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if len(mm) != size:
            raise PlanError(f"{path} changed since it was scanned (size differs); run the command again")
        mv = memoryview(mm)
        try:
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
                        sink.write(mv[pos:stop], 0)
                        pos = stop
                    if newline:
                        sink.write(b"\n", 0)
                    sink.lines += b - a + 1
                    done += end - start
                    if progress is not None:
                        progress(done, size)
                sink.close()
        finally:
            mv.release()


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

    Checks, in order (the first failure is returned): the input's SHA-256 and line count; that the
    manifest places every input line in exactly one shard; each shard's lines against the input
    lines it should hold (SHA-256 per line, first 128 bits), its byte count and SHA-256; and each
    shard and wave against the recorded limits (bytes and requests measured; tokens as recorded,
    since re-counting would need the tokenizer).

    Args:
        path: the ``manifest.json`` written by :func:`write_shards`.
        progress: called with ``(bytes read, total bytes)``.

    Returns:
        A :class:`VerifyResult`; ``message`` names the first difference (shard and line) when not ok.

    Raises:
        InputError: the manifest is missing, unreadable or not a shard manifest.
    """
    from concurrent.futures import ThreadPoolExecutor

    manifest = Manifest.read(path)
    base = Path(os.fspath(path)).parent
    if not os.path.isfile(manifest.input.path):
        return VerifyResult(False, f"input {manifest.input.path} is missing; the manifest was written for it")
    # Whole-file SHA-256s run in a thread (hashlib releases the GIL on large blocks) while this
    # thread digests lines.
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return _verify(manifest, base, pool, progress)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


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
