"""The JSON Schema files of the documents, generated from their structures and shipped in the package.

``schemas/<name>.schema.json`` (``plan.schema.json`` for ``batchcost.plan/1``...) is what
:func:`schema_for` gives; they are generated, never edited: after changing a structure, run
``python -m batchcost.documents.schemafiles`` to write them again (a test fails while a shipped
file differs from what the structures give).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from .common import schema_hook
from .loader import KINDS

__all__ = ["SCHEMA_DIR", "file_name", "schema_files", "schema_for", "write_schema_files"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def file_name(schema_id: str) -> str:
    """``batchcost.shard-plan/1`` -> ``shard-plan.schema.json``."""
    return schema_id.removeprefix("batchcost.").rpartition("/")[0] + ".schema.json"


def schema_for(schema_id: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one document, from its structure.

    A structure's ``json_schema_extra`` (what the fields alone cannot say, such as "either every
    figure or ``not_priced``") is added to its definition.
    """
    doc_type = KINDS[schema_id]
    generated = msgspec.json.schema(doc_type, schema_hook=schema_hook)
    defs: dict[str, Any] = generated.get("$defs", {})
    for kind in _struct_types(doc_type):
        extra = getattr(kind, "json_schema_extra", None)
        if extra and kind.__name__ in defs:
            defs[kind.__name__].update(extra)
    return {
        "$schema": _DIALECT,
        "title": schema_id,
        "$comment": "generated from batchcost.documents by `python -m batchcost.documents.schemafiles`; do not edit",
        **generated,
    }


def schema_files() -> dict[str, str]:
    """File name -> text of every schema file, as the structures give them now."""
    return {file_name(s): json.dumps(schema_for(s), indent=2, ensure_ascii=False) + "\n" for s in KINDS}


def write_schema_files(folder: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema file into ``folder`` (the package's ``schemas`` by default); return their paths."""
    folder.mkdir(exist_ok=True)
    written = []
    for name, text in schema_files().items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _struct_types(root: type) -> list[type]:
    """Every struct type reachable from ``root`` (its fields, their lists, maps and unions)."""
    seen: list[type] = []

    def visit(info: msgspec.inspect.Type) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if info.cls in seen:
                return
            seen.append(info.cls)
            for f in info.fields:
                visit(f.type)
        for attr in ("item_type", "key_type", "value_type"):
            if hasattr(info, attr):
                visit(getattr(info, attr))
        for sub in getattr(info, "types", ()):
            visit(sub)

    visit(msgspec.inspect.type_info(root))
    return seen


if __name__ == "__main__":
    write_schema_files()
