"""Caching advisor: find prompt prefixes that many requests share, and price caching them.

Candidates come from the scan's per-request hashes (exact groups) and from the sample:

* ``system``: requests with the same system instruction (``system_hash``);
* ``leading_parts``: requests with the same content parts before their last one (``prefix_hash``),
  e.g. one shared document followed by different questions;
* ``first_part``: requests with the same first content part (``first_hash``) whose later parts differ;
* ``template``: requests whose first text part starts with the same long string (templated prompts),
  found on the scan's sample and scaled to the whole file by the share of the sample it covers.

A request that uses an explicit cache cannot also send ``systemInstruction``, ``tools`` or
``toolConfig`` (the API answers 400 "CachedContent can not be used with GenerateContent request setting
system_instruction, tools or tool_config"; googleapis/python-genai#348), so a cache
holds the group's system instruction and tools too, and a group is split by system instruction.

Each candidate is priced three ways with the price book (per 1M tokens, each request in its own
prompt-size tier):

* **no cache**: its prefix tokens at the batch input rate (what the batch plan already contains);
* **explicit cache** (guaranteed): prefix tokens read at the batch cache-read rate, plus creating
  the cache once at the *standard* input rate, plus storage per token-hour for the hours the jobs
  need. Not available on Vertex batch, nor on models without explicit caching (Gemini 4);
* **implicit caching** (no guarantee): the same reads without creation or storage, only when the
  prefix reaches the model's implicit minimum. Shown as a best case, never in the expected figure.
  On Vertex batch a cache hit gets the 90% cache discount on the *standard* price instead of the
  batch discount (they do not stack).

The recommendation is the set of non-overlapping explicit caches (a request can reference only one
``cachedContent``) chosen greedily by saving; ``batch_cached`` is the plan's batch cost minus that
saving. When nothing pays, ``reason`` says why.
"""

from __future__ import annotations

from .advise import advise_caching
from .records import (
    KINDS,
    PLATFORMS,
    REASONS,
    CacheCandidate,
    CachingAdvice,
    ChosenCache,
    ExplicitOption,
    ImplicitOption,
)

__all__ = [
    "KINDS",
    "PLATFORMS",
    "REASONS",
    "CacheCandidate",
    "CachingAdvice",
    "ChosenCache",
    "ExplicitOption",
    "ImplicitOption",
    "advise_caching",
]
