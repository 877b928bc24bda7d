"""Reference image preparation (facts doc section 5): target size, resize to cover, center crop."""

from __future__ import annotations

import math

import cv2
import numpy as np

from mimicmotion.errors import MimicMotionError

# The long side is floor(R / (9/16) / 64) * 64; R / (9/16) / 64 = R / 36, kept in integers to be exact.
_LONG_SIDE_DIVISOR = 36
_LONG_SIDE_MULTIPLE = 64


def target_size(height: int, width: int, resolution: int) -> tuple[int, int]:
    """(H, W) of the generated video for an input of height x width; `resolution` is the short side.

    Portrait inputs (height > width) give W = resolution; others H = resolution. 576 -> 1024 x 576.
    """
    if resolution < _LONG_SIDE_DIVISOR:
        raise MimicMotionError(f"resolution must be at least {_LONG_SIDE_DIVISOR}, got {resolution}")
    if resolution % 8:
        # the VAE works on 8x8 blocks; the released sizes (576, 1024, ...) are all multiples of 64
        raise MimicMotionError(f"resolution must be a multiple of 8, got {resolution}")
    long_side = resolution // _LONG_SIDE_DIVISOR * _LONG_SIDE_MULTIPLE
    if height > width:
        return long_side, resolution
    return resolution, long_side


def prepare_reference(image: np.ndarray, resolution: int) -> np.ndarray:
    """The reference image resized to cover `target_size` (keeping its aspect) and center-cropped.

    Input and output are RGB uint8 (height, width, 3). The resize is bilinear without antialiasing and
    the crop offset rounds like torchvision's center_crop, as in the released preprocessing.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MimicMotionError(
            f"reference image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}"
        )
    height, width = image.shape[:2]
    target_h, target_w = target_size(height, width, resolution)
    if height / width < target_h / target_w:  # wider than the target: match heights
        resize_h, resize_w = target_h, math.ceil(target_h / (height / width))
    else:
        resize_h, resize_w = math.ceil(target_w * (height / width)), target_w
    resized = cv2.resize(image, (resize_w, resize_h), interpolation=cv2.INTER_LINEAR)
    top = round((resize_h - target_h) / 2.0)  # Python's round(), as torchvision's center_crop
    left = round((resize_w - target_w) / 2.0)
    return np.ascontiguousarray(resized[top : top + target_h, left : left + target_w])


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(H, W) with the aspect of height x width, the short side `short_side`, both even (for video)."""
    scale = short_side / min(height, width)
    return max(2, round(height * scale / 2) * 2), max(2, round(width * scale / 2) * 2)
