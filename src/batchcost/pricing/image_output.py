"""Image output: how many image tokens each request's generated images are billed as.

An image-output model (Gemini 3 Pro Image, 3.1 Flash Image) bills every generated image as a fixed
number of output tokens that depends on the image size, at its image-output rate
(:attr:`~batchcost.pricing.records.ModeRates.output_image`). Per request the estimate counts
``candidateCount`` images when the request asks for IMAGE output or names no output modalities
(these models answer with an image by default) - one image per candidate, an assumption stated in
the model's notes - and none when ``responseModalities`` leaves IMAGE out. The tokens per image by
``imageConfig.imageSize`` are in ``data/image_output.yaml``, each with its source.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from ..batchfile.output_request import FLAG_NO_IMAGE_OUT, IMAGE_SIZE_MASK, IMAGE_SIZE_SHIFT, IMAGE_SIZES
from ..errors import UnpricedError
from ..text import plural
from .records import Source

if TYPE_CHECKING:
    from ..batchfile import ScanResult


@dataclass(frozen=True)
class ImageOutputRule:
    """Tokens per generated image of one model, by image size, with the source that gives them."""

    model: str
    tokens_per_image: Mapping[str, int]
    default_size: str
    source: Source


@cache
def image_rules() -> dict[str, ImageOutputRule]:
    """The packaged table, by canonical model id."""
    from .overlay import load_yaml_text

    text = resources.files("batchcost.pricing").joinpath("data/image_output.yaml").read_text(encoding="utf-8")
    raw = load_yaml_text(text)
    rules: dict[str, ImageOutputRule] = {}
    for model, entry in raw["models"].items():
        src = entry["source"]
        checked = entry["checked"]
        day = checked if isinstance(checked, datetime.date) else datetime.date.fromisoformat(str(checked))
        rules[model] = ImageOutputRule(
            model,
            {str(k): int(v) for k, v in entry["tokens_per_image"].items()},
            str(entry["default_size"]),
            Source(src["title"], src.get("url"), day, src.get("quote")),
        )
    return rules


def image_rule(model_id: str) -> ImageOutputRule | None:
    """The rule of a canonical model id, or None for a model without image output."""
    return image_rules().get(model_id)


@dataclass(frozen=True)
class ImageOutput:
    """Per scan row: images asked for and their output tokens (0 where no image is asked)."""

    images: np.ndarray
    tokens: np.ndarray
    note: str


def image_output(scan: ScanResult, rule: ImageOutputRule) -> ImageOutput:
    """The images each request will produce and the image tokens they are billed as.

    Raises:
        UnpricedError: a request asks for an image size whose tokens the source does not give.
    """
    rows = scan.rows
    usable = rows["usable"].astype(bool)
    flags = rows["flags"].astype(np.int64)
    wants = (flags & FLAG_NO_IMAGE_OUT) == 0
    images = np.where(wants & usable, rows["candidate_count"].astype(np.int64), 0)
    codes = (flags & IMAGE_SIZE_MASK) >> IMAGE_SIZE_SHIFT
    per_code = np.zeros(len(IMAGE_SIZES) + 1, np.int64)
    per_code[0] = rule.tokens_per_image[rule.default_size]
    missing: list[str] = []
    for i, size in enumerate(IMAGE_SIZES, start=1):
        if size in rule.tokens_per_image:
            per_code[i] = rule.tokens_per_image[size]
        elif bool(((codes == i) & (images > 0)).any()):
            missing.append(size)
    if missing:
        raise UnpricedError(
            f"{rule.model}: requests ask for imageSize {', '.join(missing)}, whose tokens per image "
            f"{rule.source.short()} does not give (it gives {', '.join(rule.tokens_per_image)}); choose one of those"
        )
    tokens = images * per_code[codes]
    sizes = ", ".join(f"{k} {v:,}" for k, v in rule.tokens_per_image.items())
    note = (
        f"{plural(int(images.sum()), 'generated image')} ({int(tokens.sum()):,} image output tokens): tokens per "
        f"image by imageConfig.imageSize {sizes}, {rule.default_size} when not given ({rule.source.short()})"
    )
    return ImageOutput(images, tokens, note)
