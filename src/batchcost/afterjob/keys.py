"""Do the results answer the requests? Keys in the results checked against the input's keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..batchfile.results import UNREADABLE, ResultSet
from ..text import agree, one_line, plural

if TYPE_CHECKING:
    pass


# -- keys -------------------------------------------------------------------------------------------


@dataclass
class KeyCheck:
    """Keys of the results against the keys of the input file(s).

    Attributes:
        inputs: input files read.
        input_lines: lines in them.
        input_keys: distinct keys in them.
        not_in_input: result keys that no input line has, in results order.
        without_result: input keys with no result line, in input order.
        note: why a full check was not possible (Vertex lines have no key), or None.
        warnings: e.g. the input changed since the plan was made.
        without_key: result lines of Developer-API files that carry no ``key``. They are priced but
            cannot be matched: the check runs on the other lines, and an input key that only such a
            line could answer stays in ``without_result``.
        first_without_key: ``path:line`` of the first of them, or None.
    """

    inputs: list[str]
    input_lines: int
    input_keys: int
    not_in_input: list[str]
    without_result: list[str]
    note: str | None = None
    warnings: list[str] = field(default_factory=list)
    without_key: int = 0
    first_without_key: str | None = None

    def to_json(self, max_keys: int = 20) -> dict[str, Any]:
        return {
            "checked": self.note is None,
            "inputs": self.inputs,
            "input_lines": self.input_lines,
            "input_keys": self.input_keys,
            "not_in_input": self.not_in_input[:max_keys],
            "not_in_input_count": len(self.not_in_input),
            "without_result": self.without_result[:max_keys],
            "without_result_count": len(self.without_result),
            "note": self.note,
            "without_key_count": self.without_key,
            "first_without_key": self.first_without_key,
        }


def check_keys(
    rs: ResultSet, inputs: Sequence[str], expected_sha256: Mapping[str, str | None] | None = None
) -> KeyCheck:
    """Compare the keys of the results with the keys of the batch input files.

    Args:
        rs: the results read.
        inputs: the input file(s) of the job.
        expected_sha256: path -> digest recorded in the plan (a mismatch is a warning).

    Raises:
        InputError: an input file cannot be read.
    """
    from ..batchfile.results import read_input_keys

    keys: list[str | None] = []
    warnings: list[str] = []
    forms = set()
    for path in inputs:
        found = read_input_keys(path)
        forms.add(found.form)
        keys.extend(found.keys)
        want = (expected_sha256 or {}).get(path)
        if want and want != found.sha256:
            warnings.append(
                f"{one_line(str(path))} has changed since the plan was made (SHA-256 differs): the estimate may describe another file"
            )
    result_keys = [k for k in rs.keys if k is not None]
    if rs.form != "developer" or forms != {"developer"}:
        results_n = int((rs.rows["status"] != UNREADABLE).sum())
        n_in = len(keys)
        note = (
            "Vertex AI lines carry no key, so results cannot be matched to requests; the input has "
            f"{plural(n_in, 'line')} and the results {results_n:,}"
        )
        if results_n != n_in:
            d = n_in - results_n
            warnings.append(
                f"{d:+,} {agree(abs(d), 'line differs', 'lines differ')} between the input ({n_in:,}) and the results"
            )
        return KeyCheck(list(inputs), n_in, 0, [], [], note, warnings)
    # Lines without a key are left out of the comparison, not a reason to skip it.
    without_key, first = keyless_results(rs)
    input_set = {k for k in keys if k is not None}
    result_set = set(result_keys)
    not_in_input = list(dict.fromkeys(k for k in result_keys if k not in input_set))
    without = list(dict.fromkeys(k for k in keys if k is not None and k not in result_set))
    return KeyCheck(list(inputs), len(keys), len(input_set), not_in_input, without, None, warnings, without_key, first)


def keyless_results(rs: ResultSet) -> tuple[int, str | None]:
    """How many read result lines of Developer-API files have no ``key``, and ``path:line`` of the first."""
    rows = rs.keyless
    if not len(rows):
        return 0, None
    info, line = rs.locate(int(rows[0]))  # rows are in reading order: file by file, line by line
    return len(rows), f"{one_line(info.path)}:{line}"
