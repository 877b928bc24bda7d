"""`PoseSequence`: the keypoints of the people in each frame, the one interchange format of the pose tools.

Layout (docs/released-behaviour.md, Pose picture): body = 18 OpenPose points, hands = (left, right) x 21
points (wrist, then 4 per finger from thumb to little finger), face = 68 iBUG points. Every point is [x, y,
confidence] with x divided by the frame width and y by the frame height, stored in float64: the pose picture
truncates x * canvas width to whole pixels, and float32 would move some points by a pixel.

Each frame has a main person (`body`, `hands`, `face`: the first one the detector reports) and the other
people the detector found (`others`), which the pose picture draws too, as the released code did.

What a confidence means depends on where the point comes from:
- *absent* point: coordinates MISSING (-1) and confidence 0 (MediaPipe saw nothing there, no person in
  the frame, padding of `others`). The released renderer's rule "skip points left of / above the canvas"
  drops it, and functions that move points (retargeting, smoothing, gap filling) keep it absent.
- DWPose points always carry a position and the raw SimCC score, which may be <= 0 (the model found no
  maximum; the position is then a corner of the person's box) or above 1. Nothing is dropped: the
  released picture draws such points (hands and face regardless of their score).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mimicmotion.errors import MimicMotionError

BODY_POINTS = 18
HAND_POINTS = 21
FACE_POINTS = 68

# The three parts side by side in one (128, 3) array: handy for code that treats every point alike.
BODY = slice(0, BODY_POINTS)
LEFT_HAND = slice(BODY.stop, BODY.stop + HAND_POINTS)
RIGHT_HAND = slice(LEFT_HAND.stop, LEFT_HAND.stop + HAND_POINTS)
FACE = slice(RIGHT_HAND.stop, RIGHT_HAND.stop + FACE_POINTS)
ALL_POINTS = FACE.stop  # 128

MISSING = -1.0  # coordinate stored for absent points
REFERENCE_FRAME_INDEX = -1  # frame_indices entry of a pose that comes from the reference image

_KEYS = ("body", "hands", "face", "width", "height", "fps", "frame_indices")
_OPTIONAL_KEYS = ("others",)  # files written before it existed hold no other people


def located(points: np.ndarray) -> np.ndarray:
    """Which points of a (..., 3) array carry a position, i.e. are not absent (MISSING, MISSING, 0)."""
    return ~((points[..., 0] == MISSING) & (points[..., 1] == MISSING) & (points[..., 2] == 0))


def absent_points(*shape: int) -> np.ndarray:
    """A (*shape, 3) float64 array of absent points."""
    points = np.zeros((*shape, 3), np.float64)
    points[..., :2] = MISSING
    return points


@dataclass
class PoseSequence:
    """Keypoints of the people in T frames.

    body (T, 18, 3), hands (T, 2, 21, 3) [left, right], face (T, 68, 3): the main person, each point
    [x/width, y/height, conf]; width, height: the frame size the coordinates are normalised by; fps: frame
    rate of the source video; frame_indices (T,): the source frame of each entry (-1 for a reference
    image's pose); others (T, K, 128, 3): the other people of each frame in the `points()` layout, in the
    detector's order, padded with absent people to the largest count K (K = 0: nobody else anywhere).
    """

    body: np.ndarray
    hands: np.ndarray
    face: np.ndarray
    width: int
    height: int
    fps: float
    frame_indices: np.ndarray
    others: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.body = np.asarray(self.body, dtype=np.float64)
        self.hands = np.asarray(self.hands, dtype=np.float64)
        self.face = np.asarray(self.face, dtype=np.float64)
        self.frame_indices = np.asarray(self.frame_indices, dtype=np.int64).reshape(-1)
        self.width, self.height, self.fps = int(self.width), int(self.height), float(self.fps)
        count = len(self.frame_indices)
        if self.others is None:
            self.others = absent_points(count, 0, ALL_POINTS)
        self.others = np.asarray(self.others, dtype=np.float64)
        expected = {
            "body": (count, BODY_POINTS, 3),
            "hands": (count, 2, HAND_POINTS, 3),
            "face": (count, FACE_POINTS, 3),
            "others": (count, self.others.shape[1] if self.others.ndim == 4 else 0, ALL_POINTS, 3),
        }
        for name, shape in expected.items():
            if getattr(self, name).shape != shape:
                raise ValueError(
                    f"PoseSequence.{name} must have shape {shape}, got {getattr(self, name).shape}"
                )
        if self.width < 1 or self.height < 1:
            raise ValueError(f"PoseSequence frame size must be positive, got {self.width}x{self.height}")

    def __len__(self) -> int:
        return len(self.frame_indices)

    # ----------------------------------------------------------------------------------------------
    # Building and combining

    @classmethod
    def from_points(
        cls,
        points: np.ndarray,
        width: int,
        height: int,
        fps: float,
        frame_indices: np.ndarray,
        others: np.ndarray | None = None,
    ) -> PoseSequence:
        """Build from the main person's (T, 128, 3) points laid out as body | left hand | right hand |
        face, and optionally the other people (T, K, 128, 3)."""
        points = np.asarray(points, dtype=np.float64)
        hands = np.stack([points[:, LEFT_HAND], points[:, RIGHT_HAND]], axis=1)
        return cls(points[:, BODY], hands, points[:, FACE], width, height, fps, frame_indices, others)

    def points(self) -> np.ndarray:
        """The main person's keypoints as one new (T, 128, 3) array: body | left hand | right hand | face."""
        return np.concatenate([self.body, self.hands[:, 0], self.hands[:, 1], self.face], axis=1)

    def with_points(
        self,
        points: np.ndarray,
        width: int | None = None,
        height: int | None = None,
        others: np.ndarray | None = None,
    ) -> PoseSequence:
        """The same frames with the main person's new (T, 128, 3) keypoints, optionally a new frame size
        and new other people (T, K, 128, 3); without `others` the other people are kept as they are, so
        pass them too whenever the coordinates change meaning (a new frame size, a crop)."""
        return PoseSequence.from_points(
            points,
            self.width if width is None else width,
            self.height if height is None else height,
            self.fps,
            self.frame_indices.copy(),
            self.others.copy() if others is None else others,
        )

    def select(self, indices: slice | list[int] | np.ndarray) -> PoseSequence:
        """The entries at `indices` (a slice or a list of positions)."""
        return PoseSequence(
            self.body[indices], self.hands[indices], self.face[indices],
            self.width, self.height, self.fps, self.frame_indices[indices], self.others[indices],
        )  # fmt: skip

    @staticmethod
    def concatenate(sequences: list[PoseSequence]) -> PoseSequence:
        """Entries of several sequences one after the other; they must share the frame size.

        The fps is the first non-zero one (a still image's pose has fps 0), so [reference, driving]
        keeps the driving video's rate.
        """
        first = sequences[0]
        for other in sequences[1:]:
            if (other.width, other.height) != (first.width, first.height):
                raise ValueError(
                    "cannot join poses of different frame sizes: "
                    f"{first.width}x{first.height} and {other.width}x{other.height}"
                )
        most = max(s.others.shape[1] for s in sequences)
        return PoseSequence(
            np.concatenate([s.body for s in sequences]),
            np.concatenate([s.hands for s in sequences]),
            np.concatenate([s.face for s in sequences]),
            first.width,
            first.height,
            next((s.fps for s in sequences if s.fps > 0), first.fps),
            np.concatenate([s.frame_indices for s in sequences]),
            np.concatenate([_padded_people(s.others, most) for s in sequences]),
        )

    # ----------------------------------------------------------------------------------------------
    # Questions

    def has_person(self) -> np.ndarray:
        """(T,) bool: whether the frame holds a (main) person, i.e. any body point is not absent."""
        return located(self.body).any(axis=1)

    def people_count(self) -> np.ndarray:
        """(T,) int: how many people each frame holds, the main person and the others."""
        return self.has_person().astype(np.int64) + located(self.others).any(axis=2).sum(axis=1)

    def people(self, index: int) -> np.ndarray:
        """(P, 128, 3) points of the people of entry `index`, main person first, absent padding left out."""
        hands = self.hands[index]
        main = np.concatenate([self.body[index], hands[0], hands[1], self.face[index]])
        everyone = np.concatenate([main[None], self.others[index]])
        return everyone[located(everyone).any(axis=1)]

    @property
    def sample_fps(self) -> float:
        """Frame rate of the entries themselves: the source fps divided by the sampling step."""
        video = self.frame_indices[self.frame_indices >= 0]
        steps = np.diff(video)
        if len(steps) == 0 or np.median(steps) <= 0:
            return self.fps
        return self.fps / float(np.median(steps))

    # ----------------------------------------------------------------------------------------------
    # Files

    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz holding exactly the arrays body, hands, face, width, height, fps, frame_indices,
        others.

        The file appears only once complete (written beside it, then renamed).
        """
        from mimicmotion.video import atomic_output  # video.py pulls in PyAV; keep import of types light

        with atomic_output(path) as temp, open(temp, "wb") as file:
            np.savez(
                file,
                body=self.body,
                hands=self.hands,
                face=self.face,
                width=np.int64(self.width),
                height=np.int64(self.height),
                fps=np.float64(self.fps),
                frame_indices=self.frame_indices,
                others=self.others,
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> PoseSequence:
        """Read a file written by `save`. Only plain numeric arrays are read (no pickled objects)."""
        path = Path(path)
        if not path.is_file():
            raise MimicMotionError(f"pose file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [key for key in _KEYS if key not in data.files]
                if missing:
                    raise MimicMotionError(f"{path} is not a pose file: it lacks {', '.join(missing)}")
                arrays = {key: data[key] for key in (*_KEYS, *_OPTIONAL_KEYS) if key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise MimicMotionError(f"cannot read pose file {path}: {error}") from None
        try:
            return cls(
                arrays["body"],
                arrays["hands"],
                arrays["face"],
                int(arrays["width"]),
                int(arrays["height"]),
                float(arrays["fps"]),
                arrays["frame_indices"],
                arrays.get("others"),
            )
        except (ValueError, TypeError) as error:
            raise MimicMotionError(f"{path} is not a valid pose file: {error}") from None


def _padded_people(others: np.ndarray, count: int) -> np.ndarray:
    """(T, K, 128, 3) other people padded with absent people to (T, count, 128, 3)."""
    padding = absent_points(len(others), count - others.shape[1], ALL_POINTS)
    return np.concatenate([others, padding], axis=1)
