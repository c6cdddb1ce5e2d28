"""Long texts that repeat are tokenized once and get the same count as when tokenized again."""

from __future__ import annotations

from batchcost.tokens.gemma3 import LocalCounter, ModelSource
from batchcost.tokens.repeats import MIN_CHARS, RepeatedTexts


def _counting(calls: list[list[str]]):
    def count_all(texts: list[str]) -> list[int]:
        calls.append(list(texts))
        return [len(t.split()) for t in texts]

    return count_all


def test_repeats_are_counted_once_and_remembered() -> None:
    doc = "word " * MIN_CHARS  # a long shared document
    other = "other " * MIN_CHARS
    calls: list[list[str]] = []
    repeats = RepeatedTexts()
    texts = [doc, "short one", doc, other, "short one", doc]
    assert repeats.count(texts, _counting(calls)) == [MIN_CHARS, 2, MIN_CHARS, MIN_CHARS, 2, MIN_CHARS]
    # one call; the long document once, short texts each time (cheaper to count than to look up)
    assert calls == [[doc, "short one", other, "short one"]]
    assert repeats.count([other, doc, "x"], _counting(calls)) == [MIN_CHARS, MIN_CHARS, 1]
    assert calls[-1] == ["x"]


def test_a_text_just_under_the_limit_is_counted_every_time() -> None:
    text = "a" * (MIN_CHARS - 1)
    calls: list[list[str]] = []
    RepeatedTexts().count([text, text], _counting(calls))
    assert calls == [[text, text]]


def test_local_counter_gives_the_same_counts_with_repeats(gemma3_model_bytes: bytes) -> None:
    doc = "The quarterly report, section 4.2: revenue grew 12% year on year.\n" * 60
    texts = [doc + "Question 1?", doc, "Hi", doc, doc + "Question 1?"]
    # each text on a counter of its own: nothing remembered
    fresh = [LocalCounter(ModelSource(gemma3_model_bytes, "test")).count_texts([t])[0] for t in texts]
    assert fresh[1] > 600 and fresh[0] > fresh[1]
    counter = LocalCounter(ModelSource(gemma3_model_bytes, "test"))
    assert counter.count_texts(texts) == fresh
    assert counter.count_texts(texts) == fresh  # now from memory
