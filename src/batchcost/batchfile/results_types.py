"""What reading a results file gives: the row columns and their status values, the problem kinds,
and :class:`ResultSet` (one row per results line, with the keys, problems, models and error kinds),
which :mod:`.results` fills and the after-job modules read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .problems import Problem, Severity

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


MODALITIES: tuple[str, ...] = ("text", "image", "video", "audio", "document")
"""Modalities of the per-modality columns (same order as :data:`batchcost.pricing.MODALITIES`)."""

# Row status values.
OK = 0  # a response with usageMetadata: priced
FAILED = 1  # an error object or a non-empty status: counted apart, not billed
UNREADABLE = 2  # the line could not be used (see the problems)

# Columns of ResultSet.rows: name -> (array typecode while reading, numpy dtype, meaning).
RESULT_COLUMNS: dict[str, tuple[str, str, str]] = {
    "file": ("H", "u2", "index into ResultSet.files"),
    "line": ("Q", "u8", "1-based line number in its file"),
    "status": ("B", "u1", "0 ok (priced), 1 failed (not billed), 2 unreadable"),
    "prompt": ("q", "i8", "promptTokenCount (cached tokens included)"),
    "cached": ("q", "i8", "cachedContentTokenCount"),
    "tool_use": ("q", "i8", "toolUsePromptTokenCount"),
    "candidates": ("q", "i8", "candidatesTokenCount (thoughts excluded)"),
    "thoughts": ("q", "i8", "thoughtsTokenCount"),
    **{f"prompt_{m}": ("i", "i4", f"prompt tokens of modality {m} (cached included)") for m in MODALITIES},
    **{f"cached_{m}": ("i", "i4", f"cached tokens of modality {m}") for m in MODALITIES},
    **{f"tool_{m}": ("i", "i4", f"tool-use prompt tokens of modality {m}") for m in MODALITIES},
    "max_tokens": ("B", "u1", "1 when a candidate stopped at maxOutputTokens (finishReason MAX_TOKENS)"),
    "model": ("H", "u2", "index into ResultSet.models (modelVersion; 0 = not given)"),
    "error": ("H", "u2", "index into ResultSet.error_kinds (0 = none)"),
    "has_request": ("B", "u1", "1 when the line echoes its request (Vertex), settings below are from it"),
    "max_output_tokens": ("i", "i4", "echoed request's maxOutputTokens, or UNSET"),
    "thinking_budget": ("i", "i4", "echoed request's thinkingBudget, or UNSET"),
    "thinking_level": ("b", "i1", "echoed request's thinkingLevel index (schema.THINKING_LEVELS), -1 none"),
    "candidate_count": ("H", "u2", "echoed request's candidateCount (1 when not given)"),
    "search_queries": ("i", "i4", "groundingMetadata.webSearchQueries issued, all candidates"),
    "grounded": ("B", "u1", "bits: 1 grounded with Google Search, 2 grounded with Google Maps (groundingMetadata)"),
    "embedding": ("B", "u1", "1 for an embedding result (no usageMetadata: priced from the input's tokens)"),
    "candidates_image": ("q", "i8", "candidatesTokensDetails IMAGE tokens (generated images; in candidates)"),
    "candidates_audio": ("q", "i8", "candidatesTokensDetails AUDIO tokens (generated speech; in candidates)"),
}

GROUNDED_SEARCH = 1
GROUNDED_MAPS = 2

# code -> (severity, short title)
RESULT_KINDS: dict[str, tuple[Severity, str]] = {
    "not-utf8": (Severity.ERROR, "not UTF-8"),
    "not-json": (Severity.ERROR, "not JSON"),
    "truncated": (Severity.ERROR, "truncated last line"),
    "not-object": (Severity.ERROR, "line is not a JSON object"),
    "gzip-corrupt": (Severity.ERROR, "gzip data corrupt"),
    "line-too-long": (Severity.ERROR, "line too long to read"),
    "nesting-too-deep": (Severity.ERROR, "nested too deeply to read"),
    "not-a-result": (Severity.ERROR, "request line without a result"),
    "no-outcome": (Severity.ERROR, "neither response nor error"),
    "no-usage": (Severity.ERROR, "response without usageMetadata"),
    "bad-usage": (Severity.ERROR, "invalid usageMetadata"),
    "blank-line": (Severity.WARNING, "blank line"),
    "usage-inconsistent": (Severity.WARNING, "usage details do not add up"),
    "key-missing": (Severity.WARNING, "missing key"),
    "key-duplicate": (Severity.WARNING, "duplicate key"),
    "both-outcomes": (Severity.WARNING, "response and error together"),
}


@dataclass(frozen=True, slots=True)
class ResultProblem(Problem):
    """One problem in a results file.

    Attributes:
        path: the file, as given by the caller.
        line: 1-based line number; 0 when about the whole file.
        code: a stable id from :data:`RESULT_KINDS`.
        message: what is wrong and how to fix it, one line.
    """

    kinds: ClassVar[Mapping[str, tuple[Severity, str]]] = RESULT_KINDS


@dataclass(frozen=True, slots=True)
class ResultsFileInfo:
    """One results file.

    Attributes:
        path: as given.
        size: bytes on disk.
        compressed: gzip.
        form: ``"developer"`` (lines carry a ``key``) or ``"vertex"`` (no key).
        lines: lines read.
        first_row: index of the file's first line in the row columns.
    """

    path: str
    size: int
    compressed: bool
    form: str
    lines: int
    first_row: int


@dataclass(slots=True)
class ResultSet:
    """Everything one pass over results files found: one row per line (blank lines included).

    Row columns are numpy arrays (see :data:`RESULT_COLUMNS`); ``keys[row]`` is the line's key, or None
    for a line without one (and for blank or unreadable lines: see :attr:`keyless` for the lines that
    were read but carry no key).
    """

    files: list[ResultsFileInfo]
    rows: dict[str, npt.NDArray[Any]]
    keys: list[str | None]
    problems: list[ResultProblem]
    problem_counts: dict[str, int]
    models: list[str] = field(default_factory=lambda: [""])
    error_kinds: list[str] = field(default_factory=lambda: [""])

    @property
    def lines(self) -> int:
        return len(self.rows["status"])

    @property
    def succeeded(self) -> int:
        """Lines with a response and usage figures, or an embedding (priced)."""
        return int((self.rows["status"] == OK).sum())

    @property
    def embeddings(self) -> int:
        """Successful embedding results (no usageMetadata: their input is counted from the input file)."""
        return int(((self.rows["status"] == OK) & (self.rows["embedding"] == 1)).sum())

    @property
    def failed(self) -> int:
        """Lines with an error (not billed)."""
        return int((self.rows["status"] == FAILED).sum())

    @property
    def errors(self) -> int:
        """Problems of error severity (lines that could not be used)."""
        return sum(n for code, n in self.problem_counts.items() if RESULT_KINDS[code][0] is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(n for code, n in self.problem_counts.items() if RESULT_KINDS[code][0] is Severity.WARNING)

    @property
    def form(self) -> str:
        """``developer`` or ``vertex`` when all files agree, else ``mixed``."""
        forms = {f.form for f in self.files}
        return forms.pop() if len(forms) == 1 else "mixed"

    def failures_by_kind(self) -> dict[str, int]:
        """Failed lines per error kind (e.g. ``"400 INVALID_ARGUMENT"``), most frequent first."""
        import numpy as np

        err = self.rows["error"][self.rows["status"] == FAILED]
        counts = np.bincount(err, minlength=len(self.error_kinds)) if len(err) else np.zeros(0, np.int64)
        pairs = [(self.error_kinds[i], int(n)) for i, n in enumerate(counts) if n]
        return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))

    def model_versions(self) -> dict[str, int]:
        """Successful lines per ``modelVersion`` (``""`` when not given), most frequent first."""
        import numpy as np

        ids = self.rows["model"][self.rows["status"] == OK]
        counts = np.bincount(ids, minlength=len(self.models)) if len(ids) else np.zeros(0, np.int64)
        pairs = [(self.models[i], int(n)) for i, n in enumerate(counts) if n]
        return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))

    def locate(self, row: int) -> tuple[ResultsFileInfo, int]:
        """(file, 1-based line number) of a row."""
        return self.files[int(self.rows["file"][row])], int(self.rows["line"][row])

    @property
    def keyless(self) -> npt.NDArray[np.int64]:
        """Rows of Developer-API files that were read (succeeded or failed) but carry no ``key``.

        Each is also a ``key-missing`` problem. These results cannot be matched to a request; every
        other row's key still can (``keys[row]``), so a key check counts these apart, it does not stop.
        """
        import numpy as np

        developer = np.array([f.form == "developer" for f in self.files], dtype=bool)
        status = self.rows["status"]
        no_key = np.fromiter((k is None for k in self.keys), dtype=bool, count=len(self.keys))
        if not len(no_key):
            return np.zeros(0, np.int64)
        return np.flatnonzero(no_key & (status != UNREADABLE) & developer[self.rows["file"]]).astype(np.int64)
