"""Top-down whole-body pose estimation around ONNX models: YOLOX person boxes, RTMPose/SimCC keypoints.

Pure numpy/OpenCV pre- and post-processing, the standard one of YOLOX and RTMPose (as DWPose runs it):
- detection: the image letterboxed into 640 x 640 (scaled to fit, top-left, grey 114 padding), raw
  outputs (cx, cy, w, h, objectness, 80 class scores) per anchor on the stride 8/16/32 grids, person
  score = objectness x class 0, non-maximum suppression at IoU 0.45, persons with score > 0.3 kept;
- keypoints: the person box grown 1.25 times and widened or heightened to the model's aspect ratio,
  cut out with an affine warp, ImageNet-normalised; SimCC outputs decoded by argmax (split ratio 2.0),
  score = the smaller of the x and y maxima, mapped back through the box.
Images are passed in the channel order they come in (RGB), as the released pipeline passed them.
"""

from __future__ import annotations

import cv2
import numpy as np

DETECTOR_SIZE = (640, 640)  # (height, width)
DETECTOR_STRIDES = (8, 16, 32)
LETTERBOX_FILL = 114
NMS_IOU = 0.45
PERSON_SCORE = 0.3
BOX_PADDING = 1.25
SIMCC_SPLIT_RATIO = 2.0
IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], np.float32)


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
    """Cell offsets (N, 2) as (column, row) and strides (N, 1) of YOLOX's outputs, finest grid first."""
    grids, strides = [], []
    for stride in DETECTOR_STRIDES:
        rows, cols = size[0] // stride, size[1] // stride
        xs, ys = np.meshgrid(np.arange(cols), np.arange(rows))
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        strides.append(np.full((rows * cols, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def decode_persons(
    output: np.ndarray, ratio: float, size: tuple[int, int] = DETECTOR_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (n, 4) as x0, y0, x1, y1 in image pixels and their scores (n,), best first."""
    predictions = output.reshape(-1, output.shape[-1]).astype(np.float32)
    grid, strides = anchor_grid(size)
    if len(predictions) != len(grid):
        raise ValueError(f"detector gave {len(predictions)} anchors, expected {len(grid)} for a {size} input")
    centers = (predictions[:, :2] + grid) * strides
    sizes = np.exp(predictions[:, 2:4]) * strides
    scores = predictions[:, 4] * predictions[:, 5]  # objectness x person class
    boxes = np.concatenate([centers - sizes / 2, centers + sizes / 2], axis=1) / ratio
    candidates = np.flatnonzero(scores > PERSON_SCORE)
    if len(candidates) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    xywh = [[float(x0), float(y0), float(x1 - x0), float(y1 - y0)] for x0, y0, x1, y1 in boxes[candidates]]
    keep = cv2.dnn.NMSBoxes(xywh, scores[candidates].tolist(), PERSON_SCORE, NMS_IOU)
    keep = candidates[np.asarray(keep, dtype=np.int64).reshape(-1)]
    order = keep[np.argsort(-scores[keep], kind="stable")]
    return boxes[order], scores[order]


def main_person(boxes: np.ndarray, scores: np.ndarray) -> int | None:
    """Index of the main person: the largest box weighted by its score (None if there is no box)."""
    if len(boxes) == 0:
        return None
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return int(np.argmax(areas * scores))


# --------------------------------------------------------------------------------------------------
# Keypoints (RTMPose, SimCC)


def box_center_scale(box: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Center and (width, height) of the region cut out for the pose model of input (width, height).

    The box is grown by 1.25, then widened or heightened (never shrunk) to the model's aspect ratio.
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2], np.float64)
    width, height = (x1 - x0) * BOX_PADDING, (y1 - y0) * BOX_PADDING
    aspect = input_size[0] / input_size[1]
    if width > height * aspect:
        scale = np.array([width, width / aspect], np.float64)
    else:
        scale = np.array([height * aspect, height], np.float64)
    return center, scale


def crop_matrix(center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """2 x 3 affine matrix taking the region (center, scale) of the image onto the model input."""
    zoom = input_size[0] / scale[0]  # the same along y: scale has the model's aspect ratio
    return np.array(
        [
            [zoom, 0.0, input_size[0] / 2 - zoom * center[0]],
            [0.0, zoom, input_size[1] / 2 - zoom * center[1]],
        ],
        np.float64,
    )


def pose_input(
    image: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """(1, 3, h, w) float32 pose-model input: the region warped to the input size, ImageNet-normalised."""
    crop = cv2.warpAffine(image, crop_matrix(center, scale, input_size), input_size, flags=cv2.INTER_LINEAR)
    normalized = (crop.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(normalized.transpose(2, 0, 1)[None])


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints (K, 2) in model-input pixels and scores (K,) from SimCC outputs (1, K, bins)."""
    simcc_x = simcc_x.reshape(-1, simcc_x.shape[-1])
    simcc_y = simcc_y.reshape(-1, simcc_y.shape[-1])
    locations = np.stack([np.argmax(simcc_x, axis=1), np.argmax(simcc_y, axis=1)], axis=-1).astype(np.float32)
    scores = np.minimum(simcc_x.max(axis=1), simcc_y.max(axis=1)).astype(np.float32)
    locations[scores <= 0] = -1
    return locations / SIMCC_SPLIT_RATIO, scores


def to_image(
    keypoints: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]
) -> np.ndarray:
    """Model-input pixels -> image pixels for the region (center, scale)."""
    return keypoints / np.asarray(input_size, np.float64) * scale + center - scale / 2
