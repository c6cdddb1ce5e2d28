"""Cheap facts about inline media parts: image size, PDF page count, audio and video duration.

Google prices non-text parts by rules that need one or two figures per part (image width/height,
PDF pages, seconds of audio or video). The batch-file scanner decodes each ``inlineData`` part and
asks this module for those figures. Everything here reads container headers only, with the
standard library: no pixel or sample data is decoded and no third-party decoder is loaded.

Design rules, because the bytes come from untrusted files:

* Magic bytes decide the format; the MIME type is only a hint (MIME types in batch files lie).
* Nothing raises on garbage: an unknown or unparseable input gives ``None`` and the caller records
  the figure as unknown.
* Work is bounded and linear: every loop advances by at least one byte or is capped, sizes read
  from the data are never used to allocate, and large buffers are read in place with
  ``struct.unpack_from`` / ``bytes.find`` offsets rather than copied.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "MEDIA_KINDS",
    "MediaFacts",
    "audio_duration",
    "image_size",
    "media_kind",
    "pdf_page_count",
    "probe",
    "video_duration",
]

MEDIA_KINDS = ("image", "audio", "video", "pdf", "other")

# Caps on loops driven by untrusted structure. They are far above what real files use
# (a JPEG has tens of segments, an MP4 a few hundred boxes) and keep garbage cheap.
_MAX_BOXES = 100_000
_MAX_CHUNKS = 10_000
_MAX_JPEG_MARKERS = 100_000
_MAX_TIFF_ENTRIES = 4_096
_MAX_EBML_ELEMENTS = 100_000
_MAX_OGG_CANDIDATES = 1_000
_MP3_SYNC_SCAN = 64 << 10  # bytes searched for the first frame when no tag/sync is at the start
_ADTS_MAX_FRAMES = 200_000  # ~80 MB of 128 kbit/s AAC walked exactly; longer is extrapolated

_CorruptErrors = (struct.error, IndexError, ValueError, OverflowError, ZeroDivisionError)


@dataclass(frozen=True, slots=True)
class MediaFacts:
    """The figures Google's token rules need for one inline media part.

    Attributes:
        kind: one of :data:`MEDIA_KINDS`, from the part's MIME type.
        width: image width in pixels as stored (EXIF/irot orientation not applied), or None.
        height: image height in pixels as stored, or None.
        pages: PDF page count, or None.
        duration_s: audio or video duration in seconds, or None.
    """

    kind: str
    width: int | None = None
    height: int | None = None
    pages: int | None = None
    duration_s: float | None = None


def media_kind(mime_type: str) -> str:
    """Classify a MIME type into one of :data:`MEDIA_KINDS`.

    Args:
        mime_type: e.g. ``"image/png"`` or ``"Audio/Ogg; codecs=opus"``; case and parameters are ignored.

    Returns:
        ``"image"``, ``"audio"``, ``"video"``, ``"pdf"`` (``application/pdf``) or ``"other"``.
    """
    if not isinstance(mime_type, str):
        return "other"
    base = mime_type.split(";", 1)[0].strip().lower()
    if base in ("application/pdf", "application/x-pdf"):
        return "pdf"
    major, sep, minor = base.partition("/")
    if sep and minor.strip() and major in ("image", "audio", "video"):
        return major
    return "other"


def probe(mime_type: str, data: bytes) -> MediaFacts:
    """Read the figures for one inline part, dispatching on the MIME type's kind.

    Images get width/height, PDFs pages, audio and video a duration; anything unreadable is left
    as None. Never raises for any bytes input.

    Args:
        mime_type: the part's declared ``mimeType``.
        data: the decoded (not base64) bytes.

    Returns:
        A :class:`MediaFacts`.
    """
    kind = media_kind(mime_type)
    try:
        if kind == "image":
            size = image_size(data)
            if size is not None:
                return MediaFacts(kind, width=size[0], height=size[1])
        elif kind == "pdf":
            return MediaFacts(kind, pages=pdf_page_count(data))
        elif kind == "audio":
            return MediaFacts(kind, duration_s=audio_duration(data, mime_type))
        elif kind == "video":
            return MediaFacts(kind, duration_s=video_duration(data, mime_type))
    except Exception:  # a safety net only: each reader already returns None on bad input
        pass
    return MediaFacts(kind)


# --------------------------------------------------------------------------------------------
# helpers


def _as_bytes(data: object) -> bytes | None:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    return None


def _seconds(value: float) -> float | None:
    """A duration if it is a finite non-negative number, else None."""
    value = float(value)
    if math.isfinite(value) and value >= 0.0:
        return value
    return None


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    return values[0], values[1]


def _iter_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """ISO-BMFF boxes in ``data[start:end]`` as (type, payload start, payload end).

    Handles 64-bit sizes (size 1) and size 0 (box runs to the end of its parent). A box that
    claims more than is left is clipped to ``end`` and is the last one yielded.
    """
    pos = start
    for _ in range(_MAX_BOXES):
        if pos + 8 > end:
            return
        size = struct.unpack_from(">I", data, pos)[0]
        btype = data[pos + 4 : pos + 8]
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        box_end = pos + size
        yield btype, pos + header, min(box_end, end)
        if box_end >= end:
            return
        pos = box_end


def _find_box(data: bytes, start: int, end: int, btype: bytes) -> tuple[int, int] | None:
    for t, s, e in _iter_boxes(data, start, end):
        if t == btype:
            return s, e
    return None


# --------------------------------------------------------------------------------------------
# images


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height in pixels from an image header, without decoding pixels.

    Supports PNG, JPEG (baseline, progressive, lossless, arithmetic; height from DNL when the
    frame header says 0), GIF, WebP (VP8, VP8L, VP8X), BMP (incl. top-down), HEIC/HEIF/AVIF
    (largest ``ispe``) and TIFF/BigTIFF (IFD0, both byte orders). Dimensions are as stored:
    EXIF orientation and HEIF ``irot`` are not applied.

    Args:
        data: the image file's bytes.

    Returns:
        ``(width, height)``, or None when the format is unknown or the header is unreadable.
    """
    buf = _as_bytes(data)
    if buf is None:
        return None
    try:
        size = _image_size(buf)
    except _CorruptErrors:
        return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _image_size(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png_size(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data.startswith((b"GIF87a", b"GIF89a")):
        return _pair(struct.unpack_from("<HH", data, 6)) if len(data) >= 10 else None
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data.startswith(b"BM"):
        return _bmp_size(data)
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _tiff_size(data)
    if data[4:8] == b"ftyp":
        return _heif_size(data)
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    pos = 8
    # Apple's "CgBI" PNG variant puts one chunk before IHDR.
    if data[12:16] == b"CgBI" and len(data) >= 16:
        pos += 12 + struct.unpack_from(">I", data, 8)[0]
    if len(data) < pos + 16 or data[pos + 4 : pos + 8] != b"IHDR":
        return None
    return _pair(struct.unpack_from(">II", data, pos + 8))


_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # minus DHT, JPG, DAC
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])  # TEM, RST0-7, SOI
_NOT_FF = re.compile(rb"[^\xff]")
# End of entropy-coded data: 0xFF followed by anything but a stuffed 0x00, an RST marker or more fill.
_ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    n = len(data)
    pos = 2
    dnl_width = 0  # SOF said height 0: the height comes in a DNL segment after the first scan
    for _ in range(_MAX_JPEG_MARKERS):
        if pos >= n:
            return None
        if data[pos] != 0xFF:
            # Junk between segments: resynchronise on the next 0xFF, as decoders do.
            pos = data.find(b"\xff", pos)
            if pos < 0:
                return None
        m = _NOT_FF.search(data, pos)  # skip fill bytes
        if m is None:
            return None
        pos = m.start()
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE or marker == 0x00:
            continue
        if marker == 0xD9 or pos + 2 > n:  # EOI or truncated
            return None
        seg_len = struct.unpack_from(">H", data, pos)[0]
        if seg_len < 2:
            return None
        if marker in _JPEG_SOF:
            if pos + 7 > n:
                return None
            height, width = struct.unpack_from(">HH", data, pos + 3)
            if height:
                return width, height
            dnl_width = width
        elif marker == 0xDC and dnl_width and pos + 4 <= n:
            return dnl_width, struct.unpack_from(">H", data, pos + 2)[0]
        pos += seg_len
        if marker == 0xDA:  # SOS: skip the entropy-coded scan (it may contain RST markers)
            m = _ENTROPY_END.search(data, pos)
            if m is None:
                return None
            pos = m.start()
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    fourcc = data[12:16]
    if fourcc == b"VP8 " and len(data) >= 30:
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        w, h = struct.unpack_from("<HH", data, 26)
        return w & 0x3FFF, h & 0x3FFF
    if fourcc == b"VP8L" and len(data) >= 25:
        if data[20] != 0x2F:
            return None
        bits = struct.unpack_from("<I", data, 21)[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if fourcc == b"VP8X" and len(data) >= 30:
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    return None


_BMP_HEADER_SIZES = frozenset([12, 16, 40, 52, 56, 64, 108, 124])


def _bmp_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 26:
        return None
    header_size = struct.unpack_from("<I", data, 14)[0]
    if header_size not in _BMP_HEADER_SIZES:
        return None
    if header_size == 12:  # BITMAPCOREHEADER (OS/2 1.x): unsigned 16-bit
        return _pair(struct.unpack_from("<HH", data, 18))
    width, height = struct.unpack_from("<ii", data, 18)
    return width, abs(height)  # negative height = top-down rows


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    n = len(data)
    e = "<" if data[:2] == b"II" else ">"
    if data[2:4] in (b"*\x00", b"\x00*"):
        ifd = struct.unpack_from(e + "I", data, 4)[0]
        count_fmt, entry_size, value_at = "H", 12, 8
    else:  # BigTIFF: 8-byte offsets and counts
        if n < 16 or struct.unpack_from(e + "H", data, 4)[0] != 8:
            return None
        ifd = struct.unpack_from(e + "Q", data, 8)[0]
        count_fmt, entry_size, value_at = "Q", 20, 12
    count_len = struct.calcsize(count_fmt)
    if ifd < 8 or ifd + count_len > n:
        return None
    entries = struct.unpack_from(e + count_fmt, data, ifd)[0]
    entries = min(entries, (n - ifd - count_len) // entry_size, _MAX_TIFF_ENTRIES)
    formats = {1: "B", 3: "H", 4: "I", 16: "Q"}  # BYTE, SHORT, LONG, LONG8
    width = height = None
    for i in range(entries):
        off = ifd + count_len + i * entry_size
        tag, typ = struct.unpack_from(e + "HH", data, off)
        if tag not in (256, 257) or typ not in formats:
            continue
        value = struct.unpack_from(e + formats[typ], data, off + value_at)[0]
        if tag == 256:
            width = value
        else:
            height = value
        if width is not None and height is not None:
            return width, height
    return None


def _heif_size(data: bytes) -> tuple[int, int] | None:
    meta = _find_box(data, 0, len(data), b"meta")
    if meta is None:
        return None
    iprp = _find_box(data, meta[0] + 4, meta[1], b"iprp")  # meta is a full box: skip version/flags
    if iprp is None:
        return None
    ipco = _find_box(data, iprp[0], iprp[1], b"ipco")
    if ipco is None:
        return None
    best: tuple[int, int] | None = None
    for t, s, e in _iter_boxes(data, ipco[0], ipco[1]):
        if t == b"ispe" and s + 12 <= e:
            w, h = struct.unpack_from(">II", data, s + 4)
            if best is None or w * h > best[0] * best[1]:
                best = (w, h)
    return best


# --------------------------------------------------------------------------------------------
# PDF

# Both patterns start with a literal, which lets the regex engine skip ahead quickly (~GB/s);
# a combined alternation would test every byte and is ~100x slower on stream-heavy PDFs.
_PDF_TYPE_PAGE = re.compile(rb"/Type[\s\x00]*/Page(s?)\b")
_PDF_COUNT = re.compile(rb"/Count[\s\x00]+(\d{1,10})\b")


def pdf_page_count(data: bytes) -> int | None:
    """Page count of a PDF, found by regex without decompressing anything.

    Takes the largest ``/Count`` of a ``/Type /Pages`` object (the root of the page tree), else
    counts ``/Type /Page`` objects. PDFs whose page tree sits in compressed object streams give None.

    Args:
        data: the PDF file's bytes (must contain ``%PDF-`` in its first 1024 bytes).

    Returns:
        The page count (> 0), or None.
    """
    buf = _as_bytes(data)
    if buf is None:
        return None
    try:
        return _pdf_page_count(buf)
    except _CorruptErrors:
        return None


def _pdf_page_count(data: bytes) -> int | None:
    if data.find(b"%PDF-", 0, 1024) < 0:
        return None
    leaves = 0
    best = 0  # largest /Count of a /Type /Pages object: the page-tree root holds the total
    lo = 0  # end of the previous /Type match
    pending: tuple[re.Match[bytes], int] | None = None  # a /Pages match waiting for the next match
    for m in _PDF_TYPE_PAGE.finditer(data):
        if pending is not None:
            best = max(best, _pdf_node_count(data, pending[0], pending[1], m.start()))
            pending = None
        if m.group(1):
            pending = (m, lo)
        else:
            leaves += 1
        lo = m.end()
    if pending is not None:
        best = max(best, _pdf_node_count(data, pending[0], pending[1], len(data)))
    return best or leaves or None


def _pdf_node_count(data: bytes, m: re.Match[bytes], lo: int, hi: int) -> int:
    """/Count of the page-tree node whose /Type /Pages is ``m``, or 0.

    Searches this object only: from its "obj" keyword to its "endobj", never past the neighbouring
    /Type matches (``lo``, ``hi``), so the regions are disjoint and the whole pass stays linear.
    Object bounds, not "<<"/">>" matching, because page-tree dictionaries nest other dictionaries.
    """
    start = data.rfind(b"obj", lo, m.start())
    end = data.find(b"endobj", m.end(), hi)
    count = _PDF_COUNT.search(data, lo if start < 0 else start, hi if end < 0 else end)
    return 0 if count is None else int(count.group(1))


# --------------------------------------------------------------------------------------------
# audio and video


def audio_duration(data: bytes, mime_type: str = "") -> float | None:
    """Duration in seconds of an audio file, from its headers.

    Supports WAV (incl. WAVE_FORMAT_EXTENSIBLE, RF64/BW64), AIFF/AIFC, FLAC (native and in Ogg),
    MP3 and MPEG layer I/II (Xing/Info or VBRI frame count, else a CBR estimate), AAC in ADTS
    (frame walk), Ogg Vorbis/Opus/Speex (last granule position), M4A/MP4 (``mvhd``), WebM/Matroska
    and ASF/WMA. The format comes from magic bytes; ``mime_type`` only allows a search for an
    MPEG/ADTS frame sync when the data starts with neither a tag nor a sync word.

    Args:
        data: the file's bytes.
        mime_type: the declared MIME type (a hint only).

    Returns:
        Seconds (>= 0), or None when unknown or unparseable.
    """
    return _duration(data, mime_type)


def video_duration(data: bytes, mime_type: str = "") -> float | None:
    """Duration in seconds of a video file, from its headers.

    Supports MP4/MOV/3GP/M4V (``moov/mvhd``; boxes in any order, 64-bit sizes; ``mehd`` or the
    longest ``mdhd`` when ``mvhd`` says 0), WebM/Matroska (``Info/Duration`` × ``TimecodeScale``,
    else the last cluster's last block time for live recordings without a Duration), AVI
    (``avih``/OpenDML ``dmlh``), ASF/WMV and FLV (``onMetaData`` duration). Audio-only containers
    are read too, since MIME types lie. MPEG-PS/TS and Ogg Theora are not supported.

    Args:
        data: the file's bytes.
        mime_type: the declared MIME type (a hint only).

    Returns:
        Seconds (>= 0), or None when unknown or unparseable.
    """
    return _duration(data, mime_type)


_ISOBMFF_TOP = frozenset([b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"])
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_FILE_PROPERTIES = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")


def _duration(data: object, mime_type: str) -> float | None:
    buf = _as_bytes(data)
    if buf is None:
        return None
    try:
        value = _sniff_duration(buf, mime_type if isinstance(mime_type, str) else "")
    except _CorruptErrors:
        return None
    return None if value is None else _seconds(value)


def _sniff_duration(data: bytes, mime_type: str) -> float | None:
    head = data[:16]
    if head[:4] in (b"RIFF", b"RF64", b"BW64"):
        if head[8:12] == b"WAVE":
            return _wav_duration(data)
        if head[8:12] == b"AVI ":
            return _avi_duration(data)
        return None
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _aiff_duration(data)
    if head[:4] == b"fLaC":
        return _flac_duration(data, 0)
    if head[:4] == b"OggS":
        return _ogg_duration(data)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _matroska_duration(data)
    if head[4:8] in _ISOBMFF_TOP:
        return _isobmff_duration(data)
    if head == _ASF_HEADER:
        return _asf_duration(data)
    if head[:4] == b"FLV\x01":
        return _flv_duration(data)
    start = _skip_id3v2(data)
    if data[start : start + 4] == b"fLaC":
        return _flac_duration(data, start)
    # Searching for a frame sync is only safe for elementary audio streams; in e.g. an MPEG-PS video
    # it would find the audio inside and divide the whole file by the audio bitrate.
    hint = mime_type.strip().lower()
    scan = start > 0 or (hint.startswith("audio/") and any(k in hint for k in ("mpeg", "mp3", "mpa", "aac", "mp2")))
    return _mpeg_or_adts_duration(data, start, scan)


# --- RIFF: WAV and AVI


def _iter_riff(data: bytes, start: int, end: int, e: str = "<") -> Iterator[tuple[bytes, int, int]]:
    """RIFF/IFF chunks as (id, body start, declared size); bodies are padded to even length."""
    pos = start
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > end:
            return
        size = struct.unpack_from(e + "I", data, pos + 4)[0]
        yield data[pos : pos + 4], pos + 8, size
        pos += 8 + size + (size & 1)


_WAV_PCM_LIKE = frozenset([1, 3, 6, 7])  # PCM, IEEE float, A-law, mu-law: byte rate is exact


def _wav_duration(data: bytes) -> float | None:
    n = len(data)
    fmt: tuple[int, int, int, int] | None = None  # format tag, sample rate, byte rate, block align
    fact_samples = None
    ds64_data_size = None
    data_at = data_size = None
    for cid, body, size in _iter_riff(data, 12, n):
        if cid == b"fmt " and size >= 16 and body + 16 <= n:
            tag, _ch, rate, byte_rate, align = struct.unpack_from("<HHIIH", data, body)
            if tag == 0xFFFE and size >= 40 and body + 26 <= n:
                tag = struct.unpack_from("<H", data, body + 24)[0]  # first bytes of SubFormat GUID
            fmt = (tag, rate, byte_rate, align)
        elif cid == b"fact" and size >= 4 and body + 4 <= n:
            fact_samples = struct.unpack_from("<I", data, body)[0]
        elif cid == b"ds64" and size >= 16 and body + 16 <= n:
            ds64_data_size = struct.unpack_from("<Q", data, body + 8)[0]
        elif cid == b"data":
            data_at, data_size = body, size
            if size == 0xFFFFFFFF and ds64_data_size is not None:
                data_size = ds64_data_size
            # A streamed or placeholder size means "to the end": nothing readable follows.
            if fmt is not None or data_size in (0, 0xFFFFFFFF):
                break
    if fmt is None or data_at is None or data_size is None:
        return None
    tag, rate, byte_rate, align = fmt
    available = max(0, n - data_at)
    size = available if data_size in (0, 0xFFFFFFFF) else min(data_size, available)
    if tag not in _WAV_PCM_LIKE and fact_samples is not None and rate > 0:
        return fact_samples / rate  # compressed: the fact chunk gives the sample count
    if byte_rate == 0:
        byte_rate = rate * align
    return size / byte_rate if byte_rate > 0 else None


def _avi_duration(data: bytes) -> float | None:
    n = len(data)
    for cid, body, size in _iter_riff(data, 12, n):
        if cid == b"LIST" and data[body : body + 4] == b"hdrl":
            return _avi_hdrl(data, body + 4, min(n, body + size))
    return None


def _avi_hdrl(data: bytes, start: int, end: int) -> float | None:
    us_per_frame = total_frames = None
    odml_frames = None
    for cid, body, size in _iter_riff(data, start, end):
        if cid == b"avih" and body + 20 <= end:
            us_per_frame = struct.unpack_from("<I", data, body)[0]
            total_frames = struct.unpack_from("<I", data, body + 16)[0]
        elif cid == b"LIST" and data[body : body + 4] == b"odml":
            for sub, sbody, _ in _iter_riff(data, body + 4, min(end, body + size)):
                if sub == b"dmlh" and sbody + 4 <= end:
                    odml_frames = struct.unpack_from("<I", data, sbody)[0]
    if us_per_frame is None or total_frames is None:
        return None
    # OpenDML (>1 GB) files count only the first RIFF in avih; dmlh has the whole count.
    frames = odml_frames if odml_frames else total_frames
    return frames * us_per_frame / 1e6


# --- AIFF


def _extended80(data: bytes, pos: int) -> float | None:
    """IEEE 754 80-bit extended float (AIFF sample rate); None unless positive and sane."""
    exp_word, mantissa = struct.unpack_from(">HQ", data, pos)
    exponent = exp_word & 0x7FFF
    if exp_word & 0x8000 or exponent == 0 or mantissa == 0 or not -64 < exponent - 16383 < 64:
        return None
    return math.ldexp(mantissa, exponent - 16383 - 63)


def _aiff_duration(data: bytes) -> float | None:
    n = len(data)
    for cid, body, size in _iter_riff(data, 12, n, ">"):
        if cid == b"COMM" and size >= 18 and body + 18 <= n:
            frames = struct.unpack_from(">I", data, body + 2)[0]
            rate = _extended80(data, body + 8)
            return frames / rate if rate is not None and rate >= 1.0 else None
    return None


# --- FLAC


def _streaminfo_rate_samples(data: bytes, pos: int) -> tuple[int, int]:
    """(sample rate, total samples) from a 34-byte FLAC STREAMINFO body at ``pos``."""
    bits = struct.unpack_from(">Q", data, pos + 10)[0]
    return bits >> 44, bits & ((1 << 36) - 1)


def _flac_duration(data: bytes, start: int) -> float | None:
    pos = start + 4
    if pos + 4 + 34 > len(data) or (data[pos] & 0x7F) != 0:  # STREAMINFO must be the first block
        return None
    rate, total = _streaminfo_rate_samples(data, pos + 4)
    if rate == 0 or total == 0:  # total 0 means "unknown" in FLAC
        return None
    return total / rate


# --- Ogg


def _ogg_duration(data: bytes) -> float | None:
    n = len(data)
    if n < 28 or data[4] != 0:
        return None
    serial = struct.unpack_from("<I", data, 14)[0]
    segments = data[26]
    payload = 27 + segments
    if payload > n:
        return None
    packet_len = sum(data[27:payload])
    pkt_end = min(n, payload + packet_len)
    pre_skip = 0
    rate = 0
    if data.startswith(b"\x01vorbis", payload) and payload + 16 <= pkt_end:
        rate = struct.unpack_from("<I", data, payload + 12)[0]
    elif data.startswith(b"OpusHead", payload) and payload + 12 <= pkt_end:
        rate = 48000  # Opus granule positions always count 48 kHz samples
        pre_skip = struct.unpack_from("<H", data, payload + 10)[0]
    elif data.startswith(b"\x7fFLAC", payload) and data.startswith(b"fLaC", payload + 9):
        if payload + 17 + 34 <= pkt_end:
            rate = _streaminfo_rate_samples(data, payload + 17)[0]
    elif data.startswith(b"Speex   ", payload) and payload + 40 <= pkt_end:
        rate = struct.unpack_from("<I", data, payload + 36)[0]
    if rate <= 0:
        return None
    granule = _ogg_last_granule(data, serial)
    if granule is None:
        return None
    return max(0, granule - pre_skip) / rate


def _ogg_last_granule(data: bytes, serial: int) -> int | None:
    """Granule position of the last page of logical stream ``serial`` (searching backwards)."""
    n = len(data)
    pos = n
    for _ in range(_MAX_OGG_CANDIDATES):
        pos = data.rfind(b"OggS", 0, pos)
        if pos < 0:
            return None
        if pos + 27 <= n and data[pos + 4] == 0:
            granule, page_serial = struct.unpack_from("<qI", data, pos + 6)
            # -1: no packet ends on this page; another serial: another stream (e.g. a video track).
            if page_serial == serial and granule >= 0:
                return granule
    return None


# --- MPEG audio (MP3, MP2, MP1) and ADTS AAC

_MPEG_BITRATES = {
    # (lsf: MPEG-2/2.5, layer): kbit/s by index 1..14
    (False, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (False, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (False, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (True, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (True, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (True, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


@dataclass(frozen=True, slots=True)
class _MpegFrame:
    version: int  # 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    layer: int  # 1, 2 or 3
    bitrate: int  # bit/s
    rate: int  # Hz
    samples: int  # per frame
    length: int  # bytes, including padding
    mono: bool


def _mpeg_frame(data: bytes, pos: int) -> _MpegFrame | None:
    if pos + 4 > len(data) or data[pos] != 0xFF:
        return None
    b1, b2, b3 = data[pos + 1], data[pos + 2], data[pos + 3]
    version, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    br_index, rate_index = b2 >> 4, (b2 >> 2) & 3
    if (b1 & 0xE0) != 0xE0 or version == 1 or layer_bits == 0 or br_index in (0, 15) or rate_index == 3:
        return None  # bad sync, reserved values, or free-format bitrate (no length in the header)
    layer = 4 - layer_bits
    lsf = version != 3
    bitrate = _MPEG_BITRATES[lsf, layer][br_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (b2 >> 1) & 1
    if layer == 1:
        samples, length = 384, (12 * bitrate // rate + padding) * 4
    else:
        samples = 576 if layer == 3 and lsf else 1152
        length = samples // 8 * bitrate // rate + padding
    return _MpegFrame(version, layer, bitrate, rate, samples, length, b3 >> 6 == 3)


def _skip_id3v2(data: bytes) -> int:
    """Offset after any ID3v2 tags at the start (several may be stacked)."""
    pos = 0
    for _ in range(16):
        if data[pos : pos + 3] != b"ID3" or pos + 10 > len(data):
            break
        sizes = data[pos + 6 : pos + 10]
        if any(b & 0x80 for b in sizes):
            break
        size = (sizes[0] << 21) | (sizes[1] << 14) | (sizes[2] << 7) | sizes[3]
        footer = 10 if data[pos + 5] & 0x10 else 0
        pos += 10 + size + footer
    return pos


def _audio_end(data: bytes, floor: int) -> int:
    """Length without trailing ID3v1 and APEv2 tags (they are not audio); never below ``floor``."""
    end = len(data)
    if end - 128 >= floor and data[end - 128 : end - 125] == b"TAG":
        end -= 128
    if end - 32 >= floor and data[end - 32 : end - 24] == b"APETAGEX":
        size, flags = struct.unpack_from("<II", data, end - 20)
        tag_len = size + (32 if flags & 0x80000000 else 0)  # size counts the footer, not the header
        if end - tag_len >= floor:
            end -= tag_len
    return end


def _is_adts(data: bytes, pos: int) -> bool:
    return pos + 7 <= len(data) and data[pos] == 0xFF and (data[pos + 1] & 0xF6) == 0xF0


def _mpeg_or_adts_duration(data: bytes, start: int, scan: bool) -> float | None:
    if _is_adts(data, start):
        return _adts_duration(data, start)
    frame = _mpeg_frame(data, start)
    pos = start
    if frame is not None:
        nxt = _mpeg_frame(data, start + frame.length)
        # At the expected place one frame is enough, unless the next header contradicts it.
        if start + frame.length + 4 <= len(data) and not _same_stream(frame, nxt):
            frame = None
    if frame is None:
        if not scan:
            return None
        found = _scan_mpeg_sync(data, start)
        if found is None:
            return None
        pos, frame = found
    return _mpeg_duration(data, pos, frame)


def _same_stream(a: _MpegFrame, b: _MpegFrame | None) -> bool:
    return b is not None and (a.version, a.layer, a.rate) == (b.version, b.layer, b.rate)


def _scan_mpeg_sync(data: bytes, start: int) -> tuple[int, _MpegFrame] | None:
    """First offset with two consecutive consistent frame headers, within a bounded window."""
    limit = min(len(data), start + _MP3_SYNC_SCAN)
    pos = start
    while True:
        pos = data.find(b"\xff", pos, limit)
        if pos < 0:
            return None
        frame = _mpeg_frame(data, pos)
        if frame is not None and _same_stream(frame, _mpeg_frame(data, pos + frame.length)):
            return pos, frame
        pos += 1


def _mpeg_duration(data: bytes, pos: int, frame: _MpegFrame) -> float | None:
    # The Xing/Info tag follows the side information (size depends on version and channels);
    # look a little past it too, for encoders that count a CRC.
    side = (17 if frame.mono else 32) if frame.version == 3 else (9 if frame.mono else 17)
    lo = pos + 4
    hi = min(pos + 4 + side + 2 + 4, pos + frame.length, len(data))
    for tag in (b"Xing", b"Info"):
        at = data.find(tag, lo, hi)
        if at >= 0 and at + 12 <= len(data):
            flags, frames = struct.unpack_from(">II", data, at + 4)
            if flags & 1 and frames:
                return frames * frame.samples / frame.rate
    vbri = pos + 36  # VBRI sits at a fixed offset, 32 bytes after the header
    if data[vbri : vbri + 4] == b"VBRI" and vbri + 18 <= len(data):
        frames = struct.unpack_from(">I", data, vbri + 14)[0]
        if frames:
            return frames * frame.samples / frame.rate
    # Constant bitrate: the audio bytes at the first frame's bitrate.
    audio_bytes = _audio_end(data, pos) - pos
    return audio_bytes * 8 / frame.bitrate


def _adts_duration(data: bytes, start: int) -> float | None:
    rate_index = (data[start + 2] >> 2) & 0xF
    if rate_index >= len(_ADTS_RATES):
        return None
    rate = _ADTS_RATES[rate_index]
    pos = start
    blocks = 0
    # Walk the frames: AAC is usually VBR, and each 7-byte header carries its frame length.
    for _ in range(_ADTS_MAX_FRAMES):
        if not _is_adts(data, pos):
            break
        length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        if length < 7:
            break
        blocks += (data[pos + 6] & 3) + 1
        pos += length
    else:
        # Long stream (over an hour at usual rates): extrapolate from the walked part's bytes per block.
        end = _audio_end(data, pos)
        blocks = blocks * (end - start) // (pos - start)
    if blocks == 0:
        return None
    return blocks * 1024 / rate


# --- ISO BMFF (MP4, MOV, M4A, 3GP)


def _mvhd_like(data: bytes, start: int, end: int) -> tuple[int, int] | None:
    """(timescale, duration) from an mvhd or mdhd body; duration -1 when "unknown" (all ones)."""
    version = data[start]
    if version == 1:
        if start + 32 > end:
            return None
        timescale, duration = struct.unpack_from(">IQ", data, start + 20)
        unknown = duration == 0xFFFFFFFFFFFFFFFF
    else:
        if start + 20 > end:
            return None
        timescale, duration = struct.unpack_from(">II", data, start + 12)
        unknown = duration == 0xFFFFFFFF
    return timescale, -1 if unknown else duration


def _isobmff_duration(data: bytes) -> float | None:
    moov = _find_box(data, 0, len(data), b"moov")
    if moov is None:
        return None
    mvhd = _find_box(data, moov[0], moov[1], b"mvhd")
    timescale = 0
    if mvhd is not None:
        parsed = _mvhd_like(data, *mvhd)
        if parsed is not None:
            timescale, duration = parsed
            if timescale and duration > 0:
                return duration / timescale
    # mvhd says 0 (fragmented MP4) or unknown: try mvex/mehd, then the longest track (mdhd).
    if timescale:
        mvex = _find_box(data, moov[0], moov[1], b"mvex")
        mehd = None if mvex is None else _find_box(data, mvex[0], mvex[1], b"mehd")
        if mehd is not None:
            s, e = mehd
            fmt = ">Q" if data[s] == 1 else ">I"
            if s + 4 + struct.calcsize(fmt) <= e:
                fragment_duration = struct.unpack_from(fmt, data, s + 4)[0]
                if fragment_duration:
                    return fragment_duration / timescale
    best = None
    for t, s, e in _iter_boxes(data, moov[0], moov[1]):
        if t != b"trak":
            continue
        mdia = _find_box(data, s, e, b"mdia")
        mdhd = None if mdia is None else _find_box(data, mdia[0], mdia[1], b"mdhd")
        parsed = None if mdhd is None else _mvhd_like(data, *mdhd)
        if parsed is not None and parsed[0] and parsed[1] > 0:
            seconds = parsed[1] / parsed[0]
            best = seconds if best is None else max(best, seconds)
    return best


# --- Matroska / WebM (EBML)

_EBML_SEGMENT = 0x18538067
_EBML_INFO = 0x1549A966
_EBML_TIMECODE_SCALE = 0x2AD7B1
_EBML_DURATION = 0x4489
_EBML_CLUSTER = 0x1F43B675
_EBML_TIMECODE = 0xE7
_EBML_SIMPLE_BLOCK = 0xA3
_EBML_BLOCK_GROUP = 0xA0
_EBML_BLOCK = 0xA1
_EBML_BLOCK_DURATION = 0x9B


def _ebml_element(data: bytes, pos: int, end: int) -> tuple[int, int, int | None] | None:
    """(element id, payload start, payload end or None for "unknown size") at ``pos``."""
    if pos >= end:
        return None
    id_len = 9 - data[pos].bit_length()
    if id_len > 4 or pos + id_len > end:
        return None
    eid = int.from_bytes(data[pos : pos + id_len], "big")
    pos += id_len
    if pos >= end:
        return None
    size_len = 9 - data[pos].bit_length()
    if size_len > 8 or pos + size_len > end:
        return None
    mask = (1 << (7 * size_len)) - 1
    size = int.from_bytes(data[pos : pos + size_len], "big") & mask
    pos += size_len
    return eid, pos, None if size == mask else pos + size


def _iter_ebml(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int | None]]:
    """Child elements; an unknown-size child is yielded last (it cannot be skipped)."""
    pos = start
    for _ in range(_MAX_EBML_ELEMENTS):
        element = _ebml_element(data, pos, end)
        if element is None:
            return
        yield element
        if element[2] is None or element[2] >= end:
            return
        pos = element[2]


def _ebml_uint(data: bytes, start: int, end: int) -> int | None:
    if end - start > 8:
        return None
    return int.from_bytes(data[start:end], "big")


def _matroska_duration(data: bytes) -> float | None:
    n = len(data)
    for eid, start, end in _iter_ebml(data, 0, n):
        if eid == _EBML_SEGMENT:
            return _segment_duration(data, start, n if end is None else min(end, n))
    return None


def _segment_duration(data: bytes, start: int, end: int) -> float | None:
    scale = 1_000_000  # TimecodeScale default: 1 ms ticks
    duration = None
    for eid, s, e in _iter_ebml(data, start, end):
        if eid == _EBML_INFO:
            info_end = end if e is None else min(e, end)
            for cid, cs, ce in _iter_ebml(data, s, info_end):
                ce = info_end if ce is None else min(ce, info_end)
                if cid == _EBML_TIMECODE_SCALE:
                    scale = _ebml_uint(data, cs, ce) or scale
                elif cid == _EBML_DURATION and ce - cs in (4, 8):
                    duration = struct.unpack_from(">f" if ce - cs == 4 else ">d", data, cs)[0]
            break
        if eid == _EBML_CLUSTER:  # Info always precedes the clusters
            break
    if duration is not None:
        return duration * scale / 1e9
    # Live recordings (e.g. browser MediaRecorder) have no Duration: use the last block's time.
    ticks = _last_cluster_ticks(data, start, end)
    return None if ticks is None else ticks * scale / 1e9


def _last_cluster_ticks(data: bytes, start: int, end: int) -> int | None:
    """Time of the last block in the last readable cluster, in TimecodeScale ticks."""
    pos = end
    for _ in range(16):
        pos = data.rfind(b"\x1f\x43\xb6\x75", start, pos)
        if pos < 0:
            return None
        element = _ebml_element(data, pos, end)
        if element is None:
            continue
        _eid, s, e = element
        ticks = _cluster_end_ticks(data, s, end if e is None else min(e, end))
        if ticks is not None:
            return ticks
    return None


def _block_time(data: bytes, start: int, end: int) -> int | None:
    """Relative timecode of a (Simple)Block body: track number vint, then signed 16-bit time."""
    if start >= end:
        return None
    track_len = 9 - data[start].bit_length()
    if track_len > 8 or start + track_len + 2 > end:
        return None
    return struct.unpack_from(">h", data, start + track_len)[0]


def _cluster_end_ticks(data: bytes, start: int, end: int) -> int | None:
    base = None
    last = 0
    for eid, s, e in _iter_ebml(data, start, end):
        e = end if e is None else min(e, end)
        if eid == _EBML_TIMECODE:
            base = _ebml_uint(data, s, e)
        elif eid == _EBML_SIMPLE_BLOCK:
            rel = _block_time(data, s, e)
            if rel is not None:
                last = max(last, rel)
        elif eid == _EBML_BLOCK_GROUP:
            rel = None
            block_duration = 0
            for gid, gs, ge in _iter_ebml(data, s, e):
                ge = e if ge is None else min(ge, e)
                if gid == _EBML_BLOCK:
                    rel = _block_time(data, gs, ge)
                elif gid == _EBML_BLOCK_DURATION:
                    block_duration = _ebml_uint(data, gs, ge) or 0
            if rel is not None:
                last = max(last, rel + block_duration)
    return None if base is None else base + last


# --- ASF (WMV/WMA) and FLV


def _asf_duration(data: bytes) -> float | None:
    n = len(data)
    if n < 30:
        return None
    count = struct.unpack_from("<I", data, 24)[0]
    pos = 30
    for _ in range(min(count, _MAX_CHUNKS)):
        if pos + 24 > n:
            return None
        size = struct.unpack_from("<Q", data, pos + 16)[0]
        if data[pos : pos + 16] == _ASF_FILE_PROPERTIES:
            if pos + 88 > n:
                return None
            play_100ns, _send, preroll_ms = struct.unpack_from("<QQQ", data, pos + 64)
            return max(0.0, play_100ns / 1e7 - preroll_ms / 1000)
        if size < 24:
            return None
        pos += size
    return None


def _flv_duration(data: bytes) -> float | None:
    # onMetaData is the first tag; its "duration" property is an AMF0 number (big-endian double).
    if len(data) < 13:
        return None
    header = struct.unpack_from(">I", data, 5)[0]
    tag = header + 4  # after PreviousTagSize0
    if tag + 11 > len(data) or data[tag] != 18:  # 18 = script data
        return None
    body = tag + 11
    body_end = min(len(data), body + int.from_bytes(data[tag + 1 : tag + 4], "big"))
    at = data.find(b"\x00\x08duration\x00", body, body_end)  # key length, key, AMF0 number marker
    if at < 0 or at + 19 > body_end:
        return None
    return struct.unpack_from(">d", data, at + 11)[0]
