"""Temporal smoothness: differences of consecutive frames, and flicker at window boundaries.

Plain functions over frames (RGB arrays, any numeric dtype; uint8 frames give values on the
0..255 scale), so they serve `mimicmotion evaluate` and a fusion comparison alike:

    differences = frame_differences(frames)                  # d_t = mean |f_{t+1} - f_t|
    boundary = layout.boundary_transitions(len(differences) + 1)
    summary = temporal_summary(differences, boundary)
    summary.boundary_flicker

Definitions (t runs over the video's transitions t -> t+1, t = 0..T-2):
- d_t, the frame difference: mean over all pixels and channels of |f_{t+1} - f_t|.
- mean frame difference: the mean of d_t over all transitions.
- boundary transitions B: those where the set of denoising windows covering video frame t differs
  from the set covering frame t+1 (a window starts or ends between them); see
  `WindowLayout.boundary_transitions`.
- boundary flicker = mean(d_t, t in B) / mean(d_t, t not in B). About 1 when seams are invisible;
  above 1 when the video jumps where windows begin or end (the artefact of plain averaging in the
  paper's Fig. 9). It is NaN when B or its complement is empty or both means are 0, and +inf when
  only the interior mean is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


def frame_difference(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute difference of two frames of the same shape, in the frames' units."""
    if previous.shape != current.shape:
        raise ValueError(f"frames differ in shape: {previous.shape} vs {current.shape}")
    # float32 keeps uint8 arithmetic from wrapping around; the mean is taken in float64.
    return float(np.abs(current.astype(np.float32) - previous.astype(np.float32)).mean(dtype=np.float64))


class FrameDifferences:
    """Accumulates d_t one frame at a time, keeping only the previous frame."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self.values: list[float] = []

    def add(self, frame: np.ndarray) -> None:
        if self._previous is not None:
            self.values.append(frame_difference(self._previous, frame))
        self._previous = frame

    def as_array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64)


def frame_differences(frames: Iterable[np.ndarray]) -> np.ndarray:
    """d_t for every transition of a frame stream (length: number of frames - 1)."""
    meter = FrameDifferences()
    for frame in frames:
        meter.add(np.asarray(frame))
    return meter.as_array()


@dataclass(frozen=True)
class TemporalSummary:
    """Temporal figures of one video (or of several, pooled by concatenating their transitions)."""

    num_transitions: int
    mean_difference: float
    num_boundary: int = 0
    boundary_mean: float = math.nan
    interior_mean: float = math.nan
    boundary_flicker: float = math.nan


def boundary_flicker(differences: np.ndarray, boundary: np.ndarray) -> float:
    """mean(d_t at boundaries) / mean(d_t elsewhere); see the module docstring for edge cases."""
    return temporal_summary(differences, boundary).boundary_flicker


def temporal_summary(differences: np.ndarray, boundary: np.ndarray | None = None) -> TemporalSummary:
    """Mean frame difference and, given a boundary mask over the same transitions, the flicker.

    A mask longer than `differences` is cut to its length: a video compared over a prefix of its
    frames keeps the boundaries of that prefix.
    """
    differences = np.asarray(differences, dtype=np.float64)
    mean = float(differences.mean()) if differences.size else math.nan
    if boundary is None:
        return TemporalSummary(num_transitions=differences.size, mean_difference=mean)
    boundary = np.asarray(boundary, dtype=bool)
    if boundary.size < differences.size:
        raise ValueError(
            f"boundary mask has {boundary.size} transitions, the frame differences {differences.size}"
        )
    boundary = boundary[: differences.size]
    at_boundary, inside = differences[boundary], differences[~boundary]
    boundary_mean = float(at_boundary.mean()) if at_boundary.size else math.nan
    interior_mean = float(inside.mean()) if inside.size else math.nan
    return TemporalSummary(
        num_transitions=differences.size,
        mean_difference=mean,
        num_boundary=int(at_boundary.size),
        boundary_mean=boundary_mean,
        interior_mean=interior_mean,
        boundary_flicker=_ratio(boundary_mean, interior_mean),
    )


def _ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    if denominator == 0:
        return math.nan if numerator == 0 else math.inf
    return numerator / denominator
