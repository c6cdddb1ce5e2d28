"""Which strings of a request are text to count, as google-genai's ``LocalTokenizer`` reads them.

Function declarations (name, description, schemas), OpenAPI schemas (format, description, enum,
required, property names, examples) and free JSON (every key and string value: a
``responseJsonSchema``, function call arguments and responses). The walker of
:mod:`batchfile.request` and the fast path of :mod:`batchfile.fast_request` both collect texts
with these, so the characters the scan counts are the texts that get tokenized.
"""

from __future__ import annotations

from typing import Any


def dict_texts(d: dict[str, Any], out: list[str]) -> None:
    """Every key and every string value of a JSON object, recursively, into ``out``.

    As LocalTokenizer._dict_traverse (a ``responseJsonSchema``, function call arguments...).
    """
    out.extend(k for k in d if isinstance(k, str))
    for v in d.values():
        _any_texts(v, out)


def _any_texts(v: Any, out: list[str]) -> None:
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, dict):
        dict_texts(v, out)
    elif isinstance(v, list):
        for item in v:
            _any_texts(item, out)


def declaration_texts(fd: dict[str, Any], out: list[str]) -> None:
    for key in ("name", "description"):
        if isinstance(fd.get(key), str) and fd[key]:
            out.append(fd[key])
    for key in ("parameters", "response"):
        if isinstance(fd.get(key), dict):
            schema_texts(fd[key], out)
    for key in (
        "parametersJsonSchema",
        "parameters_json_schema",
        "responseJsonSchema",
        "response_json_schema",
    ):
        if isinstance(fd.get(key), dict):
            dict_texts(fd[key], out)


def schema_texts(s: dict[str, Any], out: list[str]) -> None:
    """The texts of an OpenAPI ``Schema`` (``responseSchema``, function parameters) into ``out``.

    As LocalTokenizer.add_schema: format, description, enum, required, property names, examples.
    """
    for key in ("format", "description"):
        if isinstance(s.get(key), str) and s[key]:
            out.append(s[key])
    for key in ("enum", "required"):
        if isinstance(s.get(key), list):
            out.extend(x for x in s[key] if isinstance(x, str))
    items = s.get("items")
    if isinstance(items, dict):
        schema_texts(items, out)
    props = s.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            out.append(name)
            if isinstance(sub, dict):
                schema_texts(sub, out)
    if "example" in s and s["example"] is not None:
        _any_texts(s["example"], out)
