"""Tests for batchcost.batchfile.media: header-only media facts.

Images are made with Pillow where it can write the format; everything else is built byte by byte
with struct, with the layout spelled out next to each builder. Expected figures are computed by hand
from the values written into the headers.
"""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.batchfile.media import (
    MEDIA_KINDS,
    MediaFacts,
    audio_duration,
    image_size,
    media_kind,
    pdf_page_count,
    probe,
    video_duration,
)

Image = pytest.importorskip("PIL.Image")

# A noisy but deterministic picture, so JPEG entropy data contains stuffed 0xFF00 bytes.
_NOISE = bytes((i * 37 + (i >> 7) * 11) & 0xFF for i in range(317 * 211 * 3))


def _pil(fmt: str, size: tuple[int, int] = (317, 211), mode: str = "RGB", **options: object) -> bytes:
    noisy = mode == "RGB" and size == (317, 211)
    img = Image.frombytes("RGB", size, _NOISE) if noisy else Image.new(mode, size, 0)
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------
# media_kind / probe


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/png", "image"),
        ("IMAGE/JPEG", "image"),
        ("audio/ogg; codecs=opus", "audio"),
        ('Video/MP4 ; codecs="avc1"', "video"),
        ("application/pdf", "pdf"),
        ("APPLICATION/PDF;version=1.7", "pdf"),
        ("text/plain", "other"),
        ("text/csv", "other"),
        ("application/json", "other"),
        ("application/octet-stream", "other"),
        ("image", "other"),
        ("image/", "other"),
        ("", "other"),
    ],
)
def test_media_kind(mime: str, kind: str) -> None:
    assert media_kind(mime) == kind
    assert kind in MEDIA_KINDS


def test_probe_dispatches_on_kind() -> None:
    png = _pil("PNG")
    assert probe("image/png; foo=bar", png) == MediaFacts("image", width=317, height=211)
    # The declared type decides the kind; the bytes decide the format.
    assert probe("image/jpeg", png) == MediaFacts("image", width=317, height=211)
    assert probe("application/octet-stream", png) == MediaFacts("other")
    assert probe("application/pdf", _pdf_three_pages()) == MediaFacts("pdf", pages=3)
    assert probe("audio/wav", _wav_2_5s()) == MediaFacts("audio", duration_s=2.5)
    # A video MIME type on WAV bytes: the container is sniffed, so the duration is still found.
    assert probe("video/mp4", _wav_2_5s()) == MediaFacts("video", duration_s=2.5)
    assert probe("image/png", b"not an image") == MediaFacts("image")
    assert probe("audio/mpeg", b"") == MediaFacts("audio")


def test_media_facts_is_frozen() -> None:
    facts = MediaFacts("image", width=1, height=2)
    with pytest.raises(AttributeError):
        facts.width = 3  # type: ignore[misc]


# ------------------------------------------------------------------------------------------
# images


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("GIF", {}),
        ("BMP", {}),
        ("TIFF", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("WEBP", {"quality": 80}),
        ("WEBP", {"lossless": True}),
    ],
)
def test_image_size_pillow_formats(fmt: str, options: dict[str, object]) -> None:
    assert image_size(_pil(fmt, **options)) == (317, 211)


def test_webp_chunk_kinds() -> None:
    lossy = _pil("WEBP", quality=80)
    lossless = _pil("WEBP", lossless=True)
    extended = _pil("WEBP", size=(1000, 3), mode="RGBA")  # alpha forces the VP8X layout
    assert (lossy[12:16], lossless[12:16], extended[12:16]) == (b"VP8 ", b"VP8L", b"VP8X")
    assert image_size(extended) == (1000, 3)


def test_progressive_jpeg_uses_sof2() -> None:
    data = _pil("JPEG", progressive=True)
    assert b"\xff\xc2" in data and b"\xff\xc0" not in data
    assert image_size(data) == (317, 211)


def test_jpeg_with_large_exif_before_sof() -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 60000  # ImageDescription: a ~60 KB APP1 segment
    data = _pil("JPEG", exif=exif.tobytes())
    app1 = data.index(b"\xff\xe1")
    sof = data.index(b"\xff\xc0")
    assert app1 < sof and sof - app1 > 60000
    assert image_size(data) == (317, 211)


def test_jpeg_ignores_embedded_thumbnail_and_handles_fill_bytes() -> None:
    outer = _pil("JPEG")
    thumb = _pil("JPEG", size=(16, 8), mode="L")
    # An APP1 "Exif" segment holding a whole JPEG (as EXIF thumbnails do): FFE1, length, payload.
    payload = b"Exif\x00\x00" + thumb
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    # Fill bytes (extra 0xFF) before the next marker are legal and must be skipped.
    data = outer[:2] + app1 + b"\xff\xff\xff" + outer[2:]
    assert image_size(data) == (317, 211)


def test_jpeg_height_from_dnl_after_scan_with_restart_markers() -> None:
    data = bytearray(_pil("JPEG", restart_marker_blocks=1))
    assert b"\xff\xd0" in data and b"\xff\xd1" in data  # RST markers inside the scan
    sof = data.index(b"\xff\xc0")
    # SOF0 layout: FFC0, length(2), precision(1), height(2), width(2). Height 0 = "see DNL".
    data[sof + 5 : sof + 7] = b"\x00\x00"
    eoi = data.rindex(b"\xff\xd9")
    dnl = b"\xff\xdc\x00\x04" + struct.pack(">H", 211)  # DNL: FFDC, length 4, number of lines
    assert image_size(bytes(data[:eoi]) + dnl + b"\xff\xd9") == (317, 211)
    # Without the DNL the height stays unknown.
    assert image_size(bytes(data)) is None


def test_bmp_top_down_and_core_header() -> None:
    data = bytearray(_pil("BMP"))
    data[22:26] = struct.pack("<i", -211)  # negative height = rows stored top-down
    assert image_size(bytes(data)) == (317, 211)
    # OS/2 BITMAPCOREHEADER: "BM", file size(4), reserved(4), pixel offset(4), header size 12,
    # width u16, height u16, planes u16, bit count u16.
    core = b"BM" + struct.pack("<IHHI", 26, 0, 0, 26) + struct.pack("<IHHHH", 12, 640, 480, 1, 24)
    assert image_size(core) == (640, 480)


def _tiff_entry(order: str, tag: int, typ: int, value: int) -> bytes:
    # Classic IFD entry: tag u16, type u16, count u32, value in a 4-byte field (left-justified).
    field = struct.pack(order + ("H2x" if typ == 3 else "I"), value)
    return struct.pack(order + "HHI", tag, typ, 1) + field


def test_tiff_big_endian_by_hand() -> None:
    # "MM", 42, offset of IFD0 = 8; IFD: entry count u16, entries, next IFD offset u32 (0).
    entries = [
        _tiff_entry(">", 254, 4, 0),  # NewSubfileType, to be skipped
        _tiff_entry(">", 256, 4, 70000),  # ImageWidth as LONG
        _tiff_entry(">", 257, 3, 300),  # ImageLength as SHORT
    ]
    data = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 3) + b"".join(entries) + b"\0" * 4
    assert image_size(data) == (70000, 300)
    little = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 2)
    little += _tiff_entry("<", 257, 3, 9) + _tiff_entry("<", 256, 3, 12) + b"\0" * 4
    assert image_size(little) == (12, 9)


def test_bigtiff_little_endian_by_hand() -> None:
    # BigTIFF: "II", 43, bytesize 8, reserved 0, IFD0 offset u64 = 16; entry count u64; entries of
    # tag u16, type u16, count u64, value 8 bytes. Type 4 = LONG, 3 = SHORT: what libtiff writes for
    # image sizes in BigTIFF too (LONG8 sizes, over 4 billion pixels a side, are read as unknown).
    head = b"II+\x00" + struct.pack("<HHQ", 8, 0, 16)
    entries = struct.pack("<HHQQ", 256, 4, 1, 123456) + struct.pack("<HHQQ", 257, 3, 1, 789)
    data = head + struct.pack("<Q", 2) + entries + b"\0" * 8
    assert image_size(data) == (123456, 789)


def _box(btype: bytes, payload: bytes) -> bytes:
    # ISO-BMFF box: size u32 (header included), type fourcc, payload.
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def _full_box(btype: bytes, payload: bytes, version: int = 0) -> bytes:
    return _box(btype, bytes([version, 0, 0, 0]) + payload)


def _ispe(width: int, height: int) -> bytes:
    # ImageSpatialExtentsProperty: full box, image_width u32, image_height u32.
    return _full_box(b"ispe", struct.pack(">II", width, height))


def _heif(brand: bytes, primary: int) -> bytes:
    ftyp = _box(b"ftyp", brand + b"\0\0\0\0" + b"mif1" + brand)
    hdlr = _full_box(b"hdlr", b"\0" * 4 + b"pict" + b"\0" * 13)
    pitm = _full_box(b"pitm", struct.pack(">H", primary))  # primary item ID u16
    # Properties (1-based): 1 a tile's 512x512, 2 colr, 3 the full grid 4032x3024, 4 a thumbnail 320x240.
    ipco = _box(b"ipco", _ispe(512, 512) + _box(b"colr", b"nclx" + b"\0" * 7) + _ispe(4032, 3024) + _ispe(320, 240))
    # ipma v0: entry count u32; per item: item ID u16, association count u8, property indexes u8
    # (top bit = essential). Item 1 is the grid, item 2 a tile, item 3 the thumbnail.
    ipma = _full_box(b"ipma", struct.pack(">I", 3) + bytes([0, 1, 2, 0x82, 0x83, 0, 2, 1, 0x81, 0, 3, 1, 0x84]))
    meta = _full_box(b"meta", hdlr + pitm + _box(b"iprp", ipco + ipma))
    return ftyp + meta + _box(b"mdat", b"\0" * 64)


@pytest.mark.parametrize("brand", [b"heic", b"mif1", b"avif"])
def test_heif_takes_the_primary_items_ispe(brand: bytes) -> None:
    # The primary item's size, not the first (a tile) nor the last (the thumbnail) ispe in the file.
    assert image_size(_heif(brand, primary=1)) == (4032, 3024)
    assert image_size(_heif(brand, primary=3)) == (320, 240)


def test_image_size_rejects_unknown_and_truncated() -> None:
    png = _pil("PNG")
    assert image_size(png[:20]) is None  # IHDR cut off
    assert image_size(b"\xff\xd8\xff\xd9") is None  # JPEG with no frame header
    assert image_size(b"GIF89a") is None
    assert image_size(b"RIFF\0\0\0\0WEBPVP8 ") is None
    assert image_size(b"BM" + b"\0" * 40) is None  # header size 0 is not a BMP header
    assert image_size(b"") is None
    assert image_size(b"hello world, not an image") is None
    assert image_size(bytearray(png)) == (317, 211)
    assert image_size(memoryview(png)) == (317, 211)


def test_jpeg_truncated_before_sof() -> None:
    data = _pil("JPEG")
    sof = data.index(b"\xff\xc0")
    assert image_size(data[: sof + 4]) is None
    # SOF: marker(2), length(2), precision(1), height(2), width(2), component count(1).
    assert image_size(data[: sof + 9]) is None  # imagesize reads the component count too
    assert image_size(data[: sof + 10]) == (317, 211)


# ------------------------------------------------------------------------------------------
# PDF


def _pdf(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _pdf_three_pages() -> bytes:
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 4 0 R 5 0 R] /Count 3 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
            b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>",
            b"<< /Type\n/Page /Parent 2 0 R /Resources << /Font << >> >> >>",
        ]
    )


def test_pdf_three_pages() -> None:
    assert pdf_page_count(_pdf_three_pages()) == 3


def test_pdf_counts_leaf_pages_without_count() -> None:
    data = _pdf_three_pages().replace(b"/Count 3", b"        ")
    assert b"/Count" not in data
    assert pdf_page_count(data) == 3


def test_pdf_prefers_root_count_of_a_page_tree() -> None:
    # Root /Count 12 over two intermediate nodes (5 and 7); only two leaves are written out, so the
    # answer can only come from the root's /Count. Outline /Count values are not page counts.
    data = _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Outlines 6 0 R >>",
            b"<< /Kids [3 0 R 4 0 R] /Count 12 /Type /Pages /Resources << /Count 99 >> >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R] /Count 5 >>",
            b"<</Type/Pages/Parent 2 0 R/Kids[7 0 R]/Count 7>>",
            b"<< /Type /Page /Parent 3 0 R >>",
            b"<< /Type /Outlines /Count 40 >>",
            b"<< /Type /Page /Parent 4 0 R >>",
        ]
    )
    assert pdf_page_count(data) == 12


def test_pdf_unknowable_or_not_pdf() -> None:
    # Page tree inside a compressed object stream: nothing to see without inflating, so None.
    compressed = _pdf([b"<< /Type /ObjStm /N 3 /First 12 /Filter /FlateDecode /Length 5 >>\nstream\nxxxxx\nendstream"])
    assert pdf_page_count(compressed) is None
    assert pdf_page_count(b"<< /Type /Pages /Count 3 >>") is None  # no %PDF- header
    assert pdf_page_count(b"") is None


# ------------------------------------------------------------------------------------------
# WAV / AIFF


def _wav_2_5s() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0\0\0" * 20000)  # 20000 frames / 8000 Hz = 2.5 s
    return buf.getvalue()


def test_wav_exact_duration() -> None:
    assert audio_duration(_wav_2_5s()) == 2.5


@pytest.mark.parametrize("placeholder", [0, 0xFFFFFFFF])
def test_wav_placeholder_data_size_uses_remaining_bytes(placeholder: int) -> None:
    data = bytearray(_wav_2_5s())
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", placeholder)
    assert audio_duration(bytes(data)) == 2.5


def test_wav_truncated_data_counts_what_is_there() -> None:
    data = _wav_2_5s()
    assert audio_duration(data[: len(data) - 32000]) == 1.5  # 48000 of 80000 bytes at 32000 B/s


def _riff_chunk(cid: bytes, body: bytes) -> bytes:
    # RIFF chunk: id, size u32 little-endian, body, pad byte to an even length.
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def test_wav_extensible_and_compressed_with_fact() -> None:
    # WAVE_FORMAT_EXTENSIBLE fmt (40 bytes): tag 0xFFFE, channels, rate, byte rate, block align,
    # bits, cbSize 22, valid bits, channel mask, SubFormat GUID (PCM: 01 00 00 00 ...).
    pcm_guid = bytes.fromhex("0100000000001000800000aa00389b71")
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 1, 8000, 8000, 1, 8, 22, 8, 4) + pcm_guid
    data = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + _riff_chunk(b"fmt ", fmt)
    data += _riff_chunk(b"data", b"\x80" * 12000)  # 12000 bytes / 8000 B/s
    assert audio_duration(data) == 1.5
    # IMA ADPCM (0x11): the byte rate is only an average, so the fact chunk's sample count wins.
    adpcm = struct.pack("<HHIIHHHH", 0x11, 1, 11025, 5000, 256, 4, 2, 505)
    data = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + _riff_chunk(b"fmt ", adpcm)
    data += _riff_chunk(b"fact", struct.pack("<I", 22050)) + _riff_chunk(b"data", b"\0" * 1000)
    assert audio_duration(data) == 2.0


def test_rf64_uses_ds64_size() -> None:
    # RF64: RIFF size and data size are 0xFFFFFFFF; ds64 holds riff size u64, data size u64, count u64.
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    ds64 = struct.pack("<QQQ", 0, 48000, 0)
    body = b"\0" * 64000  # more than ds64 says: the declared 48000 bytes win
    data = b"RF64" + b"\xff" * 4 + b"WAVE" + _riff_chunk(b"ds64", ds64) + _riff_chunk(b"fmt ", fmt)
    data += b"data" + b"\xff" * 4 + body
    assert audio_duration(data) == 1.5


def _extended(value: int) -> bytes:
    # IEEE 754 80-bit extended: sign+15-bit exponent (bias 16383), 64-bit mantissa with explicit 1.
    exponent = value.bit_length() - 1
    return struct.pack(">HQ", 16383 + exponent, value << (63 - exponent))


def _form(body: bytes) -> bytes:
    # IFF container: "FORM", size u32 BE of what follows (form type and chunks), then those.
    return b"FORM" + struct.pack(">I", len(body)) + body


def test_aiff_and_aifc() -> None:
    # FORM, size u32 BE, "AIFF"; COMM: channels i16, frames u32, sample size i16, rate (80-bit).
    comm = struct.pack(">hIh", 1, 66150, 16) + _extended(22050)  # 66150 / 22050 = 3 s
    ssnd = struct.pack(">II", 0, 0) + b"\0" * 100
    body = b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm + b"SSND" + struct.pack(">I", len(ssnd)) + ssnd
    assert audio_duration(_form(body)) == 3.0
    # AIFC's COMM adds compression type and a Pascal string name ("\x0enot compressed" + pad).
    comm_c = struct.pack(">hIh", 2, 96000, 16) + _extended(48000) + b"NONE" + b"\x0enot compressed\x00"
    body = b"AIFC" + b"FVER" + struct.pack(">II", 4, 0xA2805140) + b"COMM" + struct.pack(">I", len(comm_c)) + comm_c
    assert audio_duration(_form(body)) == 2.0


# ------------------------------------------------------------------------------------------
# FLAC / Ogg


def _streaminfo(rate: int, channels: int, bits: int, total: int) -> bytes:
    # STREAMINFO (34 bytes): min/max block u16, min/max frame u24, then 64 bits packing
    # rate (20) | channels-1 (3) | bits-1 (5) | total samples (36), then MD5 (16).
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | total
    return struct.pack(">HH", 4096, 4096) + b"\0" * 6 + struct.pack(">Q", packed) + b"\0" * 16


def test_flac_streaminfo() -> None:
    # "fLaC", block header: last-flag|type 0 (1 byte), length u24 = 34, STREAMINFO.
    data = b"fLaC" + b"\x80\x00\x00\x22" + _streaminfo(44100, 2, 16, 441000) + b"\xff\xf8" * 10
    assert audio_duration(data) == 10.0
    assert audio_duration(b"fLaC" + b"\x80\x00\x00\x22" + _streaminfo(44100, 2, 16, 0)) is None
    # An ID3v2 tag before fLaC: "ID3", version 4.0, flags, syncsafe size 20, tag body.
    id3 = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 20]) + b"\0" * 20
    assert audio_duration(id3 + data) == 10.0


def _ogg_page(serial: int, granule: int, seq: int, payload: bytes, header_type: int = 0) -> bytes:
    # "OggS", version 0, header type, granule i64, serial u32, sequence u32, CRC u32 (unchecked),
    # segment count, lacing values (255s then the remainder), payload.
    lacing = [255] * (len(payload) // 255) + [len(payload) % 255]
    head = b"OggS" + bytes([0, header_type]) + struct.pack("<qIII", granule, serial, seq, 0)
    return head + bytes([len(lacing)]) + bytes(lacing) + payload


def test_ogg_vorbis_last_granule() -> None:
    # Vorbis identification header: 0x01 "vorbis", version u32, channels u8, rate u32,
    # bitrate max/nominal/min i32, blocksizes u8, framing u8.
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, 44100, 0, 128000, 0, 0xB8, 1)
    data = _ogg_page(0x1234, 0, 0, ident, header_type=2)
    # Comment header: 0x03 "vorbis", vendor length u32 (0), comment count u32 (0), framing bit 1.
    data += _ogg_page(0x1234, 0, 1, b"\x03vorbis" + struct.pack("<II", 0, 0) + b"\x01")
    data += _ogg_page(0x1234, 88200, 2, b"\x55" * 3000)
    data += _ogg_page(0x1234, -1, 3, b"\x55" * 600)  # no packet ends here: granule -1
    data += _ogg_page(0x1234, 132300, 4, b"\x55" * 500, header_type=4)  # 132300 / 44100 = 3 s
    data += _ogg_page(0x9999, 999999, 0, b"\x80theora" + b"\0" * 50)  # another stream's page
    assert audio_duration(data) == 3.0


def test_ogg_opus_uses_48k_and_pre_skip() -> None:
    # OpusHead: magic, version u8, channels u8, pre-skip u16, input rate u32, gain i16, mapping u8.
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 44100, 0, 0)
    data = _ogg_page(7, 0, 0, head, header_type=2) + _ogg_page(7, 0, 1, b"OpusTags" + b"\0" * 8)
    data += _ogg_page(7, 96000 + 312, 2, b"\x01" * 700, header_type=4)  # 96000 / 48000 = 2 s
    assert audio_duration(data, "audio/ogg; codecs=opus") == 2.0


def test_ogg_flac_and_speex() -> None:
    # Ogg FLAC first packet: 0x7F "FLAC", version 1.0, header count u16, "fLaC", block header, STREAMINFO.
    first = b"\x7fFLAC\x01\x00\x00\x01fLaC\x00\x00\x00\x22" + _streaminfo(16000, 1, 16, 0)
    data = _ogg_page(3, 0, 0, first, header_type=2) + _ogg_page(3, 40000, 1, b"\0" * 100, 4)
    assert audio_duration(data) == 2.5
    # Speex header: "Speex   ", version string (20), version id i32, header size i32, rate i32, ...
    speex = b"Speex   " + b"1.2".ljust(20, b"\0") + struct.pack("<iiii", 1, 80, 8000, 0) + b"\0" * 40
    data = _ogg_page(5, 0, 0, speex, header_type=2) + _ogg_page(5, 12000, 1, b"\0" * 100, 4)
    assert audio_duration(data) == 1.5


# ------------------------------------------------------------------------------------------
# MPEG audio / ADTS


def _frame(header: bytes, length: int, body: bytes = b"") -> bytes:
    return header + body + b"\0" * (length - len(header) - len(body))


# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo: FF FB (sync, MPEG-1, layer III, no CRC),
# 90 (bitrate index 9 = 128, rate index 0, no padding), 00. Length 144*128000/44100 = 417 bytes.
_MP3_HEADER = b"\xff\xfb\x90\x00"
_MP3_FRAME_LEN = 417


def test_mp3_cbr_estimate_after_id3_and_before_id3v1() -> None:
    id3 = b"ID3\x03\x00\x00" + bytes([0, 0, 1, 0]) + b"\0" * 128  # syncsafe size 0x80 = 128
    frames = _frame(_MP3_HEADER, _MP3_FRAME_LEN) * 100
    id3v1 = b"TAG" + b"\0" * 125
    # 41700 audio bytes * 8 / 128000 bit/s = 2.60625 s; the tags are not audio.
    assert audio_duration(id3 + frames + id3v1) == pytest.approx(2.60625)
    assert audio_duration(frames, "audio/mpeg") == pytest.approx(2.60625)


def test_mp3_xing_frame_count_mono() -> None:
    # Mono (channel mode 3 in the top bits of byte 3): side info 17 bytes, so "Xing" at offset 21;
    # flags u32 (1 = frame count present), frames u32.
    header = b"\xff\xfb\x90\xc0"
    xing = b"\0" * 17 + b"Xing" + struct.pack(">II", 0x0F, 1000)
    data = _frame(header, _MP3_FRAME_LEN, xing) + _frame(header, _MP3_FRAME_LEN) * 3
    assert audio_duration(data) == pytest.approx(1000 * 1152 / 44100)


def test_mp3_info_tag_and_vbri() -> None:
    info = b"\0" * 32 + b"Info" + struct.pack(">II", 0x01, 250)  # stereo: side info 32
    data = _frame(_MP3_HEADER, _MP3_FRAME_LEN, info) + _frame(_MP3_HEADER, _MP3_FRAME_LEN)
    assert audio_duration(data) == pytest.approx(250 * 1152 / 44100)
    # VBRI at 32 bytes after the header: "VBRI", version u16, delay u16, quality u16, bytes u32,
    # frames u32, then the TOC's entry count u16, scale u16, entry size u16 and frames per entry u16.
    vbri = b"\0" * 32 + b"VBRI" + struct.pack(">HHHIIHHHH", 1, 0, 75, 100000, 500, 0, 1, 2, 1)
    data = _frame(_MP3_HEADER, _MP3_FRAME_LEN, vbri) + _frame(_MP3_HEADER, _MP3_FRAME_LEN)
    assert audio_duration(data) == pytest.approx(500 * 1152 / 44100)


def test_mpeg2_layer3_and_mpeg1_layer2_cbr() -> None:
    # MPEG-2 Layer III: FF F3, 80 = 64 kbit/s (LSF table index 8) at 22050 Hz; 72*64000/22050 = 208.
    mpeg2 = _frame(b"\xff\xf3\x80\x00", 208) * 50
    assert audio_duration(mpeg2) == pytest.approx(50 * 208 * 8 / 64000)
    # MPEG-1 Layer II: FF FD, B4 = 224 kbit/s, 48 kHz; 144*224000/48000 = 672 bytes = 1152 samples.
    layer2 = _frame(b"\xff\xfd\xb4\x00", 672) * 20
    assert audio_duration(layer2) == pytest.approx(20 * 1152 / 48000)


def test_mp3_sync_search_only_with_hint_or_tag() -> None:
    data = b"\x00" * 100 + _frame(_MP3_HEADER, _MP3_FRAME_LEN) * 10
    assert audio_duration(data, "audio/mpeg") == pytest.approx(10 * 417 * 8 / 128000)
    assert audio_duration(data, "audio/wav") is None
    assert video_duration(data, "video/mpeg") is None  # a program stream must not be read as audio
    # A lone sync word followed by a contradicting header is not trusted.
    assert audio_duration(_MP3_HEADER + b"\0" * 413 + b"\xff\xf3\x80\x00" + b"\0" * 500) is None


def test_adts_aac_frame_walk() -> None:
    # ADTS header (7 bytes, no CRC): FF F1; profile LC(1)<<6 | rate index 4 (44.1 kHz)<<2 | ch>>2;
    # then channel config, 13-bit frame length, buffer fullness 0x7FF, raw blocks - 1 = 0.
    length = 100
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (4 << 2) | 0,
            (2 << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    data = _frame(header, length) * 43
    assert audio_duration(data, "audio/aac") == pytest.approx(43 * 1024 / 44100)


def test_adts_long_stream_is_extrapolated_after_the_walk_cap() -> None:
    # 250000 minimal 7-byte frames at 8 kHz (rate index 11): more than the walk cap, so the tail is
    # extrapolated from bytes per frame, which is exact for equal-length frames: 250000*1024/8000 s.
    header = bytes([0xFF, 0xF1, (1 << 6) | (11 << 2), 2 << 6, 7 >> 3, ((7 & 7) << 5) | 0x1F, 0xFC])
    assert audio_duration(header * 250_000) == 32000.0


# ------------------------------------------------------------------------------------------
# MP4 / MOV


def _mvhd_v0(timescale: int, duration: int) -> bytes:
    # mvhd v0: version/flags, creation u32, modification u32, timescale u32, duration u32, rest.
    return _full_box(b"mvhd", struct.pack(">IIII", 0, 0, timescale, duration) + b"\0" * 80)


def _mvhd_v1(timescale: int, duration: int) -> bytes:
    # mvhd v1: creation u64, modification u64, timescale u32, duration u64, rest.
    return _full_box(b"mvhd", struct.pack(">QQIQ", 0, 0, timescale, duration) + b"\0" * 80, version=1)


def test_m4a_mvhd_v0_after_mdat() -> None:
    data = _box(b"ftyp", b"M4A \0\0\0\0M4A mp42") + _box(b"mdat", b"\0" * 1000)
    data += _box(b"moov", _mvhd_v0(44100, 44100 * 5))
    assert audio_duration(data, "audio/mp4") == 5.0
    assert video_duration(data) == 5.0


def test_mp4_v1_with_64bit_box_and_size_zero() -> None:
    # A 64-bit size box: size field 1, type, largesize u64 (header 16 bytes).
    big_free = struct.pack(">I", 1) + b"free" + struct.pack(">Q", 16 + 32) + b"\0" * 32
    moov = _box(b"moov", _box(b"udta", b"\0" * 10) + _mvhd_v1(90000, 90000 * 3600 + 45000))
    mdat_to_end = struct.pack(">I", 0) + b"mdat" + b"\0" * 500  # size 0 = runs to end of file
    data = _box(b"ftyp", b"isom\0\0\0\0isom") + big_free + moov + mdat_to_end
    assert video_duration(data, "video/mp4") == 3600.5


def test_mp4_fragmented_uses_mehd_then_mdhd() -> None:
    # Fragmented: mvhd duration 0; mvex/mehd v0 holds fragment_duration u32 in mvhd's timescale.
    mehd = _full_box(b"mehd", struct.pack(">I", 12000))
    moov = _box(b"moov", _mvhd_v0(1000, 0) + _box(b"mvex", mehd))
    data = _box(b"ftyp", b"iso6\0\0\0\0") + moov + _box(b"moof", b"\0" * 16)
    assert video_duration(data) == 12.0

    # No mehd: the longest track's mdhd (same layout as mvhd) decides.
    def trak(timescale: int, duration: int) -> bytes:
        mdhd = _full_box(b"mdhd", struct.pack(">IIII", 0, 0, timescale, duration) + b"\0" * 4)
        return _box(b"trak", _box(b"tkhd", b"\0" * 84) + _box(b"mdia", mdhd))

    moov = _box(b"moov", _mvhd_v0(600, 0) + trak(48000, 48000 * 7) + trak(30000, 30000 * 8))
    assert video_duration(_box(b"ftyp", b"qt  \0\0\0\0") + moov, "video/quicktime") == 8.0


def test_mp4_truncated_or_missing_moov() -> None:
    data = _box(b"ftyp", b"isom\0\0\0\0") + struct.pack(">I", 10_000_000) + b"mdat" + b"\0" * 100
    assert video_duration(data) is None
    # A box that claims the maximum 64-bit size is clipped, not followed.
    huge = _box(b"ftyp", b"isom\0\0\0\0") + struct.pack(">I", 1) + b"moov" + b"\xff" * 8 + b"\0" * 40
    assert video_duration(huge) is None


# ------------------------------------------------------------------------------------------
# WebM / Matroska


def _el(eid: int, payload: bytes, long_size: bool = False) -> bytes:
    # EBML element: ID with its length-marker bits kept, size as a VINT (1 byte: 0x80|n, or
    # 8 bytes: 0x01 + 7-byte big-endian), payload.
    size = (
        b"\x01" + len(payload).to_bytes(7, "big") if long_size or len(payload) > 126 else bytes([0x80 | len(payload)])
    )
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + size + payload


_EBML_HEADER = _el(0x1A45DFA3, _el(0x4286, b"\x01") + _el(0x4282, b"webm") + _el(0x4287, b"\x04"))
_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def test_webm_duration_double_with_scale() -> None:
    info = _el(0x2AD7B1, (1_000_000).to_bytes(3, "big")) + _el(0x4489, struct.pack(">d", 12345.0))
    info += _el(0x4D80, b"muxer")
    segment = _el(0x114D9B74, b"\0" * 20, long_size=True) + _el(0x1549A966, info)
    segment += _el(0x1F43B675, _el(0xE7, b"\x00") + _el(0xA3, b"\x81\x00\x00\x80" + b"\0" * 200))
    data = _EBML_HEADER + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + segment
    assert video_duration(data, "video/webm") == pytest.approx(12.345)


def test_matroska_float32_duration_default_scale() -> None:
    # Duration as a 4-byte float in ticks of the default TimecodeScale (1 ms).
    segment = _el(0x1549A966, _el(0x4489, struct.pack(">f", 2500.0)))
    data = _EBML_HEADER + _el(0x18538067, segment, long_size=True)
    assert audio_duration(data, "audio/webm") == 2.5
    # A custom TimecodeScale of 100 µs: 2500 ticks = 0.25 s.
    segment = _el(0x1549A966, _el(0x4489, struct.pack(">f", 2500.0)) + _el(0x2AD7B1, (100_000).to_bytes(3, "big")))
    assert video_duration(_EBML_HEADER + _el(0x18538067, segment)) == 0.25


def test_webm_without_duration_uses_last_cluster() -> None:
    # Browser MediaRecorder style: unknown-size Segment and Clusters, no Duration in Info.
    # Last cluster: Timecode 5000 ms; SimpleBlock (track vint 0x81, relative time i16, flags) at
    # +120 ms; BlockGroup with Block at +100 and BlockDuration 40 ends at +140: total 5.14 s.
    info = _el(0x1549A966, _el(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    first = b"\x1f\x43\xb6\x75" + _UNKNOWN_SIZE + _el(0xE7, b"\x00")
    first += _el(0xA3, b"\x81" + struct.pack(">h", 0) + b"\x80" + b"\0" * 30)
    last = b"\x1f\x43\xb6\x75" + _UNKNOWN_SIZE + _el(0xE7, (5000).to_bytes(2, "big"))
    last += _el(0xA3, b"\x81" + struct.pack(">h", 120) + b"\x80" + b"\0" * 30)
    last += _el(0xA0, _el(0xA1, b"\x82" + struct.pack(">h", 100) + b"\x00" + b"\0" * 10) + _el(0x9B, b"\x28"))
    data = _EBML_HEADER + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + info + first + last
    assert video_duration(data, "video/webm") == pytest.approx(5.14)


# ------------------------------------------------------------------------------------------
# AVI / ASF / FLV


def test_avi_main_header() -> None:
    # avih (56 bytes): µs per frame, max bytes/s, padding, flags, total frames, initial frames,
    # streams, suggested buffer, width, height, reserved[4].
    avih = struct.pack("<14I", 40000, 0, 0, 0, 250, 0, 1, 0, 320, 240, 0, 0, 0, 0)
    hdrl = b"hdrl" + _riff_chunk(b"avih", avih)
    data = b"RIFF" + struct.pack("<I", 0) + b"AVI " + _riff_chunk(b"LIST", hdrl) + _riff_chunk(b"JUNK", b"\0" * 10)
    assert video_duration(data, "video/x-msvideo") == 10.0  # 250 frames * 40 ms
    # OpenDML: LIST odml / dmlh total frames overrides avih's first-RIFF count.
    odml = _riff_chunk(b"LIST", b"odml" + _riff_chunk(b"dmlh", struct.pack("<I", 1000) + b"\0" * 244))
    data = b"RIFF" + struct.pack("<I", 0) + b"AVI " + _riff_chunk(b"LIST", hdrl + odml)
    assert video_duration(data) == 40.0


def _asf(play_100ns: int, preroll_ms: int) -> bytes:
    header_guid = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
    props_guid = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")
    other_guid = bytes.fromhex("b503bf5f2ea9cf118ee300c00c205365")  # header extension, skipped
    other = other_guid + struct.pack("<Q", 46) + b"\0" * 22
    # File Properties: GUID, size u64 (104), file id GUID, file size, creation date, packet count,
    # play duration (100 ns), send duration, preroll (ms), flags, min/max packet, max bitrate.
    props = props_guid + struct.pack("<Q", 104) + b"\0" * 16 + struct.pack("<QQQ", 0, 0, 0)
    props += struct.pack("<QQQIIII", play_100ns, 0, preroll_ms, 2, 0, 0, 0)
    return header_guid + struct.pack("<QIBB", 30 + len(other) + len(props), 2, 1, 2) + other + props


def test_asf_file_properties() -> None:
    assert video_duration(_asf(105_000_000, 3000), "video/x-ms-wmv") == 7.5  # 10.5 s play - 3 s preroll
    assert audio_duration(_asf(105_000_000, 3000), "audio/x-ms-wma") == 7.5


def test_flv_onmetadata_duration() -> None:
    # FLV header: "FLV", version 1, flags 5, header size u32 9; PreviousTagSize0 u32; script tag:
    # type 18, data size u24, timestamp u24 + ext u8, stream id u24; AMF0 "onMetaData" string,
    # ECMA array (0x08, count u32), key "duration" (u16 length), number marker 0x00, double BE.
    amf = b"\x02\x00\x0aonMetaData\x08" + struct.pack(">I", 2)
    amf += b"\x00\x05width\x00" + struct.pack(">d", 640.0)
    amf += b"\x00\x08duration\x00" + struct.pack(">d", 33.25) + b"\x00\x00\x09"
    tag = bytes([18]) + len(amf).to_bytes(3, "big") + b"\0" * 7 + amf
    data = b"FLV\x01\x05" + struct.pack(">I", 9) + b"\0" * 4 + tag
    assert video_duration(data, "video/x-flv") == 33.25


# ------------------------------------------------------------------------------------------
# robustness


def test_hostile_sizes_return_none() -> None:
    assert audio_duration(b"RIFF\xff\xff\xff\xffWAVEfmt \xff\xff\xff\xff") is None
    assert audio_duration(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f") is None
    assert video_duration(b"\x1a\x45\xdf\xa3" + b"\x01" + b"\xff" * 7 + b"\x18\x53\x80\x67\x01") is None
    assert image_size(b"\xff\xd8" + b"\xff" * 100_000) is None  # all fill bytes, no marker
    assert image_size(b"\xff\xd8\xff\xda\x00\x02" + b"\xff\x00" * 50_000) is None  # endless scan
    assert image_size(b"II*\x00\xff\xff\xff\xff") is None
    assert audio_duration(b"OggS" + b"\0" * 40) is None
    assert video_duration(b"\0\0\0\x08ftyp" + b"\0\0\0\x01moov" + b"\xff" * 8) is None
    assert audio_duration(b"FORM\0\0\0\x20AIFFCOMM\0\0\0\x12" + b"\xff" * 18) is None
    assert audio_duration(b"wrong type", 12) is None  # type: ignore[arg-type]
    assert image_size("not bytes") is None  # type: ignore[arg-type]


_MAGICS = [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xc0",
    b"GIF89a",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"RIFF\x00\x00\x00\x00WEBPVP8L",
    b"RIFF\x00\x00\x00\x00WEBPVP8X",
    b"RIFF\x00\x00\x00\x00WAVEfmt ",
    b"RIFF\x00\x00\x00\x00AVI LIST",
    b"RF64\xff\xff\xff\xffWAVEds64",
    b"BM\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x28\x00\x00\x00",
    b"II*\x00",
    b"MM\x00*",
    b"II+\x00\x08\x00\x00\x00",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00\x00\x00\x18ftypisom",
    b"%PDF-1.7\n",
    b"FORM\x00\x00\x00\x00AIFFCOMM",
    b"fLaC\x00\x00\x00\x22",
    b"OggS\x00\x02",
    b"ID3\x04\x00\x00",
    b"\xff\xfb\x90\x00",
    b"\xff\xf1\x50\x80",
    b"\x1a\x45\xdf\xa3",
    bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c"),
    b"FLV\x01\x05\x00\x00\x00\x09",
]
_MIMES = st.sampled_from(
    [
        "image/png",
        "image/jpeg",
        "audio/mpeg",
        "audio/wav",
        "audio/aac",
        "video/mp4",
        "video/webm",
        "application/pdf",
        "text/plain",
        "",
        "IMAGE/HEIC; x=1",
    ]
) | st.text(max_size=30)


def _check_facts(mime: str, data: bytes) -> None:
    facts = probe(mime, data)
    assert isinstance(facts, MediaFacts)
    assert facts.kind == media_kind(mime)
    if facts.width is not None:
        assert facts.width > 0 and facts.height is not None and facts.height > 0
    if facts.duration_s is not None:
        assert facts.duration_s >= 0
    # The readers themselves never raise either.
    image_size(data)
    pdf_page_count(data)
    audio_duration(data, mime)
    video_duration(data, mime)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600), mime=_MIMES)
def test_probe_never_raises_on_random_bytes(data: bytes, mime: str) -> None:
    _check_facts(mime, data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(magic=st.sampled_from(_MAGICS), tail=st.binary(max_size=400), mime=_MIMES)
def test_probe_never_raises_on_random_bytes_after_magic(magic: bytes, tail: bytes, mime: str) -> None:
    _check_facts(mime, magic + tail)


# ------------------------------------------------------------------------------------------
# truncated and corrupt files: unknown, never wrong, never an exception


def _samples() -> list[tuple[str, str, bytes, object]]:
    """(name, MIME type, bytes, expected figure) of one well-formed file per format."""
    jpeg_exif = Image.Exif()
    jpeg_exif[0x010E] = "x" * 3000
    opus_head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)
    opus = _ogg_page(7, 0, 0, opus_head, header_type=2) + _ogg_page(7, 0, 1, b"OpusTags" + b"\0" * 8)
    opus += b"".join(_ogg_page(7, 48000 * k + 312, 1 + k, b"\x01" * 700) for k in range(1, 4))
    vorbis_ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, 44100, 0, 128000, 0, 0xB8, 1)
    vorbis = _ogg_page(9, 0, 0, vorbis_ident, header_type=2)
    vorbis += _ogg_page(9, 0, 1, b"\x03vorbis" + struct.pack("<II", 0, 0) + b"\x01")
    vorbis += b"".join(_ogg_page(9, 44100 * k, 1 + k, b"\x55" * 900) for k in range(1, 5))
    xing = b"\0" * 32 + b"Xing" + struct.pack(">II", 0x01, 300)
    adts = bytes([0xFF, 0xF1, (1 << 6) | (4 << 2), (2 << 6), 100 >> 3, ((100 & 7) << 5) | 0x1F, 0xFC])
    comm = struct.pack(">hIh", 1, 66150, 16) + _extended(22050)
    aiff = _form(
        b"AIFF" + b"COMM" + struct.pack(">I", len(comm)) + comm + b"SSND" + struct.pack(">I", 108) + b"\0" * 108
    )
    m4a = (
        _box(b"ftyp", b"M4A \0\0\0\0M4A mp42") + _box(b"moov", _mvhd_v0(44100, 44100 * 5)) + _box(b"mdat", b"\0" * 500)
    )
    webm_info = _el(0x1549A966, _el(0x2AD7B1, (1_000_000).to_bytes(3, "big")) + _el(0x4489, struct.pack(">d", 4000.0)))
    webm = _EBML_HEADER + _el(0x18538067, webm_info + _el(0x1F43B675, _el(0xE7, b"\x00") + b"\0" * 50))
    return [
        ("png", "image/png", _pil("PNG"), (317, 211)),
        ("jpeg", "image/jpeg", _pil("JPEG", exif=jpeg_exif.tobytes()), (317, 211)),
        ("jpeg-progressive", "image/jpeg", _pil("JPEG", progressive=True), (317, 211)),
        ("gif", "image/gif", _pil("GIF"), (317, 211)),
        ("webp-lossy", "image/webp", _pil("WEBP", quality=80), (317, 211)),
        ("webp-lossless", "image/webp", _pil("WEBP", lossless=True), (317, 211)),
        ("bmp", "image/bmp", _pil("BMP"), (317, 211)),
        ("tiff", "image/tiff", _pil("TIFF"), (317, 211)),
        ("heic", "image/heic", _heif(b"heic", primary=1), (4032, 3024)),
        ("pdf", "application/pdf", _pdf_three_pages(), 3),
        ("wav", "audio/wav", _wav_2_5s(), 2.5),
        ("aiff", "audio/aiff", aiff, 3.0),
        ("flac", "audio/flac", b"fLaC\x80\x00\x00\x22" + _streaminfo(44100, 2, 16, 441000) + b"\xff\xf8" * 10, 10.0),
        ("opus", "audio/ogg", opus, 3.0),
        ("vorbis", "audio/ogg", vorbis, 4.0),
        ("mp3-cbr", "audio/mpeg", _frame(_MP3_HEADER, _MP3_FRAME_LEN) * 40, 40 * 417 * 8 / 128000),
        ("mp3-xing", "audio/mpeg", _frame(_MP3_HEADER, _MP3_FRAME_LEN, xing) * 5, 300 * 1152 / 44100),
        ("adts", "audio/aac", _frame(adts, 100) * 30, 30 * 1024 / 44100),
        ("m4a", "audio/mp4", m4a, 5.0),
        ("asf", "audio/x-ms-wma", _asf(105_000_000, 3000), 7.5),
        ("webm", "video/webm", webm, 4.0),
    ]


_SAMPLES = _samples()
_SAMPLE_IDS = [name for name, *_ in _SAMPLES]


def _figure(facts: MediaFacts) -> object:
    if facts.kind == "image":
        return None if facts.width is None else (facts.width, facts.height)
    return facts.pages if facts.kind == "pdf" else facts.duration_s


@pytest.mark.parametrize(("name", "mime", "data", "expected"), _SAMPLES, ids=_SAMPLE_IDS)
def test_samples_are_read_whole(name: str, mime: str, data: bytes, expected: object) -> None:
    assert _figure(probe(mime, data)) == pytest.approx(expected)


@settings(max_examples=400, deadline=None)
@given(sample=st.sampled_from(_SAMPLES), cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_file_gives_unknown_or_no_more_than_the_whole(
    sample: tuple[str, str, bytes, object], cut: float
) -> None:
    _name, mime, data, expected = sample
    facts = probe(mime, data[: int(len(data) * cut)])
    figure = _figure(facts)
    if figure is None:
        return
    if facts.kind == "image" or facts.kind == "pdf":
        assert figure == expected  # a header is read whole or not at all
    else:
        # Headers that state the length give it; otherwise the audio present is counted.
        assert isinstance(figure, float) and isinstance(expected, float)
        assert 0.0 <= figure <= expected + 1e-9


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(_SAMPLES),
    edits=st.lists(st.tuples(st.floats(min_value=0.0, max_value=1.0), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupt_bytes_never_raise(sample: tuple[str, str, bytes, object], edits: list[tuple[float, int]]) -> None:
    _name, mime, data, _expected = sample
    buf = bytearray(data)
    for where, value in edits:
        buf[min(int(where * len(buf)), len(buf) - 1)] = value
    _check_facts(mime, bytes(buf))


def test_header_cut_short_gives_unknown() -> None:
    flac = b"fLaC\x80\x00\x00\x22" + _streaminfo(44100, 2, 16, 441000)
    assert audio_duration(flac[:30]) is None  # STREAMINFO cut
    opus_head = b"OpusHead" + struct.pack("<BBHIhB", 1, 2, 312, 48000, 0, 0)
    assert audio_duration(_ogg_page(7, 0, 0, opus_head, header_type=2)[:30]) is None
    # Only the header pages: no granule position says how long the stream is.
    assert (
        audio_duration(_ogg_page(7, 0, 0, opus_head, header_type=2) + _ogg_page(7, 0, 1, b"OpusTags" + b"\0" * 8))
        is None
    )
    assert audio_duration(_asf(105_000_000, 3000)[:60]) is None  # File Properties object cut
    assert audio_duration(_form(b"AIFF" + b"COMM" + struct.pack(">I", 18) + b"\0" * 6)) is None
    heic = _heif(b"heic", primary=1)
    assert image_size(heic[: heic.index(b"ispe") + 6]) is None
    webp = _pil("WEBP", lossless=True)
    assert image_size(webp[:22]) is None


def test_image_types_gemini_does_not_take_stay_unknown() -> None:
    # imagesize reads these too; they were unknown before and stay so (no float sizes from SVG text).
    assert image_size(b'<svg xmlns="http://www.w3.org/2000/svg" width="10.5" height="20"></svg>') is None
    assert image_size(b"P6\n640 480\n255\n" + b"\0" * 30) is None
    assert image_size(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 60) is None


def test_gif_wider_than_a_signed_short_is_unknown_not_negative() -> None:
    # imagesize reads GIF sizes as signed 16-bit numbers; a width over 32767 must not come out negative.
    gif = b"GIF89a" + struct.pack("<HH", 40000, 10) + b"\0" * 20
    assert image_size(gif) is None
    assert image_size(b"GIF89a" + struct.pack("<HH", 32767, 10) + b"\0" * 20) == (32767, 10)


def test_libraries_load_only_when_media_is_read() -> None:
    # A scan of text never pays for imagesize (which pulls in urllib and xml) or mutagen.
    import subprocess
    import sys

    code = "import sys, batchcost.batchfile.media; print(sorted({'imagesize', 'mutagen'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_scan_leaves_corrupt_inline_media_unknown(tmp_path: Path) -> None:
    import base64
    import json

    from batchcost.batchfile import scan

    png = _pil("PNG")
    parts = [
        ("image/png", png[:20]),  # IHDR cut off
        ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF" + b"\0" * 50),  # no frame header
        ("audio/mpeg", b"\xff\xfb" + bytes(range(256)) * 4),  # one sync word, then noise
        ("audio/flac", b"fLaC\x80\x00\x00\x22" + b"\0" * 10),  # STREAMINFO cut
        ("audio/ogg", b"OggS" + b"\0" * 40),
        ("image/png", png),
    ]
    request = {
        "contents": [
            {
                "role": "user",
                "parts": [{"inlineData": {"mimeType": m, "data": base64.b64encode(d).decode()}} for m, d in parts],
            }
        ]
    }
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"key": "a", "request": request}) + "\n")
    result = scan(path)
    assert result.valid(), result.problems  # an unreadable header is not a problem in the request
    media = result.media
    assert media["width"].tolist() == [-1, -1, -1, -1, -1, 317]
    assert media["height"].tolist() == [-1, -1, -1, -1, -1, 211]
    assert media["duration_s"].tolist() == [-1.0] * 6


def test_pdf_cut_at_every_byte_never_gives_a_wrong_page_count() -> None:
    # a cut right after "/Page" of "/Pages" once read as a one-page PDF (found by the property test)
    for _name, mime, data, expected in _SAMPLES:
        if mime != "application/pdf":
            continue
        for n in range(len(data) + 1):
            assert _figure(probe(mime, data[:n])) in (None, expected), n
