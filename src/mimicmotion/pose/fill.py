"""Frames in which no person was found get a pose from their neighbours instead of an empty picture.

A gap between two frames with a person is filled by linear interpolation of every point, a gap at the
start or the end holds the nearest detection. Filled points keep a lower confidence (times
`confidence_scale`), so the confidence-aware picture shows them dimmer: they are guesses.

This is for detectors that can find nobody (MediaPipe follows one person). It acts on the main person;
the other people of a frame are kept as they are (a frame without a person has none). DWPose never
needs it: when its detector finds nobody, the pose model runs on the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicmotion.pose.types import MISSING, PoseSequence, located

DEFAULT_CONFIDENCE_SCALE = 0.5


@dataclass(frozen=True)
class FillReport:
    frames: int
    with_person: int
    filled: int

    def summary(self) -> str:
        return (
            f"person found in {self.with_person} of {self.frames} frames; "
            f"{self.filled} frames filled from neighbours"
        )


def fill_gaps(
    seq: PoseSequence, confidence_scale: float = DEFAULT_CONFIDENCE_SCALE
) -> tuple[PoseSequence, FillReport]:
    """Fill the frames of `seq` without a person; returns the new sequence and what was done.

    A sequence without any person is returned unchanged (there is nothing to fill from).
    """
    if not 0 < confidence_scale <= 1:
        raise ValueError(f"confidence_scale must be in (0, 1], got {confidence_scale}")
    found = seq.has_person()
    detected = np.flatnonzero(found)
    report = FillReport(frames=len(seq), with_person=len(detected), filled=0)
    if len(detected) == 0 or len(detected) == len(seq):
        return seq, report

    points = seq.points()
    filled = points.copy()
    for t in np.flatnonzero(~found):
        after = np.searchsorted(detected, t)
        if after == 0:  # before the first detection: hold it
            filled[t] = _held(points[detected[0]], confidence_scale)
        elif after == len(detected):  # after the last one
            filled[t] = _held(points[detected[-1]], confidence_scale)
        else:
            a, b = detected[after - 1], detected[after]
            filled[t] = _interpolated(points[a], points[b], (t - a) / (b - a), confidence_scale)
    report = FillReport(frames=len(seq), with_person=len(detected), filled=int((~found).sum()))
    return seq.with_points(filled), report


def _held(points: np.ndarray, confidence_scale: float) -> np.ndarray:
    held = points.copy()
    held[:, 2] *= confidence_scale
    return held


def _interpolated(
    first: np.ndarray, second: np.ndarray, weight: float, confidence_scale: float
) -> np.ndarray:
    """Points between `first` (weight 0) and `second` (weight 1).

    A point present at one end only is held where it was, its confidence fading towards the other end;
    a point absent at both ends stays absent.
    """
    in_first, in_second = located(first), located(second)
    out = np.empty_like(first)
    xy_first = np.where(in_first[:, None], first[:, :2], second[:, :2])
    xy_second = np.where(in_second[:, None], second[:, :2], first[:, :2])
    out[:, :2] = (1 - weight) * xy_first + weight * xy_second
    out[:, 2] = ((1 - weight) * first[:, 2] + weight * second[:, 2]) * confidence_scale
    absent = ~(in_first | in_second)
    out[absent, :2] = MISSING
    out[absent, 2] = 0
    return out
