"""Cheap facts about inline media parts: image size, PDF page count, audio and video duration.

Google prices non-text parts by rules that need one or two figures per part (image width/height,
PDF pages, seconds of audio or video). The batch-file scanner decodes each ``inlineData`` part and
asks this module for those figures. Everything here reads container headers only: no pixel or
sample data is decoded.

Who reads which format (a library wherever a well-kept one is as accurate as reading by hand):

* Images: ``imagesize`` reads PNG, JPEG, GIF, WebP, TIFF and HEIF/HEIC/AVIF. By hand: BMP
  (imagesize reads the 16-bit sizes of OS/2 1.x headers as 32-bit ones, so it would give wrong
  sizes, not unknown ones) and, for the rare JPEG whose frame header says height 0, the height in
  its DNL segment (imagesize stops at the first scan).
* Audio: ``mutagen`` reads MP3/MP2/MP1, FLAC, Ogg Vorbis/Opus/FLAC/Speex, AIFF/AIFC and ASF
  (WMA/WMV). By hand: WAV, because mutagen takes the declared data size as it is (streamed files
  say 0 or 0xFFFFFFFF, cut files say more than they hold) and ignores RF64's ``ds64`` and the
  ``fact`` chunk of compressed WAVs; ADTS AAC, because mutagen estimates from the first 100 frames
  where walking every frame header is exact and cheap; MP4/M4A/MOV, because mutagen reads only
  ``mvhd``, which is 0 in fragmented MP4 (what browsers record).
* Video: by hand for MP4/MOV/3GP, WebM/Matroska, AVI and FLV, for which no well-kept pure-Python
  reader exists (ASF/WMV goes to mutagen, as for audio).
* PDF: by hand, a regex over the page tree; a PDF library would have to parse the cross-reference
  table and inflate object streams, far more work per part than the pricing rule needs.

Design rules, because the bytes come from untrusted files:

* Magic bytes decide the format; the MIME type is only a hint (MIME types in batch files lie).
* Nothing raises on garbage: an unknown or unparseable input gives ``None`` and the caller records
  the figure as unknown.
* Work is bounded and linear: every hand-written loop advances by at least one byte or is capped,
  sizes read from the data are never used to allocate, and large buffers are read in place with
  ``struct.unpack_from`` / ``bytes.find`` offsets rather than copied. The libraries are given an
  ``io.BytesIO`` over the decoded bytes, which shares the buffer rather than copying it (MPEG
  audio with trailing ID3v1/APEv2 tags is the one copy, without the tags).
"""

from __future__ import annotations

import io
import math
import re
import struct
from collections.abc import Callable, Iterator
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
# (an MP4 has a few hundred boxes) and keep garbage cheap.
_MAX_BOXES = 100_000
_MAX_CHUNKS = 10_000
_MAX_EBML_ELEMENTS = 100_000
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

# The formats handed to imagesize, by magic bytes. imagesize also reads SVG, Netpbm and JPEG 2000,
# which Gemini does not take as images; they stay unknown, so no float sizes from SVG text.
_IMAGESIZE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"II+\x00")
_JPEG_DNL = b"\xff\xdc\x00\x04"  # DNL marker and its fixed segment length; the line count follows


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height in pixels from an image header, without decoding pixels.

    PNG, JPEG, GIF, WebP, TIFF and HEIF/HEIC/AVIF are read by ``imagesize`` (HEIF: the primary
    item's ``ispe``); BMP (incl. top-down and OS/2 1.x) by hand. Dimensions are as stored: EXIF
    orientation and HEIF ``irot`` are not applied.

    Args:
        data: the image file's bytes.

    Returns:
        ``(width, height)``, or None when the format is unknown or the header is unreadable.
    """
    buf = _as_bytes(data)
    if buf is None:
        return None
    try:
        if buf.startswith(b"BM"):
            size = _bmp_size(buf)
        elif buf.startswith(_IMAGESIZE_MAGIC) or buf[4:8] == b"ftyp" or (buf[:4] == b"RIFF" and buf[8:12] == b"WEBP"):
            size = _imagesize(buf)
        else:
            return None
    except Exception:  # imagesize returns (-1, -1) on bad input; this is a safety net only
        return None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _imagesize(data: bytes) -> tuple[int, int] | None:
    import imagesize  # imported on first use: it pulls in urllib and xml, which a scan of text never needs

    width, height = imagesize.get(io.BytesIO(data), exif_rotation=False)
    if not (isinstance(width, int) and isinstance(height, int)):
        return None
    if height == 0 and width > 0 and data.startswith(b"\xff\xd8"):
        # Height 0 in the frame header means "see the DNL segment after the first scan". Its bytes
        # cannot occur in entropy-coded data (0xFF there is followed by 0x00 or RSTn), so the
        # first match is the DNL unless a table before the scan happens to hold them.
        at = data.find(_JPEG_DNL)
        if at >= 0 and at + 6 <= len(data):
            height = int.from_bytes(data[at + 4 : at + 6], "big")
    return width, height


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
        if m.end() == len(data):
            break  # a file cut right after "/Page" may have been cut out of "/Pages": not a leaf
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
    if count is None or count.end() == len(data):
        return 0  # a number at the very end of a cut file may be missing digits
    return int(count.group(1))


# --------------------------------------------------------------------------------------------
# audio and video


def audio_duration(data: bytes, mime_type: str = "") -> float | None:
    """Duration in seconds of an audio file, from its headers.

    By hand: WAV (incl. WAVE_FORMAT_EXTENSIBLE, RF64/BW64, streamed or cut files), AAC in ADTS
    (frame walk), M4A/MP4 (``mvhd``) and WebM/Matroska. With ``mutagen``: MP3 and MPEG layer I/II
    (Xing/Info or VBRI frame count, else a CBR estimate over the audio bytes), FLAC, Ogg
    Vorbis/Opus/FLAC/Speex, AIFF/AIFC and ASF/WMA. The format comes from magic bytes;
    ``mime_type`` only allows a search for an MPEG frame sync when the data starts with neither a
    tag nor a sync word.

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
    (``avih``/OpenDML ``dmlh``), ASF/WMV (``mutagen``) and FLV (``onMetaData`` duration). Audio-only
    containers are read too, since MIME types lie. MPEG-PS/TS and Ogg Theora are not supported.

    Args:
        data: the file's bytes.
        mime_type: the declared MIME type (a hint only).

    Returns:
        Seconds (>= 0), or None when unknown or unparseable.
    """
    return _duration(data, mime_type)


_ISOBMFF_TOP = frozenset([b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"])
_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


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
        return _mutagen_length(_aiff_length, data)
    if head[:4] == b"OggS":
        return _mutagen_length(_ogg_length, data)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _matroska_duration(data)
    if head[4:8] in _ISOBMFF_TOP:
        return _isobmff_duration(data)
    if head == _ASF_HEADER:
        return _mutagen_length(_asf_length, data)
    if head[:4] == b"FLV\x01":
        return _flv_duration(data)
    start = _skip_id3v2(data)
    if data[start : start + 4] == b"fLaC":
        return _mutagen_length(_flac_length, data)
    if _is_adts(data, start):
        return _adts_duration(data, start)
    # Searching for a frame sync is only safe for elementary audio streams; in e.g. an MPEG-PS video
    # it would find the audio inside and divide the whole file by the audio bitrate.
    hint = mime_type.strip().lower()
    scan = start > 0 or (hint.startswith("audio/") and any(k in hint for k in ("mpeg", "mp3", "mpa", "aac", "mp2")))
    if not scan and data[start : start + 1] != b"\xff":
        return None
    return _mutagen_length(lambda f: _mpeg_length(f, start, scan), data[: _audio_end(data, start)])


# --- formats read by mutagen (imported on first use, like imagesize)


def _mutagen_length(read: Callable[[io.BytesIO], float | None], data: bytes) -> float | None:
    """``read``'s length for a file object over ``data``; None when mutagen cannot read it or says 0.

    mutagen signals unreadable input with its own error classes and, on some garbage, with standard
    ones; either way the figure is unknown. A length of 0 is mutagen's "not in the header".
    """
    try:
        length = read(io.BytesIO(data))
    except Exception:
        return None
    return length if length else None


def _mpeg_length(fileobj: io.BytesIO, start: int, scan: bool) -> float | None:
    from mutagen.mp3 import MPEGInfo  # MPEGInfo skips ID3v2 tags without parsing their frames

    info = MPEGInfo(fileobj)
    # "Sketchy": no VBR header and fewer than four frame headers in a row, so maybe not MPEG audio.
    if info.sketchy:
        return None
    # Without a tag or an audio MIME type, the first frame must be where the data starts.
    if not scan and getattr(info, "frame_offset", -1) != start:
        return None
    return float(info.length)


def _flac_length(fileobj: io.BytesIO) -> float:
    from mutagen.flac import FLAC

    return float(FLAC(fileobj).info.length)  # 0 when STREAMINFO's total is 0 ("unknown")


def _ogg_length(fileobj: io.BytesIO) -> float | None:
    import mutagen
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggspeex import OggSpeex
    from mutagen.oggvorbis import OggVorbis

    # Last granule position of the audio stream over its rate (Opus: 48 kHz, less the pre-skip).
    audio = mutagen.File(fileobj, options=[OggVorbis, OggOpus, OggFLAC, OggSpeex])
    return None if audio is None else float(audio.info.length)


def _aiff_length(fileobj: io.BytesIO) -> float:
    from mutagen.aiff import AIFF

    return float(AIFF(fileobj).info.length)


def _asf_length(fileobj: io.BytesIO) -> float:
    from mutagen.asf import ASF

    return float(ASF(fileobj).info.length)  # play duration less preroll


# --- by hand: RIFF (WAV and AVI)


def _iter_riff(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """RIFF chunks as (id, body start, declared size); bodies are padded to even length."""
    pos = start
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > end:
            return
        size = struct.unpack_from("<I", data, pos + 4)[0]
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


# --- by hand: tags around MPEG audio, and ADTS AAC

_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


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


# --- by hand: ISO BMFF (MP4, MOV, M4A, 3GP)


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


# --- by hand: Matroska / WebM (EBML)

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


# --- by hand: FLV


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
