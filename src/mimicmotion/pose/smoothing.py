"""Optional temporal smoothing of keypoints with the one-euro filter (Casiez et al., CHI 2012).

The one-euro filter is a low-pass filter whose cut-off rises with speed: still points lose their
jitter, fast ones keep up without lag. Positions are filtered in pixels of the sequence's frame (so the
parameters mean the same along x and y) with the real time between entries; confidences are left
alone. A point that is absent restarts its filter when it comes back. Only the main person is smoothed:
the other people of a frame are not followed from frame to frame.
"""

from __future__ import annotations

import math

import numpy as np

from mimicmotion.pose.types import MISSING, PoseSequence, located

DEFAULT_MIN_CUTOFF = 1.0  # Hz: cut-off when still
DEFAULT_BETA = 0.02  # cut-off gained per pixel/second of speed
DEFAULT_DERIVATIVE_CUTOFF = 1.0  # Hz


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


def smooth(
    seq: PoseSequence,
    min_cutoff: float = DEFAULT_MIN_CUTOFF,
    beta: float = DEFAULT_BETA,
    derivative_cutoff: float = DEFAULT_DERIVATIVE_CUTOFF,
) -> PoseSequence:
    """`seq` with every keypoint's track passed through a one-euro filter."""
    if min_cutoff <= 0 or derivative_cutoff <= 0 or beta < 0:
        raise ValueError("one-euro filter needs min_cutoff > 0, derivative_cutoff > 0 and beta >= 0")
    points = seq.points()
    size = np.array([seq.width, seq.height], np.float64)
    xy = points[..., :2] * size
    present = located(points)
    times = _timestamps(seq)

    out = xy.copy()
    value = xy[0].copy()  # filtered position per point
    speed = np.zeros_like(value)  # filtered derivative per point
    alive = present[0].copy()  # whether a point's filter has state
    for t in range(1, len(seq)):
        dt = times[t] - times[t - 1]
        restart = present[t] & ~alive
        value[restart], speed[restart] = xy[t, restart], 0.0
        run = present[t] & alive
        raw_speed = (xy[t] - value) / dt
        speed = np.where(run[:, None], speed + _alpha(derivative_cutoff, dt) * (raw_speed - speed), speed)
        cutoff = min_cutoff + beta * np.linalg.norm(speed, axis=-1, keepdims=True)
        value = np.where(run[:, None], value + _alpha(cutoff, dt) * (xy[t] - value), value)
        out[t] = value
        alive = present[t]
    smoothed = points.copy()
    smoothed[..., :2] = out / size
    smoothed[~present, :2] = MISSING
    return seq.with_points(smoothed)


def _timestamps(seq: PoseSequence) -> np.ndarray:
    """Seconds of each entry; evenly spaced at the sampling rate if the frame indices are not increasing."""
    times = seq.frame_indices.astype(np.float64) / max(seq.fps, 1e-6)
    if len(times) > 1 and np.all(np.diff(times) > 0):
        return times
    return np.arange(len(seq), dtype=np.float64) / max(seq.sample_fps, 1e-6)
