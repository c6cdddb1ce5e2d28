"""Durations of inline audio and video parts, read from their container headers (see :mod:`.media` for
which format is read how and the rules for untrusted bytes); also the two pieces :func:`.media.probe`
shares with them: the bytes of a part and the errors that mean a corrupt one.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Callable, Iterator

from .media_video import flv_duration, isobmff_duration, matroska_duration

__all__ = ["CORRUPT_ERRORS", "as_bytes", "audio_duration", "video_duration"]

# Caps on loops driven by untrusted structure (media_video has its own). They are far above what real files use
# (an MP4 has a few hundred boxes) and keep garbage cheap.
_MAX_CHUNKS = 10_000
_ADTS_MAX_FRAMES = 200_000  # ~80 MB of 128 kbit/s AAC walked exactly; longer is extrapolated

CORRUPT_ERRORS = (struct.error, IndexError, ValueError, OverflowError, ZeroDivisionError)


def as_bytes(data: object) -> bytes | None:
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
    buf = as_bytes(data)
    if buf is None:
        return None
    try:
        value = _sniff_duration(buf, mime_type if isinstance(mime_type, str) else "")
    except CORRUPT_ERRORS:
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
        return matroska_duration(data)
    if head[4:8] in _ISOBMFF_TOP:
        return isobmff_duration(data)
    if head == _ASF_HEADER:
        return _mutagen_length(_asf_length, data)
    if head[:4] == b"FLV\x01":
        return flv_duration(data)
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
