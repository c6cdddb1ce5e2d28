"""Pieces every ``batchcost.*/1`` contract shares: exact decimals, the strict base, shared records.

Every document type is a :class:`msgspec.Struct` built on :class:`Strict`: an unknown field, a
missing one or a value of the wrong type is refused when a document is loaded. Money and other
exact figures are :class:`ExactDecimal`: written as a plain decimal string (``"0.0030"``, never a
float, never ``"3E-3"``), read back as a :class:`~decimal.Decimal`. A figure nobody knows is
``null`` (``None``), never ``0``.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "DECIMAL_PATTERN",
    "Count",
    "ExactDecimal",
    "FileEntry",
    "Interval",
    "LineRange",
    "ModeCost",
    "PriceUsed",
    "Problem",
    "Strict",
    "dec_hook",
    "enc_hook",
    "schema_hook",
    "to_builtins",
]

# What ``money.usd`` writes: an optional minus, digits, optional decimals. No exponent and no
# spaces: the string is the exact amount as a person reads it.
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_DECIMAL = re.compile(DECIMAL_PATTERN)


class ExactDecimal(Decimal):
    """An exact figure (USD, a percentage, storage hours) that a document writes as a decimal string.

    Decoding accepts only a plain decimal string such as ``"1.25"``: a JSON number (a float that
    has already lost the exact value), an exponent or ``"NaN"`` is refused. It is a
    :class:`~decimal.Decimal`, so arithmetic works as usual (and gives plain ``Decimal`` results).
    """

    __slots__ = ()


Count = Annotated[int, msgspec.Meta(ge=0)]
"""A whole number, 0 or more (tokens, requests, bytes, lines)."""

LineRange = Annotated[list[Count], msgspec.Meta(min_length=2, max_length=2)]
"""``[first, last]``: a run of input lines, 1-based and inclusive."""


class Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Base of every document record: unknown fields are refused, instances are immutable."""


def dec_hook(kind: type, value: Any) -> Any:
    """msgspec decoding hook: builds :class:`ExactDecimal` from its string form, refusing anything else."""
    if kind is ExactDecimal:
        if not isinstance(value, str) or not _DECIMAL.match(value):
            shown = msgspec.json.encode(value).decode("utf-8", "replace")[:40]
            raise ValueError(f'expected an exact decimal string such as "1.25", got {shown}')
        return ExactDecimal(value)
    raise NotImplementedError(f"no decoder for {kind!r}")


def enc_hook(value: Any) -> Any:
    """msgspec encoding hook: an :class:`ExactDecimal` is written as its plain decimal string."""
    if isinstance(value, ExactDecimal):
        # "f" keeps every digit the document had ("0.0030") and never writes an exponent
        return format(value, "f")
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def schema_hook(kind: type) -> dict[str, Any]:
    """msgspec JSON Schema hook: what an :class:`ExactDecimal` looks like in a document."""
    if kind is ExactDecimal:
        return {"type": "string", "format": "decimal", "pattern": DECIMAL_PATTERN}
    raise NotImplementedError(f"no schema for {kind!r}")


def to_builtins(doc: Strict) -> dict[str, Any]:
    """The document as plain JSON values (what ``json.dumps`` writes); exact decimals stay strings."""
    return msgspec.to_builtins(doc, enc_hook=enc_hook)  # type: ignore[no-any-return]


# -- records several contracts share -------------------------------------------------------------


class FileEntry(Strict):
    """One input batch file as validation, plan and shard-plan documents list it.

    ``bytes`` counts the JSONL (decompressed for gzip input); ``sha256`` is the file as stored, or
    null when the scan was not asked for it.
    """

    path: str
    form: Literal["developer", "vertex"]
    compressed: bool
    bytes: Count
    lines: Count
    sha256: str | None


class Problem(Strict):
    """One problem found in an input or results file (``line`` 0: about the whole file)."""

    path: str
    line: Count
    code: str
    severity: Literal["error", "warning"]
    message: str


class Interval(Strict):
    """A token figure with its 95% interval (``low == expected == high`` when counted exactly)."""

    expected: Count
    low: Count
    high: Count


class PriceUsed(Strict):
    """One rate that went into a figure, with its provenance (``tier`` is ``""`` for a flat rate)."""

    model: str
    mode: str
    component: str
    modality: str
    tier: str
    usd_per_mtok: ExactDecimal
    source: str
    checked: datetime.date
    derived: bool
    overridden: bool


_FIGURES = ("floor", "expected", "low", "high", "ceiling")
COMPONENTS = ("input", "output", "cache_reads", "cache_storage", "tool_fees")
"""The parts of a mode's cost in ``by_component``, summing to its figures."""


class ComponentCost(Strict):
    """One part of a mode's cost, each end of the interval (null where unknown, never 0)."""

    expected: ExactDecimal | None
    low: ExactDecimal | None
    high: ExactDecimal | None


class ModeCost(Strict):
    """The whole file's cost in one mode: either every figure, or only ``not_priced`` (why).

    ``floor`` is the input-only cost at the expected input; ``expected``, ``low`` and ``high`` add
    the expected output (null when no expectation was given); ``ceiling`` prices the input's high
    end and every request's output ceiling (null when some ceiling is unknown, never 0).
    """

    floor: ExactDecimal | UnsetType | None = UNSET
    expected: ExactDecimal | UnsetType | None = UNSET
    low: ExactDecimal | UnsetType | None = UNSET
    high: ExactDecimal | UnsetType | None = UNSET
    ceiling: ExactDecimal | UnsetType | None = UNSET
    not_priced: str | UnsetType = UNSET
    # added within /1 (absent from older plans and from batch_cached): input (tool results fed back
    # included), output, cache_reads, cache_storage and tool_fees, summing to expected/low/high
    by_component: dict[str, ComponentCost] | UnsetType = UNSET

    # JSON Schema cannot learn the two shapes from the fields; the schema files add this.
    json_schema_extra: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": ["not_priced"], "maxProperties": 1}, {"required": list(_FIGURES), "maxProperties": 6}]
    }

    def __post_init__(self) -> None:
        given = [name for name in _FIGURES if getattr(self, name) is not UNSET]
        if self.not_priced is not UNSET and (given or self.by_component is not UNSET):
            raise ValueError(f"a mode that is not priced has no figures, got {', '.join(given) or 'by_component'}")
        if self.by_component is not UNSET:
            unknown = sorted(set(self.by_component) - set(COMPONENTS))
            if unknown:
                raise ValueError(f"unknown by_component part {', '.join(unknown)}; use {', '.join(COMPONENTS)}")
        if self.not_priced is UNSET and len(given) != len(_FIGURES):
            missing = ", ".join(name for name in _FIGURES if name not in given)
            raise ValueError(f"expected every figure (or not_priced), missing {missing}")

    @property
    def priced(self) -> bool:
        """False for a mode the price book cannot price (``not_priced`` says why)."""
        return self.not_priced is UNSET
