"""A scan's findings as the ``batchcost.validation/1`` document that ``validate`` prints or saves."""

from __future__ import annotations

from typing import Any

from ..documents.validation import VALIDATION_SCHEMA
from .problems import KINDS, Severity
from .result import ScanResult

# Kinds that sum up the others ("no line holds a usable request"): listed after the other errors,
# which they point to.
_SUMMARIES = frozenset({"no-requests"})


def _grouped(result: ScanResult) -> list[tuple[str, int, list[Any]]]:
    """(code, count, kept problems) ordered errors first (the summing-up ones last of them), then by count."""
    kept: dict[str, list[Any]] = {}
    for p in result.problems:
        kept.setdefault(p.code, []).append(p)
    codes = sorted(
        result.problem_counts,
        key=lambda c: (KINDS[c][0] is not Severity.ERROR, c in _SUMMARIES, -result.problem_counts[c], c),
    )
    return [(c, result.problem_counts[c], kept.get(c, [])) for c in codes]


def validation_document(result: ScanResult, *, max_problems: int = 10, strict: bool = False) -> dict[str, Any]:
    """The ``batchcost.validation/1`` document: verdict, figures, and problems grouped by kind.

    Kinds come errors first (one that sums up the others, such as ``no-requests``, last of them), then
    by count; each lists its first ``max_problems`` problems.
    """
    return {
        "schema": VALIDATION_SCHEMA,
        "valid": result.valid(strict=strict),
        "strict": strict,
        "files": [f.to_json() for f in result.files],
        "requests": result.requests,
        "lines": result.lines,
        "bytes": result.bytes,
        "errors": result.errors,
        "warnings": result.warnings,
        "problems": [
            {
                "code": code,
                "severity": KINDS[code][0].value,
                "title": KINDS[code][1],
                "count": count,
                "shown": [{"path": p.path, "line": p.line, "message": p.message} for p in kept[:max_problems]],
            }
            for code, count, kept in _grouped(result)
        ],
    }
