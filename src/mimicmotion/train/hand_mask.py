"""Hand region enhancement (paper 3.4): reliable hands -> padded boxes -> a loss weight map.

A hand is reliable when every one of its 21 keypoints has a confidence above the threshold; its box is
the keypoints' bounding box grown on every side by `padding` times its longer side. The weight map is
`weight` on every latent cell the box touches and 1 elsewhere. Boxes are in normalised coordinates
(x / width, y / height) of the frame the keypoints belong to, so the same box serves any resolution.
"""

from __future__ import annotations

import math

import numpy as np

HAND_KEYPOINTS = 21


def hand_boxes(hands: np.ndarray, threshold: float, padding: float, aspect: float = 1.0) -> np.ndarray:
    """Boxes (..., 4) as [x0, y0, x1, y1] for hands (..., 21, 3); NaN rows for unreliable hands.

    `aspect` is the frame's width / height: padding is measured in pixels, so a box grows by the same
    number of pixels horizontally and vertically although x and y are normalised differently.
    """
    hands = np.asarray(hands, dtype=np.float64)
    if hands.shape[-2:] != (HAND_KEYPOINTS, 3):
        raise ValueError(f"hands must have shape (..., {HAND_KEYPOINTS}, 3), got {hands.shape}")
    reliable = (hands[..., 2] > threshold).all(axis=-1)
    low = hands[..., :2].min(axis=-2)
    high = hands[..., :2].max(axis=-2)
    # Longer side in units of the frame height; padding in x is that length in units of the width.
    longer = np.maximum((high[..., 0] - low[..., 0]) * aspect, high[..., 1] - low[..., 1])
    pad = np.stack([padding * longer / aspect, padding * longer], axis=-1)
    boxes = np.concatenate([low - pad, high + pad], axis=-1)
    boxes[~reliable] = np.nan
    return boxes


def weight_map(boxes: np.ndarray, height: int, width: int, weight: float) -> np.ndarray:
    """(height, width) float32 map: `weight` on cells a box touches, 1 elsewhere.

    `boxes` (K, 4) normalised [x0, y0, x1, y1] (NaN rows are ignored); cell (i, j) covers
    [j / width, (j + 1) / width) x [i / height, (i + 1) / height).
    """
    weights = np.ones((height, width), np.float32)
    for x0, y0, x1, y1 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        if math.isnan(x0):
            continue
        left, right = max(math.floor(x0 * width), 0), min(math.ceil(x1 * width), width)
        top, bottom = max(math.floor(y0 * height), 0), min(math.ceil(y1 * height), height)
        if left < right and top < bottom:
            weights[top:bottom, left:right] = weight
    return weights


def hand_weight_maps(
    hands: np.ndarray, height: int, width: int, threshold: float, padding: float, weight: float, aspect: float
) -> np.ndarray:
    """Weight maps (T, height, width) of T frames of hands (T, 2, 21, 3); `aspect` = frame width / height."""
    boxes = hand_boxes(hands, threshold, padding, aspect)
    return np.stack([weight_map(frame_boxes, height, width, weight) for frame_boxes in boxes])
