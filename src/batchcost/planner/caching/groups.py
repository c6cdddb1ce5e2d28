"""Candidate groups: requests sharing a prefix (exact groups from the scan's hashes, template groups
from the sample), and what a cache of each group's prefix would hold, measured on its representative."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...text import agree, plural

if TYPE_CHECKING:
    from ...batchfile import ScanResult

MAX_GROUPS_PER_KIND = 8  # exact groups measured per kind (ranked by shared characters first)
TOOLS_CHECK_ROWS = 16  # group members read to check that their tools are identical
TEMPLATE_KEY_CHARS: tuple[int, ...] = (64, 256, 1024, 4096, 16384)  # cluster keys: leading characters
TEMPLATE_PER_LEVEL = 3  # template clusters kept per key length
SNIPPET_CHARS = 60

_TOOL_FIELDS = ("tools", "toolConfig")
_WS = re.compile(r"\s+")


@dataclass(eq=False)  # compared by identity (it holds numpy arrays)
class Group:
    """A candidate before pricing: its members, then what its prefix holds (filled by :func:`measure`)."""

    kind: str
    rows: np.ndarray | None  # every member, when known exactly
    sample_rows: np.ndarray  # members in the scan's sample
    n: int  # members (exact, or estimated)
    high_share: float  # share of members above the tier threshold
    system_hash: int
    rep: int  # representative row
    template_prefix: str | None = None
    texts: list[str] = field(default_factory=list)
    chars: int = 0
    media: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    description: str = ""
    notes: list[str] = field(default_factory=list)
    blocker: tuple[str, str] | None = None
    unknown_media: int = 0


@dataclass(frozen=True)
class Context:
    """What finding, measuring and choosing groups read of the plan (built once per advice)."""

    scan: ScanResult
    eligible: np.ndarray  # bool per row
    sample: np.ndarray  # eligible rows of the scan's sample
    per_request: np.ndarray
    threshold: int | None
    min_requests: int
    media_model: str


def _snippet(text: str) -> str:
    flat = _WS.sub(" ", text).strip()
    return flat if len(flat) <= SNIPPET_CHARS else flat[:SNIPPET_CHARS].rstrip() + "..."


def _group_by(keys: np.ndarray, rows: np.ndarray | None, min_n: int) -> list[np.ndarray]:
    """Member rows of each key shared by at least ``min_n`` rows (keys 0 = none are skipped).

    ``rows`` are the rows of ``keys`` (None: key i is row i's).
    """
    keep = keys != 0
    if not keep.any():
        return []
    keys = keys[keep]
    rows = np.flatnonzero(keep) if rows is None else rows[keep]
    del keep
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    big = np.flatnonzero(counts >= min_n)
    if not len(big):
        return []
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    return [rows[order[starts[g] : starts[g + 1]]] for g in big]


def _mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One 64-bit key from two (wrapping arithmetic; 0 stays "none" only when ``a`` is 0)."""
    with np.errstate(over="ignore"):
        # the hash columns are uint64 already: no copies (each is a page-faulted 13 MB on 1.7 M rows)
        mixed = a.astype(np.uint64, copy=False) * np.uint64(0x9E3779B97F4A7C15)
        mixed += b.astype(np.uint64, copy=False)
    mixed[mixed == 0] = 1
    mixed[a == 0] = 0
    return mixed


def exact_groups(ctx: Context) -> list[Group]:
    """Groups by system instruction, leading parts and first part; the largest by shared characters
    x requests are kept (MAX_GROUPS_PER_KIND each) and measured exactly later."""
    # The hash columns are read as they are when every row is eligible, and each kind's keys are made
    # when it is grouped: on 1.7 M rows each copy of a column is 13.5 MB, and six were held at once.
    rows_all = None if ctx.eligible.all() else np.flatnonzero(ctx.eligible)
    cols = ctx.scan.rows

    def hashes(name: str) -> np.ndarray:
        return cols[name] if rows_all is None else cols[name][rows_all]

    sys_chars = cols["system_chars"]
    prefix_chars = cols["prefix_chars"]
    out: list[Group] = []
    specs: list[tuple[str, Callable[[], np.ndarray], Callable[[np.ndarray], float]]] = [
        ("system", lambda: hashes("system_hash"), lambda m: float(sys_chars[m[0]])),
        ("leading_parts", lambda: _mix(hashes("prefix_hash"), hashes("system_hash")),
         lambda m: float(int(prefix_chars[m[0]]) + int(sys_chars[m[0]]))),
        ("first_part", lambda: _mix(hashes("first_hash"), hashes("system_hash")),
         lambda m: float(int(prefix_chars[m].min()) + int(sys_chars[m[0]]))),
    ]  # fmt: skip
    for kind, keys_of, chars_of in specs:
        groups = _group_by(keys_of(), rows_all, ctx.min_requests)
        if kind == "first_part":
            # the same members as a leading-parts group (all have two parts) would be a duplicate
            groups = [m for m in groups if len(np.unique(cols["prefix_hash"][m])) > 1]
        ranked = sorted(groups, key=lambda m: -(len(m) * chars_of(m)))[:MAX_GROUPS_PER_KIND]
        out.extend(_new_group(ctx, kind, members, int(cols["system_hash"][members[0]])) for members in ranked)
    return out


def _new_group(ctx: Context, kind: str, members: np.ndarray, system_hash: int) -> Group:
    in_sample = np.intersect1d(members, ctx.sample, assume_unique=True)
    rep = int(in_sample[0]) if len(in_sample) else int(members[0])
    return Group(kind, members, in_sample, len(members), high_share(ctx, members), system_hash, rep)


def high_share(ctx: Context, rows: np.ndarray) -> float:
    """Share of ``rows`` above the prompt-size tier threshold (0 when the model has no tiers)."""
    if ctx.threshold is None or not len(rows):
        return 0.0
    return float((ctx.per_request[rows] > ctx.threshold).mean())


# ----------------------------------------------------------------------------------------------- request parts


def _field(req: Mapping[str, Any], canonical: str) -> Any:
    from ...batchfile import schema

    for name, value in req.items():
        if schema.REQUEST_FIELDS.get(name) == canonical:
            return value
    return None


def _flat_parts(req: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Content parts in order, the ones the scan hashed (``request._contents``)."""
    from ...batchfile import schema

    contents = _field(req, "contents")
    out: list[dict[str, Any]] = []
    if not isinstance(contents, list):
        return out
    for content in contents:
        if not isinstance(content, dict):
            continue
        parts = next((v for k, v in content.items() if schema.CONTENT_FIELDS.get(k) == "parts"), None)
        if not isinstance(parts, list):
            continue
        for part in parts:
            if not isinstance(part, dict):
                continue
            data = [(schema.PART_DATA_FIELDS[k], v) for k, v in part.items() if k in schema.PART_DATA_FIELDS]
            if len(data) != 1:
                continue
            kind, value = data[0]
            if kind == "text" and not isinstance(value, str):
                continue
            if kind in ("functionCall", "functionResponse") and not isinstance(value, dict):
                continue
            out.append(part)
    return out


def _part_label(part: Mapping[str, Any]) -> str:
    text = part.get("text")
    if isinstance(text, str):
        return f'"{_snippet(text)}"'
    for key in ("inlineData", "inline_data", "fileData", "file_data"):
        blob = part.get(key)
        if isinstance(blob, dict):
            mime = blob.get("mimeType", blob.get("mime_type")) or "media"
            uri = blob.get("fileUri", blob.get("file_uri"))
            return f"[{mime} {uri}]" if isinstance(uri, str) else f"[inline {mime}]"
    return f"[{next(iter(part), 'part')}]"


def _walk(req: Mapping[str, Any]) -> Any:
    from ...batchfile.request import Walker

    return Walker(lambda code, msg: None, probe_media=False).walk(dict(req))


def _tools_key(req: Mapping[str, Any]) -> bytes | None:
    import msgspec

    values = {name: _field(req, name) for name in _TOOL_FIELDS}
    if all(v is None for v in values.values()):
        return None
    return msgspec.json.encode(values, order="sorted")


# ----------------------------------------------------------------------------------------------- measuring


def _prefix_media(ctx: Context, row: int, n_contents: int, with_system: bool) -> tuple[dict[str, int], int]:
    """Media tokens of a row's first ``n_contents`` contents media parts (+ its system media)."""
    from ...batchfile.request import PLACES
    from ...tokens.media_tokens import media_tokens

    media = ctx.scan.media
    if not len(media["row"]) or (n_contents == 0 and not with_system):
        return {}, 0
    idx = np.flatnonzero(media["row"] == row)  # walk order: contents parts first, then system
    place = media["place"][idx]
    take = idx[place == PLACES.index("contents")][:n_contents]
    if with_system:
        take = np.concatenate([take, idx[place == PLACES.index("system")]])
    if not len(take):
        return {}, 0
    sub = {name: arr[take] for name, arr in media.items()}
    sub["row"] = np.zeros(len(take), dtype=media["row"].dtype)
    found = media_tokens(
        sub, 1, model=ctx.media_model, request_resolution=ctx.scan.rows["media_resolution"][row : row + 1]
    )
    return {m: int(a[0]) for m, a in found.per_request.items() if int(a[0])}, found.unknown_parts


def _check_tools(ctx: Context, g: Group, rep_req: Mapping[str, Any], known: Mapping[int, Mapping[str, Any]]) -> bool:
    """Whether the group's tools are shared (then the cache holds them); sets ``g.blocker`` if not."""
    from ...batchfile.request import (
        FLAG_CODE_EXECUTION,
        FLAG_GOOGLE_SEARCH,
        FLAG_OTHER_TOOL,
        FLAG_TOOLS,
        FLAG_URL_CONTEXT,
    )

    tool_bits = FLAG_TOOLS | FLAG_GOOGLE_SEARCH | FLAG_CODE_EXECUTION | FLAG_URL_CONTEXT | FLAG_OTHER_TOOL
    rep_key = _tools_key(rep_req)
    members = g.rows if g.rows is not None else g.sample_rows
    bits = ctx.scan.rows["flags"][members] & tool_bits
    if rep_key is None and not bits.any():
        return False
    mixed = (
        "mixed-tools",
        "the requests send different tools/toolConfig; a request using a cache cannot send its own "
        "(the API answers 400), so one cache cannot serve them all",
    )
    if len(np.unique(bits)) > 1:
        g.blocker = mixed
        return False
    check = [int(r) for r in g.sample_rows[:TOOLS_CHECK_ROWS]]
    if len(check) < TOOLS_CHECK_ROWS and g.rows is not None:
        extra = np.setdiff1d(g.rows[: TOOLS_CHECK_ROWS * 2], g.sample_rows)[: TOOLS_CHECK_ROWS - len(check)]
        check.extend(int(r) for r in extra)
    todo = [r for r in check if r not in known]
    seen = dict(known)
    seen.update(ctx.scan.read_requests(todo))
    if any(_tools_key(seen[r]) != rep_key for r in check if r in seen):
        g.blocker = mixed
        return False
    if g.n > len(check):
        g.notes.append(
            f"tools/toolConfig were identical in the {plural(len(check), 'request')} checked and are assumed identical "
            f"in all {g.n:,} (the scan keeps no hash of them); the cache holds them"
        )
    return True


def measure(ctx: Context, g: Group, req: Mapping[str, Any], known: Mapping[int, Mapping[str, Any]]) -> None:
    """Fill the group's texts, media, description and what the cache holds, from its representative."""
    from ...batchfile.request import request_texts

    with_system = g.system_hash != 0
    if with_system:
        si = _field(req, "systemInstruction")
        g.texts.extend(request_texts({"systemInstruction": si})["system"])
        g.cached.append("the system instruction")
        g.removed.append("systemInstruction")
    if _check_tools(ctx, g, req, known):
        g.texts.extend(request_texts({"tools": _field(req, "tools")})["tools"])
        g.cached.append("the tools (and toolConfig)")
        g.removed.append("tools/toolConfig")
    parts = _flat_parts(req)
    n_media = 0
    if g.kind == "system":
        si_parts = (_field(req, "systemInstruction") or {}).get("parts") or [{}]
        g.description = f"system instruction {_part_label(si_parts[0]) if isinstance(si_parts[0], dict) else ''}"
    elif g.kind in ("leading_parts", "first_part"):
        lead = parts[:-1] if g.kind == "leading_parts" else parts[:1]
        info = _walk({"contents": [{"role": "user", "parts": lead}]})
        g.texts.extend(info.texts["contents"])
        n_media = len(info.media)
        what = "the first content part" if len(lead) == 1 else f"the first {len(lead)} content parts"
        g.cached.append(what)
        g.removed.append(what)
        g.description = f"{what[4:]} {_part_label(lead[0])}" if lead else what
        if with_system:
            g.description += " (with a shared system instruction)"
    else:
        assert g.template_prefix is not None
        g.texts.append(g.template_prefix)
        g.cached.append(f"the shared start of the first text part ({len(g.template_prefix):,} characters)")
        g.removed.append("the shared start of the first text part")
        g.description = f'templated prompt start "{_snippet(g.template_prefix)}"'
        if with_system:
            g.description += " (with a shared system instruction)"
    g.chars = sum(map(len, g.texts))
    g.media, g.unknown_media = _prefix_media(ctx, g.rep, n_media, with_system)
    if g.unknown_media:
        g.notes.append(
            f"{plural(g.unknown_media, 'media part')} of the prefix {agree(g.unknown_media, 'has', 'have')} no known "
            f"size and {agree(g.unknown_media, 'is', 'are')} not in its tokens (a lower bound)"
        )


def template_groups(ctx: Context, reqs: Mapping[int, Mapping[str, Any]], n_eligible: int) -> list[Group]:
    """Clusters of sampled requests whose first text part starts alike (see the package docstring)."""
    firsts: list[tuple[int, int, str]] = []
    for row in ctx.sample:
        parts = _flat_parts(reqs[int(row)])
        text = parts[0].get("text") if parts else None
        if isinstance(text, str) and len(text) >= TEMPLATE_KEY_CHARS[0]:
            firsts.append((int(row), int(ctx.scan.rows["system_hash"][row]), text))
    n_sample = len(ctx.sample)
    if not firsts or not n_sample:
        return []
    whole = n_sample >= n_eligible  # the sample is every eligible request: counts are exact
    found: dict[tuple[int, ...], tuple[np.ndarray, str, int]] = {}
    for width in TEMPLATE_KEY_CHARS:
        clusters: dict[tuple[int, str], list[tuple[int, str]]] = {}
        for row, sh, text in firsts:
            if len(text) >= width:
                clusters.setdefault((sh, text[:width]), []).append((row, text))
        scored = []
        for (sh, _), members in clusters.items():
            if len(members) < 2:
                continue
            texts = [t for _, t in members]
            if len(set(texts)) == 1:
                continue  # identical first parts: a first-part group (or duplicate requests)
            prefix = _word_prefix(_common_prefix(texts))
            if len(prefix) < width // 2:
                continue
            scored.append((len(members) * len(prefix), np.array(sorted(r for r, _ in members)), prefix, sh))
        for _, rows, prefix, sh in sorted(scored, key=lambda s: -s[0])[:TEMPLATE_PER_LEVEL]:
            key = tuple(rows.tolist())
            if key not in found or len(found[key][1]) < len(prefix):
                found[key] = (rows, prefix, sh)
    out = []
    for rows, prefix, sh in found.values():
        n = len(rows) if whole else round(len(rows) * n_eligible / n_sample)
        if n < ctx.min_requests:
            continue
        g = Group("template", rows if whole else None, rows, n, high_share(ctx, rows), sh, int(rows[0]))
        g.template_prefix = prefix
        if not whole:
            g.notes.append(
                f"estimated: {len(rows):,} of {n_sample:,} sampled requests start with this text, scaled to "
                f"{n:,} of {n_eligible:,} requests"
            )
        out.append(g)
    return out


def _common_prefix(texts: Sequence[str]) -> str:
    """Longest string every text starts with (that of the smallest and largest text, in order)."""
    low, high = min(texts), max(texts)
    n = 0
    for a, b in zip(low, high, strict=False):
        if a != b:
            break
        n += 1
    return low[:n]


def _word_prefix(common: str) -> str:
    """The common prefix cut before its last whitespace, so the rest starts a word (natural tokens)."""
    cut = max(common.rfind(" "), common.rfind("\n"), common.rfind("\t"))
    return common[:cut] if cut > 0 else ""
