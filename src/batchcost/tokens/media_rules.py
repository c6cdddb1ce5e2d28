"""Google's rules for the tokens of media parts (images, PDF pages, audio and video seconds), by model
family and media resolution, with the figures and their sources; applied to numpy columns and, by
:func:`part_tokens`, to one part. :mod:`.media_tokens` applies them to a whole scan and says what
was assumed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from batchcost.batchfile.media import MEDIA_KINDS
from batchcost.batchfile.schema import MEDIA_RESOLUTIONS
from batchcost.errors import BatchcostError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "AUDIO_KIND",
    "AUDIO_PER_S",
    "FAMILIES",
    "HIGH_RES",
    "IMAGE_KIND",
    "LOW_RES",
    "MEDIUM_RES",
    "MODALITIES",
    "MODALITY_OF_KIND",
    "OTHER_KIND",
    "PDF_KIND",
    "ULTRA_RES",
    "VIDEO_KIND",
    "MediaDefaults",
    "MediaTokens",
    "family_and_note",
    "media_family",
    "part_tokens",
    "round_up",
    "rule_tokens",
]  # fmt: skip

MODALITIES = ("text", "image", "audio", "video", "document")
FAMILIES = ("gemini2", "gemini3")

# Media kind (batchfile.media.MEDIA_KINDS) -> pricing modality; "other" has none.
MODALITY_OF_KIND = {"image": "image", "audio": "audio", "video": "video", "pdf": "document"}
IMAGE_KIND, AUDIO_KIND, VIDEO_KIND, PDF_KIND, OTHER_KIND = (
    MEDIA_KINDS.index(k) for k in ("image", "audio", "video", "pdf", "other")
)
LOW_RES, MEDIUM_RES, HIGH_RES, ULTRA_RES = (MEDIA_RESOLUTIONS.index(r) for r in ("LOW", "MEDIUM", "HIGH", "ULTRA_HIGH"))

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
AUDIO_PER_S = 32  # the token-counting doc; media-resolution doc: fixed regardless of media_resolution
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
        and for names it cannot read, which are assumed to be new models (:func:`~.media_tokens.media_tokens` notes this).
    """
    return family_and_note(model)[0]


def family_and_note(model: str) -> tuple[str, str | None]:
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


def round_up(x: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    import numpy as np

    return np.ceil(x - x * _ROUND_UP_SLACK).astype(np.int64)


def _ceil_div(a: npt.NDArray[np.int64], b: int) -> npt.NDArray[np.int64]:
    return -(-a // b)


def rule_tokens(
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

    img = kind == IMAGE_KIND
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

    pdf = (kind == PDF_KIND) & (pages >= 0)
    per_page = np.take(_G3_PDF_PAGE, level[pdf]) if family == "gemini3" else _G2_PDF_PAGE
    tokens[pdf] = pages[pdf] * per_page
    known[pdf] = True

    vid = (kind == VIDEO_KIND) & np.isfinite(seconds)
    rate = np.where((fps[vid] > 0) & np.isfinite(fps[vid]), fps[vid], _DEFAULT_FPS)
    frames = round_up(seconds[vid] * rate)
    # Gemini 2.x: 263 tokens per second at the default 1 FPS, i.e. per sampled frame.
    per_frame = np.take(_G3_VIDEO_FRAME, level[vid]) if family == "gemini3" else _G2_VIDEO_PER_S
    tokens[vid] = frames * per_frame
    known[vid] = True

    aud = (kind == AUDIO_KIND) & np.isfinite(seconds)
    tokens[aud] = round_up(seconds[aud] * AUDIO_PER_S)
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
    """Tokens of one media part by Google's rule (the rule :func:`~.media_tokens.media_tokens` applies to columns).

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
    tokens, known = rule_tokens(
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
