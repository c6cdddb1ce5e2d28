"""Embedding batch requests: recognise an ``EmbedContentRequest`` line and check it with its own rules.

An embedding batch (``{model}:asyncBatchEmbedContent``, ``client.batches.create_embeddings``,
Developer API only) carries one ``EmbedContentRequest`` per line: ``content`` (one Content, not the
``contents`` list of generation), and optionally ``model``, ``taskType``, ``title`` and
``outputDimensionality``. A request is an embed request when it has ``content`` or an embed-only
field and no ``contents``.

The walk fills the same :class:`~batchcost.batchfile.request_info.RequestInfo` a generation request
does (its texts under ``contents``, its media parts), so the scan, the token counter and the
sampling need nothing else; the row's ``FLAG_EMBED`` bit tells later stages that the request has no
output to price. The ``title`` is counted as input text: the model reads it with the content.

What one model accepts (sources: the Gemini API embeddings documentation and models page; the
Vertex AI Gemini Embedding 2 model page; for the media limits of Gemini Embedding 2 only third
parties - Vercel AI Gateway's FAQ, aihola - give figures, so those are warnings, not errors):

* gemini-embedding-001: text only; ``outputDimensionality`` 128-3,072;
* gemini-embedding-2 (``-preview``): text, images, audio, video and PDF in one request;
  ``outputDimensionality`` 128-3,072; at most 6 images, video up to 120 s, PDFs up to 6 pages.

The per-request input-token limits (2,048 and 8,192) need the token count, so the estimate checks
them with the price book's ``input_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..text import plural
from .problems import quoted
from .request_info import RequestInfo, as_int

# The walker is request.py's, which imports this module to route, so this one cannot import it
# back: typed loosely here.
Walker = Any

FLAG_EMBED = 2048
"""Bit of ``RequestInfo.flags`` (and the scan's ``flags`` column): an embedding request."""

TASK_TYPES: tuple[str, ...] = (
    "TASK_TYPE_UNSPECIFIED",
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)

# spelling in the file -> canonical name (proto3 JSON accepts both camelCase and snake_case)
EMBED_FIELDS: dict[str, str] = {
    "content": "content",
    "model": "model",
    "taskType": "taskType",
    "task_type": "taskType",
    "title": "title",
    "outputDimensionality": "outputDimensionality",
    "output_dimensionality": "outputDimensionality",
}
_EMBED_ONLY = frozenset({"content", "taskType", "task_type", "outputDimensionality", "output_dimensionality"})


@dataclass(frozen=True, slots=True)
class EmbedModelRules:
    """What one embedding model accepts in a request (None: no limit known)."""

    media: bool
    min_dims: int
    max_dims: int
    max_images: int | None = None
    max_video_s: float | None = None
    max_pdf_pages: int | None = None


EMBED_MODELS: dict[str, EmbedModelRules] = {
    "gemini-embedding-001": EmbedModelRules(media=False, min_dims=128, max_dims=3072),
    "gemini-embedding-2": EmbedModelRules(
        media=True, min_dims=128, max_dims=3072, max_images=6, max_video_s=120.0, max_pdf_pages=6
    ),
}
# the range every known embedding model accepts, for a request that does not name its model
_ANY_DIMS = (max(r.min_dims for r in EMBED_MODELS.values()), min(r.max_dims for r in EMBED_MODELS.values()))


def embed_rules(model: str) -> EmbedModelRules | None:
    """The rules of an embedding model id (``models/`` prefix, ``-preview`` suffix allowed), or None."""
    name = model.strip().lower().removeprefix("models/")
    return EMBED_MODELS.get(name) or EMBED_MODELS.get(name.removesuffix("-preview"))


def is_embed_request(req: dict[str, Any]) -> bool:
    """True when ``req`` is shaped as an ``EmbedContentRequest`` (``content``, no ``contents``)."""
    if "contents" in req:
        return False
    return any(name in _EMBED_ONLY for name in req)


def walk_embed(walker: Walker, req: dict[str, Any], info: RequestInfo) -> None:
    """Check an embed request with ``walker``'s part checks and fill ``info``.

    Problems go to ``walker.report``; the request's text goes to ``info.texts["contents"]``.
    """
    report = walker.report
    info.flags |= FLAG_EMBED
    info.nkeys = len(req)
    fields: dict[str, Any] = {}
    for name, value in req.items():
        canon = EMBED_FIELDS.get(name)
        if canon is None:
            # (names inside an unknown field are not counted: the line is then parsed again to look
            # for repeated names, which is slower but finds the same ones)
            hint = (
                '; an embedding request holds one Content in "content", not a generation\'s "contents"'
                if name in ("generationConfig", "generation_config", "systemInstruction", "tools")
                else ""
            )
            report("unknown-field", f"unknown embedding request field {quoted(name)}{hint} (the API may reject it)")
            continue
        if canon in fields:
            report("duplicate-field", f"embedding request gives {quoted(canon)} in both spellings; keep one")
        fields[canon] = value
    model = fields.get("model")
    if model is not None:
        if isinstance(model, str) and model.strip() and model.isprintable():
            info.model = model.strip().removeprefix("models/")
        else:
            report("bad-value", '"model" must be a model name like "gemini-embedding-001"')
    rules = embed_rules(info.model) if info.model else None
    _content(walker, fields.get("content"), info)
    _task_type(walker, fields, info)
    dims = fields.get("outputDimensionality")
    if dims is not None:
        low, high = (rules.min_dims, rules.max_dims) if rules is not None else _ANY_DIMS
        n = as_int(dims)
        if n is None or not low <= n <= high:
            which = info.model if rules is not None else "Gemini embedding models"
            report(
                "bad-value",
                f"outputDimensionality must be a whole number from {low:,} to {high:,} for {which}, got {dims!r:.40}",
            )
    if rules is not None:
        _media_rules(walker, info, rules)


def _content(walker: Walker, content: Any, info: RequestInfo) -> None:
    report = walker.report
    if content is None:
        report("contents-missing", 'embedding request has no "content"; add "content": {"parts": [{"text": ...}]}')
        return
    if not isinstance(content, dict):
        fix = " (an embedding request takes one Content object, not a list)" if isinstance(content, list) else ""
        report("content-invalid", f'"content" must be an object with "parts"{fix}')
        return
    info.nkeys += len(content)
    parts = content.get("parts")
    for name in content:
        if name not in ("parts", "role"):
            report("unknown-field", f'unknown field {quoted(name)} in "content"; a Content holds "parts" (and "role")')
    if not isinstance(parts, list) or not parts:
        report("parts-missing", '"content" has no "parts"; give at least one part like {"text": ...}')
        return
    for j, part in enumerate(parts):
        walker.part(part, f"content.parts[{j}]", "contents", info)


def _task_type(walker: Walker, fields: dict[str, Any], info: RequestInfo) -> None:
    task = fields.get("taskType")
    if task is not None and (not isinstance(task, str) or task.upper() not in TASK_TYPES):
        walker.report("bad-value", f"taskType {task!r:.40} is not one of {', '.join(TASK_TYPES[1:])}")
        task = None
    title = fields.get("title")
    if title is None:
        return
    if not isinstance(title, str):
        walker.report("bad-value", '"title" must be a string')
        return
    info.texts["contents"].append(title)
    if not isinstance(task, str) or task.upper() != "RETRIEVAL_DOCUMENT":
        walker.report(
            "bad-value",
            '"title" is only accepted with taskType RETRIEVAL_DOCUMENT; set that task type or remove the title',
        )


def _media_rules(walker: Walker, info: RequestInfo, rules: EmbedModelRules) -> None:
    if not info.media:
        return
    if not rules.media:
        walker.report(
            "embed-media",
            f"{info.model} embeds text only, but the request has {plural(len(info.media), 'media part')}; use "
            "gemini-embedding-2 for images, audio, video and PDF, or send text",
        )
        return
    images = sum(1 for m in info.media if m.kind == "image")
    if rules.max_images is not None and images > rules.max_images:
        walker.report(
            "embed-limit",
            f"{images} images in one request; {info.model} takes at most {rules.max_images} (third-party "
            "figure): split the request",
        )
    for m in info.media:
        if rules.max_video_s is not None and m.kind == "video" and m.duration_s > rules.max_video_s:
            walker.report(
                "embed-limit",
                f"a {m.duration_s:,.0f} s video; {info.model} takes videos up to {rules.max_video_s:g} s "
                "(third-party figure): cut it",
            )
        if rules.max_pdf_pages is not None and m.kind == "document" and m.pages > rules.max_pdf_pages:
            walker.report(
                "embed-limit",
                f"a {m.pages}-page PDF; {info.model} takes PDFs up to {rules.max_pdf_pages} pages "
                "(third-party figure): split it",
            )
