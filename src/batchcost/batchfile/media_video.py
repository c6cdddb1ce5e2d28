"""Durations of video containers read by hand: ISO BMFF (MP4, MOV, M4A, 3GP), Matroska/WebM and FLV
(:mod:`.media_av` sends them here; :mod:`.media` says why by hand and the rules for untrusted bytes).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

__all__ = ["flv_duration", "isobmff_duration", "matroska_duration"]

# Caps on loops driven by untrusted structure (see media_av).
_MAX_BOXES = 100_000
_MAX_EBML_ELEMENTS = 100_000


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
# audio and video


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


def isobmff_duration(data: bytes) -> float | None:
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


def matroska_duration(data: bytes) -> float | None:
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


def flv_duration(data: bytes) -> float | None:
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
