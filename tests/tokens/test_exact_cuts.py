"""Long texts are cut into pieces whose counts add up exactly, in linear time (batchcost.tokens.gemma3).

Every test compares against SentencePiece on the uncut text: the ids of the pieces, joined, must be the
ids of the whole text. Texts are kept small enough (up to a few hundred KB) to encode uncut.
"""

from __future__ import annotations

import base64
import itertools
import random
import re
from typing import Any

import pytest
import sentencepiece as spm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sentencepiece import sentencepiece_model_pb2 as pb

from batchcost.tokens import cuts, gemma3
from batchcost.tokens.cuts import CHUNK_CHARS, LONG_CHARS, CutRules, derive_cut_rules
from batchcost.tokens.gemma3 import LocalCounter, ModelSource
from tests.golden import golden_records


@pytest.fixture(scope="module")
def processor(gemma3_model_bytes: bytes) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_proto=gemma3_model_bytes)


@pytest.fixture(scope="module")
def rules(gemma3_counter: LocalCounter) -> CutRules:
    return gemma3_counter._cut_rules()


def _pieces(text: str, rules: CutRules) -> list[str]:
    return list(cuts.split_long(text, rules))


def _assert_exact(processor: spm.SentencePieceProcessor, rules: CutRules, text: str) -> list[str]:
    """Cut ``text``; the pieces must rebuild it, be long enough, and encode to the ids of the whole."""
    pieces = _pieces(text, rules)
    assert "".join(pieces) == text
    assert all(len(piece) >= CHUNK_CHARS for piece in pieces[:-1])
    joined = list(itertools.chain.from_iterable(processor.encode(pieces)))
    assert joined == processor.encode(text), f"cut at {list(itertools.accumulate(map(len, pieces)))[:-1]}"
    return pieces


def _golden_texts() -> list[str]:
    return [str(record["text"]) for record in golden_records() if record["category"] != "edge"]


# --- the rules derived from the model ------------------------------------------------------------------


def test_newline_runs_are_the_only_pieces_holding_a_newline(gemma3_model_bytes: bytes) -> None:
    model = pb.ModelProto()
    model.ParseFromString(gemma3_model_bytes)
    with_newline = [piece for piece in model.pieces if "\n" in piece.piece]
    assert sorted(len(piece.piece) for piece in with_newline) == list(range(1, 32))
    for piece in with_newline:
        assert piece.piece == "\n" * len(piece.piece)
        assert piece.type == pb.ModelProto.SentencePiece.USER_DEFINED


def test_pair_rule_has_the_known_free_places_and_none_inside_pieces(rules: CutRules) -> None:
    # after a newline run, before a space that ends a word, between a digit and a letter or two digits
    for pair in ("\nx", "x\n", "a\n", "x ", ". ", "1a", "a1", "12", "\U0001f642\U0001f44d"):
        assert rules.free_at(pair, 1), pair
    # inside a piece: "ab", whitespace runs, "▁x", and ">▁</", the one piece that spans a space
    for pair in ("ab", "\n\n", "  ", "\t\t", "> ", " <", "aa", " x", "\u2581x"):
        assert not rules.free_at(pair, 1), pair
    assert not rules.free_at("<unused12>", 8)  # "12" only where the user-defined piece is in the text
    assert not rules.free_at("<start_of_turn>", 7)
    assert rules.free_at("x\u2581", 1) is rules.free_at("x ", 1)  # a literal ▁ is the encoder's space
    assert not rules.free_at("\u2581\u2581", 1)
    assert rules.free_at("a\ud800", 1) is rules.free_at("a\ufffd", 1)  # a lone surrogate counts as U+FFFD


def test_run_rules_cover_whitespace_runs_and_the_runs_of_normal_pieces(rules: CutRules) -> None:
    assert rules.enabled
    assert rules.runs["\n"] == rules.runs[" "] == rules.runs["\t"] == (31, 1)  # frozen user-defined runs
    assert rules.runs["a"] == (8, 4 * 31)  # "aa", "aaaa", "aaaaaaaa"; margin (1 + log2 8) * 31
    assert rules.runs["="] == (16, 5 * 31)
    assert len(rules.runs) == 274
    assert "\u4e16" not in rules.runs  # no "世世" piece: every place in a run of it is free by the pair rule


def test_a_model_with_another_normalizer_is_never_cut(gemma3_model_bytes: bytes) -> None:
    model = pb.ModelProto()
    model.ParseFromString(gemma3_model_bytes)
    model.normalizer_spec.add_dummy_prefix = True  # every piece would get a "▁" of its own
    rules = derive_cut_rules(model.SerializeToString())
    assert not rules.enabled
    text = "word " * 3000
    assert _pieces(text, rules) == [text]


# --- exact on real text ----------------------------------------------------------------------------------


def test_long_golden_texts_cut_into_chunks_give_identical_ids(
    processor: spm.SentencePieceProcessor, rules: CutRules, golden: list[dict[str, Any]]
) -> None:
    long_texts = [row["text"] for row in golden if len(row["text"]) > LONG_CHARS]
    assert len(long_texts) >= 100
    cut = sum(len(_assert_exact(processor, rules, text)) > 1 for text in long_texts)
    assert cut == len(long_texts)


@pytest.mark.parametrize("shape", ["one line", "no whitespace", "as is"])
def test_all_golden_texts_joined_give_identical_ids(
    processor: spm.SentencePieceProcessor, rules: CutRules, shape: str
) -> None:
    """2.7 MB of golden text in one string, as one line, without any whitespace, and as it is."""
    texts = _golden_texts()
    random.Random(shape).shuffle(texts)
    text = "".join(texts)
    if shape == "one line":
        text = " ".join(texts).replace("\n", " ")
    elif shape == "no whitespace":
        text = re.sub(r"\s+", "", text)
    pieces = _assert_exact(processor, rules, text)
    assert max(map(len, pieces)) < 4 * CHUNK_CHARS  # a free place comes soon in every kind of text


def test_synthetic_texts_with_long_newline_runs_cut_exactly(
    processor: spm.SentencePieceProcessor, rules: CutRules, gemma3_model_bytes: bytes
) -> None:
    counter = LocalCounter(ModelSource(gemma3_model_bytes, "test"))
    fragments = [text for text in _golden_texts() if 0 < len(text) < 400]
    separators = ["\n", "\n\n", "\r\n", " \n ", "\t\n\t", "\n" * 31, "\n" * 32, "\n" * 75, "  \n\n\n   "]
    rng = random.Random(20261127)
    texts = []
    for _ in range(40):
        parts: list[str] = []
        while sum(map(len, parts)) < 12_000:
            parts.append(rng.choice(fragments))
            parts.append(rng.choice(separators))
        texts.append("".join(parts))
    for text in texts:
        assert len(_assert_exact(processor, rules, text)) > 1
    assert counter.count_texts(texts) == [len(processor.encode(text)) for text in texts]


# --- exact on text without spaces or newlines -----------------------------------------------------------


def _no_space_kinds(rng: random.Random) -> dict[str, str]:
    golden = _golden_texts()
    return {
        "base64": base64.b64encode(rng.randbytes(150_000)).decode(),
        "base64url": base64.urlsafe_b64encode(rng.randbytes(60_000)).decode(),
        "hex": rng.randbytes(60_000).hex(),
        "digits": "".join(rng.choices("0123456789", k=60_000)),
        "cjk random": "".join(chr(rng.randrange(0x4E00, 0x9FFF)) for _ in range(60_000)),
        "cjk golden": re.sub(r"\s+", "", "".join(t for t in golden if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t))),
        "thai-like": "".join(chr(rng.randrange(0x0E01, 0x0E3A)) for _ in range(60_000)),
        "latin": re.sub(r"[^A-Za-z]", "", "".join(golden))[:150_000],
        "emoji": "".join(rng.choices(["\U0001f642", "\U0001f44d\U0001f3fd", "\u2764\ufe0f", "\U0001fae9"], k=20_000)),
    }


@pytest.mark.parametrize("kind", list(_no_space_kinds(random.Random(0))))
def test_text_without_spaces_or_newlines_is_cut_exactly(
    processor: spm.SentencePieceProcessor, rules: CutRules, kind: str
) -> None:
    text = _no_space_kinds(random.Random(7))[kind]
    assert " " not in text and "\n" not in text and len(text) > 20_000
    pieces = _assert_exact(processor, rules, text)
    assert len(pieces) >= len(text) // (4 * CHUNK_CHARS)  # cut every few KB, not left whole


# --- exact inside runs of one character -----------------------------------------------------------------


def _first_run_cut(rules: CutRules, char: str, run_start: int) -> int:
    """Where the run rule cuts a run of ``char`` that starts at ``run_start`` and the piece at 0."""
    block, _ = rules.runs[char]
    lo = CHUNK_CHARS
    return run_start + -(-(lo - run_start) // block) * block


def test_every_run_rule_cuts_exactly_at_its_margin(processor: spm.SentencePieceProcessor, rules: CutRules) -> None:
    """For every character with a run rule: runs that end exactly at, just past and one short of the
    margin after the first aligned cut, at the start of the text and after a free place, followed by
    text that may merge into the run's end (then text enough to make the whole long)."""
    rng = random.Random(11)
    tails = ["", "x", "\n", " end", "b" * 40, "<b>", "12", "\u4e16\u754c", "=", ".", "a"]
    filler = " " + " ".join(_golden_texts()[:20])[:LONG_CHARS]
    checked = 0
    for char, (block, margin) in sorted(rules.runs.items()):
        for lead in ("", "x" if char == "\n" else "\n"):
            run_start = len(lead)
            cut = _first_run_cut(rules, char, run_start)
            for extra in (0, 1, block - 1, -1):
                length = cut - run_start + margin + extra
                tail = rng.choice([t for t in tails if t[:1] != char])
                text = lead + char * length + tail + filler
                pieces = _assert_exact(processor, rules, text)
                if extra >= 0:
                    assert len(pieces[0]) == cut, (char, extra)  # the run rule's own cut, at its limit
                else:
                    assert len(pieces[0]) >= run_start + length, (char, extra)  # not inside the run
                checked += 1
    assert checked == 274 * 2 * 4


@pytest.mark.parametrize("char", ["a", "=", ".", "x", "-", "A", " ", "\n", "\t", "*", "/", "\u2014"])
def test_long_runs_are_cut_every_few_kb_and_stay_exact(
    processor: spm.SentencePieceProcessor, rules: CutRules, char: str
) -> None:
    rng = random.Random(char)
    for _ in range(3):
        lead = rng.choice(["", "\n", "key=", "word ", "\u4e16"])
        text = lead + char * rng.randrange(20_000, 60_000) + rng.choice(["", "z", "\n", char + "b"])
        pieces = _assert_exact(processor, rules, text)
        if lead in ("", "\n"):  # the run starts at a free place: it is cut all along
            assert len(pieces) >= len(text) // (2 * CHUNK_CHARS)


def test_a_run_whose_start_may_merge_with_what_precedes_is_not_cut_inside(
    processor: spm.SentencePieceProcessor, rules: CutRules
) -> None:
    assert not rules.free_at("ba", 1)  # "b" + "aaaa..." may merge at the start and shift the run's blocks
    text = "b" * 3000 + "a" * 30_000
    pieces = _assert_exact(processor, rules, text)
    assert all(not (3000 < boundary < 33_000) for boundary in itertools.accumulate(map(len, pieces)))


def test_periodic_text_with_no_free_place_stays_whole(rules: CutRules) -> None:
    text = "loremipsum" * 1000
    assert not any(rules.free_at(text, place) for place in range(1, 12))
    assert _pieces(text, rules) == [text]
    assert _pieces("a\n" * 2000, rules) == ["a\n" * 2000]  # exactly LONG_CHARS: not cut


# --- the cutter against the rule written plainly -----------------------------------------------------------


def _free_plain(text: str, start: int, place: int, rules: CutRules) -> bool:
    """The rules read literally: a free pair, or an aligned place deep enough in a run with a free start."""
    if rules.free_at(text, place):
        return True
    char = text[place]
    if char not in rules.runs or text[place - 1] != char:
        return False
    block, margin = rules.runs[char]
    run_start = start + len(text[start:place].rstrip(char))
    if run_start > start and not rules.free_at(text, run_start):
        return False
    run_end = len(text) - len(text[place:].lstrip(char))
    return (place - run_start) % block == 0 and place + margin <= run_end


def _split_plain(text: str, rules: CutRules) -> list[str]:
    """Cut at the first free place at or after every CHUNK_CHARS, trying places one by one (slow)."""
    pieces: list[str] = []
    start = 0
    while len(text) - start > LONG_CHARS:
        cut = next(
            (place for place in range(start + CHUNK_CHARS, len(text)) if _free_plain(text, start, place, rules)),
            None,
        )
        if cut is None:
            break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


_ALPHABET = ["word", "x", " ", "  ", ">", "<", "\n", "\n\n", "\u00e9", "\u6f22\u5b57", "1234", "ab", "lorem"]


@pytest.mark.parametrize("seed", range(10))
def test_cuts_equal_the_plain_rule(processor: spm.SentencePieceProcessor, rules: CutRules, seed: int) -> None:
    rng = random.Random(seed)
    weights = [rng.choice([0, 1, 20]) for _ in _ALPHABET]
    weights[-1] += 1
    parts: list[str] = []
    size = rng.randrange(20_000, 50_000)
    while sum(map(len, parts)) < size:
        if rng.random() < 0.02:  # a run, long or short, of a character with a run rule or without
            parts.append(rng.choice(["a", "=", " ", "\n", ".", "b", "\u4e16"]) * rng.randrange(1, 5_000))
        else:
            parts.append(rng.choices(_ALPHABET, weights=weights)[0])
    text = "".join(parts)
    pieces = _pieces(text, rules)
    assert pieces == _split_plain(text, rules)
    assert list(itertools.chain.from_iterable(processor.encode(pieces))) == processor.encode(text)


_FRAGMENTS = st.one_of(
    st.sampled_from(["a", "=", ".", " ", "\n", "\t", "b", "x", "\u4e16", "\u2581"]).flatmap(
        lambda char: st.integers(1, 6_000).map(lambda n: char * n)
    ),
    st.binary(min_size=1, max_size=3_000).map(lambda data: base64.b64encode(data).decode()),
    st.text(min_size=1, max_size=400),
    st.sampled_from(["<b> </b>", "> <", " \n ", "\r\n", "1234", "<start_of_turn>", "\ud800"]),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(_FRAGMENTS, min_size=1, max_size=16))
def test_any_text_is_cut_exactly(gemma3_counter: LocalCounter, parts: list[str]) -> None:
    text = "".join(parts) * 2
    rules = gemma3_counter._cut_rules()
    pieces = _pieces(text, rules)
    assert "".join(pieces) == text
    uncut = gemma3_counter._processor.encode(cuts.replace_lone_surrogates(text))
    assert gemma3_counter.count_texts([text]) == [len(uncut)]


# --- linear time, bounded batches -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["run", "base64", "periodic", "prose"])
def test_the_cut_search_reads_each_character_a_bounded_number_of_times(
    rules: CutRules, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """Counted, not timed: the characters the vectorized search and the run rule read, over a 2 MB line."""
    rng = random.Random(kind)
    size = 2_000_000
    text = {
        "run": "a" * size,
        "base64": base64.b64encode(rng.randbytes(size * 3 // 4)).decode(),
        "periodic": "loremipsum" * (size // 10) + "\nend",  # one free place, at the very end
        "prose": ("the cat sat on the mat; " * (size // 24)),
    }[kind]
    read = [0]
    first_free, run_cut = CutRules.first_free, CutRules.run_cut

    def counting_first_free(self: CutRules, text: str, lo: int, hi: int) -> int | None:
        read[0] += hi - lo
        return first_free(self, text, lo, hi)

    def counting_run_cut(self: CutRules, text: str, start: int, lo: int) -> int | None:
        read[0] += lo - start
        return run_cut(self, text, start, lo)

    monkeypatch.setattr(CutRules, "first_free", counting_first_free)
    monkeypatch.setattr(CutRules, "run_cut", counting_run_cut)
    pieces = _pieces(text, rules)
    assert "".join(pieces) == text
    assert read[0] <= 2 * len(text)
    if kind == "periodic":
        assert len(pieces) == 2 and pieces[1] == "\nend"
    else:
        assert max(map(len, pieces)) <= 2 * CHUNK_CHARS


def test_a_long_text_is_encoded_in_bounded_batches(
    gemma3_counter: LocalCounter, processor: spm.SentencePieceProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gemma3, "_BATCH_CHARS", 50_000)
    batches: list[int] = []
    encode_into = LocalCounter._encode_into

    def recording(self: LocalCounter, counts: list[int], batch: list[str], owners: list[int]) -> None:
        batches.append(sum(map(len, batch)))
        encode_into(self, counts, batch, owners)

    monkeypatch.setattr(LocalCounter, "_encode_into", recording)
    long_text = base64.b64encode(random.Random(3).randbytes(300_000)).decode()
    texts = ["short", long_text, "tail text"]
    assert gemma3_counter.count_texts(texts) == [len(processor.encode(text)) for text in texts]
    assert len(batches) >= 8
    assert max(batches) < 50_000 + 2 * CHUNK_CHARS
