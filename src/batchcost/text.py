"""Small wording helpers shared by the library's messages and the renderers."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 request"``, ``"2,000 requests"``; ``many`` for irregular plurals."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"
