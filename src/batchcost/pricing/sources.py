"""Where the price files' figures come from: the ``sources:`` list of documents and references to it.

A price file lists its documents once under ``sources:`` (an id -> a title a user recognises and,
where the document has one, its URL), and every entry names the documents behind it in ``source``:

* an id from ``sources:`` (``pricing-page``);
* a mapping, to add a short verbatim quote or to say which facts of a model it backs:
  ``{id: batch-docs, quote: "target turnaround time is 24 hours", for: [expiry_hours]}``;
* a mapping for a document not in the list: ``{title: "contract ACME-2026-11", url: ...}``;
* free text (user files): a title, with its URL taken out when it holds one;
* a list of any of these.

The entry's ``checked`` date is the date each of its sources was last checked.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any

from batchcost.pricing.records import Source
from batchcost.text import agree

MODEL_FACTS: tuple[str, ...] = (
    "status",
    "input_limit",
    "output_limit",
    "explicit_cache",
    "implicit_cache_min_tokens",
    "tokenizer",
    "enqueued_tokens",
)
"""Facts of a model entry a source may be tied to with ``for:`` (see ``ModelInfo.provenance_of``)."""

SOURCE_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9.]+)*")
"""What a source id looks like: lower-case words joined by hyphens (``batch-docs``)."""

_URL = re.compile(r"https?://[^\s,;()]+")

Report = Callable[[str, str], None]
"""``report(path, message)``: records a problem at a place in the file."""


def parse_registry(raw: Any, report: Report, base: Mapping[str, Source] | None = None) -> dict[str, Source]:
    """Read ``sources:`` (id -> ``{title, url}``, or id -> a title text) on top of ``base``."""
    registry = dict(base or {})
    if raw is None:
        return registry
    if not isinstance(raw, Mapping):
        report("sources", "must map source ids to {title, url}")
        return registry
    for key, item in raw.items():
        where = f"sources.{key}"
        sid = str(key)
        if not SOURCE_ID.fullmatch(sid):
            report(where, "a source id is lower-case words joined by hyphens, such as 'pricing-page'")
            continue
        if isinstance(item, str):
            registry[sid] = _from_text(item)
            continue
        if not isinstance(item, Mapping):
            report(where, "must be a mapping with 'title' (and 'url' where the document has one)")
            continue
        unknown = set(item) - {"title", "url"}
        if unknown:
            report(
                where,
                f"unknown {agree(len(unknown), 'key', 'keys')} {', '.join(sorted(map(str, unknown)))} "
                "(allowed: title, url)",
            )
        title = _text(item.get("title"))
        url = _text(item.get("url"))
        if not title:
            report(where, "missing 'title' (a name a user recognises, such as 'Gemini API pricing page')")
            continue
        if url is not None and not _URL.fullmatch(url):
            report(f"{where}.url", f"{url!r} is not an http(s) URL")
            url = None
        registry[sid] = Source(title, url)
    return registry


def parse_references(
    raw: Any,
    registry: Mapping[str, Source],
    checked: datetime.date | None,
    report: Report,
    path: str,
    *,
    strict: bool,
) -> list[tuple[Source, tuple[str, ...]]]:
    """The sources an entry's ``source`` names, each with its check date and the facts it backs.

    In a strict file (the packaged one) a text that looks like a source id must be one.
    """
    items = raw if isinstance(raw, list) else [raw]
    found: list[tuple[Source, tuple[str, ...]]] = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]" if isinstance(raw, list) else path
        ref = _reference(item, registry, report, where, strict=strict)
        if ref is not None:
            source, facts = ref
            found.append((Source(source.title, source.url, checked, source.quote), facts))
    if not found and raw is not None:
        report(path, "names no source")
    return found


def _reference(
    item: Any, registry: Mapping[str, Source], report: Report, where: str, *, strict: bool
) -> tuple[Source, tuple[str, ...]] | None:
    if isinstance(item, str):
        text = " ".join(item.split())
        if text in registry:
            return registry[text], ()
        if strict and SOURCE_ID.fullmatch(text):
            report(where, f"unknown source id {text!r} (add it under 'sources:')")
            return None
        return (_from_text(text), ()) if text else None
    if not isinstance(item, Mapping):
        report(where, "a source is an id from 'sources:', a text, or a mapping with 'id' or 'title'")
        return None
    unknown = set(item) - {"id", "title", "url", "quote", "for"}
    if unknown:
        report(
            where,
            f"unknown {agree(len(unknown), 'key', 'keys')} {', '.join(sorted(map(str, unknown)))} "
            "(allowed: id, title, url, quote, for)",
        )
    quote = _text(item.get("quote"))
    facts = _facts(item.get("for"), report, f"{where}.for")
    if "id" in item:
        sid = str(item["id"])
        if sid not in registry:
            report(f"{where}.id", f"unknown source id {sid!r} (add it under 'sources:')")
            return None
        if "title" in item or "url" in item:
            report(where, "give either 'id' or 'title'/'url', not both")
        base = registry[sid]
        return Source(base.title, base.url, None, quote), facts
    title = _text(item.get("title"))
    if not title:
        report(where, "needs 'id' (from 'sources:') or 'title'")
        return None
    url = _text(item.get("url"))
    if url is not None and not _URL.fullmatch(url):
        report(f"{where}.url", f"{url!r} is not an http(s) URL")
        url = None
    return Source(title, url, None, quote), facts


def _facts(raw: Any, report: Report, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    facts = [raw] if isinstance(raw, str) else raw
    if not isinstance(facts, list) or any(f not in MODEL_FACTS for f in facts):
        report(where, f"must name facts among {', '.join(MODEL_FACTS)}")
        return ()
    return tuple(facts)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _from_text(text: str) -> Source:
    """A free-text source: its first URL becomes the URL, the rest the title."""
    text = " ".join(text.split())
    match = _URL.search(text)
    if match is None:
        return Source(text)
    url = match.group(0).rstrip(".,;:")
    title = (text[: match.start()] + text[match.end() :]).strip(" :;,-()")
    title = re.sub(r"\(\s*\)", "", title).strip()
    return Source(title or url, url)
