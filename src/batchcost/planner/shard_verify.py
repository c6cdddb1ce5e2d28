"""``shard --verify``: prove from the files themselves that a shard set holds its input exactly.

:func:`verify_manifest` re-reads the input and the shards and proves, from the files themselves,
that every input line is in exactly one shard, once, byte for byte (128-bit SHA-256 digests per
line), that the SHA-256 of every file matches, that every shard is within the recorded limits, and
that the folder holds no shard-like file the manifest does not list.

A line rewritten to reference an advised cache (``shard --apply-cache``, the manifest's ``caches``)
is proven by re-deriving it: the rewritten request plus the cache's content (as the manifest
records it) must give back the input line's request (compared as canonical JSON), and the line
must reference that cache's placeholder.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..batchfile.lines import open_binary
from ..errors import InputError, OutputError
from ..storage.locations import is_url, join, parent
from ..text import agree, one_line, plural
from .shard_folder import SHARD_NAME, TEMP_NAME, shown_name
from .shard_manifest import InputInfo, Manifest, ShardFile

# input line (1-based) -> (the cache entry that serves it, the shard index the manifest puts it in)
Rewritten = dict[int, tuple[dict[str, Any], int]]

_DIGEST = 16

Progress = Callable[[int, int], None]


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


# -- verifying ------------------------------------------------------------------------------------------


def _lines(path: str) -> Iterator[bytes]:
    """Lines of a plain file (line ends kept): a local file, or a URL's object read by range ahead."""
    if is_url(path):
        from ..storage import iter_lines

        yield from iter_lines(path)
        return
    with open(path, "rb") as fh:
        yield from fh


def _is_file(path: str) -> bool:
    if is_url(path):
        from ..storage import exists

        return exists(path)
    return os.path.isfile(path)


def _size(path: str) -> int:
    if is_url(path):
        from ..storage import size

        return size(path)
    return os.path.getsize(path)


def _input_lines(path: str, compressed: bool) -> Iterator[tuple[bytes, int]]:
    """Lines of the input (line ends kept), each with the stored bytes read so far."""
    if is_url(path) and not compressed:
        pos = 0
        for line in _lines(path):
            pos += len(line)
            yield line, pos
        return
    with open_binary(path) as raw:
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
        path: the ``manifest.json`` written by
            :func:`~batchcost.planner.shard_writer.write_shards`.
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
    base = parent(os.fspath(path))  # a folder, or a URL prefix in object storage
    if not _is_file(manifest.input.path):
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
    problems = [one_line(p) for p in ([] if result.ok else [result.message]) + _unlisted(manifest, base)]
    if not problems:
        return VerifyResult(True, one_line(result.message), result.lines, result.shards)
    return VerifyResult(False, problems[0], result.lines, result.shards, tuple(problems))


def _unlisted(manifest: Manifest, base: str) -> list[str]:
    """One problem per file in the manifest's folder named like a shard set's that the manifest does not list."""
    from ..storage import listdir

    listed = {os.path.normpath(s.path) for s in manifest.shards}
    try:
        names = listdir(base)
    except OutputError as e:
        return [f"{base} cannot be listed ({e}), so files the manifest does not list cannot be ruled out"]
    except OSError as e:
        return [f"{base} cannot be listed ({e.strerror or e}), so files the manifest does not list cannot be ruled out"]
    problems = []
    for name in names:
        if name in listed:
            continue
        if TEMP_NAME.fullmatch(name):
            problems.append(
                f"{shown_name(name)} in {base} is a temporary file of a batchcost shard run that did not finish: remove "
                "it, or write the shards again with --force"
            )
        elif SHARD_NAME.fullmatch(name):
            problems.append(
                f"{shown_name(name)} in {base} is named like a shard but the manifest does not list it (left from another "
                "run?); uploading the folder would submit its requests too: remove it, or write the shards again "
                "with --force"
            )
    return problems


def _verify(manifest: Manifest, base: str, pool: Any, progress: Progress | None) -> VerifyResult:
    from ..batchfile.result import file_sha256

    inp = manifest.input
    present = [s for s in manifest.shards if _is_file(join(base, s.path))]
    total = _size(inp.path) + sum(_size(join(base, s.path)) for s in present)
    input_sha = pool.submit(file_sha256, inp.path)
    shard_sha = {s.path: pool.submit(file_sha256, join(base, s.path)) for s in present}

    # 1. the input: a digest per line (a missing last newline added), its SHA-256 as stored; lines
    # rewritten for a cache get the digest of their parsed value too
    rewritten = _rewritten(manifest)
    originals: dict[int, bytes | None] = {}
    digests = bytearray()
    n = 0
    last_without_newline = False
    for line, pos in _input_lines(inp.path, inp.compressed):
        n += 1
        if not line.endswith(b"\n"):
            last_without_newline = True
            line += b"\n"
        digests += _digest(line)
        if n in rewritten:
            originals[n] = _parsed_digest(line)
        if progress is not None and n % 65536 == 0:
            progress(pos, total)
    done = _size(inp.path)
    sha = input_sha.result()
    if sha != inp.sha256:
        return VerifyResult(
            False,
            f"input {inp.path} changed since the shards were written: its SHA-256 is {sha[:16]}..., the manifest "
            f"says {inp.sha256[:16]}...",
            n,
        )
    if n != inp.lines:
        return VerifyResult(False, f"input {inp.path} has {plural(n, 'line')}; the manifest says {inp.lines:,}", n)
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
        shard_path = join(base, s.path)
        if s.path not in shard_sha:
            return VerifyResult(False, f"shard {s.path} is missing from {base}", n)
        expected = [x for a, b in s.lines for x in range(a, b + 1)]
        problem = _check_shard(shard_path, s, expected, input_digests, inp, rewritten, originals)
        if problem is None:
            sha = shard_sha[s.path].result()
            if sha != s.sha256:
                problem = f"shard {s.path}: SHA-256 is {sha[:16]}..., the manifest says {s.sha256[:16]}..."
        if problem is not None:
            return VerifyResult(False, problem, n)
        done += _size(shard_path)
        if progress is not None:
            progress(done, total)

    # 4. limits
    problem = _check_limits(manifest)
    if problem is not None:
        return VerifyResult(False, problem, n)
    added = " (the last had no newline; its copy has one)" if last_without_newline else ""
    if rewritten:
        caches = len(manifest.plan.get("caches") or [])
        added += (
            f"; {len(rewritten):,} of them rewritten to use {caches} cache{'s' if caches != 1 else ''}, each proven to be "
            "its input request with the cache's content taken out"
        )
    return VerifyResult(
        True,
        f"ok: all {plural(n, 'input line')} {agree(n, 'is', 'are')} in exactly one of "
        f"{plural(len(manifest.shards), 'shard')}, once, byte for "
        f"byte{added}; every SHA-256 matches and every shard is within its limits",
        n,
        len(manifest.shards),
    )


def _check_shard(
    shard_path: str,
    s: ShardFile,
    expected: list[int],
    input_digests: bytes,
    inp: InputInfo,
    rewritten: Rewritten | None = None,
    originals: dict[int, bytes | None] | None = None,
) -> str | None:
    """The first difference between a shard file and the input lines it should hold, or None."""
    count = 0
    nbytes = 0
    for line in _lines(shard_path):
        nbytes += len(line)
        count += 1
        d = _digest(line)
        if count > len(expected):
            return (
                f"shard {s.path} line {count:,}: an extra line (the manifest lists {len(expected):,})"
                f"{_which(d, input_digests)}"
            )
        want = expected[count - 1]
        if rewritten and want in rewritten:
            problem = _check_rewritten(line, want, rewritten[want], s, (originals or {}).get(want))
            if problem is not None:
                return f"shard {s.path} line {count:,} (input line {want:,}, rewritten to use a cache): {problem}"
            continue
        if input_digests[(want - 1) * _DIGEST : want * _DIGEST] != d:
            return f"shard {s.path} line {count:,} differs from input line {want:,}" + _detail(
                line, want, d, input_digests, inp
            )
    if count < len(expected):
        return (
            f"shard {s.path} ends after {plural(count, 'line')}; the manifest lists {len(expected):,}: input line "
            f"{expected[count]:,} is missing from it"
        )
    if nbytes != s.bytes:
        return f"shard {s.path} is {nbytes:,} bytes; the manifest says {s.bytes:,}"
    if count != s.requests:
        return f"shard {s.path} has {plural(count, 'line')}; the manifest says {plural(s.requests, 'request')}"
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
    for k, (line, _pos) in enumerate(_input_lines(inp.path, inp.compressed), 1):
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


def _rewritten(manifest: Manifest) -> Rewritten:
    """The input lines the manifest says were rewritten to reference a cache.

    Raises:
        InputError: the ``caches`` field is malformed.
    """
    caches = manifest.plan.get("caches")
    if caches is None:
        return {}
    out: Rewritten = {}

    def bad(where: str, want: str) -> InputError:
        return InputError(
            manifest.path, f"field {where} is not {want}; give the manifest.json that `batchcost shard` wrote, or write "
            "the shards again",
        )  # fmt: skip

    if not isinstance(caches, list):
        raise bad("caches", "a list")
    for k, cache in enumerate(caches):
        where = f"caches[{k}]"
        if not isinstance(cache, dict):
            raise bad(where, "an object")
        if not isinstance(cache.get("content"), dict):
            raise bad(f"{where}.content", "an object")
        if not isinstance(cache.get("placeholder"), str) or not isinstance(cache.get("joined"), bool):
            raise bad(f"{where}.placeholder/joined", "a string and true or false")
        shards = cache.get("shards")
        if not isinstance(shards, list):
            raise bad(f"{where}.shards", "a list")
        for j, entry in enumerate(shards):
            lines = entry.get("lines") if isinstance(entry, dict) else None
            index = entry.get("index") if isinstance(entry, dict) else None
            if not isinstance(index, int) or not isinstance(lines, list):
                raise bad(f"{where}.shards[{j}]", "an object with index and lines")
            for pair in lines:
                if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, int) for x in pair)):
                    raise bad(f"{where}.shards[{j}].lines", "a list of [first, last] input line numbers")
                for line_no in range(pair[0], pair[1] + 1):
                    out[line_no] = (cache, index)
    return out


def _loads(line: bytes) -> Any:
    import json

    return json.loads(line.removeprefix(b"\xef\xbb\xbf"))


def _parsed_digest(line: bytes) -> bytes | None:
    from .apply_cache import canonical_digest

    try:
        value = _loads(line)
    except (ValueError, RecursionError):
        return None
    return canonical_digest(value) if isinstance(value, dict) else None


def _check_rewritten(
    line: bytes, want: int, entry: tuple[dict[str, Any], int], s: ShardFile, original: bytes | None
) -> str | None:
    """Why a rewritten shard line is not its input line's request minus the cache's content, or None."""
    from .apply_cache import canonical_digest, restore

    cache, index = entry
    name = cache.get("id", "a cache")
    if index != s.index:
        return f"the manifest lists it for {name} in shard {index}, not this one"
    if original is None:
        return "its input line is not a JSON object"
    try:
        value = _loads(line)
        if not isinstance(value, dict):
            return "it is not a JSON object"
        back = restore(value, cache["content"], cache["joined"], cache["placeholder"])
    except (ValueError, RecursionError) as e:
        return f"not the input request with {name}'s content taken out: {e}"
    if canonical_digest(back) != original:
        return f"this line plus {name}'s content is not the input request (the rewrite changed something else)"
    return None
