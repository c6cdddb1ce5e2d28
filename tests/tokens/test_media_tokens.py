"""Media parts priced by Google's rules: each rule by hand, the column version, and real scan output."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batchcost.batchfile import MEDIA_COLUMNS, scan
from batchcost.batchfile.media import MEDIA_KINDS
from batchcost.batchfile.schema import MEDIA_RESOLUTIONS
from batchcost.errors import BatchcostError
from batchcost.tokens.media_tokens import (
    MODALITIES,
    MediaDefaults,
    media_family,
    media_tokens,
    part_tokens,
)

G2, G3 = "gemini-2.5-flash", "gemini-3.8-flash"


def parts(*specs: dict[str, Any]) -> dict[str, np.ndarray]:
    """Media columns in the scan's dtypes; each spec gives kind (name), row and any other figures."""
    cols: dict[str, list[Any]] = {name: [] for name in MEDIA_COLUMNS}
    for spec in specs:
        for name in MEDIA_COLUMNS:
            value = spec.get(name, -1)
            if name == "kind":
                value = MEDIA_KINDS.index(spec["kind"])
            elif name == "row":
                value = spec.get("row", 0)
            elif name == "resolution" and isinstance(value, str):
                value = MEDIA_RESOLUTIONS.index(value)
            elif name in ("mime", "inline", "place"):
                value = 0
            cols[name].append(value)
    return {name: np.array(cols[name], dtype=MEDIA_COLUMNS[name][1]) for name in MEDIA_COLUMNS}


def req_res(*levels: str | None) -> np.ndarray:
    return np.array([-1 if lv is None else MEDIA_RESOLUTIONS.index(lv) for lv in levels], np.int8)


def notes_text(result: Any) -> str:
    return "\n".join(result.notes)


# --- model family ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gemini-2.0-flash", "gemini2"),
        ("gemini-2.0-flash-lite-001", "gemini2"),
        ("gemini-2.5-pro", "gemini2"),
        ("models/gemini-2.5-flash-lite", "gemini2"),
        ("gemini-3-flash-preview", "gemini3"),
        ("gemini-3.1-pro-preview-customtools", "gemini3"),
        ("gemini-3.8-flash", "gemini3"),
        ("gemini-4-argon", "gemini3"),
        ("gemini-flash-latest", "gemini3"),
        ("my-private-model", "gemini3"),
    ],
)
def test_media_family(model: str, family: str) -> None:
    assert media_family(model) == family


def test_unknown_model_defaults_to_gemini3_with_a_note() -> None:
    known = media_tokens(parts({"kind": "image"}), 1, model="gemini-4-neon")
    unknown = media_tokens(parts({"kind": "image"}), 1, model="my-private-model")
    assert unknown.per_request["image"].tolist() == [1120]
    assert "'my-private-model' is not a Gemini 2.x/3.x/4.x name" in notes_text(unknown)
    assert "not a Gemini" not in notes_text(known)


# --- the single-part rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "tokens"),
    [
        (384, 384, 258),  # both sides <= 384
        (385, 10, 258),  # one tile
        (768, 768, 258),
        (1000, 400, 516),  # 2 x 1 tiles
        (769, 769, 1032),  # 2 x 2
        (1536, 1537, 1548),  # 2 x 3
        (3840, 3072, 5 * 4 * 258),
        (4000, 3000, 6 * 4 * 258),
    ],
)
def test_gemini2_image_tiles(width: int, height: int, tokens: int) -> None:
    assert part_tokens("image", family="gemini2", width=width, height=height) == tokens


def test_gemini2_image_needs_its_size_unless_a_resolution_is_given() -> None:
    assert part_tokens("image", family="gemini2") is None
    assert part_tokens("image", family="gemini2", width=1000) is None
    # SDK:types.py:724 docstring figures, size not needed.
    assert [part_tokens("image", family="gemini2", resolution=r) for r in MEDIA_RESOLUTIONS] == [64, 256, 256, 256]
    assert part_tokens("image", family="gemini2", width=4000, height=3000, resolution="LOW") == 64


def test_gemini3_image_by_level() -> None:
    assert part_tokens("image", family="gemini3") == 1120
    assert part_tokens("image", family="gemini3", width=20, height=20) == 1120
    got = [part_tokens("image", family="gemini3", resolution=r) for r in MEDIA_RESOLUTIONS]
    assert got == [280, 560, 1120, 2240]
    assert part_tokens("image", family="gemini3", resolution="MEDIA_RESOLUTION_low") == 280


def test_pdf_pages() -> None:
    assert part_tokens("pdf", family="gemini3", pages=3) == 1680
    assert part_tokens("document", family="gemini3", pages=3, resolution="LOW") == 840
    assert part_tokens("pdf", family="gemini3", pages=3, resolution="HIGH") == 3360
    assert part_tokens("pdf", family="gemini3", pages=3, resolution="ULTRA_HIGH") == 3360  # as HIGH
    assert part_tokens("pdf", family="gemini2", pages=3) == 774
    assert part_tokens("pdf", family="gemini2", pages=3, resolution="LOW") == 774  # fixed rate
    assert part_tokens("pdf", family="gemini3") is None


def test_audio_32_per_second_everywhere() -> None:
    for family in ("gemini2", "gemini3"):
        assert part_tokens("audio", family=family, seconds=90) == 2880
        assert part_tokens("audio", family=family, seconds=90, resolution="HIGH") == 2880
    assert part_tokens("audio", family="gemini3", seconds=1.5) == 48
    assert part_tokens("audio", family="gemini3", seconds=1.01) == 33  # 32.32 rounded up
    assert part_tokens("audio", family="gemini3") is None


def test_video_frames() -> None:
    assert part_tokens("video", family="gemini3", seconds=60, fps=2) == 8400  # 120 frames x 70
    assert part_tokens("video", family="gemini3", seconds=10) == 700
    assert part_tokens("video", family="gemini3", seconds=10, resolution="LOW") == 700
    assert part_tokens("video", family="gemini3", seconds=10, resolution="HIGH") == 2800
    assert part_tokens("video", family="gemini3", seconds=10, resolution="ULTRA_HIGH") == 2800
    assert part_tokens("video", family="gemini3", seconds=10.5) == 770  # 11 frames
    assert part_tokens("video", family="gemini2", seconds=10) == 2630
    assert part_tokens("video", family="gemini2", seconds=10, fps=2) == 5260  # scaled per frame
    assert part_tokens("video", family="gemini3", seconds=None) is None


def test_float32_noise_adds_no_frame() -> None:
    # 60 s at 0.1 fps from float32 columns is 6.0000001 frames.
    assert part_tokens("video", family="gemini3", seconds=float(np.float32(60)), fps=float(np.float32(0.1))) == 420
    assert part_tokens("audio", family="gemini3", seconds=float(np.float32(0.1))) == 4  # 3.2 -> 4


def test_other_kind_is_unknown() -> None:
    assert part_tokens("other", family="gemini3") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "image", "family": "gemini5"}, "family must be one of"),
        ({"kind": "picture", "family": "gemini3"}, "kind must be one of"),
        ({"kind": "image", "family": "gemini3", "resolution": "EXTREME"}, "resolution must be one of"),
    ],
)
def test_part_tokens_rejects_bad_names(kwargs: dict[str, Any], message: str) -> None:
    kind = kwargs.pop("kind")
    with pytest.raises(ValueError, match=message):
        part_tokens(kind, **kwargs)


# --- columns --------------------------------------------------------------------------------------


def test_per_request_sums_by_modality() -> None:
    media = parts(
        {"row": 0, "kind": "image"},  # 1120
        {"row": 0, "kind": "image", "resolution": "LOW"},  # 280
        {"row": 0, "kind": "audio", "duration_s": 90},  # 2880
        {"row": 2, "kind": "pdf", "pages": 3},  # 1680
        {"row": 2, "kind": "video", "duration_s": 10},  # 700
        {"row": 3, "kind": "video", "clip_s": 60, "fps": 2, "duration_s": 600},  # 8400
    )
    result = media_tokens(media, 4, model=G3)
    assert set(result.per_request) == set(MODALITIES) - {"text"}
    assert result.per_request["image"].tolist() == [1400, 0, 0, 0]
    assert result.per_request["audio"].tolist() == [2880, 0, 0, 0]
    assert result.per_request["document"].tolist() == [0, 0, 1680, 0]
    assert result.per_request["video"].tolist() == [0, 0, 700, 8400]
    assert all(a.dtype == np.int64 for a in result.per_request.values())
    assert (result.unknown_parts, dict(result.unknown_by_kind)) == (0, {})
    assert result.totals() == {"image": 1400, "audio": 2880, "video": 9100, "document": 1680}


def test_gemini2_columns() -> None:
    media = parts(
        {"row": 0, "kind": "image", "width": 1000, "height": 400},  # 516
        {"row": 0, "kind": "image", "width": 300, "height": 200},  # 258
        {"row": 1, "kind": "pdf", "pages": 3},  # 774
        {"row": 1, "kind": "video", "duration_s": 10},  # 2630
    )
    result = media_tokens(media, 2, model=G2)
    assert result.per_request["image"].tolist() == [774, 0]
    assert result.per_request["document"].tolist() == [0, 774]
    assert result.per_request["video"].tolist() == [0, 2630]
    text = notes_text(result)
    assert "cropped and scaled as needed" in text and "approximation" in text
    assert "https://ai.google.dev/gemini-api/docs/tokens" in text and "D-TOK" not in text
    assert "older rule" in text and "third-party copies" in text
    assert "263 tokens per second" in text and "~100 tokens/s" in text and "~300 tokens/s" in text


def test_part_level_beats_request_level() -> None:
    media = parts(
        {"row": 0, "kind": "image", "resolution": "LOW"},  # per part LOW beats request HIGH
        {"row": 0, "kind": "image"},  # request HIGH
        {"row": 1, "kind": "image"},  # request MEDIUM
        {"row": 1, "kind": "pdf", "pages": 2},  # request MEDIUM: 2 x 560
        {"row": 2, "kind": "image"},  # nothing given: default HIGH
        {"row": 2, "kind": "video", "duration_s": 10, "resolution": "HIGH"},  # 10 x 280
    )
    result = media_tokens(media, 3, model=G3, request_resolution=req_res("HIGH", "MEDIUM", None))
    assert result.per_request["image"].tolist() == [280 + 1120, 560, 1120]
    assert result.per_request["document"].tolist() == [0, 1120, 0]
    assert result.per_request["video"].tolist() == [0, 0, 2800]


def test_request_level_ultra_high_is_priced_as_high_with_a_note() -> None:
    media = parts(
        {"row": 0, "kind": "image"},
        {"row": 0, "kind": "image", "resolution": "ULTRA_HIGH"},  # per part: allowed
        {"row": 1, "kind": "image", "resolution": "ULTRA_HIGH"},
    )
    result = media_tokens(media, 2, model=G3, request_resolution=req_res("ULTRA_HIGH", None))
    assert result.per_request["image"].tolist() == [1120 + 2240, 2240]
    assert "1 request set generationConfig.mediaResolution to ULTRA_HIGH" in notes_text(result)
    plain = media_tokens(parts({"kind": "image", "resolution": "ULTRA_HIGH"}), 1, model=G3)
    assert "ULTRA_HIGH, which Google allows per part only" not in notes_text(plain)


def test_gemini2_resolution_uses_sdk_figures_and_says_so() -> None:
    media = parts(
        {"row": 0, "kind": "image", "width": 2000, "height": 2000},  # request LOW -> 64
        {"row": 0, "kind": "image", "resolution": "MEDIUM"},  # per part -> 256
        {"row": 0, "kind": "video", "duration_s": 10},  # fixed 263/s
    )
    result = media_tokens(media, 1, model=G2, request_resolution=req_res("LOW"))
    assert result.per_request["image"].tolist() == [64 + 256]
    assert result.per_request["video"].tolist() == [2630]
    text = notes_text(result)
    assert "SDK:types.py:724" in text and "LOW 64, MEDIUM 256, HIGH 256" in text
    assert "1 part set a per-part mediaResolution" in text
    assert "mediaResolution is not applied to 1 PDF or video part" in text


def test_notes_cite_sources_for_gemini3() -> None:
    media = parts(
        {"kind": "image"},
        {"kind": "pdf", "pages": 1},
        {"kind": "video", "duration_s": 10},
        {"kind": "audio", "duration_s": 5},
    )
    text = notes_text(media_tokens(media, 1, model=G3))
    assert "HIGH (1120) when none is given (https://ai.google.dev/gemini-api/docs/gemini-3" in text
    assert "MEDIUM 560 (default)" in text and "extracted text" in text
    assert "70 tokens per frame" in text
    assert "32 tokens per second on every model" in text
    assert "audio track" in text and "UNKNOWN" in text and "320 tokens for the videos counted here" in text


def test_unknown_video_length_then_supplied() -> None:
    media = parts({"row": 1, "kind": "video"}, {"row": 1, "kind": "image"})
    result = media_tokens(media, 2, model=G3)
    assert (result.unknown_parts, dict(result.unknown_by_kind)) == (1, {"video": 1})
    assert result.per_request["video"].tolist() == [0, 0]
    assert result.per_request["image"].tolist() == [0, 1120]
    assert "--video-seconds" in notes_text(result)

    supplied = media_tokens(media, 2, model=G3, defaults=MediaDefaults(video_seconds=30))
    assert supplied.unknown_parts == 0
    assert supplied.per_request["video"].tolist() == [0, 2100]
    assert "1 video of unknown length priced as 30 s each (--video-seconds" in notes_text(supplied)


def test_other_unknown_figures_and_their_options() -> None:
    media = parts(
        {"row": 0, "kind": "image"},  # gemini2: size needed
        {"row": 0, "kind": "pdf"},
        {"row": 0, "kind": "audio"},
        {"row": 0, "kind": "other"},
        {"row": 0, "kind": "other"},
    )
    result = media_tokens(media, 1, model=G2)
    assert result.unknown_parts == 5
    assert dict(result.unknown_by_kind) == {"image": 1, "audio": 1, "pdf": 1, "other": 2}
    text = notes_text(result)
    for option in ("--image-size WxH", "--pdf-pages N", "--audio-seconds SECONDS"):
        assert option in text
    assert "2 parts of other media types" in text
    assert all(int(a.sum()) == 0 for a in result.per_request.values())

    defaults = MediaDefaults(audio_seconds=2, pdf_pages=4, image_width=1000, image_height=400)
    filled = media_tokens(media, 1, model=G2, defaults=defaults)
    assert (filled.unknown_parts, dict(filled.unknown_by_kind)) == (2, {"other": 2})
    assert filled.totals() == {"image": 516, "audio": 64, "video": 0, "document": 4 * 258}
    assert "priced as 1000x400 px each (--image-size" in notes_text(filled)


def test_known_figures_beat_defaults() -> None:
    media = parts({"kind": "pdf", "pages": 2}, {"kind": "audio", "duration_s": 10})
    result = media_tokens(media, 1, model=G3, defaults=MediaDefaults(audio_seconds=99, pdf_pages=50))
    assert result.totals()["document"] == 1120 and result.totals()["audio"] == 320
    assert "user figure" not in notes_text(result)


def test_clip_is_capped_at_the_video_length() -> None:
    media = parts({"kind": "video", "clip_s": 100, "duration_s": 40}, {"kind": "video", "clip_s": 20})
    result = media_tokens(media, 1, model=G3)
    assert result.per_request["video"].tolist() == [(40 + 20) * 70]
    assert "1 video clip ends after the video does" in notes_text(result)


def test_no_media() -> None:
    result = media_tokens(parts(), 3, model=G3)
    assert result.unknown_parts == 0
    assert {m: a.tolist() for m, a in result.per_request.items()} == {m: [0, 0, 0] for m in MODALITIES[1:]}


def test_optional_columns_may_be_missing() -> None:
    media = {"row": np.array([0, 0]), "kind": np.array([MEDIA_KINDS.index("image"), MEDIA_KINDS.index("video")])}
    result = media_tokens(media, 1, model=G3)
    assert result.per_request["image"].tolist() == [1120]
    assert dict(result.unknown_by_kind) == {"video": 1}


@pytest.mark.parametrize(
    ("media", "n_rows", "request_resolution", "message"),
    [
        (parts({"row": 2, "kind": "image"}), 2, None, "'row' values must be in 0..1"),
        ({"row": np.array([0]), "kind": np.array([0]), "width": np.array([1, 2])}, 1, None, "'width' has 2"),
        ({"row": np.array([0]), "kind": np.array([7])}, 1, None, "'kind' codes"),
        ({"kind": np.array([0])}, 1, None, "need 'row'"),
        (parts({"kind": "image"}), 1, np.array([-1, -1]), "request_resolution has 2 entries for 1 row:"),
        (parts({"kind": "image"}), 1, np.array([9]), "request_resolution codes"),
    ],
)
def test_bad_columns(media: dict[str, np.ndarray], n_rows: int, request_resolution: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        media_tokens(media, n_rows, model=G3, request_resolution=request_resolution)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"video_seconds": 0}, "--video-seconds must be a positive number"),
        ({"audio_seconds": -1.5}, "--audio-seconds must be a positive number"),
        ({"audio_seconds": float("nan")}, "--audio-seconds"),
        ({"pdf_pages": 2.5}, "--pdf-pages must be a positive whole number"),
        ({"image_width": 100}, "--image-size needs both"),
        ({"image_width": 0, "image_height": 10}, "--image-size must be two positive"),
    ],
)
def test_defaults_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(BatchcostError, match=message):
        MediaDefaults(**kwargs)


@pytest.mark.parametrize("model", [G2, G3])
def test_columns_agree_with_part_tokens(model: str) -> None:
    """The vectorised pass gives, part by part, what the single-part rule gives."""
    rng = np.random.default_rng(7)
    n = 2000
    kind = rng.integers(0, len(MEDIA_KINDS), n)
    part_res = rng.integers(-1, 4, n)
    request_res = rng.integers(-1, 4, n)
    width = np.where(rng.random(n) < 0.2, -1, rng.integers(1, 5000, n))
    height = np.where(rng.random(n) < 0.2, -1, rng.integers(1, 5000, n))
    pages = np.where(rng.random(n) < 0.2, -1, rng.integers(0, 300, n))
    duration = np.where(rng.random(n) < 0.3, -1, rng.random(n) * 7200).astype(np.float32)
    clip = np.where(rng.random(n) < 0.7, -1, rng.random(n) * 600).astype(np.float32)
    fps = np.where(rng.random(n) < 0.6, -1, rng.choice([0.1, 0.5, 1, 2, 24], n)).astype(np.float32)
    media = {
        "row": np.arange(n, dtype=np.uint64), "kind": kind.astype(np.uint8), "width": width.astype(np.int32),
        "height": height.astype(np.int32), "pages": pages.astype(np.int32), "duration_s": duration,
        "clip_s": clip, "fps": fps, "resolution": part_res.astype(np.int8),
    }  # fmt: skip
    result = media_tokens(media, n, model=model, request_resolution=request_res.astype(np.int8))
    family = media_family(model)
    got = sum(result.per_request[m] for m in MODALITIES[1:])
    unknown = 0
    for i in range(n):
        res = part_res[i] if part_res[i] >= 0 else (2 if request_res[i] == 3 else request_res[i])
        name = MEDIA_KINDS[kind[i]]
        seconds = float(duration[i]) if duration[i] >= 0 else None
        if name == "video" and clip[i] >= 0:
            seconds = float(clip[i]) if seconds is None else min(float(clip[i]), seconds)
        want = part_tokens(
            name, family=family, width=int(width[i]), height=int(height[i]), pages=int(pages[i]),
            seconds=seconds, fps=float(fps[i]), resolution=None if res < 0 else MEDIA_RESOLUTIONS[res],
        )  # fmt: skip
        if want is None:
            unknown += 1
            assert got[i] == 0, i
        else:
            assert got[i] == want, (i, name)
    assert result.unknown_parts == unknown


# --- through the real scanner ---------------------------------------------------------------------


def _png(width: int, height: int) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _line(key: str, parts_: list[dict[str, Any]], **generation_config: Any) -> str:
    request: dict[str, Any] = {"contents": [{"role": "user", "parts": [*parts_, {"text": "Describe."}]}]}
    if generation_config:
        request["generationConfig"] = generation_config
    return json.dumps({"key": key, "request": request})


def test_scanned_file(tmp_path: Path) -> None:
    video = {"fileData": {"fileUri": "files/clip", "mimeType": "video/mp4"}}
    lines = [
        _line("a", [{"inlineData": {"mimeType": "image/png", "data": _png(1000, 400)}}]),
        _line("b", [{**video, "videoMetadata": {"startOffset": "10s", "endOffset": "70s", "fps": 2}}]),
        _line(
            "c",
            [{"inlineData": {"mimeType": "image/png", "data": _png(100, 100)}}],
            mediaResolution="MEDIA_RESOLUTION_LOW",
        ),
        _line(
            "d",
            [
                {
                    "inlineData": {"mimeType": "image/png", "data": _png(100, 100)},
                    "mediaResolution": {"level": "MEDIA_RESOLUTION_ULTRA_HIGH"},
                }
            ],
            mediaResolution="MEDIA_RESOLUTION_HIGH",
        ),
        _line("e", [video]),  # no length anywhere
        _line("f", []),
    ]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = scan(path)
    assert result.valid(), result.problems
    n_rows = len(result.rows["offset"])

    g3 = media_tokens(result.media, n_rows, model=G3, request_resolution=result.rows["media_resolution"])
    assert g3.per_request["image"].tolist() == [1120, 0, 280, 2240, 0, 0]
    assert g3.per_request["video"].tolist() == [0, 8400, 0, 0, 0, 0]  # 60 s clip at 2 fps: 120 x 70
    assert (g3.unknown_parts, dict(g3.unknown_by_kind)) == (1, {"video": 1})
    assert "--video-seconds" in notes_text(g3)

    g2 = media_tokens(
        result.media, n_rows, model=G2, request_resolution=result.rows["media_resolution"],
        defaults=MediaDefaults(video_seconds=10),
    )  # fmt: skip
    assert g2.per_request["image"].tolist() == [516, 0, 64, 256, 0, 0]
    assert g2.per_request["video"].tolist() == [0, 120 * 263, 0, 0, 2630, 0]
    assert g2.unknown_parts == 0


def test_non_finite_figures_are_unknown_not_garbage() -> None:
    media = parts(
        {"kind": "video", "duration_s": float("inf")},
        {"kind": "audio", "duration_s": float("nan")},
        {"kind": "video", "duration_s": 10, "fps": float("inf")},  # fps not usable: default 1
    )
    result = media_tokens(media, 1, model=G3)
    assert dict(result.unknown_by_kind) == {"video": 1, "audio": 1}
    assert result.per_request["video"].tolist() == [700]


def test_a_modality_without_parts_holds_no_memory_and_reads_as_zeros() -> None:
    # Four int64 arrays of zeros per request were 54 MB on 1.7 M short prompts without media.
    n_rows = 1_000_000
    none = media_tokens({k: v[:0] for k, v in parts({"kind": "image"}).items()}, n_rows, model=G3)
    for modality in MODALITIES[1:]:
        arr = none.per_request[modality]
        assert arr.shape == (n_rows,) and arr.strides == (0,) and not arr.flags.writeable
        assert int(arr.sum()) == 0 and int(arr[[0, n_rows - 1]].sum()) == 0
    images = media_tokens(parts({"kind": "image", "row": 2, "resolution": "LOW"}), 5, model=G3)
    assert images.per_request["image"].strides != (0,) and int(images.per_request["image"][2]) > 0
    assert images.per_request["image"].sum() == images.per_request["image"][2]
    for modality in ("audio", "video", "document"):
        assert images.per_request[modality].strides == (0,) and int(images.per_request[modality].sum()) == 0
