"""Every command reads URLs as it reads local files: the same figures from local, s3://, gs:// and https://.

The servers are real ones on loopback (tests/remote/conftest.py); the file is one content put in
each place, and each command's JSON output must be the same once the file's name is swapped.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest

from batchcost.cli import main

DAY = ["--run-date", "2026-11-27"]


def _line(i: int) -> bytes:
    text = " ".join(f"word{j}" for j in range(i % 37 + 1))
    return json.dumps({"key": f"req-{i}", "request": {"contents": [{"parts": [{"text": text}]}]}}).encode()


LINES = [_line(i) for i in range(600)]
LINES[17] = b"{oops"  # problems, so that FILE:LINE locations are compared too
LINES[333] = b'{"key": "req-5", "request": {"contents": [{"parts": [{"text": "again"}]}]}}'
CONTENT = b"\n".join(LINES) + b"\n"
VALID = b"\n".join(line for i, line in enumerate(LINES) if i not in (17, 333)) + b"\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def places(tmp_path: Path, s3: Any, gcs: Any, http: Any) -> dict[str, str]:
    """The same content at every kind of place: {kind: name} (plain, and .gz beside it)."""
    base, objects = http
    names = {}
    for suffix, data in (("", CONTENT), (".gz", gzip.compress(CONTENT, mtime=0))):
        local = tmp_path / f"in.jsonl{suffix}"
        local.write_bytes(data)
        s3.pipe(f"test-bucket/run/in.jsonl{suffix}", data)
        gcs.pipe(f"test-bucket/run/in.jsonl{suffix}", data)
        objects.files[f"/run/in.jsonl{suffix}"] = data
        names |= {
            f"local{suffix}": str(local),
            f"s3{suffix}": f"s3://test-bucket/run/in.jsonl{suffix}",
            f"gs{suffix}": f"gs://test-bucket/run/in.jsonl{suffix}",
            f"https{suffix}": f"{base}/run/in.jsonl{suffix}",
        }
    return names


def _same(outputs: dict[str, str], names: dict[str, str]) -> None:
    """Every output equals the local one once each file's name is swapped for the local name."""
    for kind, text in outputs.items():
        local = "local.gz" if kind.endswith(".gz") else "local"
        assert text.replace(names[kind], names[local]) == outputs[local], kind


def test_validate_json_is_the_same_everywhere_and_names_the_url(places: dict[str, str]) -> None:
    outputs = {}
    for kind, name in places.items():
        code, out, err = run("validate", name, "--format", "json")
        assert code == 1, err
        outputs[kind] = out
    _same(outputs, places)
    code, out, _ = run("validate", places["s3"])
    assert f"{places['s3']}:18: " in out and f"{places['s3']}:334: " in out


def test_estimate_json_is_the_same_everywhere(places: dict[str, str]) -> None:
    outputs = {}
    for kind, name in places.items():
        code, out, err = run("estimate", name, "-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline",
                             "--sample-size", "100", "--seed", "7", "--format", "json", "-q", *DAY)  # fmt: skip
        assert code in (0, 1), err
        outputs[kind] = out
    _same(outputs, places)
    assert json.loads(outputs["local"])["tokens"]  # a real estimate, not an empty document


def test_plan_is_the_same_everywhere(tmp_path: Path, s3: Any, gcs: Any, http: Any) -> None:
    base, objects = http
    local = tmp_path / "valid.jsonl"
    local.write_bytes(VALID)
    s3.pipe("test-bucket/valid.jsonl", VALID)
    gcs.pipe("test-bucket/valid.jsonl", VALID)
    objects.files["/valid.jsonl"] = VALID
    names = {"local": str(local), "s3": "s3://test-bucket/valid.jsonl", "gs": "gs://test-bucket/valid.jsonl",
             "https": f"{base}/valid.jsonl"}  # fmt: skip
    outputs = {}
    for kind, name in names.items():
        code, out, err = run("plan", name, "-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline",
                             "--max-requests", "100", "--format", "json", "-q", *DAY)  # fmt: skip
        assert code == 0, err
        outputs[kind] = out
    _same(outputs, names)
    assert len(json.loads(outputs["local"])["shards"]["shards"]) == 6  # 598 requests, at most 100 a shard


def test_a_glob_of_objects_is_every_match_in_order(s3: Any) -> None:
    s3.pipe("test-bucket/run-42/b.jsonl", VALID)
    s3.pipe("test-bucket/run-42/a.jsonl", VALID)
    s3.pipe("test-bucket/run-42/notes.txt", b"not a batch")
    code, out, err = run("validate", "s3://test-bucket/run-42/*.jsonl", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert [f["path"] for f in doc["files"]] == ["s3://test-bucket/run-42/a.jsonl", "s3://test-bucket/run-42/b.jsonl"]


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("s3://test-bucket/missing.jsonl", "s3://test-bucket/missing.jsonl: no such object"),
        ("gs://test-bucket/missing.jsonl", "gs://test-bucket/missing.jsonl: no such object"),
        ("s3://test-bucket/none-*.jsonl", "no object matches this pattern"),
    ],
)
def test_missing_objects_exit_2_in_one_line(name: str, needle: str, s3: Any, gcs: Any) -> None:
    code, out, err = run("validate", name)
    assert code == 2 and out == ""
    assert err.startswith("batchcost: error: ") and needle in err and err.count("\n") == 1


def test_403_exits_2_in_one_line(http: Any) -> None:
    base, objects = http
    objects.files["/secret.jsonl"] = VALID
    objects.forbidden.add("/secret.jsonl")
    code, _, err = run("validate", f"{base}/secret.jsonl")
    assert code == 2 and "access denied (HTTP 403)" in err and err.count("\n") == 1


def test_missing_credentials_are_one_line_naming_the_fix() -> None:
    # the backends' own exception classes, as they raise them when no credential is found
    from botocore.exceptions import NoCredentialsError
    from google.auth.exceptions import DefaultCredentialsError

    from batchcost.storage.backends import failure

    err = failure("s3://b/x.jsonl", NoCredentialsError())
    assert str(err).startswith("s3://b/x.jsonl: no usable credentials to reach s3:// (NoCredentialsError); set AWS_")
    err = failure("gs://b/x.jsonl", DefaultCredentialsError("File /home/u/key.json was not found"))
    assert "no usable credentials to reach gs://" in str(err) and "key.json" not in str(err)
    assert "gcloud auth application-default login" in str(err)


def test_cache_dir_copies_once_and_gives_the_same_figures(places: dict[str, str], tmp_path: Path, s3: Any) -> None:
    cache = tmp_path / "cache"
    args = ["-m", "gemini-2.5-flash", "--output-tokens", "300", "--offline", "--sample-size", "100", "--seed", "7",
            "--format", "json", "-q", *DAY]  # fmt: skip
    _, direct, _ = run("estimate", places["s3"], *args)
    code, via_cache, err = run("estimate", places["s3"], *args, "--cache-dir", str(cache))
    assert code in (0, 1), err
    assert via_cache == direct  # the URL still names the file everywhere
    copies = list(cache.iterdir())
    assert len(copies) == 1 and copies[0].read_bytes() == CONTENT and copies[0].name.endswith("-in.jsonl")
    # unchanged: read from the copy, not fetched again; changed: fetched again under a new name
    before = copies[0].stat().st_mtime_ns
    code, out, _ = run("validate", places["s3"], "--cache-dir", str(cache))
    assert code == 1 and list(cache.iterdir()) == copies and copies[0].stat().st_mtime_ns == before
    assert f"{places['s3']}:18: " in out and str(cache) not in out
    s3.pipe("test-bucket/run/in.jsonl", VALID)
    code, _, err = run("validate", places["s3"], "--cache-dir", str(cache))
    assert code == 0, err
    assert len(list(cache.iterdir())) == 2


def test_a_large_object_is_split_across_processes_with_the_same_figures(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchcost.batchfile import scan, scanner

    local = scan(places["local"], sample_size=50, seed=3, workers=2)
    monkeypatch.setattr(scanner, "PARALLEL_MIN_BYTES", 1000)  # this small file split in two, as 64 MB would be
    assert len(scanner.url_line_ranges(places["https"], len(CONTENT), 2)) == 2
    for kind in ("https", "s3"):
        remote = scan(places[kind], sample_size=50, seed=3, workers=2, checksum=True)
        for column in local.rows:
            assert (remote.rows[column] == local.rows[column]).all(), (kind, column)
        assert remote.sample.tolist() == local.sample.tolist()
        assert [(p.line, p.code) for p in remote.problems] == [(p.line, p.code) for p in local.problems]
        assert {p.path for p in remote.problems} == {places[kind]}
        import hashlib

        assert remote.files[0].sha256 == hashlib.sha256(CONTENT).hexdigest()


@pytest.mark.parametrize("store", ["s3", "gs"])
def test_an_object_replaced_during_the_estimate_is_an_error(
    store: str, s3: Any, gcs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchcost.planner import estimate as estimate_mod

    data = VALID
    if store == "s3":
        s3.pipe("test-bucket/run/live.jsonl", data)
        url, fs, key = "s3://test-bucket/run/live.jsonl", s3, "test-bucket/run/live.jsonl"
    else:
        gcs.pipe("test-bucket/run/live.jsonl", data)
        url, fs, key = "gs://test-bucket/run/live.jsonl", gcs, "test-bucket/run/live.jsonl"
    real = estimate_mod._priced

    def priced_then_replace(*args: Any, **kwargs: Any) -> Any:
        plan = real(*args, **kwargs)
        fs.pipe(key, data[: len(data) // 2])  # another writer replaces the object while it is estimated
        return plan

    monkeypatch.setattr(estimate_mod, "_priced", priced_then_replace)
    code, out, err = run("estimate", url, "-m", "gemini-2.5-flash", "--offline")
    assert (code, out) == (2, ""), err
    assert err == (
        f"batchcost: error: {url}: changed since it was scanned (still being written, or replaced); run again "
        "once the file is complete\n"
    )
