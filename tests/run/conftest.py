"""Shared pieces of the run tests: a shard folder of known requests and the fake Batch API."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchcost.cli import main
from batchcost.gemini import RetryPolicy
from batchcost.run.remote import Remote, connect
from tests.fakebatch import FakeBatch, serve

KEY = "test-key-run-0123456789"
MODEL = "gemini-2.5-flash"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def write_requests(path: Path, n: int = 5) -> list[bytes]:
    """``n`` requests of three words each (3 prompt tokens in the fake), keys k1..kn; returns the lines."""
    lines = [
        json.dumps(
            {"key": f"k{i}", "request": {"contents": [{"role": "user", "parts": [{"text": "one two three"}]}]}}
        ).encode()
        + b"\n"
        for i in range(1, n + 1)
    ]
    path.write_bytes(b"".join(lines))
    return lines


def make_shards(tmp: Path, *extra: str, n: int = 5) -> tuple[Path, list[bytes]]:
    """Shard ``n`` requests two per shard into ``tmp/shards``; returns the manifest and the input lines."""
    lines = write_requests(tmp / "requests.jsonl", n)
    code, _, err = cli(
        "shard", str(tmp / "requests.jsonl"), "--out", str(tmp / "shards"), "-m", MODEL, "--offline",
        "--run-date", "2026-11-27", "-q", "--max-requests", "2", "--output-tokens", "16", *extra,
    )  # fmt: skip
    assert code == 0, err
    return tmp / "shards" / "manifest.json", lines


@pytest.fixture
def fake() -> Iterator[FakeBatch]:
    yield from serve(api_key=KEY)


@pytest.fixture
def env(fake: FakeBatch, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The CLI's environment: the key and the fake's address."""
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    return {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": fake.base_url}


def quick_remote(fake: FakeBatch, *, timeout_s: float = 5.0) -> Remote:
    """A remote whose retries do not wait (the backoff is still computed, and Retry-After honoured)."""
    return connect(
        api_key=KEY, base_url=fake.base_url, timeout_s=timeout_s, sleep=lambda _s: None,
        policy=RetryPolicy(max_retries=4, initial_backoff_s=0.01, max_backoff_s=0.05),
    )  # fmt: skip
