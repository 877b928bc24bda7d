"""Moving driving poses onto the reference person: their place in the frame and their proportions.

Modes:
- ``none``: coordinates are kept as they are (normalised), only the frame size becomes the reference's.
- ``linear`` (default, the released fit, docs/released-behaviour.md, Retargeting): one scale and offset
  for the whole video, fitted by least squares so the driving body's vertical extent matches the
  reference's, on the driving frames that hold exactly one person; it then moves every point of every
  person.
- ``limbs``: every bone of the main person keeps its direction from the driving pose but takes the
  reference body's length, walking the kinematic tree from the neck; the neck is placed by the linear
  fit, hands follow their wrist and the face its nose (both keep the linear scale), and bones the
  reference does not show (confidence <= 0.3 at either end) keep the linearly scaled driving length. The
  other people of a frame get the linear fit.

Lengths and directions are measured in pixels: normalised x and y are divided by different sizes.
The linear fit is isotropic in pixels (its x scale is derived from its y scale and the two aspect
ratios), which is why a direction in driving pixels is the same direction in reference pixels.
Points that are absent stay absent; every other point moves, whatever its confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.skeleton import (
    BODY_LIMBS,
    LEFT_SHOULDER,
    LEFT_WRIST,
    LINEAR_FIT_POINTS,
    NECK,
    NOSE,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
)
from mimicmotion.pose.types import BODY, FACE, LEFT_HAND, RIGHT_HAND, PoseSequence, located

MODES = ("none", "linear", "limbs")
REFERENCE_CONFIDENCE = 0.3  # the released fit uses reference points above this


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise MimicMotionError(f"unknown retarget mode {mode!r} (choose one of: {', '.join(MODES)})")
    return mode


@dataclass(frozen=True)
class LinearFit:
    """x_ref = ax * x_drv + bx, y_ref = ay * y_drv + by, in normalised coordinates."""

    ax: float
    bx: float
    ay: float
    by: float


def fit_linear(driving: PoseSequence, reference: PoseSequence) -> LinearFit:
    """The released least-squares fit of the driving bodies onto the reference body (entry 0).

    The fit uses the reference's body points LINEAR_FIT_POINTS with confidence > 0.3 and, in every
    driving frame with exactly one person, the same points wherever they have a position. A video in
    which no frame has exactly one person (the released code stops there) is fitted on the main person
    of every frame that has one.
    """
    ref_body = reference.body[0]
    ids = [i for i in LINEAR_FIT_POINTS if ref_body[i, 2] > REFERENCE_CONFIDENCE]
    if len(ids) < 2:
        raise MimicMotionError(
            "the reference pose shows fewer than 2 body keypoints clearly (confidence > 0.3): "
            "cannot fit the driving poses to it; use a reference image where the person is visible"
        )
    frames = _fit_frames(driving)
    if not frames.any():
        raise MimicMotionError("no person found in any driving frame: nothing to retarget")
    bodies = driving.body[frames][:, ids]  # (F, k, 3)
    placed = located(bodies)
    ref_xy = np.broadcast_to(ref_body[ids, :2], bodies[..., :2].shape)
    x_drv, y_drv = bodies[..., 0][placed], bodies[..., 1][placed]
    x_ref, y_ref = ref_xy[..., 0][placed], ref_xy[..., 1][placed]
    if np.ptp(y_drv) == 0:
        raise MimicMotionError(
            "cannot fit the driving poses to the reference: the driving bodies have no height"
        )
    ay, by = np.polyfit(y_drv, y_ref, 1)
    # this evaluation order, (h_drv / w_drv / h_ref) * w_ref, is the released one: others round differently
    ax = ay / (driving.height / driving.width / reference.height * reference.width)
    bx = np.mean(x_ref - x_drv * ax)
    return LinearFit(ax=float(ax), bx=float(bx), ay=float(ay), by=float(by))


def _fit_frames(driving: PoseSequence) -> np.ndarray:
    """(T,) bool: the frames the linear fit learns from."""
    alone = driving.people_count() == 1
    return alone if alone.any() else driving.has_person()


def apply_linear(points: np.ndarray, fit: LinearFit) -> np.ndarray:
    """Points (..., 3) moved by the fit; absent points stay as they are."""
    moved = points.copy()
    moved[..., 0] = points[..., 0] * fit.ax + fit.bx
    moved[..., 1] = points[..., 1] * fit.ay + fit.by
    absent = ~located(points)
    moved[absent] = points[absent]
    return moved


def retarget(driving: PoseSequence, reference: PoseSequence, mode: str = "linear") -> PoseSequence:
    """Driving poses moved into the reference image's frame (its width and height), entry for entry.

    `reference` is the reference image's own pose (entry 0 is used).
    """
    check_mode(mode)
    points = driving.points()
    if mode == "none":
        return driving.with_points(points, width=reference.width, height=reference.height)
    fit = fit_linear(driving, reference)
    moved = apply_linear(points, fit)
    if mode == "limbs":
        placed = located(points)
        moved[..., :2] = _limbs(points, moved[..., :2], driving, reference, fit)
        moved[~placed] = points[~placed]
    others = apply_linear(driving.others, fit)
    return driving.with_points(moved, width=reference.width, height=reference.height, others=others)


def _limbs(
    points: np.ndarray,
    linear_xy: np.ndarray,
    driving: PoseSequence,
    reference: PoseSequence,
    fit: LinearFit,
) -> np.ndarray:
    """Keypoints (T, 128, 2), normalised in the reference frame, with the reference's bone lengths."""
    drv_size = np.array([driving.width, driving.height], np.float64)
    ref_size = np.array([reference.width, reference.height], np.float64)
    drv = points[..., :2] * drv_size  # driving pixels
    lin = linear_xy * ref_size  # linear fit, reference pixels
    present = points[..., 2] > 0  # points seen: a bone needs both ends seen to give a direction
    # pixel scale of the linear fit (the same along x); its size only, should a fit ever come out flipped
    scale = abs(fit.ay) * reference.height / driving.height

    # DWPose/MediaPipe give the neck no confidence unless both shoulders are clear; the tree still
    # needs a root, so take the shoulders' midpoint where they exist.
    body = BODY.start
    shoulders = present[:, body + RIGHT_SHOULDER] & present[:, body + LEFT_SHOULDER]
    no_neck = ~present[:, body + NECK] & shoulders
    midpoint = (drv[:, body + RIGHT_SHOULDER] + drv[:, body + LEFT_SHOULDER]) / 2
    drv[no_neck, body + NECK] = midpoint[no_neck]
    neck_normalized = midpoint[no_neck] / drv_size * [fit.ax, fit.ay] + [fit.bx, fit.by]
    lin[no_neck, body + NECK] = neck_normalized * ref_size
    present[no_neck, body + NECK] = True

    ref = reference.body[0]
    ref_px, ref_clear = ref[:, :2] * ref_size, ref[:, 2] > REFERENCE_CONFIDENCE
    out = lin.copy()
    for parent, child in BODY_LIMBS:
        p, c = body + parent, body + child
        direction = drv[:, c] - drv[:, p]
        length = np.linalg.norm(direction, axis=-1)
        usable = present[:, p] & present[:, c] & (length > 0)
        if ref_clear[parent] and ref_clear[child]:
            target = np.full_like(length, np.linalg.norm(ref_px[child] - ref_px[parent]))
        else:
            target = length * scale
        unit = direction / np.where(length > 0, length, 1)[:, None]
        placed = out[:, p] + unit * target[:, None]
        carried = lin[:, c] + (out[:, p] - lin[:, p])  # no direction: move along with the parent
        out[:, c] = np.where(usable[:, None], placed, carried)

    for part, anchor in ((LEFT_HAND, LEFT_WRIST), (RIGHT_HAND, RIGHT_WRIST), (FACE, NOSE)):
        shift = out[:, body + anchor] - lin[:, body + anchor]
        out[:, part] = lin[:, part] + shift[:, None]
    return out / ref_size
