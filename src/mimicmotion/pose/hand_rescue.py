"""A second chance for the hands MediaPipe Holistic misses, with MediaPipe's own hand models.

Holistic finds a hand by cropping around the pose model's hand landmarks and running its hand model on
that crop; on fast dances it often gives up (motion blur, a flat hand seen edge-on) although the pose shows
the wrist clearly. For such a wrist, up to three more tries, all with models the MediaPipe wheel ships,
the cheapest first:

1. if the same hand was found in the previous frame, the hand landmark model on the region that hand
   spans now (MediaPipe Hands' own tracking step: the hand moves little between frames);
2. the hand landmark model on the region the pose's hand landmarks give (Holistic's own way of placing
   the hand, tried again with the lower presence threshold below);
3. if both fail, the palm detector and hand landmark model (MediaPipe Hands, static mode) on a square
   crop around the pose's hand landmarks, sized from the forearm and the hand landmarks' spread so that
   the hand fills a good part of the crop and the detector still sees the arm. In a long run of frames
   without the hand it runs on every fifth frame only.

A hand is kept only when its wrist lies within half a forearm of the pose's wrist. The hand models'
handedness assumes a mirrored (selfie) picture: the person's left hand is labelled "Right". Its score, as
the probability that the hand is the one expected, scales the hand's confidence, so a hand the model
takes for the other one is drawn dim and, below training's `hand_threshold`, left out of the hand-region
loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

VERSION = 2  # part of the pose cache's key: raised whenever the second chance finds other hands
MIN_WRIST_VISIBILITY = 0.5  # the pose must be this sure of the wrist before a hand is searched for
NEAR_WRIST = 0.5  # a hand's wrist must lie within this many forearm lengths of the pose's wrist
CROP_SCALE = 2.0  # crop side, in units of max(forearm, twice the hand landmarks' reach from the wrist)
CROP_PIXELS = 256  # the crop is resampled to this size for the palm detector
TRACK_SCALE = 2.0  # a tracked hand's region: this many times the extent of its landmarks, as Hands does
# The region the pose gives a hand, in hand lengths (wrist to fingertips, estimated as twice the distance
# from the wrist to the knuckles, at least 0.6 forearm): its side, and how far its centre lies from the
# wrist towards the knuckles. On the test dance video (bench_hands.py), regions 1.3-1.5 hand lengths wide
# centred 0.2-0.3 from the wrist let the second chance find 227-229 of the 251 left hands inside the
# frame (232 of 246 right), one centred 0.1 from the wrist 223; a second, wider region (2 hand lengths)
# tried after a miss adds one or two hands per side for a fifth more of the second chance's time.
POSE_REGION_SIDE = 1.5
POSE_REGION_SHIFT = 0.3
MIN_PALM_SCORE = 0.3
# In a run of frames without the hand, the palm detector (twice the landmark model's cost) runs on the first
# two, then on every fifth: hands lost to motion blur stay lost for several frames. On the test dance video
# (bench_hands.py) it finds as many hands as when run on every frame, 3 ms per frame sooner.
DETECT_EVERY = 5
# The hand landmark model's presence score a hand needs. Holistic asks 0.5, which is where it gives up on
# blurred and edge-on hands. On the test dance video (bench_hands.py), with the second chance, of the
# visible hands inside the frame 81 % (left) and 87 % (right) are found with 0.5, 88 % and 91 % with 0.3,
# 91 % and 94 % with 0.15, the hands found as close to the pose's hand landmarks each time; below 0.05
# the models start to take other things near the wrist for a hand (tests/pose/test_hand_rescue.py).
MIN_HAND_PRESENCE = 0.15

# MediaPipe Pose landmarks of each arm: elbow, wrist, pinky, index, thumb.
ARM_FROM_POSE = {"left": (13, 15, 17, 19, 21), "right": (14, 16, 18, 20, 22)}
# The hand models' label for each of the person's hands (they assume a mirrored picture).
MIRRORED_LABEL = {"left": "Right", "right": "Left"}

HAND_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "hand_rect"
output_stream: "hand_landmarks"
output_stream: "handedness"
node {
  calculator: "HandLandmarkCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_stream: "IMAGE:image"
  input_stream: "ROI:hand_rect"
  output_stream: "LANDMARKS:hand_landmarks"
  output_stream: "HANDEDNESS:handedness"
}
"""


Region = tuple[np.ndarray, float, float]  # centre (x, y pixels), side (pixels), rotation (radians)


@dataclass
class FoundHand:
    xy: np.ndarray  # (21, 2) in the frame's normalised coordinates, OpenPose hand order
    side_probability: float  # the hand model's probability that this is the hand expected


class HandRescue:
    """The two extra tries for one video (or one image); `close()` frees MediaPipe's graphs.

    Its models log natively when first used: call it where `native_logs_silenced()` is active, as the
    MediaPipe backend does."""

    def __init__(self) -> None:
        self._previous: dict[str, np.ndarray | None] = {"left": None, "right": None}
        self._missing = {"left": 0, "right": 0}  # frames in a row each hand has not been found
        self._graphs: dict[str, Any] = {}  # made when first needed: each takes ~0.3 s to load

    def close(self) -> None:
        for graph in self._graphs.values():
            graph.close()
        self._graphs.clear()

    def find(self, frame: np.ndarray, pose: np.ndarray, side: str) -> FoundHand | None:
        """The person's `side` ("left"/"right") hand in `frame` (RGB uint8), given the pose landmarks `pose`
        (33, 3: normalised x, y, visibility). Tell `seen` what the frame ended with."""
        height, width = frame.shape[:2]
        size = np.array([width, height], np.float64)
        elbow, wrist, *fingers = (pose[i, :2] * size for i in ARM_FROM_POSE[side])
        hand_points = np.array(fingers)  # pinky, index, thumb
        if pose[ARM_FROM_POSE[side][1], 2] <= MIN_WRIST_VISIBILITY or not _inside(wrist, size):
            return None
        forearm = float(np.linalg.norm(wrist - elbow))
        if forearm < 1:
            return None

        def near_wrist(found: FoundHand | None) -> FoundHand | None:
            if found is None or np.linalg.norm(found.xy[0] * size - wrist) > NEAR_WRIST * forearm:
                return None
            return found

        found = None
        if self._previous[side] is not None:
            found = near_wrist(self._landmarks(frame, _tracked_region(self._previous[side] * size), side))
        if found is None:
            region = _pose_region(wrist, hand_points, forearm)
            found = near_wrist(self._landmarks(frame, region, side))
        missing = self._missing[side]
        if found is None and (missing < 2 or missing % DETECT_EVERY == 0):
            candidates = self._detect(frame, wrist, hand_points, forearm, side)
            found = min(
                (hand for hand in map(near_wrist, candidates) if hand is not None),
                key=lambda hand: np.linalg.norm(hand.xy[0] * size - wrist),
                default=None,
            )
        return found

    def seen(self, side: str, xy: np.ndarray | None) -> None:
        """The `side` hand's points (21, 2, normalised) this frame ended with, or None: not found."""
        self._previous[side] = xy
        self._missing[side] = 0 if xy is not None else self._missing[side] + 1

    def forget(self) -> None:
        """A frame without the person: the next hands are not tracked from earlier ones."""
        self._previous = {"left": None, "right": None}

    # ----------------------------------------------------------------------------------------------

    def _graph(self, name: str) -> Any:
        if name not in self._graphs:
            self._graphs[name] = _palm_graph() if name == "palm" else _landmark_graph()
        return self._graphs[name]

    def _landmarks(self, frame: np.ndarray, region: Region, side: str) -> FoundHand | None:
        """The hand landmark model on a region of the frame (RGB uint8)."""
        from mediapipe.framework.formats.rect_pb2 import NormalizedRect

        height, width = frame.shape[:2]
        (x, y), side_pixels, rotation = region
        rect = NormalizedRect(
            x_center=x / width,
            y_center=y / height,
            width=side_pixels / width,
            height=side_pixels / height,
            rotation=rotation,
        )
        results = self._graph("landmarks").process({"image": frame, "hand_rect": rect})
        if results.hand_landmarks is None:
            return None
        xy = np.array([(p.x, p.y) for p in results.hand_landmarks.landmark], np.float64)
        return FoundHand(xy, _side_probability(results.handedness, side))

    def _detect(
        self, frame: np.ndarray, wrist: np.ndarray, hand_points: np.ndarray, forearm: float, side: str
    ) -> list[FoundHand]:
        """Palm detection and hand landmarks on a square crop around the pose's hand (pixels)."""
        height, width = frame.shape[:2]
        reach = float(np.linalg.norm(hand_points - wrist, axis=1).max())
        crop = CROP_SCALE * max(forearm, 2 * reach)
        # centred beyond the pose's hand points, which sit at the knuckles: the fingers reach further
        centre = 2 * np.vstack([wrist, hand_points]).mean(axis=0) - wrist
        origin = centre - crop / 2
        scale = CROP_PIXELS / crop
        warp = np.float32([[scale, 0, -origin[0] * scale], [0, scale, -origin[1] * scale]])
        pixels = cv2.warpAffine(frame, warp, (CROP_PIXELS, CROP_PIXELS), flags=cv2.INTER_LINEAR)
        results = self._graph("palm").process(pixels)
        found = []
        for landmarks, handedness in zip(
            results.multi_hand_landmarks or (), results.multi_handedness or (), strict=True
        ):
            xy = np.array([(p.x, p.y) for p in landmarks.landmark], np.float64) * crop + origin
            found.append(FoundHand(xy / [width, height], _side_probability(handedness, side)))
        return found


def _tracked_region(previous: np.ndarray) -> Region:
    """The region the previous frame's hand (21, 2 pixels) spans, as MediaPipe Hands tracks a hand."""
    up = previous[9] - previous[0]  # wrist to the middle finger's base: the hand's "up"
    rotation = _upright(up)
    cos, sin = math.cos(rotation), math.sin(rotation)
    centre = previous.mean(axis=0)
    local = (previous - centre) @ np.array([[cos, -sin], [sin, cos]])  # landmarks in the hand's frame
    low, high = local.min(axis=0), local.max(axis=0)
    centre = centre + ((low + high) / 2) @ np.array([[cos, sin], [-sin, cos]])
    return centre, float(max(high - low)) * TRACK_SCALE, rotation


def _pose_region(wrist: np.ndarray, hand_points: np.ndarray, forearm: float) -> Region:
    """The region the pose's wrist and hand landmarks (pinky, index, thumb; pixels) give the hand."""
    up = (hand_points[0] + hand_points[1]) / 2 - wrist  # wrist to the knuckles
    reach = float(np.linalg.norm(up))
    hand_length = max(2 * reach, 0.6 * forearm)
    direction = up / reach if reach > 0 else np.array([0.0, -1.0])
    centre = wrist + direction * POSE_REGION_SHIFT * hand_length
    return centre, POSE_REGION_SIDE * hand_length, _upright(direction)


def _upright(up: np.ndarray) -> float:
    """The rotation (radians, MediaPipe's convention) that turns the image direction `up` upwards."""
    return math.pi / 2 - math.atan2(-up[1], up[0])


def _palm_graph() -> Any:
    """MediaPipe Hands on still images: palm detection, then hand landmarks."""
    from mediapipe.python.solutions.hands import Hands

    return Hands(
        static_image_mode=True,
        max_num_hands=2,
        model_complexity=1,
        min_detection_confidence=MIN_PALM_SCORE,
        min_tracking_confidence=MIN_HAND_PRESENCE,  # in static mode: the landmark model's threshold
    )


def _landmark_graph() -> Any:
    """The hand landmark model alone, on a region given with each image."""
    from mediapipe.python.solution_base import PacketDataType, SolutionBase

    return SolutionBase(
        graph_config=HAND_LANDMARK_GRAPH,
        calculator_params={"handlandmarkcpu__ThresholdingCalculator.threshold": MIN_HAND_PRESENCE},
        side_inputs={"model_complexity": 1},
        stream_type_hints={"hand_rect": PacketDataType.PROTO},
    )


def _side_probability(handedness: Any, side: str) -> float:
    """The probability that the hand is the person's `side` hand, from the model's handedness."""
    if handedness is None or not handedness.classification:
        return 0.5
    best = handedness.classification[0]
    return float(best.score if best.label == MIRRORED_LABEL[side] else 1 - best.score)


def _inside(point: np.ndarray, size: np.ndarray) -> bool:
    return bool(np.all(point >= 0) and np.all(point < size))
