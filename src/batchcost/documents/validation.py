"""``batchcost.validation/1``: what ``validate --format json`` writes (``batchfile/validation.py``).

Read back by ``reports/validation.py``. Problems are grouped by kind, errors first (``no-requests``,
which sums up the others, last of them), then by count, each kind with its count and its first
problems.
"""

from __future__ import annotations

from typing import Literal

from .common import Count, FileEntry, Strict

VALIDATION_SCHEMA = "batchcost.validation/1"

__all__ = ["VALIDATION_SCHEMA", "ProblemGroup", "ShownProblem", "ValidationDocument"]


class ShownProblem(Strict):
    """One problem of a kind, as shown (``line`` 0: about the whole file)."""

    path: str
    line: Count
    message: str


class ProblemGroup(Strict):
    """Every problem of one kind: how many, and the first ones (``validate --max-problems``)."""

    code: str
    severity: Literal["error", "warning"]
    title: str
    count: Count
    shown: list[ShownProblem]


class ValidationDocument(Strict, tag_field="schema", tag=VALIDATION_SCHEMA):
    """``batchcost.validation/1``: the verdict on batch input files, their figures and problems.

    ``valid`` is false when there are errors (warnings too when ``strict``).
    """

    valid: bool
    strict: bool
    files: list[FileEntry]
    requests: Count
    lines: Count
    bytes: Count
    errors: Count
    warnings: Count
    problems: list[ProblemGroup]
