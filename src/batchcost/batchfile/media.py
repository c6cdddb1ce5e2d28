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
import re
import struct
from dataclasses import dataclass

from .media_av import CORRUPT_ERRORS, as_bytes, audio_duration, video_duration

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


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    return values[0], values[1]


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
    buf = as_bytes(data)
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
    buf = as_bytes(data)
    if buf is None:
        return None
    try:
        return _pdf_page_count(buf)
    except CORRUPT_ERRORS:
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
