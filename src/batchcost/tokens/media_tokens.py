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

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from batchcost.batchfile.media import MEDIA_KINDS
from batchcost.batchfile.schema import MEDIA_RESOLUTIONS
from batchcost.errors import BatchcostError

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

MODALITIES = ("text", "image", "audio", "video", "document")
FAMILIES = ("gemini2", "gemini3")

# Media kind (batchfile.media.MEDIA_KINDS) -> pricing modality; "other" has none.
_MODALITY_OF_KIND = {"image": "image", "audio": "audio", "video": "video", "pdf": "document"}
_IMAGE, _AUDIO, _VIDEO, _PDF, _OTHER = (MEDIA_KINDS.index(k) for k in ("image", "audio", "video", "pdf", "other"))
_LOW, _MEDIUM, _HIGH, _ULTRA = (MEDIA_RESOLUTIONS.index(r) for r in ("LOW", "MEDIUM", "HIGH", "ULTRA_HIGH"))

# --- the figures --------------------------------------------------------------------------------
# Per-level tables are indexed by resolution code + 1, so index 0 is "not given" (the default).
# Order: (not given, LOW, MEDIUM, HIGH, ULTRA_HIGH).
#
# Gemini 3 image: https://ai.google.dev/gemini-api/docs/gemini-3; Vertex Gemini 3 Flash spec "default resolution tokens: 1120".
_G3_IMAGE = (1120, 280, 560, 1120, 2240)
# Gemini 3 PDF page: https://ai.google.dev/gemini-api/docs/gemini-3; Vertex Gemini 3 Flash spec "default 560". ULTRA_HIGH is documented for
# images only, so it is priced as HIGH (and noted).
_G3_PDF_PAGE = (560, 280, 560, 1120, 1120)
# Gemini 3 video frame: https://ai.google.dev/gemini-api/docs/gemini-3; Vertex Gemini 3 Flash spec "default 70 per frame". ULTRA_HIGH as HIGH.
_G3_VIDEO_FRAME = (70, 70, 70, 280, 280)
# Gemini 2.x image with a mediaResolution: google-genai 3.6.1 MediaResolution docstring
# (SDK:types.py:724): LOW "64 tokens", MEDIUM "256 tokens", HIGH "zoomed reframing with 256 tokens".
# That enum has no ULTRA_HIGH; it is priced as HIGH. Index 0 is unused (the tile rule applies).
_G2_IMAGE_BY_RES = (0, 64, 256, 256, 256)
# Gemini 2.x image without one: the token-counting doc (2026-09-04).
_G2_SMALL_IMAGE_PX = 384
_G2_SMALL_IMAGE_TOKENS = 258
_G2_TILE_PX = 768
_G2_TILE_TOKENS = 258
_G2_PDF_PAGE = 258  # older rule known from third-party summaries only (3P)
_G2_VIDEO_PER_S = 263  # the token-counting doc "263 tokens per second (applies to static processing)"
_AUDIO_PER_S = 32  # the token-counting doc; media-resolution doc: fixed regardless of media_resolution
_DEFAULT_FPS = 1.0  # the Gemini 3 guide and the token-counting doc: "sampled at 1 FPS" by default

# float32 columns carry ~1e-7 relative noise (60 s x 0.1 fps = 6.0000001 frames): never let it add
# a frame or a token when rounding up.
_ROUND_UP_SLACK = 1e-6

_VERSION = re.compile(r"gemini-(\d+)(?:[.-]\d+)*(?=$|[-_.a-z])")
_ALIAS = re.compile(r"gemini-(?:[a-z]+-)*latest$")


@dataclass(frozen=True, slots=True)
class MediaDefaults:
    """Figures the user supplies for what the batch file cannot tell.

    Each applies to every part of its kind whose own figure is unknown (``fileData`` references are
    never read, and some containers carry no duration). ``None`` leaves such parts uncounted.

    Attributes:
        video_seconds: seconds of each such video (``--video-seconds``).
        audio_seconds: seconds of each such audio part (``--audio-seconds``).
        pdf_pages: pages of each such PDF (``--pdf-pages``).
        image_width: width in pixels of each such image (``--image-size WxH``); only Gemini 2.x
            needs it, Gemini 3 prices images by resolution level alone.
        image_height: height in pixels, given together with ``image_width``.

    Raises:
        BatchcostError: a figure is not positive, or only one of width and height is given.
    """

    video_seconds: float | None = None
    audio_seconds: float | None = None
    pdf_pages: int | None = None
    image_width: int | None = None
    image_height: int | None = None

    def __post_init__(self) -> None:
        for name, option in (("video_seconds", "--video-seconds"), ("audio_seconds", "--audio-seconds")):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf")
            ):
                raise BatchcostError(f"{option} must be a positive number of seconds, got {value!r}")
        if self.pdf_pages is not None and not (_is_int(self.pdf_pages) and self.pdf_pages > 0):
            raise BatchcostError(f"--pdf-pages must be a positive whole number of pages, got {self.pdf_pages!r}")
        w, h = self.image_width, self.image_height
        if (w is None) != (h is None):
            raise BatchcostError("--image-size needs both width and height, as WxH (e.g. 1024x768)")
        if w is not None and not (_is_int(w) and _is_int(h) and w > 0 and h > 0):  # type: ignore[operator]
            raise BatchcostError(f"--image-size must be two positive whole pixel counts as WxH, got {w!r}x{h!r}")


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True, slots=True)
class MediaTokens:
    """Media tokens of every request, by pricing modality.

    Attributes:
        per_request: modality (``image``, ``audio``, ``video``, ``document``; text is counted elsewhere)
            -> int64 array of tokens per row, one entry per request row. Every key is present.
        unknown_parts: media parts whose tokens could not be determined; they are not in
            ``per_request`` (the notes say which figure to supply).
        unknown_by_kind: media kind (``image``, ``audio``, ``video``, ``pdf``, ``other``) -> unknown
            parts of that kind; kinds with none are left out.
        notes: the rules applied with their sources, conflicts between sources, assumptions, and
            how to supply missing figures. Meant to be shown with the estimate.
    """

    per_request: Mapping[str, npt.NDArray[np.int64]]
    unknown_parts: int
    unknown_by_kind: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def totals(self) -> dict[str, int]:
        """Tokens per modality summed over all requests."""
        return {m: int(a.sum()) for m, a in self.per_request.items()}


# --- model family -------------------------------------------------------------------------------


def media_family(model: str) -> str:
    """Which set of media rules a model follows.

    Args:
        model: a model id, with or without ``models/`` (any path prefix is dropped).

    Returns:
        ``"gemini2"`` for Gemini 2.x (and older) models, ``"gemini3"`` for Gemini 3, Gemini 4 and
        later, for the ``gemini-*-latest`` aliases (all Gemini 3 models, per the pricing page),
        and for names it cannot read, which are assumed to be new models (``media_tokens`` notes this).
    """
    return _family(model)[0]


def _family(model: str) -> tuple[str, str | None]:
    """(family, note when the name was not recognised)."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    m = _VERSION.match(name)
    if m:
        major = int(m.group(1))
        if major >= 3:
            return "gemini3", None
        if major == 2:
            return "gemini2", None
        return "gemini2", (
            f"model {model!r} is older than Gemini 2.0; its media are priced by the Gemini 2.x rules, "
            "which may not match what it was billed by"
        )
    if _ALIAS.match(name):
        return "gemini3", None
    return "gemini3", (
        f"model {model!r} is not a Gemini 2.x/3.x/4.x name this estimator recognises; its media are "
        "priced by the Gemini 3 rules (those of every model since Gemini 3)"
    )


# --- the rules, on columns ----------------------------------------------------------------------


def _round_up(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    import numpy as np

    return np.ceil(x - x * _ROUND_UP_SLACK).astype(np.int64)


def _ceil_div(a: npt.NDArray[np.int64], b: int) -> npt.NDArray[np.int64]:
    return -(-a // b)


def _rule_tokens(
    family: str,
    kind: npt.NDArray[Any],
    width: npt.NDArray[np.int64],
    height: npt.NDArray[np.int64],
    pages: npt.NDArray[np.int64],
    seconds: npt.NDArray[np.float64],
    fps: npt.NDArray[np.float64],
    res: npt.NDArray[Any],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Tokens and a "known" mask per part, from resolved figures.

    ``res`` is the resolution level code that applies to the part (-1 none); -1 in ``width``,
    ``height``, ``pages`` and NaN in ``seconds`` mean unknown; ``fps`` <= 0 means the default.
    """
    import numpy as np

    n = len(kind)
    tokens = np.zeros(n, np.int64)
    known = np.zeros(n, np.bool_)
    level = res.astype(np.intp) + 1  # index into the per-level tables

    img = kind == _IMAGE
    if family == "gemini3":
        tokens[img] = np.take(_G3_IMAGE, level[img])
        known[img] = True
    else:
        by_level = img & (res >= 0)
        tokens[by_level] = np.take(_G2_IMAGE_BY_RES, level[by_level])
        known[by_level] = True
        tiled = img & (res < 0) & (width >= 1) & (height >= 1)
        w, h = width[tiled], height[tiled]
        small = (w <= _G2_SMALL_IMAGE_PX) & (h <= _G2_SMALL_IMAGE_PX)
        tiles = _ceil_div(w, _G2_TILE_PX) * _ceil_div(h, _G2_TILE_PX)
        tokens[tiled] = np.where(small, _G2_SMALL_IMAGE_TOKENS, tiles * _G2_TILE_TOKENS)
        known[tiled] = True

    pdf = (kind == _PDF) & (pages >= 0)
    per_page = np.take(_G3_PDF_PAGE, level[pdf]) if family == "gemini3" else _G2_PDF_PAGE
    tokens[pdf] = pages[pdf] * per_page
    known[pdf] = True

    vid = (kind == _VIDEO) & np.isfinite(seconds)
    rate = np.where((fps[vid] > 0) & np.isfinite(fps[vid]), fps[vid], _DEFAULT_FPS)
    frames = _round_up(seconds[vid] * rate)
    # Gemini 2.x: 263 tokens per second at the default 1 FPS, i.e. per sampled frame.
    per_frame = np.take(_G3_VIDEO_FRAME, level[vid]) if family == "gemini3" else _G2_VIDEO_PER_S
    tokens[vid] = frames * per_frame
    known[vid] = True

    aud = (kind == _AUDIO) & np.isfinite(seconds)
    tokens[aud] = _round_up(seconds[aud] * _AUDIO_PER_S)
    known[aud] = True
    return tokens, known


def part_tokens(
    kind: str,
    *,
    family: str,
    width: int | None = None,
    height: int | None = None,
    pages: int | None = None,
    seconds: float | None = None,
    fps: float | None = None,
    resolution: str | None = None,
) -> int | None:
    """Tokens of one media part by Google's rule (the rule :func:`media_tokens` applies to columns).

    Args:
        kind: ``"image"``, ``"audio"``, ``"video"``, ``"pdf"`` (or ``"document"``) or ``"other"``.
        family: ``"gemini2"`` or ``"gemini3"`` (see :func:`media_family`).
        width: image width in pixels (Gemini 2.x images without a resolution level need it).
        height: image height in pixels.
        pages: PDF pages.
        seconds: audio or video seconds (for a clipped video, the clip's length).
        fps: video frames sampled per second (default 1).
        resolution: the mediaResolution level that applies to this part: ``LOW``, ``MEDIUM``,
            ``HIGH`` or ``ULTRA_HIGH`` (a ``MEDIA_RESOLUTION_`` prefix is accepted), None for the
            model's default. ULTRA_HIGH is a per-part level for images; elsewhere it prices as HIGH.

    Returns:
        Tokens, or None when a figure the rule needs is missing (and always for ``"other"``).

    Raises:
        ValueError: an unknown kind, family or resolution name.
    """
    import numpy as np

    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
    kind_name = "pdf" if kind == "document" else kind
    if kind_name not in MEDIA_KINDS:
        raise ValueError(f"kind must be one of {', '.join(MEDIA_KINDS)} (or document), got {kind!r}")
    res = -1
    if resolution is not None:
        name = resolution.upper().removeprefix("MEDIA_RESOLUTION_")
        if name not in MEDIA_RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(MEDIA_RESOLUTIONS)} or None, got {resolution!r}")
        res = MEDIA_RESOLUTIONS.index(name)
    tokens, known = _rule_tokens(
        family,
        np.array([MEDIA_KINDS.index(kind_name)], np.uint8),
        np.array([-1 if width is None else width], np.int64),
        np.array([-1 if height is None else height], np.int64),
        np.array([-1 if pages is None else pages], np.int64),
        np.array([np.nan if seconds is None or seconds < 0 else seconds], np.float64),
        np.array([-1.0 if fps is None else fps], np.float64),
        np.array([res], np.int8),
    )
    return int(tokens[0]) if known[0] else None


# --- whole columns ------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _s(n: int) -> str:
    """Ending of a present-tense verb after ``n`` things ("1 part asks", "2 parts ask")."""
    return "s" if n == 1 else ""


def media_tokens(
    media: Mapping[str, np.ndarray],
    n_rows: int,
    *,
    model: str,
    request_resolution: np.ndarray | None = None,
    defaults: MediaDefaults = MediaDefaults(),  # frozen, so one shared default is safe
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

    family, family_note = _family(model)
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
    req_ultra = (part_res < 0) & (req_res == _ULTRA)
    res[req_ultra] = _HIGH

    is_img, is_pdf, is_vid, is_aud = (kind == k for k in (_IMAGE, _PDF, _VIDEO, _AUDIO))
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

    tokens, known = _rule_tokens(family, kind, width, height, pages, seconds, fps, res)

    for k_name, modality in _MODALITY_OF_KIND.items():
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
            raise ValueError(f"media column {name!r} has {len(arr):,} entries, 'kind' has {n:,}: pass whole columns")
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
            raise ValueError(f"request_resolution has {len(rr):,} entries for {n_rows:,} rows: pass the whole column")
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
            "per part only (https://ai.google.dev/gemini-api/docs/gemini-3; media-resolution doc): the API may reject them. Their media are priced as HIGH."
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
            n_u = int((c.is_pdf & (c.res == _ULTRA)).sum())
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
            n_u = int((c.is_vid & (c.res == _ULTRA)).sum())
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
        extra = int(_round_up(c.seconds[vid_known] * _AUDIO_PER_S).sum())
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
            f"{_plural(filled['pdf'], 'PDF')} with unknown pages priced as {defaults.pdf_pages} pages each "
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
