"""Writing the shard files a :class:`~batchcost.planner.shard_types.ShardPlan` describes, and their manifest.

:func:`write_shards` copies every input line into its shard byte for byte (its own line end kept,
CRLF included; a last line without a newline gets ``"\\n"``, and the manifest records that). Plain
input is read with ``pread`` (runs of consecutive lines are copied as one slice); gzip input is
streamed. Memory is proportional to the number of requests, never to the bytes. With
``rewrite`` (``shard --apply-cache``) the lines an advised cache serves are rewritten to reference
it instead (:mod:`~batchcost.planner.apply_cache`); every other line is still copied.

The writer owns its output folder. It writes only into an empty (or new) folder; with ``force`` it
first removes exactly the files of an earlier shard set there (``manifest.json`` when it is a
shard manifest, files named like shards, :data:`SHARD_NAME`, and temporary files of a run that
was killed, :data:`TEMP_NAME`) and never touches anything else, nor an input. Shards are written
under temporary names and renamed only once every one is complete; ``manifest.json`` comes last.
A run that fails or is interrupted removes what it wrote, so no file that looks like a finished
shard is left. Only a hard kill (SIGKILL, power loss) while an earlier set is removed or during the
final renames can leave shard files without their manifest; a folder without its manifest is never
a finished set, and ``--force`` clears it.

``out_dir`` may be a URL prefix in object storage (``s3://bucket/shards/``): each shard is then
one object, which appears only once its upload completes, whole; the manifest comes last; on
failure or Ctrl-C every object the run completed is removed (:mod:`~batchcost.planner.shard_sinks`).
The input may be a URL too, its lines then read by range.

Its parts, importable from here too: :func:`check_out_dir` (what the folder may hold and what
``force`` removes) in :mod:`~batchcost.planner.shard_folder`, the :class:`Manifest` records in
:mod:`~batchcost.planner.shard_manifest`, and :func:`verify_manifest` (``--verify``: proving a
written set) in :mod:`~batchcost.planner.shard_verify`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.lines import open_binary, readable
from ..errors import InputError, OutputError, PlanError
from ..outputs import describe_oserror, new_file_mode, write_atomic
from ..storage.locations import is_url
from ..text import one_line, shell_word
from .shard_folder import SHARD_NAME, TEMP_NAME, check_out_dir, is_shard_set_file, make_dir, remove_old
from .shard_manifest import MANIFEST_NAME, MANIFEST_SCHEMA, InputInfo, Manifest, ShardFile, manifest_for, with_caches
from .shard_sinks import FileSink, ObjectSink, copy_ranges, line_runs
from .shard_verify import VerifyResult, verify_manifest

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from .apply_cache import CacheRewrite
    from .shard_types import ShardPlan

__all__ = [
    "FIXED_BY_SHARDING",
    "MANIFEST_NAME",
    "MANIFEST_SCHEMA",
    "SHARD_NAME",
    "TEMP_NAME",
    "InputInfo",
    "Manifest",
    "Progress",
    "ShardFile",
    "VerifyResult",
    "blocking_problems",
    "check_out_dir",
    "is_shard_set_file",
    "verify_manifest",
    "write_shards",
]

# File-level problems that sharding itself fixes; any other error makes the file unfit to shard.
FIXED_BY_SHARDING = frozenset({"file-too-large", "too-many-requests"})
_MAX_OPEN = 128  # shard files open at once while streaming gzip input
_CHUNK = 8 * 1024 * 1024

Progress = Callable[[int, int], None]


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
            f"{one_line(info.path)} has {total:,} validation error{'s' if total != 1 else ''} ({kinds}); sharding it would "
            f"spread them over the shards: fix them first (`batchcost validate {shell_word(info.path)}` lists them)"
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
    rewrite: CacheRewrite | None = None,
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
        rewrite: the advised caches to apply (``--apply-cache``): their member lines are rewritten to
            reference the cache (see :mod:`~batchcost.planner.apply_cache`), every other line is copied.

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
    remote_out = is_url(os.fspath(out_dir))  # a URL prefix: each shard one object (batchcost.storage)
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
    old = check_out_dir(os.fspath(out_dir) if remote_out else out, inputs=[info.path, *inputs], force=force)
    offsets = scan.rows["offset"]
    nbytes = scan.rows["nbytes"]
    last_no_newline = bool(scan.lines) and int(offsets[-1]) + int(nbytes[-1]) == info.data_size

    digest: dict[str, str] = {}

    def hash_input() -> None:
        from ..batchfile.result import file_sha256

        digest["sha256"] = file_sha256(info.path)

    if remote_out:
        return _write_objects(scan, shard_plan, os.fspath(out_dir), names, old, last_no_newline, input_sha256,
                              model, progress, rewrite)  # fmt: skip
    created = make_dir(out)
    mode = new_file_mode()
    sinks = [FileSink(out, name, mode) for name in names]
    renamed: list[Path] = []
    manifest_started = False
    try:
        remove_old(out, old)
        hasher = threading.Thread(target=hash_input, daemon=True)
        hasher.start()
        manifest = _copy_all(scan, shard_plan, sinks, hasher, digest, input_sha256, progress, rewrite,
                             str(out), names, last_no_newline, model)  # fmt: skip
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


def _copy_all(scan: ScanResult, shard_plan: ShardPlan, sinks: Sequence[FileSink | ObjectSink], hasher: threading.Thread,
              digest: dict[str, str], input_sha256: str | None, progress: Progress | None,
              rewrite: CacheRewrite | None, out: str, names: list[str], last_no_newline: bool,
              model: str | None) -> Manifest:  # fmt: skip
    """Copy every line into its shard, check the input did not change, and make the manifest (not written)."""
    info = scan.files[0]
    offsets = scan.rows["offset"]
    nbytes = scan.rows["nbytes"]
    src = readable(info.path)  # a URL's --cache-dir copy, if one is in use
    try:
        if info.compressed:
            _copy_gzip(src, scan.lines, shard_plan, sinks, info.size, progress, rewrite)  # type: ignore[arg-type]
        elif is_url(src):
            copy_ranges(src, info.data_size, offsets, nbytes, shard_plan, sinks, progress, rewrite)
        else:
            _copy_plain(src, info.data_size, offsets, nbytes, shard_plan, sinks, progress, rewrite)  # type: ignore[arg-type]
    except OSError as e:  # writes are OutputErrors already: this is reading the input
        raise InputError(info.path, f"cannot be read again: {e.strerror or e}") from None
    for sink in sinks:
        sink.close()
    hasher.join()
    sha = digest.get("sha256")
    if sha is None:
        raise PlanError(f"{one_line(info.path)} could not be read again to hash it; check it is still there")
    if input_sha256 is not None and sha != input_sha256:
        raise PlanError(
            f"{one_line(info.path)} changed since it was scanned (its SHA-256 differs); run the command again"
        )
    for s, sink in zip(shard_plan.shards, sinks, strict=True):
        if sink.bytes - sink.rewritten_delta != s.bytes or sink.lines != s.requests:
            raise PlanError(
                f"{one_line(info.path)} changed since it was scanned (shard {s.index} came out {sink.bytes:,} bytes, "
                f"planned {s.bytes:,}); run the command again"
            )
    manifest = manifest_for(
        out, info, scan.lines, last_no_newline, sha, shard_plan, names,
        [sink.bytes for sink in sinks], [sink.sha.hexdigest() for sink in sinks], model,
    )  # fmt: skip
    if rewrite is not None:
        rewrite.finish()
        manifest = with_caches(manifest, rewrite, shard_plan, model)
    return manifest


def _write_objects(scan: ScanResult, shard_plan: ShardPlan, out: str, names: list[str], old: list[str],
                   last_no_newline: bool, input_sha256: str | None, model: str | None, progress: Progress | None,
                   rewrite: CacheRewrite | None) -> Manifest:  # fmt: skip
    """:func:`write_shards` into a URL prefix: each shard one object, which appears whole when its upload
    completes; the manifest last; on failure or Ctrl-C every object this call completed is removed."""
    from ..storage import join, remove

    info = scan.files[0]
    digest: dict[str, str] = {}

    def hash_input() -> None:
        from ..batchfile.result import file_sha256

        with contextlib.suppress(Exception):  # a failure shows as no digest, reported below
            digest["sha256"] = file_sha256(info.path)

    sinks = [ObjectSink(join(out, name)) for name in names]
    manifest_url = join(out, MANIFEST_NAME)
    manifest_started = False
    try:
        # the earlier set's manifest first, so that what is left is never a complete set
        for name in old:
            remove(join(out, name))
        hasher = threading.Thread(target=hash_input, daemon=True)
        hasher.start()
        manifest = _copy_all(scan, shard_plan, sinks, hasher, digest, input_sha256, progress, rewrite,
                             out, names, last_no_newline, model)  # fmt: skip
        manifest_started = True
        write_atomic(manifest_url, json.dumps(manifest.to_json(), indent=2) + "\n")
    except BaseException:
        if manifest_started:
            with contextlib.suppress(Exception):
                remove(manifest_url)
        for sink in sinks:
            sink.discard()
        raise
    return manifest


def _copy_plain(
    path: str,
    size: int,
    offsets: np.ndarray,
    nbytes: np.ndarray,
    shard_plan: ShardPlan,
    sinks: Sequence[FileSink],
    progress: Progress | None,
    rewrite: CacheRewrite | None = None,
) -> None:
    if size == 0:
        return
    done = 0
    # Read with pread, not through a map: a mapped file that shrinks kills its reader (SIGBUS), and
    # this is the command's own process; a short read is a file that changed since it was scanned.
    changed = f"{one_line(path)} changed since it was scanned (size differs); run the command again"
    with open(path, "rb") as fh:
        fd = fh.fileno()
        if os.fstat(fd).st_size != size:
            raise PlanError(changed)

        def read(start: int, end: int) -> bytes:
            data = os.pread(fd, end - start, start)
            if len(data) != end - start:
                raise PlanError(changed)
            return data

        for s, sink in zip(shard_plan.shards, sinks, strict=True):
            if not len(s.rows):
                continue
            for lines, start, end, newline, row in line_runs(s.rows, offsets, nbytes, size, rewrite):
                if row >= 0 and rewrite is not None:
                    new = rewrite.rewrite(row, read(start, end))
                    if new is not None:
                        sink.write(new, 1)
                        sink.rewritten_delta += len(new) - (end - start) - (1 if newline else 0)
                        done += end - start
                        continue
                pos = start
                while pos < end:
                    stop = min(end, pos + _CHUNK)
                    sink.write(read(pos, stop), 0)
                    pos = stop
                if newline:
                    sink.write(b"\n", 0)
                sink.lines += lines
                done += end - start
                if progress is not None:
                    progress(done, size)
            sink.close()


def _copy_gzip(
    path: str,
    lines: int,
    shard_plan: ShardPlan,
    sinks: Sequence[FileSink],
    size: int,
    progress: Progress | None,
    rewrite: CacheRewrite | None = None,
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
        with open_binary(path) as raw, gzip.GzipFile(fileobj=raw) as fh:  # a URL: read by range, ahead
            next_report = _CHUNK
            for row, line in enumerate(fh):
                if row >= lines:
                    raise PlanError(
                        f"{one_line(path)} changed since it was scanned (more lines); run the command again"
                    )
                i = owner[row]
                if i in wanted:
                    sink = sinks[i]
                    new = rewrite.rewrite(row, line) if rewrite is not None and rewrite.member[row] >= 0 else None
                    if new is not None:
                        sink.rewritten_delta += len(new) - len(line) - (0 if line.endswith(b"\n") else 1)
                        line = new
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
