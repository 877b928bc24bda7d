"""Bringing a generated frame and its ground truth to the same pixels before comparing them.

Order: optional central square crop of each frame (the paper compares methods with different
aspect ratios on the center square only), optional resize of the ground truth so its short side
is `size`, then the prediction is resized to the ground truth's size. Shrinking uses area
averaging (no aliasing), enlarging bicubic interpolation.
"""

from __future__ import annotations

import cv2
import numpy as np


def center_square(frame: np.ndarray) -> np.ndarray:
    """The central square of side min(height, width)."""
    height, width = frame.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    return frame[top : top + side, left : left + side]


def resize(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize an RGB uint8 frame; returns the frame itself when the size already matches."""
    if frame.shape[1] == width and frame.shape[0] == height:
        return frame
    shrinking = width * height < frame.shape[0] * frame.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(frame, (width, height), interpolation=interpolation)


def short_side_to(frame: np.ndarray, size: int) -> np.ndarray:
    """Resize keeping the aspect ratio so that the short side is `size` pixels."""
    height, width = frame.shape[:2]
    scale = size / min(height, width)
    return resize(frame, max(1, round(width * scale)), max(1, round(height * scale)))


def prepare_pair(
    pred: np.ndarray, gt: np.ndarray, center_crop: bool = False, size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Crop and resize a (pred, gt) frame pair to one common size (the ground truth's)."""
    if center_crop:
        pred, gt = center_square(pred), center_square(gt)
    if size is not None:
        gt = short_side_to(gt, size)
    return resize(pred, gt.shape[1], gt.shape[0]), gt
