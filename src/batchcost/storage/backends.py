"""The fsspec filesystem behind a URL, and every backend's failures as one line with a fix.

Credentials come from each backend's own standard environment and config files (s3fs: the AWS
variables, ``~/.aws``, an instance role; gcsfs: Application Default Credentials; adlfs: the
``AZURE_STORAGE_*`` variables or a DefaultAzureCredential); batchcost passes none of its own.
"""

from __future__ import annotations

import errno
import os
import re
from typing import Any

from ..errors import BatchcostError, InputError, OutputError
from ..redact import redact
from .locations import local_path, protocol_of

# The extra that brings each scheme's backend (pyproject.toml [project.optional-dependencies]).
EXTRAS: dict[str, str] = {
    "s3": "s3", "s3a": "s3",
    "gs": "gcs", "gcs": "gcs",
    "az": "azure", "abfs": "azure", "abfss": "azure", "adl": "azure",
    "http": "http", "https": "http",
}  # fmt: skip

# Seconds to wait for a connection, and for a server to answer once connected: a user without
# network or credentials gets an error soon, never a hang.
CONNECT_TIMEOUT = 15
READ_TIMEOUT = 120

# HTTP statuses that say "try again" (the server's trouble, not the request's).
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def filesystem(name: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path within it)`` for a URL; a missing backend is an InputError naming its extra."""
    protocol = protocol_of(name)
    if protocol == "file":
        import fsspec.implementations.local as fs_local

        return fs_local.LocalFileSystem(), local_path(name)
    extra = EXTRAS.get(protocol)
    try:
        import fsspec.core
    except ImportError:
        raise InputError(name, _install(protocol, extra)) from None
    try:
        return fsspec.core.url_to_fs(name, **_options(protocol))
    except ImportError:
        raise InputError(name, _install(protocol, extra)) from None
    except ValueError as e:
        if "not known" in str(e) or "protocol" in str(e).lower():
            raise InputError(name, f"{protocol}:// is not a storage scheme batchcost knows; use {_SCHEMES}") from None
        raise failure(name, e) from None


_SCHEMES = "gs://, s3://, az://, https:// or a local path"


def _install(protocol: str, extra: str | None) -> str:
    if extra is None:
        return f"{protocol}:// is not a storage scheme batchcost knows; use {_SCHEMES}"
    return f"reading {protocol}:// needs an optional extra: pip install 'batchcost[{extra}]'"


def _options(protocol: str) -> dict[str, Any]:
    """Timeouts per backend (their own defaults would wait minutes), nothing that touches credentials.

    Listings are not cached: a command may write objects and read the folder back (shard, --verify).
    """
    common: dict[str, Any] = {"use_listings_cache": False}
    if protocol in ("s3", "s3a"):
        return common | {"config_kwargs": {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": READ_TIMEOUT,
                                  "retries": {"max_attempts": 5, "mode": "standard"}}}  # fmt: skip
    if protocol in ("gs", "gcs"):
        options: dict[str, Any] = common | {"requests_timeout": READ_TIMEOUT}
        if os.environ.get("STORAGE_EMULATOR_HOST", "") not in ("", "default"):
            # an emulator takes no credentials; looking for some would probe the GCE metadata server
            options["token"] = "anon"
        return options
    if protocol in ("http", "https"):
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
        return common | {"client_kwargs": {"timeout": timeout}}
    return common


# Exception class names that mean "no usable credentials", across backends (matched by name so that
# no backend is imported to recognise its errors).
_NO_CREDENTIALS = {
    "NoCredentialsError": "s3", "PartialCredentialsError": "s3", "CredentialRetrievalError": "s3",
    "NoAuthTokenError": "s3", "DefaultCredentialsError": "gs", "RefreshError": "gs",
    "TransportError": "gs", "ClientAuthenticationError": "az", "CredentialUnavailableError": "az",
}  # fmt: skip
_CREDENTIAL_HELP = {
    "s3": "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run on a machine with a role",
    "gs": "run `gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS to a key file",
    "az": "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with a key or `az login`",
}
_SCHEME_FAMILY = {"s3a": "s3", "gcs": "gs", "abfs": "az", "abfss": "az", "adl": "az"}


def status_of(e: BaseException) -> int | None:
    """The HTTP status an exception carries, whichever backend raised it (None: none).

    fsspec's HTTP filesystem turns any failure to stat a URL into FileNotFoundError: the status
    is then the one of the exception it chains.
    """
    found = _own_status(e)
    if found is None and isinstance(e.__cause__, Exception):
        found = _own_status(e.__cause__)
    return found


def _own_status(e: BaseException) -> int | None:
    for attr in ("status", "code", "status_code"):
        value = getattr(e, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(e, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        meta = response.get("ResponseMetadata", {})
        value = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
        if isinstance(value, int):
            return value
    text = str(e)
    if text.startswith("Forbidden:"):  # gcsfs raises a bare OSError for 403
        return 403
    m = re.search(r"\b(?:status|HTTP)[ =:]*(\d{3})\b", text)
    return int(m[1]) if m else None


def is_transient(e: BaseException) -> bool:
    """True for a failure worth retrying: a 5xx or 429, a timeout, a dropped connection."""
    if isinstance(e, BatchcostError | FileNotFoundError | PermissionError):
        return False
    status = status_of(e)
    if status is not None:
        return status in TRANSIENT_STATUSES
    if isinstance(e, TimeoutError | ConnectionError):
        return True
    names = {c.__name__ for c in type(e).__mro__}
    return bool(names & {"ClientConnectionError", "ServerDisconnectedError", "ClientPayloadError",
                         "EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError",
                         "ServiceResponseError", "ProxyError"})  # fmt: skip


def failure(name: str, e: BaseException, *, writing: bool = False) -> BatchcostError:
    """A backend's exception as a one-line InputError (or OutputError when ``writing``) naming ``name``."""
    if isinstance(e, BatchcostError):
        return e
    cls = OutputError if writing else InputError
    return cls(name, describe(name, e, writing=writing))


def describe(name: str, e: BaseException, *, writing: bool = False) -> str:
    """What went wrong and what to do, for a user; never a credential (messages pass :func:`_clean`)."""
    family = _SCHEME_FAMILY.get(protocol_of(name), protocol_of(name))
    names = [c.__name__ for c in type(e).__mro__]
    cred = next((n for n in names if n in _NO_CREDENTIALS), None)
    status = status_of(e)
    verb = "written" if writing else "read"
    if cred is not None:
        help_ = _CREDENTIAL_HELP.get(family, "set the credentials the way the storage's own tools read them")
        return f"no usable credentials to reach {family}:// ({cred}); {help_}"
    denied = status in (401, 403) or (status is None and isinstance(e, PermissionError))
    if not denied and (isinstance(e, FileNotFoundError) or status == 404):
        if writing:
            return "the bucket or container does not exist; create it first or check the name"
        return "no such object; check the bucket and the name (or it was removed while being read)"
    if denied or getattr(e, "errno", None) in (errno.EACCES, errno.EPERM):
        code = f" (HTTP {status})" if status else ""
        return (f"access denied{code}: the credentials in use may not {'write' if writing else 'read'} it; "
                "check the account's permissions on the bucket")  # fmt: skip
    if status == 416:
        return "changed while being read (a range past its end); run the command again"
    if isinstance(e, TimeoutError) or "Timeout" in "".join(names):
        return "the storage did not answer in time; check the network and try again"
    if is_transient(e):
        what = f"HTTP {status}" if status else _clean(e)
        return f"the storage kept failing ({what}) after retries; try again later"
    return f"cannot be {verb}: {_clean(e)}"


def _clean(e: BaseException) -> str:
    """The first line of an exception's text, without credentials or signed query strings."""
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    text = re.sub(r"(https?://[^\s?\"']+)\?[^\s\"']*", r"\1?[query redacted]", text)
    return redact(text)[:300]
