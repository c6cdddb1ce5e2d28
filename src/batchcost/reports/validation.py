"""Rendering a scan's findings: grouped text for terminals, and a JSON document."""

from __future__ import annotations

from typing import Any

from ..batchfile import KINDS, ScanResult, Severity

VALIDATION_SCHEMA = "batchcost.validation/1"


def _grouped(result: ScanResult) -> list[tuple[str, int, list[Any]]]:
    """(code, count, kept problems) ordered errors first, then by count."""
    kept: dict[str, list[Any]] = {}
    for p in result.problems:
        kept.setdefault(p.code, []).append(p)
    codes = sorted(
        result.problem_counts,
        key=lambda c: (KINDS[c][0] is not Severity.ERROR, -result.problem_counts[c], c),
    )
    return [(c, result.problem_counts[c], kept.get(c, [])) for c in codes]


def summary_line(result: ScanResult, *, strict: bool = False) -> str:
    files = len(result.files)
    verdict = "valid" if result.valid(strict=strict) else "INVALID"
    what = f"{files} files" if files > 1 else result.files[0].path if files else "no files"
    return (
        f"{what}: {verdict}: {plural(result.requests, 'request')} in {plural(result.lines, 'line')}, "
        f"{_size(result.bytes)}; {plural(result.errors, 'error')}, {plural(result.warnings, 'warning')}"
    )


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def render_text(result: ScanResult, *, max_problems: int = 10, strict: bool = False) -> str:
    """Problems grouped by kind (first ``max_problems`` of each), then a one-line summary."""
    out: list[str] = []
    for code, count, kept in _grouped(result):
        severity, title = KINDS[code]
        out.append(f"{severity.value}: {title} ({code}): {count:,}")
        for p in kept[:max_problems]:
            out.append(f"  {p.path}:{p.line}: {p.message}" if p.line else f"  {p.path}: {p.message}")
        if count > min(len(kept), max_problems):
            out.append(f"  ... and {count - min(len(kept), max_problems):,} more")
    out.append(summary_line(result, strict=strict))
    return "\n".join(out) + "\n"


def to_json(result: ScanResult, *, max_problems: int = 10, strict: bool = False) -> dict[str, Any]:
    """A JSON-ready document (``schema`` = ``batchcost.validation/1``)."""
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


def _size(n: int) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:,.1f} {unit}"
    return f"{n} bytes"
