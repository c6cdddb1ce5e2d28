"""One loader and checker for every ``batchcost.*/1`` document: :func:`load`.

It reads a saved document (or takes one already parsed), picks its type from the ``schema`` key and
checks every field against that type: a missing field, an unknown one or a value of the wrong type
is an :class:`~batchcost.errors.InputError` whose one-line message names the file and the field as
a JSON path (``plan.json: $.cost.batch.floor: expected an exact decimal string ...``).
"""

from __future__ import annotations

import json
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Union

import msgspec

from ..errors import InputError
from .common import Strict, dec_hook
from .jobs import JOBS_SCHEMA, JobsDocument
from .manifest import MANIFEST_SCHEMA, SHARD_VERIFY_SCHEMA, ShardManifest, ShardVerify
from .plan import PLAN_SCHEMA, PlanDocument
from .prices import PRICES_SCHEMA, PricesDocument
from .reconcile import RECONCILE_SCHEMA, ReconcileDocument
from .shards import SHARD_PLAN_SCHEMA, SHARDS_SCHEMA, ShardPlanDocument, ShardsDocument
from .validation import VALIDATION_SCHEMA, ValidationDocument

__all__ = ["KINDS", "MADE_BY", "Document", "load"]

Document = (
    ValidationDocument
    | PlanDocument
    | ShardsDocument
    | ShardPlanDocument
    | ShardManifest
    | ShardVerify
    | PricesDocument
    | ReconcileDocument
    | JobsDocument
)
"""Any document :func:`load` returns."""

KINDS: Mapping[str, type[Strict]] = MappingProxyType(
    {
        VALIDATION_SCHEMA: ValidationDocument,
        PLAN_SCHEMA: PlanDocument,
        SHARDS_SCHEMA: ShardsDocument,
        SHARD_PLAN_SCHEMA: ShardPlanDocument,
        MANIFEST_SCHEMA: ShardManifest,
        SHARD_VERIFY_SCHEMA: ShardVerify,
        PRICES_SCHEMA: PricesDocument,
        RECONCILE_SCHEMA: ReconcileDocument,
        JOBS_SCHEMA: JobsDocument,
    }
)
"""Schema id -> the document type :func:`load` checks it against."""

MADE_BY: Mapping[str, str] = MappingProxyType(
    {
        VALIDATION_SCHEMA: "`batchcost validate FILE --format json`",
        PLAN_SCHEMA: "`batchcost estimate FILE --format json`",
        SHARDS_SCHEMA: "`batchcost plan FILE --format json` (its shards key)",
        SHARD_PLAN_SCHEMA: "`batchcost plan FILE --format json`",
        MANIFEST_SCHEMA: "`batchcost shard FILE --out DIR` (DIR/manifest.json)",
        SHARD_VERIFY_SCHEMA: "`batchcost shard --verify MANIFEST --format json`",
        PRICES_SCHEMA: "`batchcost prices --format json`",
        RECONCILE_SCHEMA: "`batchcost reconcile RESULTS --format json`",
        JOBS_SCHEMA: "`batchcost submit DIR/manifest.json` (DIR/jobs.json)",
    }
)
"""Schema id -> the command that writes it (for messages)."""

_AT = re.compile(r"^(?P<what>.*) - at `(?P<path>\$[^`]*)`$", re.DOTALL)
_SEGMENT = re.compile(r"\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<index>[0-9]+|\.\.\.)\]")
_FIELD = re.compile(r"^Object (?P<kind>missing required|contains unknown) field `(?P<name>[^`]*)`$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def load(
    source: str | os.PathLike[str] | bytes | Mapping[str, Any] | Any,
    kind: str | None = None,
    *,
    name: str | None = None,
) -> Document:
    """Read and check a ``batchcost.*/1`` document; return it as its typed structure.

    Args:
        source: a path to the JSON file (``str`` or path-like), the JSON text as ``bytes``, or the
            document already parsed (as ``json.loads`` gives it).
        kind: the schema id the document must have (e.g. ``"batchcost.plan/1"``); any of
            :data:`KINDS` when None.
        name: what messages call the document (default: the path, or ``"the document"``).

    Returns:
        The document type of :data:`KINDS` its ``schema`` names (exact figures are
        :class:`~batchcost.documents.common.ExactDecimal`, dates :class:`datetime.date`).

    Raises:
        InputError: the file is missing or unreadable, the text is not JSON, the schema is not
            one batchcost writes (or not ``kind``), or a field is missing, unknown or of the wrong
            type. The message is one line naming the document and the field as a JSON path.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; use one of {', '.join(KINDS)}")
    made_by = MADE_BY[kind] if kind else "a batchcost command"
    if isinstance(source, str | os.PathLike):
        shown = name or os.fspath(source)
        doc: Any = _parse(_read(source, shown, made_by), shown, made_by)
    elif isinstance(source, bytes | bytearray):
        shown = name or "the document"
        doc = _parse(bytes(source), shown, made_by)
    else:
        shown = name or "the document"
        doc = source
    if not isinstance(doc, Mapping):
        raise InputError(shown, f"not a batchcost document (the JSON is not an object); give the JSON {made_by} writes")
    schema = doc.get("schema")
    if schema not in KINDS:
        found = "no schema key" if "schema" not in doc else f"schema {json.dumps(schema)[:60]}"
        raise InputError(shown, f"not a batchcost document ({found}; batchcost writes {', '.join(KINDS)})")
    if kind is not None and schema != kind:
        raise InputError(shown, f"schema {schema!r}, expected {kind!r}; give the JSON {MADE_BY[kind]} writes")
    doc_type = KINDS[schema]
    try:
        return msgspec.convert(doc, doc_type, dec_hook=dec_hook)  # type: ignore[no-any-return]
    except msgspec.ValidationError as e:
        where, what = _field(str(e), doc, doc_type)
        raise InputError(shown, f"{where}: {what}; not the {schema} document {MADE_BY[schema]} writes") from None


def _read(path: str | os.PathLike[str], shown: str, made_by: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(shown, f"no such file; give the JSON {made_by} writes") from None
    except IsADirectoryError:
        raise InputError(shown, "is a folder; give the document's JSON file") from None
    except OSError as e:
        raise InputError(shown, f"cannot read: {e.strerror or e}") from None


def _no_constant(value: str) -> Any:
    raise ValueError(f"{value} is not a JSON number")


def _parse(data: bytes, shown: str, made_by: str) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(shown, f"not UTF-8 text; give the JSON {made_by} writes") from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise InputError(
            shown, f"line {e.lineno}, column {e.colno}: not valid JSON ({e.msg}); give the JSON {made_by} writes"
        ) from None
    except ValueError as e:
        raise InputError(shown, f"not valid JSON ({e}); give the JSON {made_by} writes") from None
    except RecursionError:
        raise InputError(
            shown, f"nested too deeply to be a batchcost document; give the JSON {made_by} writes"
        ) from None


# -- naming the field ------------------------------------------------------------------------------


def _field(message: str, doc: Any, doc_type: type) -> tuple[str, str]:
    """(JSON path of the field, what is wrong with it) from a msgspec validation message."""
    match = _AT.match(message)
    what, path = (match["what"], match["path"]) if match else (message, "$")
    path = _resolve(path, doc, doc_type)
    field = _FIELD.match(what)
    if field:
        key = field["name"]
        path += f".{key}" if _IDENTIFIER.match(key) else f"[{json.dumps(key)}]"
        what = "missing" if field["kind"] == "missing required" else "unknown field"
    elif what[:1].isupper():
        what = what[0].lower() + what[1:]
    return path, what


def _resolve(path: str, doc: Any, doc_type: type) -> str:
    """The path with msgspec's ``[...]`` (a key of a map it does not name) replaced by the key.

    Walks the document along the path with the type of each value; at a map, the key is the
    first whose value fails its type. Falls back to the path as given when it cannot tell.
    """
    out = "$"
    kind: Any = doc_type
    value = doc
    for seg in _SEGMENT.finditer(path[1:]):
        kind = _unwrap(kind, value)
        if seg["name"] is not None:
            out += seg[0]
            hints = _hints(kind)
            kind = hints.get(seg["name"])
            value = value.get(seg["name"]) if isinstance(value, Mapping) else None
        elif seg["index"] != "...":
            out += seg[0]
            index = int(seg["index"])
            kind = typing.get_args(kind)[0] if typing.get_origin(kind) is list else None
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            if typing.get_origin(kind) is not dict or not isinstance(value, Mapping):
                return path
            item_type = typing.get_args(kind)[1]
            key = next((k for k, v in value.items() if not _fits(v, item_type)), None)
            if key is None:
                return path
            out += f".{key}" if _IDENTIFIER.match(str(key)) else f"[{json.dumps(key)}]"
            kind, value = item_type, value[key]
    return out


def _unwrap(kind: Any, value: Any) -> Any:
    """The one type a value is checked against: Annotated, null and unset stripped; a tagged
    union resolved by the value's tag."""
    origin = typing.get_origin(kind)
    if origin is Annotated:
        return _unwrap(typing.get_args(kind)[0], value)
    if origin is Union or origin is types.UnionType:
        options = [a for a in typing.get_args(kind) if a not in (type(None), msgspec.UnsetType)]
        if len(options) == 1:
            return _unwrap(options[0], value)
        for option in options:
            config = getattr(option, "__struct_config__", None)
            if config is not None and isinstance(value, Mapping) and value.get(config.tag_field) == config.tag:
                return option
        return None
    return kind


def _hints(kind: Any) -> dict[str, Any]:
    if not (isinstance(kind, type) and issubclass(kind, msgspec.Struct)):
        return {}
    return typing.get_type_hints(kind, include_extras=True)


def _fits(value: Any, kind: Any) -> bool:
    try:
        msgspec.convert(value, kind, dec_hook=dec_hook)
    except msgspec.ValidationError:
        return False
    return True
