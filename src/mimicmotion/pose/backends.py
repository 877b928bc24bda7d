"""The small interface every keypoint detector implements, and `get_backend` to make one by name.

A backend turns RGB frames into keypoints in the layout of `mimicmotion.pose.types`: every person it
finds in a frame, the main one first (MediaPipe follows one person; DWPose reports everyone its detector
boxes). Implementations provide `detect_frames`, a generator that may keep tracking state across the
frames of one video; the base class builds `PoseSequence`s from it.

Backends import their heavy libraries (MediaPipe, onnxruntime) only when created, so importing this
module is cheap.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.types import ALL_POINTS, REFERENCE_FRAME_INDEX, PoseSequence, absent_points

BACKENDS = ("auto", "dwpose", "mediapipe")
DEFAULT_BACKEND = "auto"
DEFAULT_FPS = 24.0  # for frames given without a frame rate


class PoseBackend:
    """Base class of keypoint detectors.

    Subclasses implement `detect_frames(frames, video)`, yielding for each RGB uint8 frame a (P, 128, 3)
    float array: the P people found (P = 0: nobody), main person first, each point [x/width, y/height,
    confidence] (body | left hand | right hand | face). `video=True` means consecutive frames of one
    video (trackers may use the previous frame), `False` means unrelated still images.
    """

    name = "base"

    @property
    def cache_key(self) -> str:
        """What the pose cache keys this detector's results by: its name, and whatever tells its models
        apart (poses from other model files must not be reused)."""
        return self.name

    def detect_frames(self, frames: Iterable[np.ndarray], video: bool) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def decode_size(self, width: int, height: int) -> tuple[int, int] | None:
        """The (width, height) this backend wants video frames decoded at, or None for the full size.

        Decoding straight to a smaller size is much cheaper than decoding and resizing afterwards.
        Normalised coordinates do not depend on it.
        """
        return None

    def parallel_videos(self, frames: int) -> int:
        """How many segments of a `frames`-frame video this backend wants to detect at once.

        A tracker follows one segment; running several on consecutive segments uses more cores.
        """
        return 1

    def detect_image(self, image: np.ndarray) -> PoseSequence:
        """The pose in one RGB uint8 image, as a one-entry sequence (all points absent if no person).

        A still image has no frame rate (fps 0) and no frame number (frame index -1, as the reference).
        """
        height, width = image.shape[:2]
        people = next(iter(self.detect_frames([image], video=False)))
        return poses_to_sequence([people], width, height, fps=0.0, frame_indices=[REFERENCE_FRAME_INDEX])

    def close(self) -> None:
        """Release models and threads; the backend can not be used afterwards."""

    def __enter__(self) -> PoseBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GivenPoseBackend(PoseBackend):
    """Stands in for a detector where the pose of an image is known already (given with a training
    video, say): it "detects" that pose in the image.

    `pose`: a one-entry sequence, normalised by the size of the image it belongs to. An image of another
    size is taken to be that image resized to cover and center-cropped (as the reference is prepared),
    and gets the pose moved into the crop. Only still images: it knows nothing of other frames.
    """

    name = "given"

    def __init__(self, pose: PoseSequence) -> None:
        if len(pose) != 1:
            raise ValueError(f"GivenPoseBackend takes the pose of one image, got {len(pose)} entries")
        self.pose = pose

    def detect_frames(self, frames: Iterable[np.ndarray], video: bool) -> Iterator[np.ndarray]:
        if video:
            raise MimicMotionError("a given pose is the pose of one image; it cannot detect poses in a video")
        from mimicmotion.pose.reference import CoverCrop

        people = self.pose.people(0)
        for frame in frames:
            crop = CoverCrop.fit(self.pose.height, self.pose.width, *frame.shape[:2])
            yield crop.points(people)


def poses_to_sequence(
    poses: list[np.ndarray], width: int, height: int, fps: float, frame_indices: list[int]
) -> PoseSequence:
    """A `PoseSequence` from per-frame (P, 128, 3) detections: person 0 is the main person, the rest
    become `others` (frames with fewer people are padded with absent ones)."""
    most = max((len(people) for people in poses), default=0)
    points = absent_points(len(poses), ALL_POINTS)
    others = absent_points(len(poses), max(most - 1, 0), ALL_POINTS)
    for t, people in enumerate(poses):
        if len(people):
            points[t] = people[0]
            others[t, : len(people) - 1] = people[1:]
    return PoseSequence.from_points(points, width, height, fps, np.asarray(frame_indices, np.int64), others)


def choose_backend(
    name: str = DEFAULT_BACKEND, dwpose_dir: str | os.PathLike | None = None
) -> tuple[str, str]:
    """The detector `name` stands for, and one line saying which detector runs and why.

    "auto" is DWPose, the detector whose pictures the released checkpoint was trained on, when its two
    ONNX files are in `dwpose_dir` / $MIMICMOTION_DWPOSE_DIR, in the Hugging Face cache, or can be
    downloaded now; otherwise MediaPipe (offline), when it is installed.
    """
    if name not in BACKENDS:
        raise MimicMotionError(f"unknown pose backend {name!r} (choose one of: {', '.join(BACKENDS)})")
    if name != "auto":
        return name, f"pose detector: {name}"
    from mimicmotion.loading import WeightsUnavailable
    from mimicmotion.pose.dwpose import resolve_weights

    try:
        resolve_weights(dwpose_dir)
    except WeightsUnavailable as missing:
        if importlib.util.find_spec("mediapipe") is None:
            raise MimicMotionError(
                f"no pose detector available: DWPose's weights are not at hand ({missing.reason}) and "
                "MediaPipe is not installed; run `mimicmotion download` once online (DWPose, recommended) "
                "or install MediaPipe (pip install 'mimicmotion[mediapipe]', CPython 3.12 or earlier)"
            ) from None
        return "mediapipe", (
            f"pose detector: mediapipe, as DWPose's weights are not at hand ({missing.reason}); the "
            "checkpoint was trained on DWPose pictures, so poses from `mimicmotion download` (once, online) "
            "match it better"
        )
    return "dwpose", "pose detector: dwpose (the one the released checkpoint was trained with)"


def get_backend(
    name: str = DEFAULT_BACKEND, dwpose_dir: str | os.PathLike | None = None, **options: Any
) -> PoseBackend:
    """A keypoint detector by name: ``auto`` (see `choose_backend`), ``dwpose`` or ``mediapipe``.

    `dwpose_dir` is where DWPose's ONNX files are (default: $MIMICMOTION_DWPOSE_DIR, else the Hugging
    Face cache). Other options go to the backend: mediapipe takes `max_side`, `workers`; dwpose `device`.
    """
    name, _ = choose_backend(name, dwpose_dir)
    if name == "mediapipe":
        from mimicmotion.pose.mediapipe_backend import MediaPipeBackend

        return MediaPipeBackend(**options)
    from mimicmotion.pose.dwpose import DWPoseBackend

    return DWPoseBackend(model_dir=dwpose_dir, **options)
