"""The offline backend: MediaPipe Holistic (mediapipe 0.10.21, whose wheel carries its models).

Holistic follows one person (the most prominent) and gives 33 body landmarks with a visibility, 21
landmarks per hand and a 468-point face mesh. They are mapped to the OpenPose-18 / hand-21 / iBUG-68
layout of `PoseSequence`:

- body: OpenPose point <- MediaPipe landmark (below), confidence = visibility; the neck is the
  shoulders' midpoint, present (confidence 1) only when both shoulders' visibility > 0.3, the rule the
  released DWPose conversion uses.
- hands: MediaPipe's hand landmarks are already in the OpenPose hand order (wrist, then thumb to little
  finger, base to tip); Holistic's left/right are the person's, as in COCO-WholeBody.
- face: 68 of the 468 mesh vertices chosen to sit where the iBUG-68 points are (`FACE_FROM_MESH`).

Holistic scores neither hands nor face, so a found hand or face gets one confidence for all its points:
the mean visibility of the body landmarks that lie on it (a hand: its wrist, pinky, index and thumb
landmarks; the face: nose, eyes, ears and mouth, landmarks 0-10) times the share of its points inside the
frame. The visibility is Holistic's only estimate of occlusion for these parts. The second factor is
there because that visibility does not register a part leaving the picture (on the test dance video the
right hand's four landmarks have visibility 0.90 on average in the 32 frames where they all lie outside
the frame, 0.89 where they all lie inside), while the hand model, run on a crop that is partly outside,
only guesses the cut-off part. So a hand fades as it leaves the frame (0.96, 0.87, 0.41, 0.27 in frames
231-234 of that video, then 0.10 in 235, where only the second chance still finds it). A part Holistic
did not find, or found wholly outside the frame, is absent (confidence 0).

Hands Holistic misses although the pose shows their wrist get a second chance (`hand_rescue`), with a
confidence that also carries the hand model's belief that it is the expected hand.

Frames are fed downscaled to at most `max_side` pixels on their long side: Holistic crops and resizes
regions to its small model inputs anyway, and converting a 1080p frame costs more than the landmarks
gain from it. Video uses Holistic's tracking mode, still images its static mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import cv2
import numpy as np

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.backends import PoseBackend
from mimicmotion.pose.hand_rescue import VERSION as HAND_RESCUE_VERSION
from mimicmotion.pose.hand_rescue import HandRescue
from mimicmotion.pose.quiet import native_logs_silenced
from mimicmotion.pose.types import ALL_POINTS, BODY, FACE, HAND_POINTS, LEFT_HAND, MISSING, RIGHT_HAND

DEFAULT_MAX_SIDE = 960
MIN_SEGMENT_FRAMES = 24  # a tracker takes ~0.3 s to start: not worth it for fewer frames
NECK_SHOULDER_CONFIDENCE = 0.3

# OpenPose-18 point <- MediaPipe Pose landmark; None for the neck (computed).
BODY_FROM_MEDIAPIPE = (
    0,  # nose
    None,  # neck
    12, 14, 16,  # right shoulder, elbow, wrist
    11, 13, 15,  # left shoulder, elbow, wrist
    24, 26, 28,  # right hip, knee, ankle
    23, 25, 27,  # left hip, knee, ankle
    5, 2,  # right eye, left eye (centres)
    8, 7,  # right ear, left ear
)  # fmt: skip
_RIGHT_SHOULDER, _LEFT_SHOULDER = 12, 11

# The MediaPipe Pose landmarks that lie on each part Holistic does not score: their visibility is the
# only occlusion estimate Holistic gives for that part.
LEFT_HAND_FROM_POSE = (15, 17, 19, 21)  # left wrist, pinky, index, thumb
RIGHT_HAND_FROM_POSE = (16, 18, 20, 22)  # right wrist, pinky, index, thumb
FACE_FROM_POSE = tuple(range(11))  # nose, eyes (inner, centre, outer), ears, mouth corners

# iBUG-68 point i <- face mesh vertex FACE_FROM_MESH[i]. "Right" is the person's right (image left).
FACE_FROM_MESH = (
    # 0-16 jaw line, from the right temple down to the chin (152) and up to the left temple
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    # 17-21 right eyebrow, outer to inner; 22-26 left eyebrow, inner to outer (upper brow edge)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # 27-30 nose bridge, between the eyes down to the tip; 31-35 nostrils' lower edge, right to left
    168, 197, 5, 4, 98, 97, 2, 326, 327,
    # 36-41 right eye: outer corner, upper lid x2, inner corner, lower lid x2
    33, 160, 158, 133, 153, 144,
    # 42-47 left eye: inner corner, upper lid x2, outer corner, lower lid x2
    362, 385, 387, 263, 373, 380,
    # 48-59 outer lips: right corner, upper lip to the left corner, lower lip back
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # 60-67 inner lips: right corner, upper, left corner, lower
    78, 81, 13, 311, 308, 402, 14, 178,
)  # fmt: skip


class MediaPipeBackend(PoseBackend):
    """MediaPipe Holistic.

    `max_side`: long side frames are scaled down to (0: never). `workers`: trackers run at once on
    consecutive segments of a video (default: the number of CPU cores, at most 4). Holistic keeps
    about one core busy per tracker, so this is what uses the machine. `rescue_hands`: the second chance
    for missed hands (`hand_rescue`); off, the hands are Holistic's alone.
    """

    name = "mediapipe"

    def __init__(
        self,
        max_side: int = DEFAULT_MAX_SIDE,
        workers: int | None = None,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        rescue_hands: bool = True,
    ) -> None:
        self.max_side = int(max_side)
        self.rescue_hands = rescue_hands
        self.workers = int(workers) if workers else min(4, os.cpu_count() or 1)
        self._options = {
            "min_detection_confidence": min_detection_confidence,
            "min_tracking_confidence": min_tracking_confidence,
        }
        self._holistic_class = _import_holistic()

    @property
    def cache_key(self) -> str:
        return f"{self.name}+hand-rescue{HAND_RESCUE_VERSION}" if self.rescue_hands else self.name

    def decode_size(self, width: int, height: int) -> tuple[int, int] | None:
        scale = self._scale(width, height)
        return None if scale == 1 else (max(1, round(width * scale)), max(1, round(height * scale)))

    def parallel_videos(self, frames: int) -> int:
        return max(1, min(self.workers, frames // MIN_SEGMENT_FRAMES))

    def detect_frames(self, frames: Iterable[np.ndarray], video: bool) -> Iterator[np.ndarray]:
        # MediaPipe logs natively whenever a model is first used, on any frame: keep it quiet throughout.
        # A graph per call (tracking state belongs to one video; a graph holds ~150 MB, so none is kept).
        with native_logs_silenced():
            holistic = self._new_graph(static=not video)
            rescue = HandRescue() if self.rescue_hands else None
            try:
                yield from self._run(holistic, rescue, frames)
            finally:
                holistic.close()
                if rescue is not None:
                    rescue.close()

    # ----------------------------------------------------------------------------------------------

    def _scale(self, width: int, height: int) -> float:
        if self.max_side <= 0:
            return 1.0
        return min(1.0, self.max_side / max(width, height))

    def _new_graph(self, static: bool) -> Any:
        return self._holistic_class(
            static_image_mode=static,
            model_complexity=1,  # the only pose model the wheel ships (others are downloaded)
            smooth_landmarks=True,
            refine_face_landmarks=False,
            **self._options,
        )

    def _run(
        self, holistic: Any, rescue: HandRescue | None, frames: Iterable[np.ndarray]
    ) -> Iterator[np.ndarray]:
        for frame in frames:  # Holistic follows one person: (1, 128, 3), or (0, 128, 3) for nobody
            frame = self._fit(frame)
            results = holistic.process(frame)
            points = landmarks_to_points(results)
            if points is None:
                if rescue is not None:
                    rescue.forget()
                yield np.zeros((0, ALL_POINTS, 3), np.float32)
                continue
            if rescue is not None:
                rescue_hands(rescue, frame, results, points)
            yield points[None]

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = self._scale(width, height)
        if scale < 1:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame)


def pose_landmarks(results: Any) -> np.ndarray:
    """Holistic's 33 pose landmarks (33, 3): normalised x, y and visibility."""
    return np.array([(p.x, p.y, p.visibility) for p in results.pose_landmarks.landmark], np.float32)


def landmarks_to_points(results: Any) -> np.ndarray | None:
    """Holistic results -> (128, 3) points in the PoseSequence layout, or None without a person."""
    if results.pose_landmarks is None:
        return None
    points = np.zeros((ALL_POINTS, 3), np.float32)
    points[:, :2] = MISSING
    pose = pose_landmarks(results)
    body = points[BODY]
    for target, source in enumerate(BODY_FROM_MEDIAPIPE):
        if source is not None:
            body[target] = pose[source]
    right, left = pose[_RIGHT_SHOULDER], pose[_LEFT_SHOULDER]
    if right[2] > NECK_SHOULDER_CONFIDENCE and left[2] > NECK_SHOULDER_CONFIDENCE:
        body[1] = ((right[0] + left[0]) / 2, (right[1] + left[1]) / 2, 1.0)
    body[body[:, 2] <= 0] = (MISSING, MISSING, 0.0)

    # A found hand or face: one confidence for all its points (module docstring: Holistic scores neither
    # hands nor face; the body's visibility says whether the part is hidden, the share of its points in
    # the frame whether it has left the picture, which that visibility barely registers).
    visibility = pose[:, 2]
    for part, landmarks, on_part, chosen in (
        (LEFT_HAND, results.left_hand_landmarks, LEFT_HAND_FROM_POSE, range(HAND_POINTS)),
        (RIGHT_HAND, results.right_hand_landmarks, RIGHT_HAND_FROM_POSE, range(HAND_POINTS)),
        (FACE, results.face_landmarks, FACE_FROM_POSE, FACE_FROM_MESH),
    ):
        if landmarks is None:
            continue
        marks = landmarks.landmark
        xy = np.array([(marks[i].x, marks[i].y) for i in chosen], np.float32)
        confidence = part_confidence(visibility[list(on_part)], xy)
        if confidence > 0:  # else absent, as a part Holistic did not find
            points[part, :2] = xy
            points[part, 2] = confidence
    return points


def rescue_hands(rescue: HandRescue, frame: np.ndarray, results: Any, points: np.ndarray) -> None:
    """Give each hand Holistic missed its second chance; a hand found is written into `points` with the
    confidence of a found hand times the hand model's probability that it is this hand."""
    pose = pose_landmarks(results)
    for side, part, on_part in (
        ("left", LEFT_HAND, LEFT_HAND_FROM_POSE),
        ("right", RIGHT_HAND, RIGHT_HAND_FROM_POSE),
    ):
        if points[part, 2].max() <= 0 and (found := rescue.find(frame, pose, side)) is not None:
            confidence = part_confidence(pose[list(on_part), 2], found.xy) * found.side_probability
            if confidence > 0:
                points[part, :2] = found.xy
                points[part, 2] = confidence
        rescue.seen(side, points[part, :2].copy() if points[part, 2].max() > 0 else None)


def part_confidence(visibility: np.ndarray, xy: np.ndarray) -> float:
    """Mean `visibility` of a part's pose landmarks times the share of its points `xy` (N, 2) in the frame.

    In the frame: 0 <= x < 1 and 0 <= y < 1 (normalised coordinates, as MediaPipe gives them).
    """
    inside = np.all((xy >= 0) & (xy < 1), axis=1)
    return float(np.mean(visibility)) * float(np.mean(inside))


def _import_holistic() -> Any:
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ info logs are not for users
    try:
        from mediapipe.python.solutions.holistic import Holistic
    except ImportError as error:
        raise MimicMotionError(
            "the mediapipe pose backend needs MediaPipe: pip install 'mimicmotion[mediapipe]' (CPython 3.12 "
            f"or earlier; elsewhere use DWPose: `mimicmotion download`): {error}"
        ) from None
    return Holistic
