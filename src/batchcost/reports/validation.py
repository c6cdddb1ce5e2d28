"""``validate`` for a terminal: problems grouped by kind, then a one-line summary.

Reads the ``batchcost.validation/1`` document (:func:`batchcost.batchfile.validation.validation_document`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..text import one_line, plural


def summary_line(doc: Mapping[str, Any]) -> str:
    """``requests.jsonl: valid: 3 requests in 3 lines, 358 bytes; 0 errors, 0 warnings``."""
    files = doc["files"]
    verdict = "valid" if doc["valid"] else "INVALID"
    what = f"{len(files)} files" if len(files) > 1 else one_line(files[0]["path"]) if files else "no files"
    return (
        f"{what}: {verdict}: {plural(doc['requests'], 'request')} in {plural(doc['lines'], 'line')}, "
        f"{_size(doc['bytes'])}; {plural(doc['errors'], 'error')}, {plural(doc['warnings'], 'warning')}"
    )


def render_text(doc: Mapping[str, Any]) -> str:
    """Problems grouped by kind (the document's shown problems of each), then a one-line summary."""
    out: list[str] = []
    for kind in doc["problems"]:
        shown = kind["shown"]
        out.append(f"{kind['severity']}: {kind['title']} ({kind['code']}): {kind['count']:,}")
        for p in shown:
            where = one_line(p["path"])
            out.append(f"  {where}:{p['line']}: {p['message']}" if p["line"] else f"  {where}: {p['message']}")
        if kind["count"] > len(shown):
            out.append(f"  ... and {kind['count'] - len(shown):,} more")
    out.append(summary_line(doc))
    return "\n".join(out) + "\n"


def _size(n: int) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:,.1f} {unit}"
    return plural(n, "byte")
