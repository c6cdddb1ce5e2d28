"""Shared fixtures for the token counter tests: the Gemma 3 model is rebuilt from GGUF once per run."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from batchcost.tokens import gemma3, gemma3_model
from batchcost.tokens.gemma3 import LocalCounter, ModelSource
from tests.golden import golden_records


@pytest.fixture(scope="session")
def golden() -> list[dict[str, Any]]:
    """The 2,319 golden texts with their exact Gemma 3 counts (and ids for the edge cases)."""
    return golden_records()  # type: ignore[return-value]


@pytest.fixture(scope="session")
def gemma3_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelSource, Path, float]:
    """Resolve the model with empty caches and no network: the real GGUF build, once per test run.

    Returns the source, the batchcost cache folder it was written to, and the seconds it took.
    """
    cache_dir = tmp_path_factory.mktemp("batchcost-cache")
    genai_tmp = tmp_path_factory.mktemp("genai-tmp")

    def no_download() -> bytes:
        raise AssertionError("the session build must not download")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(genai_tmp))
        patch.setattr(gemma3_model, "_download_via_genai", no_download)
        started = time.perf_counter()
        source = gemma3.find_model(offline=True, cache_dir=cache_dir, env={})
        seconds = time.perf_counter() - started
    return source, cache_dir, seconds


@pytest.fixture(scope="session")
def gemma3_model_bytes(gemma3_build: tuple[ModelSource, Path, float]) -> bytes:
    """The serialized Gemma 3 model rebuilt from the offline package's GGUF header."""
    return gemma3_build[0].data


@pytest.fixture(scope="session")
def gemma3_counter(gemma3_model_bytes: bytes) -> LocalCounter:
    """A single-threaded counter on the rebuilt model."""
    return LocalCounter(ModelSource(gemma3_model_bytes, "test build"))
