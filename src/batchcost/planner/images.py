"""Image-output models in the estimate: the images each request asks for and what they cost.

The images are known from the requests (``candidateCount`` and ``responseModalities``, sizes from
``imageConfig.imageSize``), so their cost is in the expected, low, high and ceiling figures of every
mode, the floor included; the text and thinking output of the same requests is priced
as for any model.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UnpricedError
from ..pricing.image_output import ImageOutput, image_output, image_rule

if TYPE_CHECKING:
    from ..batchfile import ScanResult
    from ..pricing import ModeRates


def planned_images(scan: ScanResult, model_id: str, notes: list[str] | None) -> ImageOutput | None:
    """The images of an image-output model's requests (None for other models); its note joins ``notes``."""
    rule = image_rule(model_id)
    if rule is None:
        return None
    found = image_output(scan, rule)
    if notes is not None and found.note not in notes:
        notes.append(found.note)
    return found


def image_cost(rates: ModeRates, images: ImageOutput | None, usable: np.ndarray) -> Decimal:
    """USD of the generated images of the rows ``usable`` selects (a mask or row numbers) at
    ``rates``' image-output rate (0 without images).

    Raises:
        UnpricedError: images are asked for but the mode has no image-output rate.
    """
    if images is None:
        return Decimal(0)
    tokens = int(images.tokens[usable].sum())
    if not tokens:
        return Decimal(0)
    if rates.output_image is None:
        raise UnpricedError(f"{rates.model} {rates.mode} image-output rate is unknown on {rates.run_date}")
    with localcontext() as ctx:
        ctx.prec = 60
        return (Decimal(tokens) * rates.output_image.usd_per_mtok).scaleb(-6)
