"""Exact cuts of a long text for the Gemma 3 tokenizer: the places no token spans, read from the model.

A long text is encoded in pieces (faster, and spread over threads), and a piece's count must add up
exactly: the notes below say why a cut is exact, :func:`derive_cut_rules` reads the rules from the
model (cached per model by :func:`cached_cut_rules`), and :func:`split_long` cuts a text by them.
:class:`~.gemma3.LocalCounter` and word counting (:mod:`.words`) rely on them.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .gemma3_model import default_cache_dir, read_bytes, write_cache

if TYPE_CHECKING:
    pass


# Long texts are cut into pieces of at least CHUNK_CHARS that are encoded separately (SentencePiece's
# BPE is slower per character on one long string than on many short ones, superlinearly so: 1 MB of
# base64 in one piece encodes at 2.1 MB/s, 50 MB at 1.1 MB/s; short pieces also spread over threads).
# A cut must be exact: count(a + b) == count(a) + count(b). Why the cuts below are, from SentencePiece's
# BPE encoder (bpe_model.cc) on a model with an identity normalizer (Gemma 3: no charsmap, no dummy
# prefix, " " escaped as "▁", nothing else changed; derive_cut_rules checks this and cuts nothing otherwise):
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
# The first free place at or after every CHUNK_CHARS is the cut; a text with none (a long periodic
# string such as "abab...") stays whole. tests/tokens/test_exact_cuts.py compares the ids of the pieces
# with the ids of the uncut text on the golden texts, on random texts of every kind, and for every run
# rule of the model at the limit of its margin (with a margin of 1 instead, cuts are not exact).
LONG_CHARS = 4096
CHUNK_CHARS = 2048
_PROBE_CHARS = 64  # places tried one by one before the vectorized search
_SCAN_CHARS = 1 << 16  # characters per vectorized search block
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _codes(text: str, *, normalize: bool) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """The code points of ``text``; normalized as the encoder sees them: " " as "▁", a lone surrogate as U+FFFD."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(np.uint64)
    if normalize:
        codes[codes == 0x20] = 0x2581
        codes[(codes >= 0xD800) & (codes <= 0xDFFF)] = 0xFFFD
    return codes


@dataclass(frozen=True, eq=False)
class CutRules:
    """Where a long text may be cut exactly, derived from the model (see the notes above ``LONG_CHARS``).

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
    """``text`` as the encoder sees it: a space as "▁", a lone surrogate as U+FFFD (see replace_lone_surrogates)."""
    text = text.replace(" ", "\u2581")
    return text if text.isascii() else replace_lone_surrogates(text)


def derive_cut_rules(data: bytes) -> CutRules:
    """Derive the exact cut rules from a serialized model (none if its encoder is not the one reasoned on)."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    none = CutRules(frozenset(), np.zeros(0, dtype=np.uint64), {}, {}, enabled=False)
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
    return CutRules(pairs, keys, user_spans, runs)


# Bump when derive_cut_rules derives something else: a cache of the old rules is then not read.
_RULES_FORMAT = 1


def _rules_to_json(rules: CutRules) -> bytes:
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


def _rules_from_json(blob: bytes) -> CutRules | None:
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
        return CutRules(pairs, keys, spans, runs, enabled=bool(doc["enabled"]))
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def cached_cut_rules(data: bytes, cache_dir: Path | None = None) -> CutRules:
    """The cut rules of the serialized model ``data``: read from the cache folder, or derived and written there.

    A cache that cannot be read or written only costs the derivation; the file is named by the model's
    SHA-256 and the rules' format, so another model or a newer batchcost never reads it.
    """
    name = f"gemma3-cut-rules-v{_RULES_FORMAT}-{hashlib.sha256(data).hexdigest()[:32]}.json"
    cache_file = (cache_dir if cache_dir is not None else default_cache_dir()) / name
    with contextlib.suppress(OSError):
        rules = _rules_from_json(read_bytes(cache_file))
        if rules is not None:
            return rules
    rules = derive_cut_rules(data)
    write_cache(cache_file, _rules_to_json(rules))
    return rules


def split_long(text: str, rules: CutRules) -> Iterator[str]:
    """Cut ``text`` at the first exact place at or after every ``CHUNK_CHARS`` characters (see above).

    Texts of at most ``LONG_CHARS`` characters, and the rest of a text with no exact place, stay whole.
    Each search starts where the last cut was and reads ahead only until it finds a place: linear time.
    """
    start = 0
    end = len(text)
    while end - start > LONG_CHARS:
        cut = rules.next_cut(text, start, start + CHUNK_CHARS)
        if cut is None:
            break
        yield text[start:cut]
        start = cut
    yield text[start:] if start else text


def replace_lone_surrogates(text: str) -> str:
    # A lone surrogate (possible from a JSON "\ud800" escape) has no UTF-8 form; count it as U+FFFD.
    return _LONE_SURROGATE.sub("\ufffd", text)
