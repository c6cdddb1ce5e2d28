"""batchcost.storage against real servers on loopback: sizes, ranges, read-ahead, globs, writes, faults."""

from __future__ import annotations

import pytest

from batchcost import storage
from batchcost.errors import InputError, OutputError

DATA = b"".join(b'{"key": "k%d", "n": %d}\n' % (i, i) for i in range(2000))


def test_is_url_is_cheap_and_exact() -> None:
    assert storage.is_url("s3://b/k") and storage.is_url("gs://b/k") and storage.is_url("https://h/x")
    assert not storage.is_url("C:\\data\\x.jsonl") and not storage.is_url("data/x.jsonl")
    assert not storage.is_url("file:///tmp/x.jsonl")
    assert storage.local_path("file:///tmp/x.jsonl") == "/tmp/x.jsonl"


def test_normalise_compares_aliases_and_dots() -> None:
    assert storage.normalise("gcs://b/a/../x.jsonl") == storage.normalise("gs://b/x.jsonl") == "gs://b/x.jsonl"
    assert storage.normalise("s3a://b/./d/x") == "s3://b/d/x"


def test_s3_size_ranges_blocks_and_sha(s3) -> None:
    s3.pipe("test-bucket/in.jsonl", DATA)
    url = "s3://test-bucket/in.jsonl"
    assert storage.size(url) == len(DATA)
    assert storage.read_range(url, 10, 30) == DATA[10:30]
    assert list(storage.read_ranges(url, [(5, 9), (0, 3), (len(DATA) - 2, len(DATA))])) == [
        DATA[5:9],
        DATA[0:3],
        DATA[-2:],
    ]
    with storage.BlockReader(url, block=1000, ahead=3) as reader:
        got = b""
        while piece := reader.read(777):
            got += piece
        assert got == DATA and reader.tell() == len(DATA)
    blocks = list(storage.line_blocks(url, block=1000))
    assert b"".join(b for _, b in blocks) == DATA
    assert all(b.endswith(b"\n") for _, b in blocks)
    assert [o for o, _ in blocks] == [sum(len(b) for _, b in blocks[:i]) for i in range(len(blocks))]
    import hashlib

    assert storage.sha256(url) == hashlib.sha256(DATA).hexdigest()


def test_globs_expand_in_order(s3, gcs) -> None:
    for name in ("run/b.jsonl", "run/a.jsonl", "run/c.txt", "other/d.jsonl"):
        s3.pipe(f"test-bucket/{name}", b"x\n")
        gcs.pipe(f"test-bucket/{name}", b"x\n")
    for scheme in ("s3", "gs"):
        got = [loc.name for loc in storage.expand([f"{scheme}://test-bucket/run/*.jsonl", "local.jsonl"])]
        assert got == [f"{scheme}://test-bucket/run/a.jsonl", f"{scheme}://test-bucket/run/b.jsonl", "local.jsonl"]
    with pytest.raises(InputError, match=r"s3://test-bucket/none/\*\.jsonl: no object matches"):
        storage.expand(["s3://test-bucket/none/*.jsonl"])


def test_gcs_and_http_read_the_same_bytes(gcs, http) -> None:
    gcs.pipe("test-bucket/in.jsonl", DATA)
    base, objects = http
    objects.files["/in.jsonl"] = DATA
    for url in ("gs://test-bucket/in.jsonl", f"{base}/in.jsonl"):
        assert storage.size(url) == len(DATA)
        with storage.BlockReader(url, block=4096) as reader:
            assert reader.read(-1) == DATA
    # the HTTP reads were range requests of the block size, never the whole file at once
    ranges = [r for m, _, r in objects.requests if m == "GET"]
    assert ranges and all(r is not None for r in ranges)


def test_missing_objects_and_buckets_are_one_line_errors(s3, gcs, http) -> None:
    base, _ = http
    for url in ("s3://test-bucket/nope.jsonl", "gs://test-bucket/nope.jsonl", f"{base}/nope.jsonl",
                "s3://no-such-bucket/x.jsonl"):  # fmt: skip
        with pytest.raises(InputError) as e:
            storage.size(url)
        assert str(e.value).startswith(f"{url}: no such object") and "\n" not in str(e.value)


def test_403_is_access_denied(http) -> None:
    base, objects = http
    objects.files["/secret.jsonl"] = DATA
    objects.forbidden.add("/secret.jsonl")
    with pytest.raises(InputError, match=r"secret\.jsonl: access denied \(HTTP 403\)"):
        storage.read_range(f"{base}/secret.jsonl", 0, 10)


def test_500_then_recovery_is_retried(http) -> None:
    base, objects = http
    objects.files["/flaky.jsonl"] = DATA
    objects.fail_next = 2
    assert storage.read_range(f"{base}/flaky.jsonl", 0, 100) == DATA[:100]
    assert objects.fail_next == 0


def test_500_for_ever_gives_up_with_one_line(http) -> None:
    base, objects = http
    objects.files["/down.jsonl"] = DATA
    objects.fail_next = 100
    with pytest.raises(InputError, match=r"down\.jsonl: the storage kept failing \(HTTP 500\) after retries"):
        storage.read_range(f"{base}/down.jsonl", 0, 100)


def test_object_deleted_mid_read(s3) -> None:
    s3.pipe("test-bucket/gone.jsonl", DATA)
    url = "s3://test-bucket/gone.jsonl"
    with storage.BlockReader(url, block=1000, ahead=1) as reader, pytest.raises(InputError) as e:
        assert reader.read(1000) == DATA[:1000]
        s3.rm("test-bucket/gone.jsonl")
        while reader.read(1000):
            pass
    assert "gone.jsonl: no such object" in str(e.value)


@pytest.mark.parametrize("scheme", ["s3", "gs"])
def test_outputs_appear_whole_or_not_at_all(scheme: str, s3, gcs) -> None:
    fs = s3 if scheme == "s3" else gcs
    url = f"{scheme}://test-bucket/out/x.jsonl"
    with storage.open_output(url) as fh:
        fh.write(DATA)
        assert not fs.exists("test-bucket/out/x.jsonl")
    assert fs.cat("test-bucket/out/x.jsonl") == DATA
    with pytest.raises(KeyboardInterrupt), storage.open_output(f"{scheme}://test-bucket/out/y.jsonl") as fh:
        fh.write(DATA)
        raise KeyboardInterrupt
    assert not fs.exists("test-bucket/out/y.jsonl")
    storage.write_bytes(f"{scheme}://test-bucket/out/z.json", b"{}")
    assert fs.cat("test-bucket/out/z.json") == b"{}"
    storage.remove(f"{scheme}://test-bucket/out/z.json")
    storage.remove(f"{scheme}://test-bucket/out/z.json")
    assert not fs.exists("test-bucket/out/z.json")


def test_writing_to_a_missing_bucket_is_an_output_error(s3) -> None:
    with pytest.raises(OutputError, match=r"s3://no-such-bucket/x\.json: "):
        storage.write_bytes("s3://no-such-bucket/x.json", b"{}")


def test_unknown_scheme_and_missing_extra() -> None:
    with pytest.raises(InputError, match=r"frob://x/y: frob:// is not a storage scheme batchcost knows"):
        storage.size("frob://x/y")


def test_a_remote_scan_reports_progress_in_bytes(http) -> None:
    from batchcost.batchfile import scan

    base, objects = http
    objects.files["/p.jsonl"] = DATA
    seen: list[tuple[int, int]] = []
    scan(f"{base}/p.jsonl", progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (len(DATA), len(DATA)) and all(t == len(DATA) for _, t in seen)


def test_a_signed_https_url_is_one_file_and_its_signature_never_shown(http) -> None:
    from batchcost.redact import redact

    base, objects = http
    objects.files["/signed.jsonl?X-Amz-Signature=abc123&X-Amz-Expires=60"] = DATA
    url = f"{base}/signed.jsonl?X-Amz-Signature=abc123&X-Amz-Expires=60"
    assert [loc.name for loc in storage.expand([url])] == [url]  # "?" starts a query here, not a glob
    assert storage.size(url) == len(DATA)
    assert "abc123" not in redact(f"{url}: no such object")
    assert "sig-value" not in redact("https://acct.blob.core.windows.net/c/x.jsonl?sv=2024&sig=sig-value")
