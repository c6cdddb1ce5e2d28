"""What a walk of a request records, and the small readings of values it shares with the fast path.

The flag bits and codes of :class:`RequestInfo` (the scan copies them into its columns), the media
parts it lists, and the helpers that read a field's value (proto3 JSON integers, enum names, base64)
or bound its nesting. :mod:`batchfile.request` walks a request into a ``RequestInfo``;
:mod:`batchfile.fast_request` reads the common shapes into the same figures.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

from . import schema
from .problems import escaped, quoted

# Places where text sits; the token counter reports tokens by place.
PLACES = ("system", "contents", "tools")

THINKING_LEVEL_CODES = {name: i for i, name in enumerate(schema.THINKING_LEVELS)}
MEDIA_RESOLUTION_CODES = {name: i for i, name in enumerate(schema.MEDIA_RESOLUTIONS)}

# Bits of RequestInfo.flags.
FLAG_SYSTEM = 1
FLAG_TOOLS = 2  # function declarations
FLAG_GOOGLE_SEARCH = 4
FLAG_CODE_EXECUTION = 8
FLAG_URL_CONTEXT = 16
FLAG_CACHED_CONTENT = 32
FLAG_RESPONSE_SCHEMA = 64
FLAG_INCLUDE_THOUGHTS = 128
FLAG_FILE_DATA = 256
FLAG_OTHER_TOOL = 512  # maps, file search, computer use, ...
FLAG_GOOGLE_MAPS = 1024  # set with FLAG_OTHER_TOOL: Maps grounding has a fee of its own
# FLAG_EMBED = 2048 (an embedding request) is defined with the embed checks in embed_request
# FLAG_NO_IMAGE_OUT = 4096 and the image size (bits 13-15) are output_request's: the 16 bits are all used

UNSET = -(2**31)  # "not given" for integer settings
INT32_MAX = 2**31 - 1  # the API's int32 fields; the scan's columns are int32 too

# Objects and arrays nested deeper than this inside one field are not checked: a schema or argument
# this deep is a generated mistake, and Python's recursion (the JSON decoder's, and this walker's)
# must stay far from its limit wherever a request is walked again (token counting runs deeper).
MAX_NESTING = 256

Report = Callable[[str, str], None]


class NestingTooDeep(ValueError):
    """A value nests objects and arrays more than :data:`MAX_NESTING` levels deep."""


def count_names(value: Any, depth: int = 1) -> int:
    """Names (object keys) in ``value`` and everything inside it, as decoded (a repeated name once).

    Raises:
        NestingTooDeep: more than :data:`MAX_NESTING` levels of objects and arrays.
    """
    if depth > MAX_NESTING:
        raise NestingTooDeep
    if type(value) is dict:
        n = len(value)
        items: Any = value.values()
    else:
        n = 0
        items = value
    for v in items:
        t = type(v)
        if t is dict or t is list:
            n += count_names(v, depth + 1)
    return n


def shown_value(value: Any, limit: int = 40) -> str:
    """A value from a file, short and safe to print: strings quoted and escaped, containers named."""
    if isinstance(value, str):
        return quoted(value, limit)
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return escaped(repr(value), limit)


def decode_base64(data: str) -> bytes | None:
    """Decode base64 the way proto3 JSON does: standard or URL-safe alphabet, padding optional."""
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    fixed = data.replace("-", "+").replace("_", "/")
    fixed += "=" * (-len(fixed) % 4)
    try:
        return binascii.a2b_base64(fixed, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def as_int(value: Any) -> int | None:
    """An integer field's value, accepting proto3 JSON's quoted form ("512")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def enum_name(value: Any, prefix: str) -> str | None:
    """An enum value as the walk reads it: upper-cased, ``prefix`` (``"THINKING_LEVEL_"``...) dropped."""
    if not isinstance(value, str):
        return None
    v = value.upper()
    return v[len(prefix) :] if v.startswith(prefix) else v


class MediaPart:
    """One media part of a request (inline bytes or a file reference)."""

    __slots__ = (
        "clip_s",
        "duration_s",
        "fps",
        "height",
        "kind",
        "mime",
        "nbytes",
        "pages",
        "place",
        "resolution",
        "source",
        "width",
    )

    def __init__(self, kind: str, mime: str, source: str, place: str) -> None:
        self.kind = kind
        self.mime = mime
        self.source = source  # "inline" or "file"
        self.place = place
        self.nbytes = -1
        self.width = -1
        self.height = -1
        self.pages = -1
        self.duration_s = -1.0
        self.resolution = -1  # per-part mediaResolution level code, -1 = not given
        self.fps = -1.0
        self.clip_s = -1.0  # videoMetadata end - start, when both are given


class RequestInfo:
    """What one walk of a request found. Plain attributes; the scanner copies them into columns."""

    __slots__ = (
        "cached_content",
        "candidate_count",
        "first_hash",
        "flags",
        "max_output_tokens",
        "media",
        "media_resolution",
        "model",
        "nkeys",
        "prefix_chars",
        "prefix_hash",
        "system_hash",
        "texts",
        "thinking_budget",
        "thinking_level",
        "utf8_len",
    )

    def __init__(self) -> None:
        self.texts: dict[str, list[str]] = {"system": [], "contents": [], "tools": []}
        self.media: list[MediaPart] = []
        self.flags = 0
        self.max_output_tokens = UNSET
        self.thinking_budget = UNSET
        self.thinking_level = -1
        self.candidate_count = 1
        self.media_resolution = -1
        self.model = ""
        self.cached_content = ""
        self.system_hash = 0
        self.first_hash = 0
        self.prefix_hash = 0
        self.prefix_chars = 0
        self.utf8_len: dict[int, int] = {}
        # object names seen in the request (repeats once), compared with the line's bytes to find repeats
        self.nkeys = 0

    def chars(self, place: str) -> int:
        return sum(map(len, self.texts[place]))
