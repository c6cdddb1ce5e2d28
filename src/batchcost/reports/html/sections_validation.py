"""The validation section: whether the file is valid, problem counts by kind, the first problems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...text import one_line
from .context import ProblemRow, ValidationSection
from .display import count, file_name

FIRST_PROBLEMS = 20


def validation_section(plan: Mapping[str, Any]) -> ValidationSection:
    """Whether the file is valid, problem counts by kind, and the first problems."""
    v = plan["validation"]
    counts = sorted(
        ((str(k), int(n)) for k, n in (v.get("problem_counts") or {}).items()), key=lambda kv: (-kv[1], kv[0])
    )
    problems = [
        ProblemRow(
            one_line(file_name(p.get("path", ""))), "-" if p.get("line") is None else f"{p['line']:,}", str(p.get("code", "")),
            str(p.get("severity", "")), str(p.get("message", "")),
        )
        for p in (v.get("problems") or [])[:FIRST_PROBLEMS]
    ]  # fmt: skip
    total = sum(n for _, n in counts)
    if v["valid"] and not total:
        summary = f"Every line is a valid batch request ({count(plan['requests'], 'request')})."
    elif v["valid"]:
        summary = f"Valid, with {count(v.get('warnings', 0), 'warning')}."
    else:
        summary = (
            f"INVALID: {count(v.get('errors', 0), 'error')} and {count(v.get('warnings', 0), 'warning')}. "
            "The API rejects the job (or the lines) until they are fixed; costs cover the usable requests only."
        )
    more = ""
    if total > len(problems):
        more = f"Showing the first {len(problems):,} of {count(total, 'problem')}; `batchcost validate` lists them all."
    return ValidationSection(bool(v["valid"]), summary, [(k, f"{n:,}") for k, n in counts], problems, more)
