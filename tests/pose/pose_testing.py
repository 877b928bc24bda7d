"""Helpers for the pose tests: synthetic poses and an independent, literal pose-picture renderer."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from mimicmotion.pose import PoseSequence
from mimicmotion.pose.types import ALL_POINTS, absent_points

# A standing person in normalised coordinates of a portrait frame (OpenPose-18 order).
STANDING = np.array(
    [
        [0.50, 0.15],  # nose
        [0.50, 0.25],  # neck
        [0.40, 0.25],  # right shoulder (image left)
        [0.36, 0.38],  # right elbow
        [0.34, 0.50],  # right wrist
        [0.60, 0.25],  # left shoulder
        [0.64, 0.38],  # left elbow
        [0.66, 0.50],  # left wrist
        [0.44, 0.52],  # right hip
        [0.44, 0.70],  # right knee
        [0.44, 0.88],  # right ankle
        [0.56, 0.52],  # left hip
        [0.56, 0.70],  # left knee
        [0.56, 0.88],  # left ankle
        [0.48, 0.13],  # right eye
        [0.52, 0.13],  # left eye
        [0.46, 0.14],  # right ear
        [0.54, 0.14],  # left ear
    ]
)


def absent_sequence(count: int, width: int = 576, height: int = 1024, fps: float = 24.0) -> PoseSequence:
    points = absent_points(count, ALL_POINTS)
    return PoseSequence.from_points(points, width, height, fps, np.arange(count) * 2)


def standing_sequence(
    count: int = 1, width: int = 576, height: int = 1024, jitter: float = 0.0, seed: int = 0
) -> PoseSequence:
    """`count` frames of the standing person (optionally jittered), hands and face around it."""
    rng = np.random.default_rng(seed)
    seq = absent_sequence(count, width, height)
    for t in range(count):
        body = STANDING + rng.normal(0, jitter, STANDING.shape)
        seq.body[t, :, :2] = body
        seq.body[t, :, 2] = rng.uniform(0.5, 1.0, 18)
        for side, wrist in ((0, 7), (1, 4)):
            seq.hands[t, side, :, :2] = body[wrist] + rng.normal(0, 0.02, (21, 2))
            seq.hands[t, side, :, 2] = rng.uniform(0.2, 1.0, 21)
        seq.face[t, :, :2] = body[0] + rng.normal(0, 0.02, (68, 2))
        seq.face[t, :, 2] = rng.uniform(0.2, 1.0, 68)
    return seq


# --------------------------------------------------------------------------------------------------
# The pose picture written straight from docs/released-behaviour.md (Pose picture), the slow obvious
# way: a fresh canvas, the whole canvas multiplied by 0.6 in floating point, then a bilinear resize.

LIMBS_1_BASED = [
    (2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11),
    (2, 12), (12, 13), (13, 14), (2, 1), (1, 15), (15, 17), (1, 16), (16, 18),
]  # fmt: skip
COLORS = [
    (0, 0, 255), (0, 85, 255), (0, 170, 255), (0, 255, 255), (0, 255, 170), (0, 255, 85),
    (0, 255, 0), (85, 255, 0), (170, 255, 0), (255, 255, 0), (255, 170, 0), (255, 85, 0),
    (255, 0, 0), (255, 0, 85), (255, 0, 170), (255, 0, 255), (170, 0, 255), (85, 0, 255),
]  # fmt: skip
HAND_EDGES = [
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10),
    (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20),
]  # fmt: skip


def literal_render(seq: PoseSequence, index: int, height: int, width: int) -> np.ndarray:
    """The released picture (style "released") of every person of entry `index`, drawn the way the facts
    doc describes it: confidences as they are (OpenCV saturates colours), hands and face with no cut-off."""
    scale = 2160 / min(height, width)
    canvas = np.zeros((int(height * scale), int(width * scale), 3), np.uint8)
    rows, cols = canvas.shape[:2]
    # the main person, then the others (absent padding draws nothing: confidence 0, pixels at -1)
    bodies = [seq.body[index], *(other[:18] for other in seq.others[index])]
    left_hands = [seq.hands[index, 0], *(other[18:39] for other in seq.others[index])]
    right_hands = [seq.hands[index, 1], *(other[39:60] for other in seq.others[index])]
    faces = [seq.face[index], *(other[60:] for other in seq.others[index])]
    for i, (a, b) in enumerate(LIMBS_1_BASED):
        a, b = a - 1, b - 1
        for body in bodies:
            conf = body[:, 2]
            if conf[a] < 0.3 or conf[b] < 0.3:
                continue
            x = body[[a, b], 0] * cols
            y = body[[a, b], 1] * rows
            length = ((x[0] - x[1]) ** 2 + (y[0] - y[1]) ** 2) ** 0.5
            angle = np.degrees(np.arctan2(y[0] - y[1], x[0] - x[1]))
            polygon = cv2.ellipse2Poly(
                (int(x.mean()), int(y.mean())), (int(length / 2), 4), int(angle), 0, 360, 1
            )
            cv2.fillConvexPoly(canvas, polygon, [int(c * conf[a] * conf[b]) for c in COLORS[i]])
    canvas = (canvas * 0.6).astype(np.uint8)
    for i in range(18):
        for body in bodies:
            if body[i, 2] > 0.3:
                center = (int(body[i, 0] * cols), int(body[i, 1] * rows))
                cv2.circle(canvas, center, 4, [int(c * body[i, 2]) for c in COLORS[i]], thickness=-1)
    for hand in [*left_hands, *right_hands]:
        score = hand[:, 2]
        px = [(int(x * cols), int(y * rows)) for x, y in hand[:, :2]]
        ok = [px[k][0] >= 1 and px[k][1] >= 1 for k in range(21)]
        for e, (a, b) in enumerate(HAND_EDGES):
            if ok[a] and ok[b]:
                r, g, bl = colorsys.hsv_to_rgb(e / 20, 1.0, 1.0)
                level = int(score[a] * score[b] * 255)
                cv2.line(canvas, px[a], px[b], (bl * level, g * level, r * level), thickness=2)
        for k in range(21):
            if ok[k]:
                cv2.circle(canvas, px[k], 4, (int(score[k] * 255), 0, 0), thickness=-1)
    for face in faces:
        for x, y, c in face:
            point = (int(x * cols), int(y * rows))
            if point[0] >= 1 and point[1] >= 1:
                level = int(c * 255)
                cv2.circle(canvas, point, 3, (level, level, level), thickness=-1)
    return cv2.resize(canvas, (width, height), interpolation=cv2.INTER_LINEAR)
