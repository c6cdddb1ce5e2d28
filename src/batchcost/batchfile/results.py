"""Reading Gemini batch *output* files: one streaming pass, per-request usage as columns.

Line shapes accepted (https://ai.google.dev/gemini-api/docs/batch-api, and Vertex AI batch output):

* Gemini Developer API: ``{"key": ..., "response": GenerateContentResponse}`` or
  ``{"key": ..., "error": Status}``. Some integrations write the error under ``"status"``
  instead of ``"error"``; both are read.
* Vertex AI batch prediction: ``{"request": ..., "response": ...}`` for a success and
  ``{"request": ..., "status": "<message>"}`` for a failure (``status`` is ``""`` on success).
  There is no ``key``; the echoed ``request`` is used for its settings (``maxOutputTokens``,
  thinking) when present.
* gzip-compressed files of either form; camelCase or snake_case field names.

A failed line (error object, or a non-empty ``status``) is counted apart and never billed. A line
that cannot be read is a :class:`ResultProblem` naming ``file:line``, what is wrong and the fix,
like the input scanner's problems; reading never stops at the first one. Files are streamed a block
at a time (gzip included), and a line over the scanner's line limit is reported and skipped without
being held in memory. A file is Developer-API form when any of its lines carries a ``key``; then
each line without one is a problem of its own (``key-missing``), and :attr:`ResultSet.keyless`
lists those rows, so one keyless line never turns the key check off for the others.

Per-modality figures are normalised so that, per row, the modality columns add up to the total they
detail: a gap between ``promptTokenCount`` and the sum of ``promptTokensDetails`` goes to text, and
cached tokens without ``cacheTokensDetails`` are taken from text first (the usual case: a cached
system instruction or document text). Each such repair is reported once per kind.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from ..errors import InputError
from .lines import check_each_once, is_gzip_input, open_binary
from .problems import escaped
from .results_line import LineReader
from .results_types import (
    FAILED,
    GROUNDED_MAPS,
    GROUNDED_SEARCH,
    MODALITIES,
    OK,
    RESULT_COLUMNS,
    RESULT_KINDS,
    UNREADABLE,
    ResultProblem,
    ResultSet,
    ResultsFileInfo,
)

__all__ = [
    "FAILED", "GROUNDED_MAPS", "GROUNDED_SEARCH", "MODALITIES", "OK", "RESULT_COLUMNS", "RESULT_KINDS", "UNREADABLE",
    "InputKeys", "ResultProblem", "ResultSet", "ResultsFileInfo", "detect_form", "open_check",
    "read_input_keys", "read_results", "results_from_objects",
]  # fmt: skip

_PROGRESS_STEP = 4 * 1024 * 1024


# -- files ----------------------------------------------------------------------------------------


def open_check(path: str) -> int:
    from .lines import open_check as check

    return check(path)


def detect_form(path: str, compressed: bool) -> str:
    """``developer`` or ``vertex`` as the first lines suggest (a majority of the first 50)."""
    from .lines import detect_form as detect

    return detect(path, compressed)


def _read_file(reader: LineReader, fh: IO[bytes], raw_fh: IO[bytes], progress: Callable[[int], None]) -> None:
    """Every line of one file into ``reader`` (streamed; a damaged gzip tail is one problem)."""
    from .lines import MAX_LINE_BYTES, LineFiller, stream_lines

    next_report = _PROGRESS_STEP
    read = LineFiller(fh).read if hasattr(fh, "read1") else fh.read
    try:
        for _offset, line, nbytes, newline in stream_lines(read, MAX_LINE_BYTES):
            reader.line(line, not newline, nbytes)
            pos = raw_fh.tell()
            if pos >= next_report:
                next_report = pos + _PROGRESS_STEP
                progress(pos)
    except (OSError, EOFError, zlib.error) as e:
        reader.line_no += 1
        reader.report(
            "gzip-corrupt",
            f"gzip data is corrupt or cut off after line {reader.line_no - 1} ({escaped(str(e))}); download the "
            "results again",
        )
        reader.add_row(UNREADABLE, None)


def read_results(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    keep_problems: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> ResultSet:
    """Read batch results files line by line (streaming; memory grows with the line count only).

    Args:
        paths: one or several results files (``.jsonl`` or gzip), Developer API or Vertex form.
        keep_problems: problems kept per kind (all are counted in ``problem_counts``).
        progress: called with ``(bytes read, total bytes)`` (bytes on disk).

    Returns:
        A :class:`ResultSet`. Problems in the files are data in it, never exceptions.

    Raises:
        InputError: a file cannot be read at all (missing, a directory, permission denied, empty, a
            pipe or FIFO).
    """
    import numpy as np

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    names = [os.fspath(p) for p in paths]
    sizes = [open_check(p) for p in names]
    check_each_once(names)
    total = sum(sizes)
    reader = LineReader(keep_problems)
    files: list[ResultsFileInfo] = []
    done = 0
    for fi, (path, size) in enumerate(zip(names, sizes, strict=True)):
        if size == 0:
            raise InputError(path, "file is empty; give the results file the batch job produced")
        compressed = is_gzip_input(path, path, size)
        reader.start_file(path, fi, detect_form(path, compressed))
        first_row = len(reader.keys)

        def report(pos: int, base: int = done) -> None:
            if progress is not None:
                progress(base + pos, total)

        with open_binary(path) as raw_fh:  # a URL's object read in parallel ranges
            fh: IO[bytes] = gzip.GzipFile(fileobj=raw_fh) if compressed else raw_fh  # type: ignore[assignment]
            _read_file(reader, fh, raw_fh, report)
        form = reader.end_file()
        files.append(ResultsFileInfo(path, size, compressed, form, reader.line_no, first_row))
        done += size
        if progress is not None:
            progress(done, total)
    rows = {
        name: np.frombuffer(reader.cols[name], dtype=spec[1]).copy() if len(reader.cols[name]) else np.zeros(0, spec[1])
        for name, spec in RESULT_COLUMNS.items()
    }
    order = {f.path: i for i, f in enumerate(files)}
    problems = sorted(reader.problems, key=lambda p: (order.get(p.path, 0), p.line))
    return ResultSet(
        files=files,
        rows=rows,
        keys=reader.keys,
        problems=problems,
        problem_counts=dict(reader.counts),
        models=reader.models,
        error_kinds=reader.error_kinds,
    )


def results_from_objects(objects: Sequence[dict[str, Any]], *, name: str = "<responses>") -> ResultSet:
    """A :class:`ResultSet` from result objects already in memory (e.g. responses of a pilot run).

    Each object has the shape of a results line (``{"key", "response"}`` or ``{"key", "error"}``);
    ``name`` stands in for the file path in problems.
    """
    import numpy as np

    reader = LineReader(keep=100)
    reader.start_file(name, 0, "developer")
    for obj in objects:
        reader.line_no += 1
        reader.read_object(obj)
    reader.end_file()
    rows = {
        n: np.frombuffer(reader.cols[n], dtype=spec[1]).copy() if len(reader.cols[n]) else np.zeros(0, spec[1])
        for n, spec in RESULT_COLUMNS.items()
    }
    info = ResultsFileInfo(name, 0, False, "developer", reader.line_no, 0)
    return ResultSet([info], rows, reader.keys, reader.problems, dict(reader.counts), reader.models, reader.error_kinds)


# -- keys of input files ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InputKeys:
    """The keys of one batch input file, in line order, and the file's SHA-256.

    Attributes:
        path: as given.
        form: ``developer`` when any line has a ``key``, else ``vertex`` (``keys`` is then all None).
        keys: one entry per line (None for a line without a readable key).
        sha256: hex digest of the file's bytes as stored (compressed bytes for gzip).
    """

    path: str
    form: str
    keys: list[str | None]
    sha256: str


class _HashingReader:
    """A read-only file wrapper that hashes every byte read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        import hashlib

        self.raw = raw
        self.hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        return data

    def finish(self) -> str:
        while block := self.raw.read(1 << 20):
            self.hash.update(block)
        return self.hash.hexdigest()


def read_input_keys(path: str | os.PathLike[str]) -> InputKeys:
    """Read only the ``key`` of each line of a batch input file (streaming), hashing the file on the way.

    Raises:
        InputError: the file cannot be read.
    """
    import msgspec

    class _KeyLine(msgspec.Struct):
        key: Any = None

    from .lines import MAX_LINE_BYTES, LineFiller, stream_lines

    name = os.fspath(path)
    size = open_check(name)
    compressed = is_gzip_input(name, name, size)
    decode = msgspec.json.Decoder(_KeyLine).decode
    keys: list[str | None] = []
    keyed = 0
    with open_binary(name) as raw_fh:
        hashing = _HashingReader(raw_fh)
        fh: Any = gzip.GzipFile(fileobj=hashing) if compressed else hashing  # type: ignore[arg-type]
        try:
            read = LineFiller(fh).read if compressed else fh.read
            for _offset, line, _n, _newline in stream_lines(read, MAX_LINE_BYTES):
                try:
                    key = None if line is None else decode(line).key
                except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
                    key = None
                if key is not None:
                    keyed += 1
                keys.append(key if isinstance(key, str) else None)
        except (OSError, EOFError, zlib.error):
            pass  # a corrupt tail: the keys read so far still count; `validate` reports the damage
        digest = hashing.finish()
    # Developer form when any line has a key: one line without one must not switch the key check off
    return InputKeys(name, "developer" if keyed or not size else "vertex", keys, digest)
