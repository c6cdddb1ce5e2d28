"""Real storage servers on loopback, started and stopped by the tests: S3 (moto's server mode), GCS
(gcp-storage-emulator, reached by gcsfs through STORAGE_EMULATOR_HOST) and HTTP with range requests.

Nothing here reaches the internet: fake AWS keys, the EC2 and GCE metadata lookups turned off, and
every endpoint on 127.0.0.1. A server whose package is missing skips its tests with the reason.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Set before any backend is imported or any filesystem made (botocore and gcsfs read them then); the
# endpoints are set again to the ports the servers start on (start_on_a_free_port).
S3_PORT = free_port()
GCS_PORT = free_port()
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{S3_PORT}",
    "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{GCS_PORT}",
    "NO_GCE_CHECK": "true",
    # gcsfs's bucket-layout probe speaks gRPC to the real service, which the emulator is not
    "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
}
os.environ.update(ENV)


class Objects:
    """The HTTP server's files, and the faults it is told to make."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.fail_next = 0  # answer this many requests with 500 first
        self.forbidden: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)


class RangeHandler(BaseHTTPRequestHandler):
    objects: Objects

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _head(self, body: bytes | None) -> tuple[int, int, int] | None:
        objects = self.objects
        objects.requests.append((self.command, self.path, self.headers.get("Range")))
        if objects.fail_next > 0:
            objects.fail_next -= 1
            self.send_error(500, "try again")
            return None
        if self.path in objects.forbidden:
            self.send_error(403, "forbidden")
            return None
        if body is None:
            self.send_error(404, "not found")
            return None
        start, end = 0, len(body)
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start, end = int(a or 0), min(len(body), int(b) + 1 if b else len(body))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        return 0, start, end

    def do_HEAD(self) -> None:
        self._head(self.objects.files.get(self.path))

    def do_GET(self) -> None:
        body = self.objects.files.get(self.path)
        got = self._head(body)
        if got is not None and body is not None:
            self.wfile.write(body[got[1] : got[2]])


@pytest.fixture(scope="session")
def http_server() -> Iterator[tuple[str, Objects]]:
    objects = Objects()
    handler = type("Handler", (RangeHandler,), {"objects": objects})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", objects
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http(http_server: tuple[str, Objects]) -> Iterator[tuple[str, Objects]]:
    base, objects = http_server
    objects.fail_next = 0
    objects.forbidden.clear()
    objects.requests.clear()
    yield base, objects
    objects.files.clear()


def start_on_a_free_port(make: Callable[[int], Any], env_key: str, tries: int = 3) -> tuple[Any, str]:
    """Start a server made by ``make(port)`` on a port free now; point ``env_key`` at it; its URL.

    moto's and the GCS emulator's ``start()`` wait for their listening thread with no time limit,
    and that thread dies when the port is taken (another process may take it between choosing and
    binding: a whole run once hung here). A start that is not done within 10 s is given up and
    tried again on another port.
    """
    for _ in range(tries):
        port = free_port()
        server = make(port)
        starter = threading.Thread(target=server.start, daemon=True)  # left waiting if the bind failed
        starter.start()
        starter.join(10)
        if not starter.is_alive():
            url = f"http://127.0.0.1:{port}"
            os.environ[env_key] = ENV[env_key] = url  # read when a client or filesystem is made
            return server, url
    pytest.fail(f"no test server for {env_key} could start on a free loopback port in {tries} tries")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'batchcost[s3]')")
    moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed (the test extra)")
    server, url = start_on_a_free_port(
        lambda port: moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False),
        "AWS_ENDPOINT_URL_S3",
    )
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: str) -> Iterator[Any]:
    """An empty bucket ``s3://test-bucket`` on the moto server; the s3fs filesystem to fill it."""
    import urllib.request

    import s3fs

    # moto's own reset: every bucket gone, in one call
    urllib.request.urlopen(urllib.request.Request(f"{s3_server}/moto-api/reset", method="POST"), timeout=10).close()
    fs = s3fs.S3FileSystem(skip_instance_cache=True, use_listings_cache=False)
    fs.mkdir("test-bucket")
    yield fs


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[Any]:
    pytest.importorskip("gcsfs", reason="gcsfs is not installed (pip install 'batchcost[gcs]')")
    emulator = pytest.importorskip("gcp_storage_emulator.server", reason="gcp-storage-emulator is not installed")
    import logging

    logging.getLogger("gcp_storage_emulator").setLevel(logging.WARNING)
    server, _ = start_on_a_free_port(
        lambda port: emulator.create_server("127.0.0.1", port, in_memory=True), "STORAGE_EMULATOR_HOST"
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gcs(gcs_server: Any) -> Iterator[Any]:
    """An empty bucket ``gs://test-bucket`` on the emulator; the gcsfs filesystem to fill it."""
    import gcsfs

    gcs_server.wipe()  # the emulator's own reset: every bucket gone
    fs = gcsfs.GCSFileSystem(token="anon", skip_instance_cache=True, use_listings_cache=False)
    fs.mkdir("test-bucket")
    yield fs
