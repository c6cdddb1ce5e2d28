"""Choosing a counter: auto prefers exact, a named tokenizer must work, the heuristic is labelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchcost.errors import TokenizerError
from batchcost.tokens.select import choose_counter


def test_auto_picks_the_exact_local_counter_offline() -> None:
    choice = choose_counter("auto", model="gemini-2.5-flash", family="gemma3", offline=True, env={})
    assert choice.counter.name == "local" and choice.counter.exact
    assert choice.approx_error_pct is None


def test_named_tokenizer_model_that_is_missing_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(TokenizerError, match="does not exist"):
        choose_counter("auto", model="gemini-2.5-flash", tokenizer_model=str(tmp_path / "nope.model"), env={})
    with pytest.raises(TokenizerError):
        choose_counter("auto", model="gemini-2.5-flash", env={"BATCHCOST_TOKENIZER_MODEL": str(tmp_path / "x")})


def test_heuristic_is_labelled_with_its_error() -> None:
    choice = choose_counter("heuristic", model="gemini-2.5-flash", env={})
    assert choice.counter.name == "heuristic" and not choice.counter.exact
    assert choice.approx_error_pct == 15.0
    assert "approximate (±15%)" in choice.assumptions[0]


@pytest.mark.parametrize(("family", "words"), [("gemma4", "Gemma 4"), ("unknown", "no public tokenizer is known")])
def test_tokenizer_family_assumption_is_stated(family: str, words: str) -> None:
    choice = choose_counter("local", model="gemini-x", family=family, offline=True, env={})
    assert any(words in a for a in choice.assumptions)


def test_api_without_key_says_which_variables_and_that_data_leaves() -> None:
    with pytest.raises(TokenizerError) as e:
        choose_counter("api", model="gemini-2.5-flash", env={})
    assert "GEMINI_API_KEY" in str(e.value) and "sends" in str(e.value)


def test_unknown_tokenizer_kind() -> None:
    with pytest.raises(TokenizerError, match="unknown tokenizer"):
        choose_counter("magic", model="gemini-2.5-flash", env={})
