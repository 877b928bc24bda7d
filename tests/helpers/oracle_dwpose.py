"""The DWPose cases on which our pose path is compared with the released one, live and recorded.

Both run the same two small ONNX graphs, built here with the input and output names and shapes of the
released checkpoint's detector and pose model, on real frames of ../shared/data: single frames (detection
and drawing), then the whole retargeting path (reference pose + linearly fitted driving poses). The graphs
depend on the image, so the frames give different boxes and keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mimicmotion.pose import PoseSequence, build_pose_frames, render_pose
from mimicmotion.pose.dwpose import DETECTOR_FILE, POSE_FILE, DWPoseBackend
from mimicmotion.pose.types import absent_points
from mimicmotion.video import iter_frames, read_image

# Input and output names and shapes of yzd-v/DWPose's files, from the tools that exported them: YOLOX's
# export_onnx.py names its input "images" and its output "output" (1, 8400, 85) for a 640 x 640 input;
# mmdeploy's SimCC export names RTMPose's input "input" and its outputs "simcc_x", "simcc_y", with
# 2 bins per input pixel (DWPose-L: 288 x 384 input -> 576 and 768 bins for the 133 keypoints).
DETECTOR_INPUT, DETECTOR_OUTPUT = "images", "output"
POSE_INPUT, POSE_OUTPUTS = "input", ("simcc_x", "simcc_y")
KEYPOINTS, BINS_X, BINS_Y = 133, 576, 768

BLUE = 60  # the detector's objectness: 2 B - R - G above this on average over a cell
RESOLUTION = 320  # the reference is prepared to 320 x 512 (the resolution rule: a multiple of 64)
SINGLE_FRAMES = ("dance", "photo", "two_people", "nobody")


def _save(path: Path, nodes: list, inputs: list, outputs: list, initializers: list) -> None:
    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _tensor(name: str, array) -> onnx.TensorProto:
    array = np.asarray(array)
    return numpy_helper.from_array(array.astype(np.int64 if array.dtype.kind == "i" else np.float32), name)


def save_detector(path: Path, seed: int) -> None:
    """A YOLOX-shaped detector: per stride, the input averaged over each cell, a 1 x 1 convolution, then
    sigmoid on objectness and class scores. Objectness on the stride-32 grid looks for blue (2 B - R - G
    above BLUE on average over a cell: the dancers' clothes); the other grids find nothing. Boxes are about
    320 x 640 input pixels, centred 5 cells right of and below their cell (so the corner where points
    without a positive score land is on the canvas), offset and sized a little by the cell's colour;
    class scores are random."""
    rng = np.random.default_rng(seed)
    nodes, initializers, grids = [], [], []
    for stride in (8, 16, 32):
        cells = (640 // stride) ** 2
        weight, bias = np.zeros((85, 3, 1, 1)), np.zeros(85)
        weight[0:2, :, 0, 0] = rng.normal(0, 0.001, (2, 3))  # centre offset, in cells
        bias[0:2] = 5.0  # boxes below and right of the blue: their top-left corner lies in the image
        weight[2:4, :, 0, 0] = rng.normal(0, 0.0005, (2, 3))  # log size, in strides
        bias[2:4] = np.log([320 / 32, 640 / 32])
        if stride == 32:
            weight[4, :, 0, 0], bias[4] = 0.08 * np.array([-1.0, -1.0, 2.0]), -0.08 * BLUE
        else:
            weight[4, :, 0, 0], bias[4] = rng.normal(0, 0.001, 3), -12.0
        weight[5, :, 0, 0], bias[5] = rng.normal(0, 0.002, 3), 2.0  # person class: about 0.88
        weight[6:, :, 0, 0], bias[6:] = rng.normal(0, 0.01, (79, 3)), -3.0
        name = f"s{stride}"
        initializers += [_tensor(f"{name}_w", weight), _tensor(f"{name}_b", bias)]
        initializers.append(_tensor(f"{name}_shape", [1, 85, cells]))
        cell = [stride, stride]
        nodes += [
            helper.make_node(
                "AveragePool", [DETECTOR_INPUT], [f"{name}_pool"], kernel_shape=cell, strides=cell
            ),
            helper.make_node("Conv", [f"{name}_pool", f"{name}_w", f"{name}_b"], [f"{name}_conv"]),
            helper.make_node("Reshape", [f"{name}_conv", f"{name}_shape"], [f"{name}_flat"]),
        ]
        grids.append(f"{name}_flat")
    initializers += [_tensor(n, v) for n, v in (("at0", [0]), ("at4", [4]), ("at85", [85]), ("axis2", [2]))]
    nodes += [
        helper.make_node("Concat", grids, ["anchors_by_channel"], axis=2),
        helper.make_node("Transpose", ["anchors_by_channel"], ["raw"], perm=[0, 2, 1]),
        helper.make_node("Slice", ["raw", "at0", "at4", "axis2"], ["box"]),
        helper.make_node("Slice", ["raw", "at4", "at85", "axis2"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probabilities"]),
        helper.make_node("Concat", ["box", "probabilities"], [DETECTOR_OUTPUT], axis=2),
    ]
    _save(
        path,
        nodes,
        [helper.make_tensor_value_info(DETECTOR_INPUT, TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info(DETECTOR_OUTPUT, TensorProto.FLOAT, [1, 8400, 85])],
        initializers,
    )


def save_pose_model(path: Path, seed: int) -> None:
    """An RTMPose-shaped model: the input averaged over 4 x 3 blocks (36 numbers), linear maps from them
    to a peak position per keypoint and axis (sigmoid x bins) and a peak height; each SimCC row is
    height - 0.002 x (bin - position)^2. Each keypoint has its own place in the box, moved a little by
    the image (so driving and reference poses correlate, as real ones do, and the fit is not flat);
    heights spread from below 0 to above 1."""
    rng = np.random.default_rng(seed)
    initializers = [
        _tensor("flat_shape", [1, 36]),
        _tensor("column_shape", [1, KEYPOINTS, 1]),
        _tensor("sharpness", [0.002]),
        _tensor("height_w", rng.normal(0, 0.05, (36, KEYPOINTS))),
        _tensor("height_b", rng.normal(0.7, 0.45, KEYPOINTS)),
        _tensor("height_y_w", rng.normal(0, 0.02, (36, KEYPOINTS))),
    ]
    nodes = [
        helper.make_node("AveragePool", [POSE_INPUT], ["pool"], kernel_shape=[96, 96], strides=[96, 96]),
        helper.make_node("Reshape", ["pool", "flat_shape"], ["features"]),
    ]
    for axis, bins, output in (("x", BINS_X, POSE_OUTPUTS[0]), ("y", BINS_Y, POSE_OUTPUTS[1])):
        initializers += [
            _tensor(f"{axis}_w", rng.normal(0, 0.05, (36, KEYPOINTS))),
            _tensor(f"{axis}_b", rng.normal(0, 1.0, KEYPOINTS)),
            _tensor(f"{axis}_bins", np.arange(bins, dtype=np.float64)[None, None]),
            _tensor(f"{axis}_count", [float(bins)]),
        ]
        height_w = "height_w" if axis == "x" else "height_y_w"
        nodes += [
            helper.make_node("Gemm", ["features", f"{axis}_w", f"{axis}_b"], [f"{axis}_z"]),
            helper.make_node("Sigmoid", [f"{axis}_z"], [f"{axis}_unit"]),
            helper.make_node("Mul", [f"{axis}_unit", f"{axis}_count"], [f"{axis}_peak_row"]),
            helper.make_node("Reshape", [f"{axis}_peak_row", "column_shape"], [f"{axis}_peak"]),
            helper.make_node("Sub", [f"{axis}_bins", f"{axis}_peak"], [f"{axis}_offset"]),
            helper.make_node("Mul", [f"{axis}_offset", f"{axis}_offset"], [f"{axis}_square"]),
            helper.make_node("Mul", [f"{axis}_square", "sharpness"], [f"{axis}_fall"]),
            helper.make_node("Gemm", ["features", height_w, "height_b"], [f"{axis}_height_row"]),
            helper.make_node("Reshape", [f"{axis}_height_row", "column_shape"], [f"{axis}_height"]),
            helper.make_node("Sub", [f"{axis}_height", f"{axis}_fall"], [output]),
        ]
    _save(
        path,
        nodes,
        [helper.make_tensor_value_info(POSE_INPUT, TensorProto.FLOAT, [1, 3, 384, 288])],
        [
            helper.make_tensor_value_info(POSE_OUTPUTS[0], TensorProto.FLOAT, [1, KEYPOINTS, BINS_X]),
            helper.make_tensor_value_info(POSE_OUTPUTS[1], TensorProto.FLOAT, [1, KEYPOINTS, BINS_Y]),
        ],
        initializers,
    )


def dance_frames(shared_data: Path, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """`count` frames of the dance GIF, resized. A GIF, not the dance mp4: its frames decode to the same
    pixels with every FFmpeg (a palette), while H.264's conversion to RGB changes between releases."""
    video = shared_data / "dance_576x1024_19f.gif"
    return [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for _, f in iter_frames(video, 3, count)]


def driving_frames(dances: list[np.ndarray]) -> np.ndarray:
    """(6, h, 2 w, 3) from (h, w, 3) dancers: a dancer beside a plain sky-blue panel, except frame 1 (two
    dancers side by side) and frame 3 (a uniform grey frame: nobody)."""
    sky = np.full_like(dances[0], (235, 215, 190))
    frames = [np.concatenate([dance, sky], axis=1) for dance in dances[:5]]
    frames.insert(1, np.concatenate([dances[1], dances[5]], axis=1))
    frames[3] = np.full_like(frames[0], 128)
    return np.stack(frames)


# A person standing in a 320 x 512 frame (OpenPose-18 order), with scores about the released drawing's
# cutoff: a limb is drawn when both its ends score at least 0.3, a point when it scores above 0.3. Float32,
# as the detector gives them (float32 0.3 is a little above 0.3).
CUTOFF_BODY = np.array([
    (0.50, 0.12, 0.9), (0.50, 0.22, 0.3), (0.38, 0.23, 0.2999), (0.33, 0.38, 0.3001), (0.30, 0.52, 0.305),
    (0.62, 0.23, 0.31), (0.67, 0.38, 0.29), (0.70, 0.52, 0.5), (0.43, 0.52, 0.3), (0.42, 0.70, 0.309),
    (0.42, 0.88, 0.35), (0.57, 0.52, 0.301), (0.58, 0.70, 0.7), (0.58, 0.88, 0.3), (0.47, 0.10, 0.6),
    (0.53, 0.10, 0.302), (0.44, 0.11, 0.3), (0.56, 0.11, 0.8),
], np.float32)  # fmt: skip
CUTOFF_SIZE = (512, 320)  # height, width


def cutoff_pose() -> PoseSequence:
    """One frame of CUTOFF_BODY, without hands or face."""
    points = absent_points(1, 128)
    points[0, :18] = CUTOFF_BODY
    return PoseSequence.from_points(points, CUTOFF_SIZE[1], CUTOFF_SIZE[0], 24.0, np.zeros(1, np.int64))


def dwpose_golden() -> Path:
    """Where the released DWPose outputs recorded with this environment's OpenCV major version lie."""
    return (
        Path(__file__).parents[1] / "oracle" / "golden" / f"dwpose-opencv{cv2.__version__.split('.')[0]}.npz"
    )


def prepare_inputs(shared_data: Path, folder: Path) -> dict:
    """The two graphs and the frames, saved into `folder`; the spec of tests/oracle/released_dwpose.py.

    Single frames: a dancer, a photo of a person in blue (boxed several times), two dancers side by side
    and a grey frame (nobody). Driving frames: 500 x 444, a size where the order of the x-scale expression
    changes its last bit. The reference of the retargeting: the dancer of the GIF's last frame.
    """
    save_detector(folder / DETECTOR_FILE, seed=0)
    save_pose_model(folder / POSE_FILE, seed=1)
    dances = dance_frames(shared_data, 6, (250, 444))
    big_dances = dance_frames(shared_data, 2, (540, 960))
    singles = {
        "dance": big_dances[0],
        "photo": read_image(shared_data / "ref_demo1.jpg"),
        "two_people": np.concatenate(big_dances, axis=1),
        "nobody": np.full_like(big_dances[0], 128),
    }
    driving = driving_frames(dances)
    driving_dir = folder / "driving"
    driving_dir.mkdir()
    for index, frame in enumerate(driving):
        cv2.imwrite(str(driving_dir / f"{index:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    reference = dance_frames(shared_data, 7, (576, 1024))[-1]
    np.savez(folder / "singles.npz", reference=reference, **singles)
    return {
        "drawings": {"cutoff": [*CUTOFF_SIZE]},
        "output": str(folder / "released.npz"),
        "inputs": str(folder / "inputs.npz"),
        "detector": str(folder / DETECTOR_FILE),
        "pose": str(folder / POSE_FILE),
        "fps": 24.0,
        "frames": list(SINGLE_FRAMES),
        "reference": "prepared_reference",
        "driving": "driving",
    }


@dataclass
class OurRun:
    """Our side on the prepared inputs: keypoints and pictures of the single frames, and the retargeted
    poses and pictures of the whole path."""

    ours: dict[str, PoseSequence]
    pictures: dict[str, np.ndarray]
    retargeted: PoseSequence
    retargeted_pictures: np.ndarray
    driving_count: int


def run_ours(spec: dict) -> OurRun:
    """Our DWPose backend on the inputs `prepare_inputs` saved; writes the inputs the released side reads
    (the single frames, the driving frames and our prepared reference: the released preprocessing needs
    torchvision; the preparation is checked on its own in tests/pose/test_pose_reference_frames.py)."""
    folder = Path(spec["output"]).parent
    with np.load(folder / "singles.npz") as saved:
        singles = dict(saved)
    reference = singles.pop("reference")
    backend = DWPoseBackend(model_dir=folder, device="cpu")
    ours = {key: backend.detect_image(frame) for key, frame in singles.items()}
    pictures = {key: render_pose(ours[key], 0, *frame.shape[:2]) for key, frame in singles.items()}
    driving_dir = folder / "driving"
    prepared, pose_frames, retargeted = build_pose_frames(
        reference, driving_dir, RESOLUTION, backend, stride=1, progress=False
    )
    with pose_frames:
        retargeted_pictures = pose_frames[:].permute(0, 2, 3, 1).numpy()
    driving = np.stack([read_image(path) for path in sorted(driving_dir.glob("*.png"))])
    cutoff = cutoff_pose()
    pictures["cutoff"] = render_pose(cutoff, 0, *CUTOFF_SIZE)
    np.savez(spec["inputs"], prepared_reference=prepared, driving=driving, cutoff=cutoff.points(), **singles)
    return OurRun(ours, pictures, retargeted, retargeted_pictures, len(driving))


def released_people(arrays: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    """The released detector's output as (P, 128, 3) points in the PoseSequence layout."""
    count = int(arrays[f"{prefix}count"])

    def with_scores(points: str, scores: str) -> np.ndarray:
        return np.concatenate([arrays[f"{prefix}{points}"], arrays[f"{prefix}{scores}"][..., None]], axis=-1)

    body = with_scores("body", "body_score")
    hands = with_scores("hands", "hands_score")  # every left hand, then every right hand
    faces = with_scores("faces", "faces_score")
    return np.concatenate([body, hands[:count], hands[count:], faces], axis=1)
