"""Reading Gemini batch input files: the full-file check and the per-request figures.

Public API: :func:`scan` returns a :class:`ScanResult`; :class:`Problem` is one finding.
"""

from __future__ import annotations

from .problems import KINDS, Problem, Severity
from .request import request_texts
from .result import MEDIA_COLUMNS, ROW_COLUMNS, SCAN_ONLY_COLUMNS, FileInfo, ScanResult
from .scanner import FileLimits, scan

__all__ = [
    "KINDS",
    "MEDIA_COLUMNS",
    "ROW_COLUMNS",
    "SCAN_ONLY_COLUMNS",
    "FileInfo",
    "FileLimits",
    "Problem",
    "ScanResult",
    "Severity",
    "request_texts",
    "scan",
]
