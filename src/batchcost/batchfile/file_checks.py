"""The checks that need a whole file: its size and request count against the job limits, repeated
keys, mixed models, and whether any line is usable. They run on the merged columns of the scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .result import FileInfo, ScanResult
from .scan_merge import Merger


@dataclass(frozen=True, slots=True)
class FileLimits:
    """Per-job input limits checked on each file.

    Defaults: Developer API input file "maximum allowed file size ... is 2GB" (the batch doc, read as
    2,000,000,000 bytes, the stricter reading); no documented request-count limit. Vertex batch:
    1 GB file and 200,000 requests per job (the Vertex batch doc). Sources: the Gemini API and Vertex AI batch pages.
    """

    developer_max_bytes: int = 2_000_000_000
    vertex_max_bytes: int = 1_000_000_000
    vertex_max_requests: int = 200_000


def size_checks(m: Merger, info: FileInfo, limits: FileLimits) -> None:
    """An empty file, or one over its platform's input-file limit."""
    path = info.path
    if info.lines == 0:
        m.report(path, 0, "no-requests", "file is empty; a batch file holds one JSON request per line")
        return
    max_bytes = limits.developer_max_bytes if info.form == "developer" else limits.vertex_max_bytes
    if info.data_size > max_bytes:
        shards = -(-info.data_size // max_bytes)
        platform = "Developer API" if info.form == "developer" else "Vertex AI batch"
        m.report(
            path, 0, "file-too-large",
            f"{info.data_size / 1e9:,.2f} GB of JSONL is over the {max_bytes / 1e9:g} GB input-file limit "
            f"({platform}); split it into at least {shards} files with `batchcost shard`",
        )  # fmt: skip


def whole_file_checks(m: Merger, files: list[FileInfo], rows: dict[str, Any]) -> None:
    """Report what only the whole of each file shows, from the merged row columns."""
    for info in files:
        lo, hi = info.first_row, info.first_row + info.lines
        _duplicate_keys(m, info, rows, lo, hi, files)
        _mixed_models(m, info, rows, lo, hi)
        _mixed_kinds(m, info, rows, lo, hi)
        if info.form == "vertex":
            n = int(rows["usable"][lo:hi].sum())
            limit = FileLimits().vertex_max_requests
            if n > limit:
                m.report(
                    info.path, 0, "too-many-requests",
                    f"{n:,} requests; a Vertex AI batch job takes at most {limit:,}: split it with `batchcost shard`",
                )  # fmt: skip
        if info.lines and not rows["usable"][lo:hi].any():
            m.report(info.path, 0, "no-requests", "no line holds a usable request; see the problems above")


def _duplicate_keys(m: Merger, info: FileInfo, rows: dict[str, Any], lo: int, hi: int,
                    files: list[FileInfo]) -> None:  # fmt: skip
    import numpy as np

    kh = rows["key_hash"][lo:hi]
    sv = np.sort(kh[kh != 0])
    if len(sv) < 2:
        return
    same = sv[1:] == sv[:-1]
    if not same.any():
        return
    repeated = np.unique(sv[1:][same])  # hash values given to two rows or more
    del sv, same
    # Rows in groups of equal hashes; confirm with the real keys (a 64-bit collision is possible).
    # Kept as numpy rows and read back in row order, so a file of millions of copies of one line
    # costs a few bytes per row here, not a Python object per row.
    involved = np.flatnonzero(np.isin(kh, repeated)) + lo
    import msgspec

    class _Key(msgspec.Struct):
        key: Any = None

    decode = msgspec.json.Decoder(_Key).decode
    result_view = ScanResult(files, rows, {}, [], {}, np.zeros(0, np.int64), 0)
    first_line: dict[str, int] = {}
    for r, raw in result_view.read_lines(involved):
        try:
            key = decode(raw.removeprefix(b"\xef\xbb\xbf")).key
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            continue
        if not isinstance(key, str):
            continue
        line = r - info.first_row + 1
        first = first_line.setdefault(key, line)
        if first != line:
            m.report(
                info.path, line, "key-duplicate",
                f"duplicate key {key!r:.80} (first on line {first}); keys must be unique in a job "
                "because results are matched by key",
            )  # fmt: skip


def _mixed_models(m: Merger, info: FileInfo, rows: dict[str, Any], lo: int, hi: int) -> None:
    import numpy as np

    ids = rows["model"][lo:hi]
    named = ids[ids > 0]
    if not len(named):
        return
    counts = np.bincount(named)
    distinct = np.flatnonzero(counts)
    if len(distinct) < 2:
        return
    major = int(counts.argmax())
    for r in np.flatnonzero((ids > 0) & (ids != major)):
        m.report(
            info.path, int(r) + 1, "mixed-models",
            f"request.model {m.models[int(ids[r])]!r} differs from {m.models[major]!r} "
            f"(used by {int(counts[major]):,} line{'s' if counts[major] != 1 else ''}); a batch job runs one model: split the file by model",
        )  # fmt: skip


def _mixed_kinds(m: Merger, info: FileInfo, rows: dict[str, Any], lo: int, hi: int) -> None:
    """Embedding and generation requests in one file: they go to different endpoints, so one job cannot hold both."""
    import numpy as np

    from .embed_request import FLAG_EMBED

    usable = rows["usable"][lo:hi].astype(bool)
    embed = (rows["flags"][lo:hi] & FLAG_EMBED) > 0
    n_embed, n_gen = int((embed & usable).sum()), int((~embed & usable).sum())
    if not n_embed or not n_gen:
        return
    minority = embed if n_embed < n_gen else ~embed
    what = "an embedding" if n_embed < n_gen else "a generation"
    for r in np.flatnonzero(minority & usable)[:20]:
        m.report(
            info.path, int(r) + 1, "mixed-kinds",
            f"{what} request in a file of {n_embed:,} embedding and {n_gen:,} generation requests; embedding "
            "batches (asyncBatchEmbedContent) and generation batches are separate jobs: split the file",
        )  # fmt: skip
