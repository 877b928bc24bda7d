"""Top-down whole-body pose estimation around ONNX models: YOLOX person boxes, RTMPose/SimCC keypoints.

Pure numpy/OpenCV pre- and post-processing, the standard one of YOLOX and RTMPose, with the numerics of
the released MimicMotion DWPose wrapper (docs/released-behaviour.md), so that the same ONNX files give
the same keypoints to the last bit:
- detection: the image letterboxed into 640 x 640 (scaled to fit, top-left, grey 114 padding), raw
  outputs (cx, cy, w, h, objectness, 80 class scores) per anchor on the stride 8/16/32 grids, decoded
  into float32 boxes; person score = objectness x class 0; greedy non-maximum suppression among scores
  > 0.1 with IoU <= 0.45 kept (areas counted with the +1 pixel convention); persons = the kept boxes
  with score > 0.3, best first. When there is none, the whole image is the one box.
- keypoints: each box grown 1.25 times and widened or heightened to the model's aspect ratio, cut out
  with an affine warp (the matrix solved from three point pairs, as OpenCV's getAffineTransform does),
  ImageNet-normalised in float64; SimCC outputs decoded by argmax (split ratio 2.0), score = the smaller
  of the x and y maxima, mapped back through the box in float64.
Images are passed in the channel order they come in (RGB), as the released pipeline passed them.
"""

from __future__ import annotations

import cv2
import numpy as np

DETECTOR_SIZE = (640, 640)  # (height, width)
DETECTOR_STRIDES = (8, 16, 32)
LETTERBOX_FILL = 114
NMS_IOU = np.float32(0.45)  # compared with float32 overlaps
NMS_SCORE = np.float32(0.1)  # boxes taking part in the suppression (compared in float32)
PERSON_SCORE = 0.3  # boxes kept as persons afterwards (compared in float64)
PERSON_CLASS = 0
BOX_PADDING = 1.25
SIMCC_SPLIT_RATIO = 2.0
IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], np.float64)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], np.float64)


# --------------------------------------------------------------------------------------------------
# Person detection (YOLOX)


def letterbox(image: np.ndarray, size: tuple[int, int] = DETECTOR_SIZE) -> tuple[np.ndarray, float]:
    """(1, 3, H, W) float32 detector input and the scale factor applied to the image."""
    height, width = size
    ratio = min(height / image.shape[0], width / image.shape[1])
    resized_w, resized_h = int(image.shape[1] * ratio), int(image.shape[0] * ratio)
    padded = np.full((height, width, 3), LETTERBOX_FILL, np.uint8)
    padded[:resized_h, :resized_w] = cv2.resize(image, (resized_w, resized_h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(padded.transpose(2, 0, 1)[None], dtype=np.float32), ratio


def anchor_grid(size: tuple[int, int] = DETECTOR_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Cell offsets (N, 2) as (column, row) and strides (N, 1) of YOLOX's outputs, finest grid first.

    Integers: adding them to the float32 outputs computes in float64, rounded to float32 once.
    """
    grids, strides = [], []
    for stride in DETECTOR_STRIDES:
        rows, cols = size[0] // stride, size[1] // stride
        xs, ys = np.meshgrid(np.arange(cols), np.arange(rows))
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        strides.append(np.full((rows * cols, 1), stride))
    return np.concatenate(grids), np.concatenate(strides)


def decode_boxes(
    output: np.ndarray, ratio: float, size: tuple[int, int] = DETECTOR_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Every anchor's box (N, 4) as float32 x0, y0, x1, y1 in image pixels and its person score (N,)."""
    predictions = output.reshape(-1, output.shape[-1]).astype(np.float32)
    grid, strides = anchor_grid(size)
    if len(predictions) != len(grid):
        raise ValueError(f"detector gave {len(predictions)} anchors, expected {len(grid)} for a {size} input")
    centers = ((predictions[:, :2] + grid) * strides).astype(np.float32)
    sizes = (np.exp(predictions[:, 2:4]) * strides).astype(np.float32)
    scores = predictions[:, 4] * predictions[:, 5 + PERSON_CLASS]  # objectness x person class
    half = sizes / np.float32(2)
    boxes = np.concatenate([centers - half, centers + half], axis=1) / np.float32(ratio)
    return boxes, scores


def suppress(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    """Greedy non-maximum suppression: indices kept, best score first.

    Overlap = intersection / union with the +1 pixel convention on both (a box from x0 to x1 covers
    x1 - x0 + 1 pixels), in float32; a box survives when its overlap with every kept box is <= 0.45.
    The order is numpy's default argsort, reversed, which fixes how ties are broken.
    """
    x0, y0, x1, y1 = boxes.T
    one = np.float32(1)
    areas = (x1 - x0 + one) * (y1 - y0 + one)
    order = np.argsort(scores)[::-1]
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        inter = _shared_pixels(x0, x1, best, rest) * _shared_pixels(y0, y1, best, rest)
        overlap = inter / (areas[best] + areas[rest] - inter)
        order = rest[overlap <= NMS_IOU]
    return keep


def _shared_pixels(low: np.ndarray, high: np.ndarray, best: int, rest: np.ndarray) -> np.ndarray:
    """Pixels box `best` shares with each box of `rest` along one axis (+1 convention; 0 when apart)."""
    shared = np.minimum(high[best], high[rest]) - np.maximum(low[best], low[rest]) + np.float32(1)
    return np.maximum(np.float32(0), shared)


def decode_persons(
    output: np.ndarray, ratio: float, size: tuple[int, int] = DETECTOR_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (n, 4) as float64 x0, y0, x1, y1 in image pixels and their scores (n,), best first."""
    boxes, scores = decode_boxes(output, ratio, size)
    candidates = scores > NMS_SCORE
    boxes, scores = boxes[candidates], scores[candidates]
    keep = suppress(boxes, scores)
    boxes, scores = boxes[keep].astype(np.float64), scores[keep].astype(np.float64)
    persons = scores > PERSON_SCORE
    return boxes[persons], scores[persons]


def person_boxes(output: np.ndarray, ratio: float, image_shape: tuple[int, ...]) -> np.ndarray:
    """The boxes to estimate keypoints in: every person found, or the whole image when there is none."""
    boxes, _ = decode_persons(output, ratio)
    if len(boxes):
        return boxes
    height, width = image_shape[:2]
    return np.array([[0.0, 0.0, width, height]], np.float64)


# --------------------------------------------------------------------------------------------------
# Keypoints (RTMPose, SimCC)


def box_center_scale(box: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Center and (width, height) of the region cut out for the pose model of input (width, height).

    The box is grown by 1.25, then widened or heightened (never shrunk) to the model's aspect ratio.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    center = np.array([(x0 + x1) * 0.5, (y0 + y1) * 0.5], np.float64)
    width, height = (x1 - x0) * BOX_PADDING, (y1 - y0) * BOX_PADDING
    aspect = input_size[0] / input_size[1]
    if width > height * aspect:
        scale = np.array([width, width / aspect], np.float64)
    else:
        scale = np.array([height * aspect, height], np.float64)
    return center, scale


def _square_corner(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The point c with b -> c the vector b -> a turned by 90 degrees, in float32 like its inputs."""
    direction = a - b
    return b + np.array([-direction[1], direction[0]], np.float32)


def _three_points(center: np.ndarray, half_width: float) -> np.ndarray:
    """float32 (3, 2): the center, the point half a width above it, and the corner that squares them."""
    points = np.zeros((3, 2), np.float32)
    points[0] = center
    points[1] = center + np.array([0.0, -half_width])  # computed in float64, then stored as float32
    points[2] = _square_corner(points[0], points[1])
    return points


def crop_matrix(center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """2 x 3 affine matrix taking the region (center, scale) of the image onto the model input.

    Solved by OpenCV from three float32 point pairs, not written down analytically: the warp rounds
    its fixed-point coordinates from this matrix, and the released keypoints came from this one.
    """
    width, height = input_size
    source = _three_points(center, scale[0] * 0.5)
    target = _three_points(np.array([width * 0.5, height * 0.5]), width * 0.5)
    return cv2.getAffineTransform(source, target)


def pose_input(
    image: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """(1, 3, h, w) float32 pose-model input: the region warped to the input size, ImageNet-normalised.

    The normalisation is computed in float64 and rounded to float32 once, as onnxruntime received it.
    """
    crop = cv2.warpAffine(image, crop_matrix(center, scale, input_size), input_size, flags=cv2.INTER_LINEAR)
    normalized = (crop - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(normalized.transpose(2, 0, 1)[None], dtype=np.float32)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (K, 2) in model-input pixels and scores (K,) from SimCC outputs (1, K, bins).

    A keypoint whose score is <= 0 sits at bin -1 (no maximum above zero); it keeps that position.
    """
    simcc_x = simcc_x.reshape(-1, simcc_x.shape[-1])
    simcc_y = simcc_y.reshape(-1, simcc_y.shape[-1])
    locations = np.stack([np.argmax(simcc_x, axis=1), np.argmax(simcc_y, axis=1)], axis=-1).astype(np.float32)
    scores = np.minimum(simcc_x.max(axis=1), simcc_y.max(axis=1)).astype(np.float32)
    locations[scores <= 0] = -1
    return locations / np.float32(SIMCC_SPLIT_RATIO), scores


def to_image(
    keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Model-input pixels -> image pixels (float64) for the region (center, scale)."""
    return keypoints / np.asarray(input_size, np.float64) * scale + center - scale / 2
