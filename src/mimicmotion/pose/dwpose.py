"""The released detector: YOLOX-L person boxes + DWPose-L (RTMPose, 384 x 288) whole-body keypoints.

Both models are ONNX files of the Hugging Face repo yzd-v/DWPose run with onnxruntime (CUDA when it is
available, else CPU). They are taken from a local folder (`model_dir`, or the environment variable
MIMICMOTION_DWPOSE_DIR) or downloaded once into the Hugging Face cache. Everything follows the released
wrapper (docs/released-behaviour.md, DWPose path).

Every person the detector boxes is kept, in its order (best score first: person 0 is the main person),
and when it boxes nobody the pose model runs on the whole image as one box, so a frame always holds at
least one person.

The 133 COCO-WholeBody points become the PoseSequence layout as the released code did: body reordered to
OpenPose-18 with the neck = mean of the shoulders (in pixels), its score 1 when both shoulder scores are > 0.3
and 0 otherwise; face = points 23..90, left hand = 91..111, right hand = 112..132. Nothing is dropped: every
point keeps its position and its raw score (<= 0 where the model found no maximum, above 1 at times), in
float64 like the released keypoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from mimicmotion.errors import MimicMotionError
from mimicmotion.loading import WeightsUnavailable, hub_file
from mimicmotion.pose import topdown
from mimicmotion.pose.backends import PoseBackend
from mimicmotion.pose.types import ALL_POINTS, BODY, FACE, LEFT_HAND, RIGHT_HAND

REPO_ID = "yzd-v/DWPose"
DETECTOR_FILE = "yolox_l.onnx"
POSE_FILE = "dw-ll_ucoco_384.onnx"
ENV_DIR = "MIMICMOTION_DWPOSE_DIR"
NECK_SHOULDER_SCORE = 0.3

# OpenPose-18 point <- COCO-WholeBody body point (None: the neck, computed from the shoulders).
BODY_FROM_COCO = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
_COCO_RIGHT_SHOULDER, _COCO_LEFT_SHOULDER = 6, 5
FACE_FROM_COCO = slice(23, 91)
LEFT_HAND_FROM_COCO = slice(91, 112)
RIGHT_HAND_FROM_COCO = slice(112, 133)
WHOLEBODY_POINTS = 133


def wholebody_to_points(keypoints: np.ndarray, scores: np.ndarray, width: int, height: int) -> np.ndarray:
    """133 COCO-WholeBody keypoints in image pixels (133, 2) and scores (133,) -> (128, 3) normalised."""
    pixels = np.concatenate([keypoints, scores[:, None]], axis=1).astype(np.float64)
    right, left = pixels[_COCO_RIGHT_SHOULDER], pixels[_COCO_LEFT_SHOULDER]
    both_clear = right[2] > NECK_SHOULDER_SCORE and left[2] > NECK_SHOULDER_SCORE
    neck = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2, 1.0 if both_clear else 0.0)
    points = np.zeros((ALL_POINTS, 3), np.float64)
    body = points[BODY]
    for target, source in enumerate(BODY_FROM_COCO):
        body[target] = neck if source is None else pixels[source]
    points[FACE] = pixels[FACE_FROM_COCO]
    points[LEFT_HAND] = pixels[LEFT_HAND_FROM_COCO]
    points[RIGHT_HAND] = pixels[RIGHT_HAND_FROM_COCO]
    points[:, 0] /= float(width)  # normalised after the neck is placed, as the released code did
    points[:, 1] /= float(height)
    return points


def resolve_weights(model_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Paths of (detector, pose model): from `model_dir` / $MIMICMOTION_DWPOSE_DIR, else the Hugging Face
    cache, else downloaded; WeightsUnavailable (with its short `reason`) when none of these works."""
    folder = model_dir or os.environ.get(ENV_DIR)
    if folder:
        folder = Path(folder)
        missing = [name for name in (DETECTOR_FILE, POSE_FILE) if not (folder / name).is_file()]
        if missing:
            raise WeightsUnavailable(
                f"DWPose weights missing in {folder}: {', '.join(missing)} not found; download them from "
                f"the Hugging Face repo {REPO_ID} into that folder, or leave out the folder to download "
                "them automatically when online",
                reason=f"{', '.join(missing)} not in {folder}",
            )
        return folder / DETECTOR_FILE, folder / POSE_FILE
    try:
        return hub_file(REPO_ID, DETECTOR_FILE), hub_file(REPO_ID, POSE_FILE)
    except WeightsUnavailable as missing:
        raise WeightsUnavailable(
            f"DWPose weights not available ({missing.reason}): the dwpose backend needs {DETECTOR_FILE} and "
            f"{POSE_FILE} from the Hugging Face repo {REPO_ID}; either run `mimicmotion download` once "
            f"online, or download them into a folder and pass it with --dwpose-dir (dwpose_dir= in Python, "
            f"or ${ENV_DIR})",
            reason=f"not in the Hugging Face cache, and {missing.reason}",
        ) from None


class DWPoseBackend(PoseBackend):
    """YOLOX-L + DWPose-L with onnxruntime. `device`: "auto" (CUDA if available), "cuda" or "cpu"."""

    name = "dwpose"

    @property
    def cache_key(self) -> str:
        sizes = "-".join(str(path.stat().st_size) for path in (self.detector_path, self.pose_path))
        return f"{self.name}-{sizes}"

    def __init__(self, model_dir: str | os.PathLike | None = None, device: str = "auto") -> None:
        if device not in ("auto", "cuda", "cpu"):
            raise MimicMotionError(f"unknown device {device!r} for the dwpose backend (auto, cuda or cpu)")
        self.detector_path, self.pose_path = resolve_weights(model_dir)
        self.device = device
        self._detector: Any = None
        self._pose: Any = None

    def detect_frames(self, frames: Iterable[np.ndarray], video: bool) -> Iterator[np.ndarray]:
        self._load()
        for frame in frames:  # no tracking: every frame is detected on its own
            yield self.detect_people(frame)

    def detect_people(self, image: np.ndarray) -> np.ndarray:
        """(P, 128, 3) points of every person in an RGB image, best detection first; P >= 1, since the
        whole image is taken as one person's box when the detector finds nobody."""
        self._load()
        height, width = image.shape[:2]
        detector_input, ratio = topdown.letterbox(image, self._detector_size)
        output = self._detector.run(None, {self._detector.get_inputs()[0].name: detector_input})[0]
        boxes = topdown.person_boxes(output, ratio, image.shape)
        return np.stack([self._keypoints(image, box, width, height) for box in boxes])

    def _keypoints(self, image: np.ndarray, box: np.ndarray, width: int, height: int) -> np.ndarray:
        """(128, 3) points of the person in `box`."""
        center, scale = topdown.box_center_scale(box, self._pose_size)
        pose_input = topdown.pose_input(image, center, scale, self._pose_size)
        simcc_x, simcc_y = self._run_pose(pose_input)
        keypoints, keypoint_scores = topdown.decode_simcc(simcc_x, simcc_y)
        keypoints = topdown.to_image(keypoints, center, scale, self._pose_size)
        if len(keypoints) != WHOLEBODY_POINTS:
            raise MimicMotionError(
                f"{self.pose_path} gives {len(keypoints)} keypoints, "
                f"expected the {WHOLEBODY_POINTS} of COCO-WholeBody"
            )
        return wholebody_to_points(keypoints, keypoint_scores, width, height)

    def close(self) -> None:
        self._detector = self._pose = None

    # ----------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self._detector is not None:
            return
        try:
            import onnxruntime
        except ImportError as error:
            raise MimicMotionError(
                f"the dwpose backend needs onnxruntime (pip install onnxruntime): {error}"
            ) from None
        available = onnxruntime.get_available_providers()
        if self.device == "cuda" and "CUDAExecutionProvider" not in available:
            raise MimicMotionError("device cuda asked for, but onnxruntime has no CUDA provider here")
        use_cuda = self.device != "cpu" and "CUDAExecutionProvider" in available
        providers = (
            ["CUDAExecutionProvider", "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        )
        sessions = []
        for path in (self.detector_path, self.pose_path):
            try:
                sessions.append(onnxruntime.InferenceSession(str(path), providers=providers))
            except Exception as error:  # onnxruntime raises its own exception types for bad files
                raise MimicMotionError(
                    f"cannot load ONNX model {path}: {str(error).splitlines()[0]}"
                ) from None
        self._detector, self._pose = sessions
        self._detector_size = _input_size(self._detector, default=topdown.DETECTOR_SIZE)  # (h, w)
        pose_h, pose_w = _input_size(self._pose, default=(384, 288))
        self._pose_size = (pose_w, pose_h)  # (w, h), as OpenCV takes sizes
        names = [output.name for output in self._pose.get_outputs()]
        self._pose_outputs = ["simcc_x", "simcc_y"] if {"simcc_x", "simcc_y"} <= set(names) else names[:2]

    def _run_pose(self, pose_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        simcc_x, simcc_y = self._pose.run(self._pose_outputs, {self._pose.get_inputs()[0].name: pose_input})
        return simcc_x, simcc_y


def _input_size(session: Any, default: tuple[int, int]) -> tuple[int, int]:
    """(height, width) of an NCHW model input; `default` where the model leaves them symbolic."""
    shape = session.get_inputs()[0].shape
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int):
        return height, width
    return default
