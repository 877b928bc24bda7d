"""Tiny DWPose ONNX files whose outputs are chosen by the tests: the real pair (yolox_l.onnx and
dw-ll_ucoco_384.onnx, 300 MB) is not needed to check the arithmetic around them.

The detector returns a fixed set of boxes for an image of IMAGE_W x IMAGE_H (the main dancer, a duplicate
removed by NMS, a small person far away, a weak box and an object of another class); the pose model puts
every keypoint's peak at known SimCC bins.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mimicmotion.pose.dwpose import DETECTOR_FILE, POSE_FILE


def constant_model(path, input_shape, outputs):
    """An ONNX model that ignores its image input and returns fixed arrays."""
    nodes = [
        helper.make_node(
            "Constant", [], [name], value=numpy_helper.from_array(array.astype(np.float32), name + "_v")
        )
        for name, array in outputs.items()
    ]
    graph = helper.make_graph(
        nodes,
        "fixed",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, array.shape)
            for name, array in outputs.items()
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


# Image 1000 x 800; letterbox ratio = min(640 / 800, 640 / 1000) = 0.64.
IMAGE_W, IMAGE_H, RATIO = 1000, 800, 0.64


def anchor_row(stride, gx, gy):
    """Row of YOLOX's 8400 outputs for grid cell (gx, gy) of the given stride."""
    offset = {8: 0, 16: 80 * 80, 32: 80 * 80 + 40 * 40}[stride]
    return offset + gy * (640 // stride) + gx


def yolox_output():
    out = np.zeros((1, 8400, 85), np.float32)

    def put(stride, gx, gy, box_in_image, objectness, class_scores):
        x0, y0, x1, y1 = (v * RATIO for v in box_in_image)  # in letterbox pixels
        row = out[0, anchor_row(stride, gx, gy)]
        row[0], row[1] = (x0 + x1) / 2 / stride - gx, (y0 + y1) / 2 / stride - gy
        row[2], row[3] = math.log((x1 - x0) / stride), math.log((y1 - y0) / stride)
        row[4] = objectness
        row[5 : 5 + len(class_scores)] = class_scores

    put(32, 8, 8, (300, 100, 500, 700), 0.9, [0.9])  # the dancer, score 0.81
    put(16, 16, 16, (283.6, 84.4, 517.6, 740.6), 1.0, [0.7])  # same person, bigger, 0.7: removed by NMS
    put(8, 70, 10, (900, 100, 930, 160), 1.0, [0.95])  # someone small far away
    put(32, 2, 2, (0, 0, 900, 750), 1.0, [0.2])  # score 0.2: not a person
    put(32, 15, 5, (600, 50, 990, 790), 0.9, [0.1, 0.9])  # a big object of class 1
    return out


# Pose model: peaks at known SimCC bins, score = min(peak_x, peak_y).
BINS_X = 100 + 2 * np.arange(133)
BINS_Y = 200 + 3 * np.arange(133)


def simcc_outputs():
    simcc_x = np.full((1, 133, 576), -0.5, np.float32)
    simcc_y = np.full((1, 133, 768), -0.5, np.float32)
    simcc_x[0, np.arange(133), BINS_X] = 0.8
    simcc_y[0, np.arange(133), BINS_Y] = 0.6
    simcc_x[0, 0, BINS_X[0]] = simcc_y[0, 0, BINS_Y[0]] = 1.3  # DWPose scores can exceed 1
    simcc_x[0, 120], simcc_y[0, 120] = -1.0, -1.0  # no maximum above 0: absent
    return {"simcc_x": simcc_x, "simcc_y": simcc_y}


def save_tiny_dwpose(folder: Path) -> Path:
    """yolox_l.onnx and dw-ll_ucoco_384.onnx with the fixed outputs above, in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    constant_model(folder / DETECTOR_FILE, [1, 3, 640, 640], {"output": yolox_output()})
    constant_model(folder / POSE_FILE, [1, 3, 384, 288], simcc_outputs())
    return folder
