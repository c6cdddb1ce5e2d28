"""Tests of the approximate token counter against exact Gemma 3 counts and by hand."""

from __future__ import annotations

import doctest
import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchcost.errors import TokenizerError
from batchcost.tokens import heuristic
from batchcost.tokens.base import TextCounter
from batchcost.tokens.heuristic import (
    _RUNS,
    COEFFICIENTS,
    FEATURE_NAMES,
    FIT_DATE,
    FIT_TEXTS,
    HEURISTIC_ERROR,
    HeuristicCounter,
    _classify,
    features,
    stated_error_pct,
)
from tests.golden import chars_over_4, load_golden, split_halves

# Recorded figures are printed with one decimal; anything further off means the coefficients changed
# without bench/fit_heuristic.py being re-run and its output pasted.
RECORDED_TOLERANCE = 0.051


@pytest.fixture(scope="module")
def scored() -> tuple[list, list[int], list[int], list[int]]:
    """(golden rows, fitting half, held-out half, heuristic count of every row)."""
    rows = load_golden()
    first, second = split_halves(rows)
    counts = HeuristicCounter().count_texts([row.text for row in rows])
    return rows, first, second, counts


def _errors(rows: Sequence, indices: Sequence[int], counts: Sequence[int]) -> tuple[float, float, float]:
    """(per-text mean %, per-text p95 %, total bias %) computed here, independently of the bench."""
    exact = np.array([rows[i].tokens for i in indices], dtype=float)
    guess = np.array([counts[i] for i in indices], dtype=float)
    nonzero = exact > 0
    per_text = np.abs(guess[nonzero] - exact[nonzero]) / exact[nonzero] * 100
    bias = (guess.sum() - exact.sum()) / exact.sum() * 100
    return float(per_text.mean()), float(np.percentile(per_text, 95)), float(bias)


# --- measured against the golden file ---------------------------------------------------------


def test_split_is_two_disjoint_halves_of_every_category(scored: tuple) -> None:
    rows, first, second, _ = scored
    assert sorted(first + second) == list(range(len(rows)))
    for category in {row.category for row in rows}:
        size = sum(row.category == category for row in rows)
        assert sum(rows[i].category == category for i in second) == size // 2


def test_error_table_covers_exactly_the_golden_categories(scored: tuple) -> None:
    rows = scored[0]
    assert set(HEURISTIC_ERROR) == {row.category for row in rows} | {"overall"}


@pytest.mark.parametrize("category", sorted(HEURISTIC_ERROR))
def test_held_out_category_total_within_its_bound(scored: tuple, category: str) -> None:
    rows, _, second, counts = scored
    indices = second if category == "overall" else [i for i in second if rows[i].category == category]
    mean, p95, bias = _errors(rows, indices, counts)
    recorded = HEURISTIC_ERROR[category]
    assert abs(bias) <= recorded.total_abs_bound_pct
    # The table must describe these coefficients, not earlier ones.
    assert bias == pytest.approx(recorded.total_bias_pct, abs=RECORDED_TOLERANCE)
    assert mean == pytest.approx(recorded.per_text_mean_pct, abs=RECORDED_TOLERANCE)
    assert p95 == pytest.approx(recorded.per_text_p95_pct, abs=RECORDED_TOLERANCE)


def test_all_text_totals_within_stated_error(scored: tuple) -> None:
    rows, _, second, counts = scored
    exact_all = sum(row.tokens for row in rows)
    assert abs(sum(counts) - exact_all) / exact_all * 100 <= stated_error_pct()
    *_, held_out_bias = _errors(rows, second, counts)
    assert abs(held_out_bias) <= stated_error_pct()


def test_stated_error_covers_every_real_category() -> None:
    real = {name: e for name, e in HEURISTIC_ERROR.items() if name not in ("edge", "overall")}
    assert real
    assert all(abs(e.total_bias_pct) <= stated_error_pct() for e in real.values())
    # A bound on totals, not on single texts: per-text errors are larger.
    assert max(e.per_text_p95_pct for e in real.values()) > stated_error_pct()


def test_heuristic_beats_chars_over_4_on_totals(scored: tuple) -> None:
    rows, _, second, counts = scored
    baseline = chars_over_4([row.text for row in rows])
    for category in {rows[i].category for i in second} - {"edge"}:
        indices = [i for i in second if rows[i].category == category]
        *_, ours = _errors(rows, indices, counts)
        *_, theirs = _errors(rows, indices, baseline)
        assert abs(ours) <= abs(theirs) + 1.0, category


# --- by hand -----------------------------------------------------------------------------------


def test_empty_string_is_zero_tokens() -> None:
    assert HeuristicCounter().count_text("") == 0
    assert features("") == [0] * len(FEATURE_NAMES)


def test_digits_are_one_token_each() -> None:
    counter = HeuristicCounter()
    assert abs(counter.count_text("1234567890") - 10) <= 1  # exact Gemma 3 count: 10
    assert COEFFICIENTS["digits"] == 1.0
    assert counter.count_text("7" * 1000) - counter.count_text("7" * 500) == 500


def test_non_empty_text_is_at_least_one_token() -> None:
    assert min(HeuristicCounter().count_texts(["a", " ", ".", "\u200b", "\x00"])) >= 1
    only_text = dict.fromkeys(FEATURE_NAMES, 0.0)
    assert HeuristicCounter({**only_text, "text": 0.2}).count_texts(["", " ", "x"]) == [0, 1, 1]


def test_estimates_round_half_up() -> None:
    zero = dict.fromkeys(FEATURE_NAMES, 0.0)
    counter = HeuristicCounter({**zero, "text": 0.5, "digits": 1.0, "symbols": 0.25})
    # 0.5 + 2 digits = 2.5 -> 3; 0.5 + 1 + 0.25 = 1.75 -> 2; 0.5 + 1 symbol (0.25) = 0.75 -> 1
    assert counter.count_texts(["12", "1\u00a9", "\u00a9"]) == [3, 2, 1]


def test_docstring_example_is_current() -> None:
    assert doctest.testmod(heuristic).failed == 0


def _named(text: str) -> dict[str, int]:
    return {name: value for name, value in zip(FEATURE_NAMES, features(text), strict=True) if value}


def test_features_of_english() -> None:
    assert _named("Hello, world!") == {
        "text": 1,
        "latin_lower": 9,
        "latin_words": 2,
        "latin_words_4plus": 2,
        "latin_words_glued": 1,  # "Hello" starts the text; "world" follows a space
        "upper_runs": 1,
        "ascii_punct": 2,
        "ascii_punct_runs": 2,
    }


def test_features_of_whitespace_and_digits() -> None:
    assert _named("a  b\n\n\tc 42") == {
        "text": 1,
        "latin_lower": 3,
        "latin_words": 3,
        "latin_words_glued": 2,  # "a" at the start, "c" after a tab
        "space_runs_2plus": 1,
        "newline_runs": 1,
        "tab_runs": 1,
        "digits": 2,
        "space_digit": 1,
    }


def test_features_of_other_scripts() -> None:
    assert _named("你好，世界") == {"text": 1, "han": 4, "other_punct": 1, "cjk_runs": 2}
    assert _named("Привет, мир") == {
        "text": 1,
        "cyrillic": 9,
        "cyrillic_words": 2,
        "ascii_punct": 1,
        "ascii_punct_runs": 1,
    }
    # न म स ् त े: letters नमस, a virama, त, a vowel sign -> two runs of letters
    assert _named("नमस्ते") == {"text": 1, "indic": 4, "indic_words": 2, "marks": 2}
    assert _named("café 👍🏽") == {
        "text": 1,
        "latin_lower": 3,
        "latin_accented": 1,
        "latin_words": 1,
        "latin_words_4plus": 1,
        "latin_words_glued": 1,
        "symbols": 2,
    }


def test_lone_surrogate_and_controls_are_counted() -> None:
    assert _named("\ud800a\x00") == {
        "text": 1,
        "latin_lower": 1,
        "latin_words": 1,
        "latin_words_glued": 1,
        "controls": 2,
    }
    assert HeuristicCounter().count_text("\ud800a\x00") >= 1


# --- the TextCounter contract ------------------------------------------------------------------


def test_is_an_approximate_text_counter() -> None:
    counter = HeuristicCounter()
    assert isinstance(counter, TextCounter)
    assert counter.name == "heuristic"
    assert counter.exact is False
    assert "approximate" in counter.description
    assert FIT_DATE in counter.description
    assert f"{FIT_TEXTS:,} texts" in counter.description
    assert f"±{stated_error_pct():g}%" in counter.description


def test_coefficients_are_complete_and_non_negative() -> None:
    assert tuple(COEFFICIENTS) == FEATURE_NAMES
    assert all(value >= 0 and math.isfinite(value) for value in COEFFICIENTS.values())
    assert FIT_TEXTS > 1000


@pytest.mark.parametrize(
    "change",
    [
        {"digits": -0.1},
        {"digits": math.nan},
        {"digits": math.inf},
        {"unknown_feature": 1.0},
    ],
)
def test_bad_coefficients_are_refused(change: dict[str, float]) -> None:
    with pytest.raises(TokenizerError, match="fit_heuristic"):
        HeuristicCounter({**COEFFICIENTS, **change})


def test_missing_coefficient_is_refused() -> None:
    partial = {name: value for name, value in COEFFICIENTS.items() if name != "han"}
    with pytest.raises(TokenizerError, match="han"):
        HeuristicCounter(partial)


def test_custom_coefficients_are_used_and_labelled() -> None:
    counter = HeuristicCounter({name: 1.0 for name in FEATURE_NAMES})
    assert counter.count_text("ab 12") == sum(features("ab 12"))
    assert "caller-supplied" in counter.description


# --- properties --------------------------------------------------------------------------------

_any_text = st.text(alphabet=st.characters(), max_size=200)
# st.characters() leaves out surrogates; Python strings (e.g. from json.loads) can hold lone ones.
_text_with_surrogates = st.text(alphabet=st.characters() | st.characters(categories=["Cs"]), max_size=60)


@given(st.lists(_any_text, max_size=8))
def test_counts_are_non_negative_ints(texts: list[str]) -> None:
    counts = HeuristicCounter().count_texts(texts)
    assert len(counts) == len(texts)
    for text, count in zip(texts, counts, strict=True):
        assert type(count) is int
        assert count >= (1 if text else 0)
        assert count == HeuristicCounter().count_text(text)


@given(_any_text, _any_text)
def test_appending_text_never_lowers_the_count(head: str, tail: str) -> None:
    counter = HeuristicCounter()
    assert counter.count_text(head + tail) >= counter.count_text(head)
    assert all(after >= before for before, after in zip(features(head), features(head + tail), strict=True))


def _reference_features(text: str) -> list[int]:
    """The same features by a plain per-character loop: the definition the fast code must match."""
    classes = "".join(_classify(ord(char)) for char in text)
    counts = {
        "text": int(bool(text)),
        "latin_lower": classes.count("a"),
        "latin_accented": classes.count("e"),
        "digits": classes.count("d"),
        "space_digit": classes.count(" d"),
        "ascii_punct": classes.count("p"),
        "han": classes.count("c"),
        "kana": classes.count("k"),
        "hangul": classes.count("h"),
        "greek": classes.count("g"),
        "cyrillic": classes.count("y"),
        "rtl": classes.count("r"),
        "indic": classes.count("i"),
        "southeast_asian": classes.count("u"),
        "other_letters": classes.count("o"),
        "marks": classes.count("m"),
        "other_punct": classes.count("q"),
        "symbols": classes.count("s"),
        "other_spaces": classes.count("z"),
        "controls": classes.count("x"),
    }
    for name, members, min_length in _RUNS:
        runs = [len(list(group)) for member, group in itertools.groupby(classes, key=members.__contains__) if member]
        counts[name] = sum(length >= min_length for length in runs)
    counts["latin_words_glued"] = sum(
        1
        for i, cls in enumerate(classes)
        if cls in "aAe" and (i == 0 or classes[i - 1] not in "aAe ")  # a Latin run not preceded by a space
    )
    return [counts[name] for name in FEATURE_NAMES]


@given(_text_with_surrogates)
def test_fast_features_match_the_per_character_definition(text: str) -> None:
    assert features(text) == _reference_features(text)


@given(st.text(alphabet="ab Z9.\n\t é中", max_size=80))
def test_fast_features_match_on_dense_runs(text: str) -> None:
    assert features(text) == _reference_features(text)


@given(
    st.text(alphabet=st.characters(max_codepoint=127), min_size=60, max_size=300),
    st.lists(st.characters(min_codepoint=128) | st.characters(categories=["Cs"]), min_size=1, max_size=3),
    st.integers(min_value=0, max_value=300),
)
def test_fast_features_match_on_mostly_ascii_text(ascii_text: str, rare: list[str], position: int) -> None:
    # A few non-ASCII characters in ASCII text take the run-by-run path, not the whole-text translate.
    text = ascii_text[:position] + "".join(rare) + ascii_text[position:]
    assert features(text) == _reference_features(text)
