"""Keep credentials out of every message: API keys, passwords in URLs, keys in query strings.

Error texts from HTTP libraries quote the URL they called, and a proxy URL may carry a password
(``http://user:secret@proxy:3128``). Every message that can hold such text goes through
:func:`redact` before it reaches a user, a log or a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[redacted]"

# scheme://user:password@host -> scheme://[redacted]@host (a user name alone is kept)
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s/@:]*):(?P<password>[^\s/@]*)@")
# ?key=... or &key=... (the Gemini REST API takes the API key as a query parameter), and the
# signatures of signed object-storage URLs (S3 and GCS signed URLs, Azure SAS tokens)
_QUERY_KEY = re.compile(
    r"(?P<lead>[?&](?:key|api_key|apikey|access_token|token|x-amz-signature|x-amz-security-token|x-goog-signature"
    r"|sig)=)[^&\s#\"']+",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given secrets, URL passwords and key query parameters replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _QUERY_KEY.sub(lambda m: f"{m['lead']}{MASK}", text)


def host_of(url: str | None) -> str:
    """The ``host[:port]`` of a URL, without any user name or password."""
    from urllib.parse import urlsplit

    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host
