"""Texts are counted word by word, each distinct word once, and the counts stay exact (batchcost.tokens.words)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchcost.tokens import cuts, gemma3
from batchcost.tokens.gemma3 import LocalCounter, ModelSource
from batchcost.tokens.words import MAX_WORD_CHARS, WordCounts


def _plain(counter: LocalCounter, texts: list[str]) -> list[int]:
    """Counts of the whole texts, encoded as they stand (no words, no repeats)."""
    encode = counter._processor.encode
    return [len(ids) for ids in encode([cuts.replace_lone_surrogates(text) for text in texts])]


@pytest.fixture
def fresh_counter(gemma3_model_bytes: bytes) -> LocalCounter:
    return LocalCounter(ModelSource(gemma3_model_bytes, "test build"))


def test_the_model_holds_a_space_only_after_greater_than_and_a_space(gemma3_counter: LocalCounter) -> None:
    # The pairs that decide where words end, read from the model: if a new model held more, the
    # fast path would be wrong without this failing first.
    rules = gemma3_counter._cut_rules()
    every = set(rules.pairs) | set(rules.user_spans)
    assert {pair[0] for pair in every if pair[1] == "\u2581"} == {">", "\u2581"}
    assert not any(pair.count("\n") == 1 for pair in every)
    words = WordCounts.from_rules(rules.pairs, rules.user_spans.keys())
    assert words is not None
    assert words._avoid == ("  ", ">", "\u2581")


def test_golden_texts_count_exactly_by_words(fresh_counter: LocalCounter, golden: list[dict[str, object]]) -> None:
    texts = [str(record["text"]) for record in golden]
    exact = [int(str(record["tokens"])) for record in golden]
    assert fresh_counter.count_texts(texts) == exact  # every word new
    assert fresh_counter.count_texts(texts[::-1]) == exact[::-1]  # every word known
    words = fresh_counter._words
    assert words is not None and len(words._bare) + len(words._spaced) > 50_000


def test_words_forgotten_when_full_still_count_exactly(
    gemma3_model_bytes: bytes, golden: list[dict[str, object]]
) -> None:
    counter = LocalCounter(ModelSource(gemma3_model_bytes, "test build"))
    rules = counter._cut_rules()
    counter._words = WordCounts.from_rules(rules.pairs, rules.user_spans.keys(), max_words=500)
    counter._words_checked = True
    texts = [str(record["text"]) for record in golden if record["category"] != "edge"]
    exact = [int(str(record["tokens"])) for record in golden if record["category"] != "edge"]
    for start in range(0, len(texts), 37):  # many small calls, the table filled and emptied again and again
        assert counter.count_texts(texts[start : start + 37]) == exact[start : start + 37]
    assert len(counter._words._bare) + len(counter._words._spaced) <= 500 + 37 * 2_000


# Spaces and what decides whether a word ends before one (">", a literal "▁", a lone surrogate), newlines,
# words known and new, and words too long to keep.
_SPACES = [" ", "  ", "\n", "\n\n", "\t", "\r\n", ">", "> ", " >", "->", "<b> </b>"]
_ODD = ["\u2581", " \u2581", "\u2581 ", "\ud800", "\ud800 ", "\u4e16\u754c", "x", "word", "the", "1234"]
_FRAGMENTS = st.one_of(
    st.sampled_from([*_SPACES, *_ODD, "<start_of_turn>", "a" * (MAX_WORD_CHARS + 5), "\U0001f642"]),
    st.text(min_size=1, max_size=30),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(_FRAGMENTS, min_size=0, max_size=12).map("".join), min_size=1, max_size=6))
def test_any_texts_count_as_when_encoded_whole(gemma3_counter: LocalCounter, texts: list[str]) -> None:
    # The shared counter keeps its words from one example to the next: known and new words mix.
    assert gemma3_counter.count_texts(texts) == _plain(gemma3_counter, texts)


def test_random_sentences_count_exactly_cold_and_warm(fresh_counter: LocalCounter) -> None:
    rng = random.Random(7)
    vocabulary = ["the", "a", "cat", "Über", "naïve", "东京", "—", "=>", ">", "x>", "if(x)", "\t", "1.5", "→", "'s",
                  "\u2581", "e\u0301", "\U0001f600", "http://example.com/a?b=c"]  # fmt: skip
    joins = [" ", " ", " ", "  ", "\n", " \n ", "\n\n", ""]
    texts = []
    for _ in range(2_000):
        parts = [rng.choice(vocabulary) + rng.choice(joins) for _ in range(rng.randint(0, 40))]
        texts.append(rng.choice(["", " ", "\n"]) + "".join(parts))
    want = _plain(fresh_counter, texts)
    assert fresh_counter.count_texts(texts) == want
    assert fresh_counter.count_texts(texts) == want


def test_each_distinct_word_is_counted_once_and_long_words_again() -> None:
    asked: list[str] = []

    def count_all(texts: list[str]) -> list[int]:
        asked.extend(texts)
        return [len(text) for text in texts]  # any additive count will do for the bookkeeping

    words = WordCounts(("\u2581", ">", " "))
    long_word = "y" * (MAX_WORD_CHARS + 1)
    texts = ["the cat sat", "the dog", "cat  sat", f"a {long_word}", f"b {long_word}", "x> y z"]
    assert words.count(texts, count_all) == [len(text) for text in texts]
    assert sorted(asked) == sorted(
        ["the", " cat", " sat", " dog", "cat", "  sat", "a", "b", " " + long_word, "x> y", " z"]
    )
    asked.clear()
    assert words.count(texts, count_all) == [len(text) for text in texts]
    assert asked == [" " + long_word]  # the one word not kept


def test_rules_that_hold_newlines_or_the_replacement_character_are_respected() -> None:
    assert WordCounts.from_rules({"\ufffd\u2581"}, ()) is None
    no_newline_cuts = WordCounts.from_rules({"a\n"}, ())
    assert no_newline_cuts is not None
    assert no_newline_cuts._words.findall("a\n\nb c") == ["a\n\nb", " c", ""]
    held = WordCounts.from_rules({"q\u2581", "\u2581\u2581"}, ())
    assert held is not None and held._avoid == ("  ", "q", "\u2581")
    assert held._words.findall("aq b c\n d") == ["aq b", " c", "\n", " d", ""]


def test_releasing_memory_frees_the_tokenizer_and_tables_and_keeps_the_counts(
    fresh_counter: LocalCounter, golden: list[dict[str, object]]
) -> None:
    texts = [str(record["text"]) for record in golden][:400]
    exact = [int(str(record["tokens"])) for record in golden][:400]
    assert fresh_counter.count_texts(texts) == exact
    assert fresh_counter._words is not None and fresh_counter._rules is not None
    fresh_counter.release_memory()
    assert fresh_counter._words is None and fresh_counter._rules is None and fresh_counter._processor is None
    assert fresh_counter.count_texts(texts) == exact  # the tables are made again as needed


def test_a_very_long_text_is_counted_whole_not_split_into_words_at_once(
    fresh_counter: LocalCounter, golden: list[dict[str, object]]
) -> None:
    from batchcost.tokens.words import MAX_TEXT_CHARS

    asked: list[str] = []
    words = WordCounts(("\u2581", ">", " "))
    long_text = "word " * (MAX_TEXT_CHARS // 5 + 1)
    assert words.count(["a b", long_text, "b a"], lambda t: asked.extend(t) or [len(x) for x in t]) == [
        3, len(long_text), 3,
    ]  # fmt: skip
    assert long_text in asked and " word" not in asked  # its words were never listed
    docs = [str(record["text"]) for record in golden if record["category"].startswith("doc_")]  # type: ignore[union-attr]
    joined = "\n\n".join(docs)
    assert len(joined) > MAX_TEXT_CHARS
    assert fresh_counter.count_texts([joined, docs[0]]) == _plain(fresh_counter, [joined, docs[0]])


def test_the_first_few_short_texts_are_encoded_whole_without_cut_rules(
    fresh_counter: LocalCounter, golden: list[dict[str, object]]
) -> None:
    # The caching advice counts a few shared prefixes after the counter let go of everything: they
    # need not read the cut rules (10 MB). The counts are the same either way.
    short = [(str(r["text"]), int(str(r["tokens"]))) for r in golden if 0 < len(str(r["text"])) <= cuts.LONG_CHARS]
    few = short[:3]
    assert fresh_counter.count_texts([t for t, _ in few]) == [n for _, n in few]
    assert fresh_counter._rules is None and fresh_counter._words is None
    fresh_counter.release_memory()
    assert fresh_counter.count_texts([t for t, _ in few]) == [n for _, n in few]
    assert fresh_counter._rules is None
    # Past _FEW_CHARS in all, words are set up (and with them the rules), and counts stay exact.
    many = short * (gemma3._FEW_CHARS // sum(len(t) for t, _ in short) + 1)
    assert sum(len(t) for t, _ in many) > gemma3._FEW_CHARS
    assert fresh_counter.count_texts([t for t, _ in many]) == [n for _, n in many]
    assert fresh_counter._words is not None
    # A text over _LONG_CHARS is cut, which needs the rules, so it never takes the whole path.
    other = LocalCounter(ModelSource(fresh_counter.source.data, "test build"))
    long_text = next(
        (t, n) for t, n in ((str(r["text"]), int(str(r["tokens"]))) for r in golden) if len(t) > cuts.LONG_CHARS
    )
    assert other.count_texts([long_text[0]]) == [long_text[1]]
    assert other._rules is not None
