"""What a request asks the model to produce: ``responseModalities`` and ``imageConfig.imageSize``.

Image-output models bill each generated image as image tokens whose number depends on the image
size, so the scan keeps, in the row's ``flags``, whether the request's ``responseModalities`` leave
IMAGE out (one bit: a request that names none gets the model's default output, which holds an image
on these models) and the asked image size (3 bits, see :data:`IMAGE_SIZES`). They take the four bits
above every other ``FLAG_*`` bit (``batchfile.request`` 1-1024, ``embed_request.FLAG_EMBED`` 2048), the
last four of the scan's 16-bit ``flags`` column: one more flag needs that column widened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FLAG_NO_IMAGE_OUT = 4096
"""``responseModalities`` is given and leaves IMAGE out: the request asks for no image."""
IMAGE_SIZE_SHIFT = 13
IMAGE_SIZE_MASK = 7 << IMAGE_SIZE_SHIFT
IMAGE_SIZES: tuple[str, ...] = ("512", "1K", "2K", "4K")
"""``imageConfig.imageSize`` values; code ``i + 1`` in the flags (0: not given)."""
_SIZE_ALIASES = {"0.5K": "512", "512PX": "512"}
MODALITIES = ("TEXT", "IMAGE", "AUDIO")


def image_size(flags: int) -> str | None:
    """The ``imageSize`` a row's flags hold, or None when the request gives none."""
    code = (flags & IMAGE_SIZE_MASK) >> IMAGE_SIZE_SHIFT
    return IMAGE_SIZES[code - 1] if code else None


def output_flags(field: str, value: Any, report: Callable[[str, str], None]) -> int:
    """Flag bits for one ``generationConfig`` field (``responseModalities`` or ``imageConfig``)."""
    if field == "responseModalities":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            report("bad-value", 'responseModalities must be a list like ["TEXT", "IMAGE"]')
            return 0
        names = {v.upper() for v in value}
        unknown = sorted(names - set(MODALITIES))
        if unknown:
            report("bad-value", f"responseModalities {unknown[0]!r:.30} is not one of {', '.join(MODALITIES)}")
        return 0 if "IMAGE" in names else FLAG_NO_IMAGE_OUT
    if field == "imageConfig":
        if not isinstance(value, dict):
            report("bad-value", '"imageConfig" must be an object like {"imageSize": "1K", "aspectRatio": "1:1"}')
            return 0
        size = value.get("imageSize", value.get("image_size"))
        if size is None:
            return 0
        name = size.upper() if isinstance(size, str) else ""
        name = _SIZE_ALIASES.get(name, name)
        if name not in IMAGE_SIZES:
            report("bad-value", f"imageConfig.imageSize {size!r:.30} is not one of {', '.join(IMAGE_SIZES)}")
            return 0
        return (IMAGE_SIZES.index(name) + 1) << IMAGE_SIZE_SHIFT
    return 0
