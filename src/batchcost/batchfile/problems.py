"""Kinds of problems the scan reports, and the Problem record.

Every problem names the file, the line (0 for the file as a whole), what is wrong and how to fix
it. Errors make the API reject the line or the file; warnings are accepted by the API or not
certain to fail (they fail validation only with ``strict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from ..text import one_line


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


# code -> (severity, short title used to group problems in summaries)
KINDS: dict[str, tuple[Severity, str]] = {
    "not-utf8": (Severity.ERROR, "not UTF-8"),
    "bom": (Severity.ERROR, "byte-order mark"),
    "blank-line": (Severity.ERROR, "blank line"),
    "not-json": (Severity.ERROR, "not JSON"),
    "truncated": (Severity.ERROR, "truncated last line"),
    "line-too-long": (Severity.ERROR, "line too long to check"),
    "nesting-too-deep": (Severity.ERROR, "nested too deeply to check"),
    "not-object": (Severity.ERROR, "line is not a JSON object"),
    "duplicate-name": (Severity.ERROR, "a name repeated in one JSON object"),
    "openai-format": (Severity.ERROR, "OpenAI batch format"),
    "anthropic-format": (Severity.ERROR, "Anthropic batch format"),
    "key-missing": (Severity.ERROR, "missing key"),
    "key-not-string": (Severity.ERROR, "key is not a string"),
    "key-empty": (Severity.ERROR, "empty key"),
    "key-duplicate": (Severity.ERROR, "duplicate key"),
    "request-missing": (Severity.ERROR, "missing request"),
    "request-not-object": (Severity.ERROR, "request is not an object"),
    "contents-missing": (Severity.ERROR, "contents missing or empty"),
    "content-invalid": (Severity.ERROR, "invalid content"),
    "parts-missing": (Severity.ERROR, "content without parts"),
    "part-no-data": (Severity.ERROR, "part without data"),
    "part-multiple-data": (Severity.ERROR, "part with two data fields"),
    "part-invalid": (Severity.ERROR, "invalid part"),
    "role-unknown": (Severity.ERROR, "unknown role"),
    "inline-bad-base64": (Severity.ERROR, "inlineData is not valid base64"),
    "inline-no-mime": (Severity.ERROR, "inlineData without mimeType"),
    "filedata-no-uri": (Severity.ERROR, "fileData without fileUri"),
    "misplaced-field": (Severity.ERROR, "field in the wrong place"),
    "duplicate-field": (Severity.ERROR, "field given in both spellings"),
    "bad-value": (Severity.ERROR, "invalid field value"),
    "mixed-models": (Severity.ERROR, "lines name different models"),
    "mixed-kinds": (Severity.ERROR, "embedding and generation requests in one file"),
    "embed-media": (Severity.ERROR, "media sent to a text-only embedding model"),
    "file-too-large": (Severity.ERROR, "file over the input limit"),
    "too-many-requests": (Severity.ERROR, "more requests than one job accepts"),
    "gzip-corrupt": (Severity.ERROR, "gzip data corrupt"),
    "no-requests": (Severity.ERROR, "no requests"),
    "unknown-field": (Severity.WARNING, "unknown field"),
    "results-line": (Severity.WARNING, "a results line"),
    "thinking-both": (Severity.WARNING, "thinkingBudget and thinkingLevel together"),
    "embed-limit": (Severity.WARNING, "over a third-party embedding media limit"),
}


def escaped(text: str, limit: int = 80) -> str:
    """Text from a file made safe to print inside a one-line message (no quotes added).

    Control characters (C0, C1, ESC), line and paragraph separators, bidi overrides and every
    other character Python does not call printable are written as ``\\n``, ``\\x1b``,
    ``\\u202e``...; a backslash is doubled so an escape cannot be faked. Longer text is cut to
    ``limit`` characters (before escaping, so no escape is cut in half) and marked with "...".
    """
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    if text.isprintable() and "\\" not in text:
        return text + "..." if cut else text
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(_ESCAPES.get(ch) or _escape_code(ord(ch)))
    return "".join(out) + ("..." if cut else "")


def quoted(text: str, limit: int = 80) -> str:
    """:func:`escaped` text in double quotes (a double quote inside is escaped too)."""
    return '"' + escaped(text, limit).replace('"', '\\"') + '"'


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_code(code: int) -> str:
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in an input file.

    Attributes:
        path: the file, as given by the caller.
        line: 1-based line number; 0 when the problem is about the whole file.
        code: a stable id from :data:`KINDS` (e.g. ``"key-duplicate"``).
        message: what is wrong and how to fix it, one line.
    """

    path: str
    line: int
    code: str
    message: str

    # the table ``code`` belongs to (results files have their own, see batchfile.results)
    kinds: ClassVar[Mapping[str, tuple[Severity, str]]] = KINDS

    def __post_init__(self) -> None:
        # Messages quote file text through escaped()/quoted()/repr(); this is the safety net that
        # keeps one problem on one line, free of terminal controls, whatever a message quoted.
        if not self.message.isprintable():
            safe = "".join(ch if ch.isprintable() else _ESCAPES.get(ch) or _escape_code(ord(ch)) for ch in self.message)
            object.__setattr__(self, "message", safe)

    @property
    def severity(self) -> Severity:
        return self.kinds[self.code][0]

    @property
    def title(self) -> str:
        return self.kinds[self.code][1]

    def __str__(self) -> str:
        where = f"{one_line(self.path)}:{self.line}" if self.line else one_line(self.path)
        return f"{where}: {self.severity.value}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
        }
