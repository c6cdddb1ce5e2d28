"""Names of files: a local path or a URL, and the forms two names are compared in."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

# scheme://... (two letters at least, so that a Windows drive "C:\\" is never a URL)
_URL = re.compile(r"^(?P<protocol>[a-zA-Z][a-zA-Z0-9+.-]+)://")


def is_url(name: str | os.PathLike[str]) -> bool:
    """True when ``name`` is a URL read through fsspec (``s3://b/k``), not a local path.

    ``file://`` URLs are local paths (read on the local fast path, see :func:`local_path`).
    Cheap: no import, so callers may ask for every name.
    """
    if not isinstance(name, str):
        return False
    m = _URL.match(name)
    return m is not None and m["protocol"].lower() != "file"


def local_path(name: str | os.PathLike[str]) -> str:
    """A local name as a path: ``file:///x/y`` is ``/x/y``; other names are returned as given."""
    text = os.fspath(name)
    if text[:7].lower() == "file://":
        from urllib.parse import unquote

        return unquote(text[7:])
    return text


def protocol_of(name: str) -> str:
    """The URL's scheme, lower-case (``s3``, ``gs``, ``https``); ``file`` for a local path."""
    m = _URL.match(name)
    return m["protocol"].lower() if m else "file"


@dataclass(frozen=True)
class Location:
    """One file: ``name`` as the user gave it (or as a glob expanded to), shown in every message.

    ``protocol`` is ``file`` for a local path; ``url`` is true for anything read through fsspec.
    """

    name: str

    @property
    def protocol(self) -> str:
        return protocol_of(self.name)

    @property
    def url(self) -> bool:
        return is_url(self.name)

    def __str__(self) -> str:
        return self.name


def path_part(url: str) -> str:
    m = _URL.match(url)
    return url[m.end() :] if m else url


def normalise(name: str | os.PathLike[str]) -> str:
    """The form two names are compared in: a URL with its scheme's aliases unified and ``.``/``..`` resolved,
    a local path made absolute and real (links followed).
    """
    text = os.fspath(name)
    if not is_url(text):
        return os.path.realpath(local_path(text))
    protocol = protocol_of(text)
    rest = path_part(text)
    alias = {"gcs": "gs", "s3a": "s3", "abfs": "az", "abfss": "az", "adl": "az"}.get(protocol, protocol)
    if protocol in ("http", "https"):
        return f"{protocol}://{rest}"
    import posixpath

    bucket, _, key = rest.partition("/")
    key = posixpath.normpath("/" + key).lstrip("/") if key else ""
    return f"{alias}://{bucket}/{key}"


def join(folder: str, name: str) -> str:
    """``name`` inside ``folder`` (a URL prefix or a local folder)."""
    if is_url(folder):
        return folder.rstrip("/") + "/" + name
    return os.path.join(local_path(folder), name)


def parent(name: str) -> str:
    """The folder (or URL prefix) that holds ``name``."""
    if is_url(name):
        head, _, _ = name.rstrip("/").rpartition("/")
        return head if "://" in head else name
    return os.path.dirname(local_path(name)) or "."
