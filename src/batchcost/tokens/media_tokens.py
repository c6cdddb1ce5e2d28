"""Tokens of image, audio, video and PDF parts, by Google's documented rules.

Gemini bills non-text input by fixed rules, not by the bytes sent: an image costs a fixed number of
tokens per tile or per resolution level, a PDF per page, a video per sampled frame, audio per
second. The scan records the figures those rules need for every media part (see
``batchfile.result.MEDIA_COLUMNS``); this module turns them into tokens per request and modality.

Rules and their sources (the token-counting doc: https://ai.google.dev/gemini-api/docs/tokens; the Gemini 3 guide:
https://ai.google.dev/gemini-api/docs/gemini-3):

=========  ===========================================  ===========================================
input      Gemini 2.x (``gemini2``)                     Gemini 3 and later (``gemini3``)
=========  ===========================================  ===========================================
image      both sides <= 384 px: 258; else 258 per       LOW 280, MEDIUM 560, HIGH 1120 (default),
           768x768 tile (the token-counting doc). With mediaResolution:   ULTRA_HIGH 2240, per part only (the Gemini 3 guide;
           LOW 64, MEDIUM 256, HIGH 256                  Vertex 3 Flash spec)
           (SDK:types.py:724 docstring)
PDF        258 per page (older rule, 3P)                 per page LOW 280, MEDIUM 560 (default),
                                                         HIGH 1120 (the Gemini 3 guide; Vertex 3 Flash spec)
video      263 per second (the token-counting doc)                        per frame LOW/MEDIUM 70 (default), HIGH 280;
                                                         1 frame per second unless videoMetadata.fps
audio      32 per second                                 32 per second (the token-counting doc; media-resolution doc)
=========  ===========================================  ===========================================

Per-part ``mediaResolution`` beats the request-level ``generationConfig.mediaResolution``
(media-resolution doc; ``SDK:types.py:1089, 1589``). Parts whose figures are unknown (a ``fileData``
reference is never read, so its size, pages or duration are unknown) are not counted: they are
reported, with the option that supplies the missing figure.

The rules are applied to whole numpy columns, so a file with a million media parts costs a few
array passes; :func:`part_tokens` runs the very same code on one part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from batchcost.batchfile.media import MEDIA_KINDS
from batchcost.batchfile.schema import MEDIA_RESOLUTIONS
from batchcost.text import agree

from .media_rules import (
    AUDIO_KIND,
    AUDIO_PER_S,
    FAMILIES,
    HIGH_RES,
    IMAGE_KIND,
    MODALITIES,
    MODALITY_OF_KIND,
    PDF_KIND,
    ULTRA_RES,
    VIDEO_KIND,
    MediaDefaults,
    MediaTokens,
    family_and_note,
    media_family,
    part_tokens,
    round_up,
    rule_tokens,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "FAMILIES",
    "MODALITIES",
    "MediaDefaults",
    "MediaTokens",
    "media_family",
    "media_tokens",
    "part_tokens",
]

_DEFAULTS = MediaDefaults()  # frozen: one shared default for media_tokens


# --- whole columns ------------------------------------------------------------------------------


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {many or word + 's'}"


def _s(n: int) -> str:
    """Ending of a present-tense verb after ``n`` things ("1 part asks", "2 parts ask")."""
    return "s" if n == 1 else ""


def media_tokens(
    media: Mapping[str, np.ndarray],
    n_rows: int,
    *,
    model: str,
    request_resolution: np.ndarray | None = None,
    defaults: MediaDefaults = _DEFAULTS,  # frozen, so one shared default is safe
) -> MediaTokens:
    """Price every media part in tokens and sum them per request and modality.

    Args:
        media: media columns as the scan makes them (``ScanResult.media``): ``row`` and ``kind`` are
            required; ``width``, ``height``, ``pages``, ``duration_s``, ``resolution``, ``fps``,
            ``clip_s`` are read when present (a missing column means "unknown" for every part).
        n_rows: number of request rows (``len(ScanResult.rows["offset"])``).
        model: the model that will serve the job. Pass the model after any routing (a retired name
            routed to a newer model is billed by the newer model's rules).
        request_resolution: request-level ``generationConfig.mediaResolution`` code per row
            (``ScanResult.rows["media_resolution"]``, -1 not given); None when no request sets one.
        defaults: figures for parts whose own figures are unknown.

    Returns:
        A :class:`MediaTokens`.

    Raises:
        ValueError: columns of different lengths, a row index outside ``n_rows``, or codes outside
            ``MEDIA_KINDS`` / ``MEDIA_RESOLUTIONS`` (the columns did not come from the scan).
    """
    import numpy as np

    from ..heap import zeros_view

    family, family_note = family_and_note(model)
    notes: list[str] = [
        f"Media tokens by the {'Gemini 2.x' if family == 'gemini2' else 'Gemini 3'} rules for model {model!r} "
        "(https://ai.google.dev/gemini-api/docs/tokens)."
    ]
    if family_note:
        notes.append(family_note + ".")

    cols = _columns(media, n_rows, request_resolution)
    kind, row, part_res, req_res = cols["kind"], cols["row"], cols["resolution"], cols["request_resolution"]
    n = len(kind)
    # A modality without parts is a read-only view of one zero, not millions of them: summed or
    # indexed it reads as zeros, and it holds no memory (four int64 arrays of zeros were 54 MB on
    # 1.7 M short prompts). A modality with parts gets its own array below.
    no_parts = zeros_view(n_rows)
    per_request: dict[str, npt.NDArray[np.int64]] = {m: no_parts for m in MODALITIES[1:]}
    if n == 0:
        return MediaTokens(MappingProxyType(per_request), 0, MappingProxyType({}), tuple(notes))

    # Which level applies: the part's own, else the request's. ULTRA_HIGH is a per-part level only
    # (the Gemini 3 guide; SDK request-level MediaResolution enum has none), so at request level it prices as HIGH.
    res = np.where(part_res >= 0, part_res, req_res).astype(np.int8)
    req_ultra = (part_res < 0) & (req_res == ULTRA_RES)
    res[req_ultra] = HIGH_RES

    is_img, is_pdf, is_vid, is_aud = (kind == k for k in (IMAGE_KIND, PDF_KIND, VIDEO_KIND, AUDIO_KIND))
    width, height, pages = cols["width"], cols["height"], cols["pages"]
    duration, clip, fps = cols["duration_s"], cols["clip_s"], cols["fps"]

    # Seconds: the videoMetadata clip when given (capped at the file's length when that is known),
    # else the file's duration, else the user's figure.
    seconds = np.full(n, np.nan)
    has_dur = (duration >= 0) & np.isfinite(duration)
    seconds[(is_vid | is_aud) & has_dur] = duration[(is_vid | is_aud) & has_dur]
    v_clip = is_vid & (clip >= 0) & np.isfinite(clip)
    over = v_clip & has_dur & (clip > duration)
    seconds[v_clip] = np.where(over, duration, clip)[v_clip]
    filled: dict[str, int] = {}
    for mask, value, key in ((is_vid, defaults.video_seconds, "video"), (is_aud, defaults.audio_seconds, "audio")):
        gap = mask & np.isnan(seconds)
        if value is not None and gap.any():
            seconds[gap] = value
            filled[key] = int(gap.sum())
    pdf_gap = is_pdf & (pages < 0)
    if defaults.pdf_pages is not None and pdf_gap.any():
        pages = pages.copy()
        pages[pdf_gap] = defaults.pdf_pages
        filled["pdf"] = int(pdf_gap.sum())
    # Only the Gemini 2.x tile rule needs an image's size.
    size_gap = is_img & (res < 0) & ((width < 1) | (height < 1)) if family == "gemini2" else np.zeros(n, np.bool_)
    if defaults.image_width is not None and size_gap.any():
        width, height = width.copy(), height.copy()
        width[size_gap], height[size_gap] = defaults.image_width, defaults.image_height
        filled["image"] = int(size_gap.sum())

    tokens, known = rule_tokens(family, kind, width, height, pages, seconds, fps, res)

    for k_name, modality in MODALITY_OF_KIND.items():
        sel = (kind == MEDIA_KINDS.index(k_name)) & known
        if sel.any():
            if per_request[modality] is no_parts:
                per_request[modality] = np.zeros(n_rows, np.int64)
            np.add.at(per_request[modality], row[sel], tokens[sel])  # exact int64 sums

    unknown = ~known
    unknown_counts = np.bincount(kind[unknown], minlength=len(MEDIA_KINDS))
    by_kind = {name: int(c) for name, c in zip(MEDIA_KINDS, unknown_counts, strict=True) if c}

    counts = _Counts(
        family=family, kind=kind, res=res, part_res=part_res, req_ultra=req_ultra, row=row, known=known,
        seconds=seconds, over=over, is_img=is_img, is_pdf=is_pdf, is_vid=is_vid, is_aud=is_aud,
    )  # fmt: skip
    notes += _rule_notes(counts)
    notes += _gap_notes(by_kind, filled, defaults)
    return MediaTokens(MappingProxyType(per_request), int(unknown.sum()), MappingProxyType(by_kind), tuple(notes))


def _columns(
    media: Mapping[str, np.ndarray], n_rows: int, request_resolution: np.ndarray | None
) -> dict[str, npt.NDArray[Any]]:
    """The media columns in working dtypes, checked; missing optional columns filled with -1."""
    import numpy as np

    for name in ("row", "kind"):
        if name not in media:
            raise ValueError(f"media columns need {name!r} (pass ScanResult.media)")
    kind = np.asarray(media["kind"]).astype(np.intp, copy=False)
    n = len(kind)
    out: dict[str, npt.NDArray[Any]] = {"kind": kind}
    specs = {
        "row": np.int64, "width": np.int64, "height": np.int64, "pages": np.int64, "resolution": np.int16,
        "duration_s": np.float64, "clip_s": np.float64, "fps": np.float64,
    }  # fmt: skip
    for name, dtype in specs.items():
        col = media.get(name)
        arr = np.full(n, -1, dtype) if col is None else np.asarray(col).astype(dtype, copy=False)
        if len(arr) != n:
            raise ValueError(
                f"media column {name!r} has {_plural(len(arr), 'entry', 'entries')}, 'kind' has {n:,}: "
                "pass whole columns"
            )
        out[name] = arr
    if n and (kind.min() < 0 or kind.max() >= len(MEDIA_KINDS)):
        raise ValueError(f"media 'kind' codes must index MEDIA_KINDS (0..{len(MEDIA_KINDS) - 1})")
    row = out["row"]
    if n and (row.min() < 0 or row.max() >= n_rows):
        raise ValueError(f"media 'row' values must be in 0..{n_rows - 1} (n_rows is {n_rows:,})")
    res = out["resolution"]
    if n and (res.min() < -1 or res.max() >= len(MEDIA_RESOLUTIONS)):
        raise ValueError("media 'resolution' codes must index MEDIA_RESOLUTIONS, or be -1")
    if request_resolution is None:
        out["request_resolution"] = np.full(n, -1, np.int16)
    else:
        rr = np.asarray(request_resolution).astype(np.int16, copy=False)
        if len(rr) != n_rows:
            raise ValueError(
                f"request_resolution has {_plural(len(rr), 'entry', 'entries')} for {_plural(n_rows, 'row')}: "
                "pass the whole column"
            )
        if n_rows and (rr.min() < -1 or rr.max() >= len(MEDIA_RESOLUTIONS)):
            raise ValueError("request_resolution codes must index MEDIA_RESOLUTIONS, or be -1")
        out["request_resolution"] = rr[row]
    return out


@dataclass(frozen=True, slots=True)
class _Counts:
    family: str
    kind: npt.NDArray[Any]
    res: npt.NDArray[Any]
    part_res: npt.NDArray[Any]
    req_ultra: npt.NDArray[np.bool_]
    row: npt.NDArray[np.int64]
    known: npt.NDArray[np.bool_]
    seconds: npt.NDArray[np.float64]
    over: npt.NDArray[np.bool_]
    is_img: npt.NDArray[np.bool_]
    is_pdf: npt.NDArray[np.bool_]
    is_vid: npt.NDArray[np.bool_]
    is_aud: npt.NDArray[np.bool_]


def _rule_notes(c: _Counts) -> list[str]:
    """The rules used for the kinds present, with sources, conflicts and assumptions."""
    import numpy as np

    notes: list[str] = []
    g3 = c.family == "gemini3"
    n_img, n_pdf, n_vid, n_aud = (int(m.sum()) for m in (c.is_img, c.is_pdf, c.is_vid, c.is_aud))

    if c.req_ultra.any():
        reqs = len(np.unique(c.row[c.req_ultra]))
        notes.append(
            f"{_plural(reqs, 'request')} set generationConfig.mediaResolution to ULTRA_HIGH, which Google allows "
            "per part only (https://ai.google.dev/gemini-api/docs/gemini-3; media-resolution doc): the API may reject "
            f"{agree(reqs, 'it', 'them')}. {agree(reqs, 'Its', 'Their')} media are priced as HIGH."
        )
    if n_img:
        if g3:
            notes.append(
                f"Images ({n_img:,}): LOW 280, MEDIUM 560, HIGH 1120, ULTRA_HIGH 2240 tokens each by "
                "mediaResolution, HIGH (1120) when none is given (https://ai.google.dev/gemini-api/docs/gemini-3; Vertex Gemini 3 Flash spec "
                '"default resolution tokens: 1120").'
            )
        else:
            notes.append(
                f"Images ({n_img:,}): 258 tokens when both sides are at most 384 px, otherwise 258 per 768x768 "
                "tile, ceil(width/768) x ceil(height/768) tiles (https://ai.google.dev/gemini-api/docs/tokens 2026-09-04). Google says larger images "
                'are "cropped and scaled as needed", so the tile count is an approximation.'
            )
            n_res = int((c.is_img & (c.res >= 0)).sum())
            if n_res:
                notes.append(
                    f"{_plural(n_res, 'image')} with a mediaResolution on a Gemini 2.x model: priced by the "
                    "google-genai 3.6.1 MediaResolution docstring (SDK:types.py:724): LOW 64, MEDIUM 256, "
                    'HIGH 256 ("zoomed reframing with 256 tokens"); ULTRA_HIGH is not in that enum and is '
                    "priced as HIGH. These are SDK docstring figures, not a rule from Google's token pages."
                )
    if not g3:
        n_part = int(((c.part_res >= 0) & (c.is_img | c.is_pdf | c.is_vid)).sum())
        if n_part:
            notes.append(
                f"{_plural(n_part, 'part')} set a per-part mediaResolution, which Google documents for Gemini 3 "
                "and later only (media-resolution doc): applied like a request-level setting here; whether "
                "this model honours or rejects it is UNKNOWN."
            )
        n_ignored = int(((c.is_pdf | c.is_vid) & (c.res >= 0)).sum())
        if n_ignored:
            notes.append(
                f"mediaResolution is not applied to {_plural(n_ignored, 'PDF or video part')} on Gemini 2.x: "
                "no source gives per-level figures for them (UNKNOWN); the fixed rates are used."
            )
    if n_pdf:
        if g3:
            notes.append(
                f"PDFs ({n_pdf:,}): per page LOW 280, MEDIUM 560 (default), HIGH 1120 tokens (https://ai.google.dev/gemini-api/docs/gemini-3; Vertex "
                'Gemini 3 Flash spec "default 560"). Google adds the text it extracts from the PDF on top '
                '("+ extracted text", https://ai.google.dev/gemini-api/docs/gemini-3); that text is not counted here.'
            )
            n_u = int((c.is_pdf & (c.res == ULTRA_RES)).sum())
            if n_u:
                notes.append(
                    f"{_plural(n_u, 'PDF part')} ask{_s(n_u)} for ULTRA_HIGH, documented for images only: priced as "
                    "HIGH (1120 per page)."
                )
        else:
            notes.append(
                f"PDFs ({n_pdf:,}): 258 tokens per page, an older rule known only from third-party summaries "
                "of Google's docs (third-party copies); no current Google page states a Gemini 2.x PDF rule."
            )
    if n_vid:
        if g3:
            notes.append(
                f"Videos ({n_vid:,}): frames = ceil(seconds x fps), fps from videoMetadata or 1 (Google's default "
                "sampling); 70 tokens per frame at LOW/MEDIUM and by default, 280 at HIGH (https://ai.google.dev/gemini-api/docs/gemini-3; Vertex Gemini "
                '3 Flash spec "default 70 per frame"). Seconds: the videoMetadata clip (end - start) when given, '
                "else the file's duration."
            )
            n_u = int((c.is_vid & (c.res == ULTRA_RES)).sum())
            if n_u:
                notes.append(
                    f"{_plural(n_u, 'video part')} ask{_s(n_u)} for ULTRA_HIGH, documented for images only: priced as "
                    "HIGH (280 per frame)."
                )
        else:
            notes.append(
                f'Videos ({n_vid:,}): 263 tokens per second (https://ai.google.dev/gemini-api/docs/tokens: "263 tokens per second (applies to static '
                'processing)"), i.e. per frame sampled at the default 1 FPS; with videoMetadata.fps it is '
                "scaled per sampled frame (assumption). Seconds: the videoMetadata clip (end - start) when "
                "given, else the file's duration. CONFLICT: a table on the same page says ~100 tokens/s "
                "(low resolution) or ~300 tokens/s (high resolution); 263/s is used."
            )
        n_over = int(c.over.sum())
        if n_over:
            notes.append(
                f"{_plural(n_over, 'video clip')} end{_s(n_over)} after the video does: the clip is counted up to the video's end."
            )
        vid_known = c.is_vid & c.known
        extra = int(round_up(c.seconds[vid_known] * AUDIO_PER_S).sum())
        notes.append(
            "Whether a video's audio track is billed as audio tokens on top of its frames is UNKNOWN (no "
            "current Google source settles it): not added. If it is, add 32 tokens per second of video"
            + (f" ({extra:,} tokens for the videos counted here)." if extra else ".")
        )
    if n_aud:
        notes.append(
            f"Audio ({n_aud:,}): 32 tokens per second on every model, whatever the mediaResolution (https://ai.google.dev/gemini-api/docs/tokens; "
            "media-resolution doc), rounded up per part."
        )
    return notes


def _gap_notes(by_kind: Mapping[str, int], filled: Mapping[str, int], defaults: MediaDefaults) -> list[str]:
    """What was not counted and how to supply it; which user figures were used."""
    notes: list[str] = []
    if by_kind.get("image"):
        notes.append(
            f"{_plural(by_kind['image'], 'image')} of unknown size (fileData references are not read, or the "
            "header was unreadable): not counted. Gemini 2.x prices images by size: give a typical size "
            "with --image-size WxH."
        )
    if by_kind.get("pdf"):
        notes.append(
            f"{_plural(by_kind['pdf'], 'PDF')} with an unknown page count (fileData references are not read, "
            "or the file was unreadable): not counted. Give a typical page count with --pdf-pages N."
        )
    if by_kind.get("video"):
        notes.append(
            f"{_plural(by_kind['video'], 'video')} of unknown length (fileData references are not read, the "
            "container gave no duration, and no videoMetadata clip is set): not counted. Give a typical "
            "length with --video-seconds SECONDS."
        )
    if by_kind.get("audio"):
        notes.append(
            f"{_plural(by_kind['audio'], 'audio part')} of unknown length (fileData references are not read, "
            "or the container gave no duration): not counted. Give a typical length with --audio-seconds SECONDS."
        )
    if by_kind.get("other"):
        notes.append(
            f"{_plural(by_kind['other'], 'part')} of other media types (e.g. text/plain, "
            "application/octet-stream, or no mimeType): no documented token rule, not counted."
        )
    if filled.get("image"):
        notes.append(
            f"{_plural(filled['image'], 'image')} of unknown size priced as {defaults.image_width}x"
            f"{defaults.image_height} px each (--image-size, user figure)."
        )
    if filled.get("pdf"):
        notes.append(
            f"{_plural(filled['pdf'], 'PDF')} with unknown pages priced as {_plural(defaults.pdf_pages, 'page')} each "
            "(--pdf-pages, user figure)."
        )
    if filled.get("video"):
        notes.append(
            f"{_plural(filled['video'], 'video')} of unknown length priced as {defaults.video_seconds:g} s "
            "each (--video-seconds, user figure)."
        )
    if filled.get("audio"):
        notes.append(
            f"{_plural(filled['audio'], 'audio part')} of unknown length priced as {defaults.audio_seconds:g} s "
            "each (--audio-seconds, user figure)."
        )
    return notes
