"""A scan's per-request figures as one pandas DataFrame, with readable names and categories.

``ScanResult.rows`` keeps compact numpy columns with index codes and bit flags (see
:data:`~batchcost.batchfile.result.ROW_COLUMNS`); :func:`scan_table` turns them into what a
person reads: the line's real key, the file's path, categories instead of codes, one boolean
column per flag, and missing values (``<NA>``) where a setting is not given instead of sentinels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from . import schema
from .keys import read_keys
from .request import (
    FLAG_CACHED_CONTENT,
    FLAG_CODE_EXECUTION,
    FLAG_FILE_DATA,
    FLAG_GOOGLE_SEARCH,
    FLAG_INCLUDE_THOUGHTS,
    FLAG_OTHER_TOOL,
    FLAG_RESPONSE_SCHEMA,
    FLAG_SYSTEM,
    FLAG_TOOLS,
    FLAG_URL_CONTEXT,
    UNSET,
)

FLAGS: Mapping[str, int] = {
    "has_system_instruction": FLAG_SYSTEM,
    "has_function_tools": FLAG_TOOLS,
    "uses_google_search": FLAG_GOOGLE_SEARCH,
    "uses_code_execution": FLAG_CODE_EXECUTION,
    "uses_url_context": FLAG_URL_CONTEXT,
    "uses_other_tool": FLAG_OTHER_TOOL,
    "has_cached_content": FLAG_CACHED_CONTENT,
    "has_response_schema": FLAG_RESPONSE_SCHEMA,
    "include_thoughts": FLAG_INCLUDE_THOUGHTS,
    "has_file_data": FLAG_FILE_DATA,
}

SCAN_COLUMNS: Mapping[str, str] = {
    "key": "the line's key, read back from the file (missing where the line has no string key)",
    "file": "the input file's path (categorical)",
    "line": "1-based line number in that file",
    "status": "'usable' (a request whose figures count) or 'error' (categorical)",
    "bytes": "bytes of the line, without its line end",
    "system_chars": "characters of countable text in systemInstruction",
    "contents_chars": "characters of countable text in contents",
    "tools_chars": "characters of countable text in tools and response schemas",
    "text_bytes": "UTF-8 bytes of all countable text",
    "media_parts": "number of media parts (inline or fileData)",
    "max_output_tokens": "generationConfig.maxOutputTokens (<NA> when not given)",
    "thinking_budget": "thinkingConfig.thinkingBudget (-1 automatic, 0 off; <NA> when not given)",
    "thinking_level": "thinkingConfig.thinkingLevel (categorical; missing when not given)",
    "candidate_count": "generationConfig.candidateCount (1 when not given)",
    "media_resolution": "request-level mediaResolution (categorical; missing when not given)",
    "model": "request.model (categorical; missing when not given)",
    "cached_content": "the cachedContent the request references (categorical; missing when none)",
    **{name: "True when the request " + name.replace("_", " ") for name in FLAGS},
}
"""The columns of :meth:`ScanResult.to_pandas`, in order, with their meaning."""


def scan_table(scan: Any) -> pd.DataFrame:
    """One row per line of the scanned files (see :data:`SCAN_COLUMNS`).

    Args:
        scan: a :class:`~batchcost.batchfile.ScanResult` (``result.py`` imports this module, so it
            is not imported back here).
    """
    rows = scan.rows
    n = len(rows["offset"])
    first_row = np.array([f.first_row for f in scan.files] or [0], np.int64)
    flags = rows["flags"].astype(np.int64)
    cols: dict[str, Any] = {
        "key": read_keys(scan),
        "file": categorical(rows["file"], [f.path for f in scan.files]),
        "line": np.arange(n, dtype=np.int64) - first_row[rows["file"].astype(np.int64)] + 1,
        "status": pd.Categorical.from_codes(np.where(rows["usable"] > 0, 0, 1).astype(np.int8), ["usable", "error"]),
        "bytes": rows["nbytes"].astype(np.int64),
        "system_chars": rows["system_chars"].astype(np.int64),
        "contents_chars": rows["contents_chars"].astype(np.int64),
        "tools_chars": rows["tools_chars"].astype(np.int64),
        "text_bytes": rows["text_bytes"].astype(np.int64),
        "media_parts": rows["media_parts"].astype(np.int64),
        "max_output_tokens": _unset(rows["max_output_tokens"]),
        "thinking_budget": _unset(rows["thinking_budget"]),
        "thinking_level": categorical(rows["thinking_level"], schema.THINKING_LEVELS),
        "candidate_count": rows["candidate_count"].astype(np.int64),
        "media_resolution": categorical(rows["media_resolution"], schema.MEDIA_RESOLUTIONS),
        "model": categorical(rows["model"].astype(np.int64) - 1, scan.models[1:]),  # index 0 = not given
        "cached_content": categorical(rows["cached_content"].astype(np.int64) - 1, scan.cached_contents[1:]),
    }
    for name, bit in FLAGS.items():
        cols[name] = (flags & bit) > 0
    return pd.DataFrame(cols, copy=False)


def _unset(values: npt.NDArray[Any]) -> pd.arrays.IntegerArray:
    arr = values.astype(np.int64)
    missing = arr == UNSET
    return pd.arrays.IntegerArray(np.where(missing, 0, arr), missing)


def categorical(codes: npt.NDArray[Any], names: Sequence[str]) -> pd.Categorical:
    """Index codes into ``names`` (-1 or out of range: missing) as a pandas categorical.

    Repeated names (the same file given twice) become one category.
    """
    unique = list(dict.fromkeys(names))
    remap = np.array([unique.index(name) for name in names] + [-1], np.int32)
    c = codes.astype(np.int64)
    return pd.Categorical.from_codes(remap[np.where((c >= 0) & (c < len(names)), c, -1)], unique)
