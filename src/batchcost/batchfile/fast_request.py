"""The common request shapes, read by a typed decode instead of a walk over decoded JSON.

Most lines of a batch file have one of a few shapes: a key, and a request of text parts with
perhaps a system instruction, a generation config, safety settings and a model. For such a line
msgspec decodes the bytes straight into typed structures that admit only what
:class:`~.request.Walker` accepts without a word, and :meth:`FastLines.figures` reads the row's
figures off them. The system instruction, generation config and safety settings are kept as their
raw bytes and read once per distinct value: a file repeats a few of them on every line, and the
figures of a part depend on its bytes alone.

Anything else (media, tools, an unknown or misplaced field, a value the walk would question, a
field in both spellings, a name given twice) makes this path decline, and the line is decoded
again as plain JSON and walked, as every line used to be. The invariant, held by
``tests/batchfile/test_fast_request.py`` over fixtures, generated files and random requests: for
every line this path either declines or gives exactly the row the walk gives, and it never accepts
a line on which the walk reports anything.
"""

# No ``from __future__ import annotations``: msgspec reads the field types below at run time.
import functools
import hashlib
import itertools
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType
from msgspec.structs import astuple

from .output_request import output_flags
from .request import (
    FLAG_INCLUDE_THOUGHTS,
    FLAG_RESPONSE_SCHEMA,
    FLAG_SYSTEM,
    INT32_MAX,
    MEDIA_RESOLUTION_CODES,
    THINKING_LEVEL_CODES,
    NestingTooDeep,
    as_int,
    count_names,
    dict_texts,
    enum_name,
    schema_texts,
)
from .request import UNSET as NOT_GIVEN
from .schema import GENERATION_CONFIG_FIELDS, THINKING_CONFIG_FIELDS, snake_case
from .text_classes import CLASS_MIN_CHARS

_REQUIRED = object()

# The values a generationConfig setting may hold here: msgspec takes a union of at most one
# object-like and one array-like type. The settings the row needs are checked by the walk's rules.
_Setting = int | float | str | bool | None | list[str] | dict[str, Any]

# What a generationConfig name is to the row: a plain setting (whose value the walk does not look
# at) or one of those below; a name not here is one the walk reports.
_PLAIN, _MAX_OUTPUT, _CANDIDATES, _THINKING, _RESOLUTION, _SCHEMA, _JSON_SCHEMA, _OUTPUT = range(8)
_SETTINGS = {
    name: {
        "maxOutputTokens": _MAX_OUTPUT,
        "candidateCount": _CANDIDATES,
        "thinkingConfig": _THINKING,
        "mediaResolution": _RESOLUTION,
        "responseSchema": _SCHEMA,
        "responseJsonSchema": _JSON_SCHEMA,
        "responseModalities": _OUTPUT,  # what the model produces: images are priced by their size
        "imageConfig": _OUTPUT,
    }.get(canon, _PLAIN)
    for name, canon in GENERATION_CONFIG_FIELDS.items()
}

# Distinct parts remembered (their figures, by their bytes), and their bytes: about 7 MB at most in
# each scan process (a file with a different generationConfig on most lines fills it with values
# seen once; the ones repeated come back at once). A part up to 1 MB is remembered: a long shared
# system instruction is read once, not on every line.
_REMEMBER = 8192
_REMEMBER_BYTES = 4 * 1024 * 1024
_REMEMBER_ONE = 1024 * 1024

_NONE: tuple[str, ...] = ()
_CLASH: Any = object()


def _struct(name: str, fields: list[tuple[str, Any, Any]]) -> type[Struct]:
    """A structure taking each field in both spellings (camelCase as written here, and snake_case) as
    two fields: the API takes either. No other name fits, so a line with one fails to decode. Required
    fields come first; their names are the same in both spellings.
    """
    spec: list[Any] = []
    for field, kind, default in fields:
        if default is _REQUIRED:
            assert snake_case(field) == field, field
            spec.append((field, kind))
        else:
            spec.extend((spelled, kind, default) for spelled in dict.fromkeys((field, snake_case(field))))
    # gc=False: these hold no reference cycles, and the collector need not track millions of them
    return msgspec.defstruct(name, spec, forbid_unknown_fields=True, gc=False, module=__name__)


@functools.cache
def line_types() -> dict[str, Any]:
    """The typed structures: ``keyed`` (a Developer API line), ``keyless`` (a Vertex line), and those
    the raw parts are read with: ``system``, ``config``, ``safety``.

    Only what the walk accepts without a word fits: a field it would name (unknown, misplaced, a bad
    value), or one whose texts it gathers other than text parts and response schemas (tools, media,
    function calls), is left out, so a line with one fails to decode here.
    """
    part = _struct("Part", [("text", str, _REQUIRED)])
    parts = Annotated[list[part], Meta(min_length=1)]  # type: ignore[valid-type]
    content = _struct("Content", [("parts", parts, _REQUIRED), ("role", Literal["user", "model"] | UnsetType, UNSET)])
    request = _struct(
        "Request",
        [
            ("contents", Annotated[list[content], Meta(min_length=1)], _REQUIRED),  # type: ignore[valid-type]
            ("systemInstruction", Raw | UnsetType, UNSET),
            ("generationConfig", Raw | UnsetType, UNSET),
            ("safetySettings", Raw | UnsetType, UNSET),
            ("model", str | UnsetType, UNSET),
        ],
    )
    key = Annotated[str, Meta(min_length=1)]
    return {
        "keyed": _struct("KeyedLine", [("key", key, _REQUIRED), ("request", request, _REQUIRED)]),
        "keyless": _struct("Line", [("request", request, _REQUIRED)]),
        # the walk does not look at a system instruction's role
        "system": _struct("System", [("parts", parts, _REQUIRED), ("role", str | UnsetType, UNSET)]),
        "config": dict[str, _Setting],
        "safety": list[_struct("Safety", [("category", str, _REQUIRED), ("threshold", str, _REQUIRED)])],  # type: ignore[misc]
    }


@functools.cache
def _decoder(kind: str) -> Any:
    """The ``decode`` of one of :func:`line_types` (made once: each takes about a tenth of a millisecond)."""
    return msgspec.json.Decoder(line_types()[kind]).decode


def texts_hash(texts: list[str], seed: int = 0) -> int:
    """The hash :class:`~.request.Walker` gives a run of text parts (``seed`` chains on an earlier one)."""
    h = hashlib.sha1(seed.to_bytes(8, "little"))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        h.update(b"t" + len(data).to_bytes(8, "little"))
        h.update(data)
    return int.from_bytes(h.digest()[:8], "little") or 1


def _hashes_and_bytes(texts: list[str]) -> tuple[int, int, int]:
    """``(first hash, prefix hash, UTF-8 bytes)`` of a request's two or more content parts, each text
    encoded once: the first part hashed, then the rest but the last chained on it (as
    :func:`texts_hash` does), and the bytes of them all."""
    h = hashlib.sha1(bytes(8))
    nbytes = 0
    first = 0
    last = len(texts) - 1
    for i, text in enumerate(texts):
        if i == last:
            nbytes += len(text) if text.isascii() else utf8_bytes((text,))
            break
        data = text.encode("utf-8", "surrogatepass")
        nbytes += len(data)
        h.update(b"t" + len(data).to_bytes(8, "little"))
        h.update(data)
        if i == 0:
            first = int.from_bytes(h.digest()[:8], "little") or 1
            h = hashlib.sha1(first.to_bytes(8, "little"))
    prefix = int.from_bytes(h.digest()[:8], "little") or 1
    return first, prefix, nbytes


def utf8_bytes(texts: Any) -> int:
    """UTF-8 bytes of ``texts``; a long text is encoded a slice at a time, not copied whole."""
    n = 0
    for t in texts:
        if t.isascii():
            n += len(t)
        elif len(t) <= 1 << 20:
            n += len(t.encode("utf-8", "surrogatepass"))
        else:
            n += sum(len(t[i : i + (1 << 20)].encode("utf-8", "surrogatepass")) for i in range(0, len(t), 1 << 20))
    return n


def _either(camel: Any, snake: Any) -> Any:
    """The value of a field given in one spelling, UNSET when in neither, _CLASH when in both."""
    if camel is UNSET:
        return snake
    return camel if snake is UNSET else _CLASH


class FastLines:
    """Reads the lines of the common shapes of one file form (``"developer"`` or ``"vertex"``).

    A loop over many lines binds :attr:`decode` and catches :attr:`errors` itself (a call less per
    line), then asks :meth:`figures`.
    """

    def __init__(self, form: str, checks_only: bool = False, long_bytes_later: bool = False) -> None:
        self.keyed = form == "developer"
        self.checks_only = checks_only
        # the UTF-8 bytes of a request of CLASS_MIN_CHARS characters or more are left to the byte-class
        # count, which encodes its texts anyway (the figure's bytes are then -1)
        self.long_bytes_later = long_bytes_later
        self.decode = _decoder("keyed" if self.keyed else "keyless")
        self.errors = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)
        self._system = _decoder("system")
        self._config = _decoder("config")
        self._safety = _decoder("safety")
        # figures of the parts seen, by their bytes (None: the walk would say something)
        self._systems: dict[bytes, Any] = {}
        self._configs: dict[bytes, Any] = {}
        self._safeties: dict[bytes, Any] = {}
        self._remembered = 0

    def line(self, raw: Any) -> Any:
        """The typed line, or None when the line is not one of the common shapes (or not JSON)."""
        try:
            return self.decode(raw)
        except self.errors:
            return None

    def figures(self, req: Any, names: int) -> tuple[Any, ...] | None:
        """The row figures of a typed request, or None when the walk would have more to say.

        ``names`` is the number of names the line's bytes hold less those of the line object itself;
        it must equal the names decoded here (else a name was given twice, which the walk reports).

        Returns ``(system chars, contents chars, tools chars, UTF-8 bytes, max output, thinking
        budget, thinking level, candidate count, media resolution, flags, system hash, first hash,
        prefix hash, prefix chars, model, system texts, contents texts, tools texts)``; the UTF-8
        bytes are -1 when left to the byte-class count (``long_bytes_later``).
        """
        contents, si, si_, gc, gc_, safety, safety_, model = astuple(req)
        if len(contents) == 1:
            parts = contents[0].parts
            names -= 1 + len(parts) if contents[0].role is UNSET else 2 + len(parts)
            texts = [parts[0].text] if len(parts) == 1 else [p.text for p in parts]
        else:
            texts = []
            for c in contents:
                parts = c.parts
                names -= 1 + len(parts) if c.role is UNSET else 2 + len(parts)
                texts += [p.text for p in parts]
        if self.checks_only:
            # validation only: the row's UTF-8 bytes and text hashes are not wanted (left 0)
            chars = len(texts[0]) if len(texts) == 1 else sum(map(len, texts))
            tb = first_hash = prefix_hash = prefix_chars = 0
        elif len(texts) == 1:
            t = texts[0]
            chars = len(t)
            if t.isascii():
                tb = chars
            elif self.long_bytes_later and chars >= CLASS_MIN_CHARS:
                tb = -1
            else:
                tb = len(t.encode("utf-8", "surrogatepass")) if chars <= 1 << 20 else utf8_bytes(texts)
            first_hash = prefix_hash = prefix_chars = 0
        else:
            chars = sum(map(len, texts))
            # prefix = first part, then the rest but the last; chained so the first is hashed once
            first_hash, prefix_hash, tb = _hashes_and_bytes(texts)
            prefix_chars = chars - len(texts[-1])
        if si is UNSET and si_ is UNSET:
            system = _NONE
            system_chars = system_hash = flags = 0
        else:
            if (si := _either(si, si_)) is _CLASH:
                return None
            key = bytes(si)
            got = self._systems.get(key, _CLASH)
            if got is _CLASH:
                got = self._remember(self._systems, key, self._system_figures(key))
            if got is None:
                return None
            n, system, system_chars, system_tb, system_hash = got
            names -= n
            if tb >= 0:
                tb += system_tb
            flags = FLAG_SYSTEM
        if gc is UNSET and gc_ is UNSET:
            tools = _NONE
            tools_chars = 0
            max_out = budget = NOT_GIVEN
            level = mres = -1
            count = 1
        else:
            if (gc := _either(gc, gc_)) is _CLASH:
                return None
            key = bytes(gc)
            got = self._configs.get(key, _CLASH)
            if got is _CLASH:
                got = self._remember(self._configs, key, self._config_figures(key))
            if got is None:
                return None
            n, max_out, budget, level, count, mres, more, tools, tools_chars, tools_tb = got
            names -= n
            flags |= more
            if tb >= 0:
                tb += tools_tb
        if safety is not UNSET or safety_ is not UNSET:
            if (safety := _either(safety, safety_)) is _CLASH:
                return None
            key = bytes(safety)
            n = self._safeties.get(key, _CLASH)
            if n is _CLASH:
                n = self._remember(self._safeties, key, self._safety_names(key))
            if n is None:
                return None
            names -= n
        if model is not UNSET:
            if not (model.strip() and model.isprintable()):
                return None
            model = model.strip().removeprefix("models/")
            names -= 1
        else:
            model = ""
        if names != 1:  # "contents" itself
            return None
        return (system_chars, chars, tools_chars, tb, max_out, budget, level, count, mres, flags, system_hash,
                first_hash, prefix_hash, prefix_chars, model, system, texts, tools)  # fmt: skip

    def _remember(self, seen: dict[bytes, Any], key: bytes, figures: Any) -> Any:
        """Keep ``figures`` for ``key``; past the limits, the oldest quarter of the table is forgotten."""
        if len(key) > _REMEMBER_ONE:
            return figures  # rare enough to read again, too large to keep
        if len(seen) >= _REMEMBER or self._remembered + len(key) > _REMEMBER_BYTES:
            for table in (self._systems, self._configs, self._safeties):
                for old in list(itertools.islice(table, len(table) // 4 + 1)):
                    self._remembered -= len(old)
                    del table[old]
        self._remembered += len(key)
        seen[key] = figures
        return figures

    def _system_figures(self, raw: bytes) -> tuple[int, list[str], int, int, int] | None:
        """``(names, texts, chars, UTF-8 bytes, hash)`` of a systemInstruction, as Walker._system."""
        try:
            si = self._system(raw)
        except self.errors:
            return None
        texts = [p.text for p in si.parts]
        # its own name, "parts" (and "role"), and each part's "text"
        names = (2 if si.role is UNSET else 3) + len(texts)
        return names, texts, sum(map(len, texts)), utf8_bytes(texts), texts_hash(texts)

    def _safety_names(self, raw: bytes) -> int | None:
        """Names of safetySettings: its own, and a category and a threshold per setting."""
        try:
            return 1 + 2 * len(self._safety(raw))
        except self.errors:
            return None

    def _config_figures(self, raw: bytes) -> tuple[Any, ...] | None:
        """A generationConfig as Walker._generation_config reads it: ``(names, max output, thinking
        budget, thinking level, candidate count, media resolution, flags, tools texts, their chars,
        their UTF-8 bytes)``, or None when the walk would report something."""
        try:
            gc = self._config(raw)
            return _config_figures(gc)
        except (*self.errors, NestingTooDeep):
            return None


def _config_figures(gc: dict[str, Any]) -> tuple[Any, ...] | None:
    names = 1 + len(gc)  # its own name and its settings'
    max_out = budget = NOT_GIVEN
    level = mres = -1
    count = 1
    flags = 0
    tools: list[str] = []
    seen = 0  # bits: 1 a response schema, 2 a thinkingConfig
    # setting by setting, as the walk (a setting in both spellings too: the last one counts)
    for name, value in gc.items():
        kind = _SETTINGS.get(name)
        if kind is None:
            return None  # unknown or misplaced
        if kind != _THINKING and type(value) is dict:
            names += count_names(value)  # raises NestingTooDeep, as in the walk
        if kind == _PLAIN:
            continue
        if kind in (_MAX_OUTPUT, _CANDIDATES):
            n = as_int(value)
            if n is None or n < 1 or n > INT32_MAX:
                return None
            if kind == _MAX_OUTPUT:
                max_out = n
            else:
                count = n
        elif kind == _THINKING:
            # given twice, the walk keeps what the first has and the second lacks: not worth it here
            thinking = _thinking(value) if not seen & 2 else None
            if thinking is None:
                return None
            seen |= 2
            n, budget, level, more = thinking
            names += n
            flags |= more
        elif kind == _RESOLUTION:
            mres = MEDIA_RESOLUTION_CODES.get(enum_name(value, "MEDIA_RESOLUTION_") or "", -1)
            if mres < 0:
                return None
        elif kind == _OUTPUT:
            problems: list[str] = []
            flags |= output_flags(GENERATION_CONFIG_FIELDS[name], value, _Collect(problems))
            if problems:
                return None  # the walk reports it
        else:
            if type(value) is dict:
                if seen & 1:
                    return None  # two schemas: the walk takes both, in order; not worth it here
                seen |= 1
                (schema_texts if kind == _SCHEMA else dict_texts)(value, tools)
            elif type(value) is list:
                return None
            flags |= FLAG_RESPONSE_SCHEMA
    return (names, max_out, budget, level, count, mres, flags, tools or _NONE, sum(map(len, tools)),
            utf8_bytes(tools))  # fmt: skip


class _Collect:
    """A problem report that only keeps the codes (the walk reports them again, with the line)."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes

    def __call__(self, code: str, message: str) -> None:
        self.codes.append(code)


def _thinking(tc: Any) -> tuple[int, int, int, int] | None:
    """A thinkingConfig as Walker._thinking reads it: ``(names, budget, level, flags)``, or None when
    the walk would report something."""
    if type(tc) is not dict:
        return None
    budget = NOT_GIVEN
    level = -1
    flags = 0
    for name, value in tc.items():
        if type(value) is dict or type(value) is list:
            return None  # no setting of it is a container: the walk names the value
        canon = THINKING_CONFIG_FIELDS.get(name)
        if canon == "thinkingBudget":
            n = as_int(value)
            if n is None or n < -1 or n > INT32_MAX:
                return None
            budget = n
        elif canon == "thinkingLevel":
            level = THINKING_LEVEL_CODES.get(enum_name(value, "THINKING_LEVEL_") or "", -1)
            if level < 0:
                return None
        elif canon == "includeThoughts":
            if value is True:
                flags = FLAG_INCLUDE_THOUGHTS
        else:
            return None
    if budget != NOT_GIVEN and level >= 0:
        return None  # both: the walk reports it
    return len(tc), budget, level, flags
