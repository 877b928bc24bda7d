"""Runs the released DWPose wrapper, pose drawing and retargeting on the frames a test saved.

Usage: python released_dwpose.py spec.json (see test_dwpose_oracle.py). Imports only the released code,
numpy, cv2, onnxruntime and the standard library (the released modules bring torch, tqdm, matplotlib).

spec: released (folder), inputs (.npz of RGB uint8 frames), detector / pose (ONNX files), fps,
frames (keys of single images: detection + drawing each), reference and driving (keys: the reference
image and the (T, H, W, 3) driving frames for get_image_pose / get_video_pose), drawings ({key: [H, W]}:
(T, 128, 3) keypoints in the PoseSequence layout, whose first frame is drawn alone at H x W), output
(.npz written).
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np


class _Frames:
    """What decord's get_batch returns: something with asnumpy()."""

    def __init__(self, frames: np.ndarray) -> None:
        self._frames = frames

    def asnumpy(self) -> np.ndarray:
        return self._frames


def _decord_stand_in(videos: dict[str, np.ndarray], fps: float) -> types.ModuleType:
    """A module with decord's VideoReader and cpu, serving the given frame stacks by name.

    The released preprocess.py imports decord at module level; decord is not installed here.
    """

    class VideoReader:
        def __init__(self, path: str, ctx: object = None) -> None:
            self._frames = videos[path]

        def __len__(self) -> int:
            return len(self._frames)

        def __getitem__(self, index: int) -> np.ndarray:
            return self._frames[index]

        def get_avg_fps(self) -> float:
            return fps

        def get_batch(self, indices: list[int]) -> _Frames:
            return _Frames(self._frames[indices])

    module = types.ModuleType("decord")
    module.VideoReader = VideoReader
    module.cpu = lambda device_id=0: "cpu"
    return module


def pose_arrays(pose: dict, prefix: str) -> dict[str, np.ndarray]:
    """The released detector's output (bodies, hands, faces and their scores) as plain arrays."""
    people = len(pose["bodies"]["subset"])
    return {
        f"{prefix}count": np.array(people),
        f"{prefix}body": pose["bodies"]["candidate"].reshape(people, 18, 2),
        f"{prefix}body_score": np.asarray(pose["bodies"]["score"]),
        f"{prefix}hands": np.asarray(pose["hands"]),  # all left hands, then all right hands
        f"{prefix}hands_score": np.asarray(pose["hands_score"]),
        f"{prefix}faces": np.asarray(pose["faces"]),
        f"{prefix}faces_score": np.asarray(pose["faces_score"]),
    }


def detector_pose(points: np.ndarray) -> dict:
    """Keypoints (P, 128, 3) in the PoseSequence layout as the released detector hands them over."""
    people = len(points)
    body = points[:, :18]
    subset = np.where(body[..., 2] > 0.3, np.arange(people * 18).reshape(people, 18), -1)
    hands = np.concatenate([points[:, 18:39], points[:, 39:60]])  # every left hand, then every right hand
    return {
        "bodies": {"candidate": body[..., :2].reshape(-1, 2), "subset": subset, "score": body[..., 2]},
        "hands": hands[..., :2],
        "hands_score": hands[..., 2],
        "faces": points[:, 60:, :2],
        "faces_score": points[:, 60:, 2],
    }


def main() -> None:
    with open(sys.argv[1]) as file:
        spec = json.load(file)
    sys.dont_write_bytecode = True  # the released folder is shared: leave no caches in it
    sys.path.insert(0, spec["released"])
    inputs = dict(np.load(spec["inputs"]))
    sys.modules["decord"] = _decord_stand_in({spec["driving"]: inputs[spec["driving"]]}, spec["fps"])

    from mimicmotion.dwpose import preprocess
    from mimicmotion.dwpose.dwpose_detector import DWposeDetector
    from mimicmotion.dwpose.onnxdet import inference_detector
    from mimicmotion.dwpose.util import draw_pose

    detector = DWposeDetector(model_det=spec["detector"], model_pose=spec["pose"], device="cpu")
    results: dict[str, np.ndarray] = {}
    for key in spec["frames"]:
        frame = inputs[key]
        pose = detector(frame)
        results.update(pose_arrays(pose, f"{key}__"))
        results[f"{key}__picture"] = draw_pose(pose, *frame.shape[:2]).transpose(1, 2, 0)
        # the person boxes YOLOX found (none: the pose model ran on the whole image)
        results[f"{key}__boxes"] = np.asarray(inference_detector(detector.pose_estimation.session_det, frame))
    for key, (height, width) in spec.get("drawings", {}).items():
        results[f"{key}__picture"] = draw_pose(detector_pose(inputs[key][:1]), height, width).transpose(
            1, 2, 0
        )
    results["driving__box_counts"] = np.array(
        [len(inference_detector(detector.pose_estimation.session_det, f)) for f in inputs[spec["driving"]]]
    )

    # the retargeting path: the module-level detector replaced by one on the test's ONNX files, and
    # every pose that get_video_pose draws recorded on its way to draw_pose
    preprocess.dwprocessor = detector
    drawn: list[dict] = []

    def recording_draw_pose(pose: dict, height: int, width: int) -> np.ndarray:
        drawn.append(pose_arrays(pose, ""))
        return draw_pose(pose, height, width)

    preprocess.draw_pose = recording_draw_pose
    reference = inputs[spec["reference"]]
    results["reference__picture"] = preprocess.get_image_pose(reference).transpose(1, 2, 0)
    video_pictures = preprocess.get_video_pose(spec["driving"], reference, sample_stride=1)
    results["driving__pictures"] = video_pictures.transpose(0, 2, 3, 1)
    for index, arrays in enumerate(drawn):  # drawn[0]: the reference, then the driving frames
        results.update({f"drawn{index}__{name}": value for name, value in arrays.items()})
    np.savez(spec["output"], **results)


if __name__ == "__main__":
    main()
