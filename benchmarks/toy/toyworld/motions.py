"""Motions of the synthetic dancers: whole-body keypoints over time, in toy-frame pixels.

A motion is a (T, 128, 3) array in the `PoseSequence.points()` layout (body 18 | left hand 21 | right
hand 21 | face 68), x and y in pixels of the toy frame, confidence 1 for every drawn point and the face
absent (the dancer's head is a plain shape). It comes from

- the dance video's body keypoints (detected once), fitted into the toy frame, or
- a procedural dance: joint angles of the kinematic tree driven by sums of slow sinusoids;

then varied (joint-angle perturbations along the tree with bone lengths kept, speed changes, mirroring,
translation and scale), and given hands: 21 points per hand built on the forearm's direction, with
finger curl and spread that change smoothly over time, so hand poses differ from frame to frame.

`observed` turns a motion into what a detector would report: per-point confidences that dip in random
episodes, and keypoint noise whose size follows 1 - confidence.
"""

from __future__ import annotations

import numpy as np

from mimicmotion.pose.skeleton import BODY_LIMBS
from mimicmotion.pose.types import BODY, FACE, LEFT_HAND, MISSING, RIGHT_HAND

# OpenPose-18 left/right pairs: mirroring swaps them.
BODY_MIRROR = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)
ELBOW = {"left": 6, "right": 3}
WRIST = {"left": 7, "right": 4}
HAND_SLICE = {"left": LEFT_HAND, "right": RIGHT_HAND}
# Limbs whose angle the perturbations and the procedural dances move (arms and legs), as
# (parent, child) pairs of BODY_LIMBS.
MOVING_LIMBS = ((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13))

# A standing body in units of its height (neck at the origin, y down), the rest pose of procedural dances.
REST_BODY = np.array([
    (0.0, -0.10), (0.0, 0.0),                                  # nose, neck
    (-0.11, 0.01), (-0.14, 0.17), (-0.15, 0.32),               # right shoulder, elbow, wrist
    (0.11, 0.01), (0.14, 0.17), (0.15, 0.32),                  # left shoulder, elbow, wrist
    (-0.07, 0.34), (-0.08, 0.56), (-0.08, 0.78),               # right hip, knee, ankle
    (0.07, 0.34), (0.08, 0.56), (0.08, 0.78),                  # left hip, knee, ankle
    (-0.025, -0.125), (0.025, -0.125), (-0.05, -0.11), (0.05, -0.11),  # eyes, ears
])  # fmt: skip


# --------------------------------------------------------------------------------------- bodies


def fit_into_frame(body_xy: np.ndarray, height: int, width: int, fill: float = 0.8) -> np.ndarray:
    """Body points (T, 18, 2) of any scale moved and scaled so that the whole motion spans `fill` of the
    frame height (or width, whichever binds), centred."""
    low = body_xy.reshape(-1, 2).min(axis=0)
    high = body_xy.reshape(-1, 2).max(axis=0)
    scale = fill * min(height / (high[1] - low[1]), width / (high[0] - low[0]))
    centre = (low + high) / 2
    return (body_xy - centre) * scale + np.array([width / 2, height / 2])


def bones(body_xy: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """{(parent, child): (T, 2) bone vector} for every limb of the tree."""
    return {(a, b): body_xy[:, b] - body_xy[:, a] for a, b in BODY_LIMBS}


def rebuild(root: np.ndarray, bone_vectors: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    """Body points (T, 18, 2) from the neck's track and the bone vectors, walking the tree from the neck."""
    body = np.zeros((len(root), 18, 2))
    body[:, 1] = root
    for a, b in BODY_LIMBS:  # BODY_LIMBS lists every parent before its children
        body[:, b] = body[:, a] + bone_vectors[(a, b)]
    return body


def rotate(vectors: np.ndarray, angles: np.ndarray) -> np.ndarray:
    cos, sin = np.cos(angles), np.sin(angles)
    x, y = vectors[..., 0], vectors[..., 1]
    return np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)


def smooth_wave(rng: np.random.Generator, frames: int, amplitude: float, periods=(20.0, 60.0)) -> np.ndarray:
    """(frames,) a sum of three sinusoids of random period, phase and weight: slow, smooth motion."""
    t = np.arange(frames)
    wave = np.zeros(frames)
    for _ in range(3):
        period = rng.uniform(*periods)
        wave += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return amplitude * wave / 2.0


def perturb_angles(body_xy: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Arms and legs turned by smooth random angles (radians, up to about `amplitude`), bone lengths
    kept; a turn at a joint carries everything below it along."""
    vectors = bones(body_xy)
    turned: dict[int, np.ndarray] = {}  # joint -> how far the limb ending there has turned
    for a, b in BODY_LIMBS:
        own = smooth_wave(rng, len(body_xy), amplitude) if (a, b) in MOVING_LIMBS else 0.0
        turned[b] = own + turned.get(a, 0.0)
        vectors[(a, b)] = rotate(vectors[(a, b)], np.broadcast_to(turned[b], len(body_xy)))
    return rebuild(body_xy[:, 1], vectors)


def procedural_body(rng: np.random.Generator, frames: int, height: int, width: int) -> np.ndarray:
    """A dance made up from the rest pose: every arm and leg swings on its own slow waves, the body
    sways and bobs."""
    size = 0.8 * height
    rest = np.broadcast_to(REST_BODY * size, (frames, 18, 2)).copy()
    rest += np.array([width / 2, 0.1 * height + 0.125 * size])
    arms = perturb_angles(rest, rng, amplitude=1.6)
    # legs swing less than arms: undo part of their turn by mixing with the rest pose
    legs = perturb_angles(rest, rng, amplitude=0.5)
    body = arms.copy()
    for leg in (8, 9, 10, 11, 12, 13):
        body[:, leg] = legs[:, leg]
    sway = np.stack([smooth_wave(rng, frames, 0.06 * width), smooth_wave(rng, frames, 0.02 * height)], -1)
    return body + sway[:, None]


def change_speed(body_xy: np.ndarray, factor: float, frames: int) -> np.ndarray:
    """`frames` frames of the motion played `factor` times as fast (linear interpolation, looping)."""
    t = (np.arange(frames) * factor) % (len(body_xy) - 1)
    low = np.floor(t).astype(int)
    weight = (t - low)[:, None, None]
    return body_xy[low] * (1 - weight) + body_xy[low + 1] * weight


def mirror(body_xy: np.ndarray, width: int) -> np.ndarray:
    mirrored = body_xy[:, BODY_MIRROR].copy()
    mirrored[..., 0] = width - mirrored[..., 0]
    return mirrored


def place(body_xy: np.ndarray, scale: float, shift: tuple[float, float], height: int, width: int):
    """Scaled about the frame centre, then shifted by `shift` (fractions of the frame)."""
    centre = np.array([width / 2, height / 2])
    return (body_xy - centre) * scale + centre + np.array([shift[0] * width, shift[1] * height])


# ---------------------------------------------------------------------------------------- hands

# Knuckle directions of thumb, index, middle, ring and little finger relative to the hand's axis
# (radians, towards the thumb side positive), palm-relative knuckle distances, and segment lengths
# (fractions of the forearm).
FINGER_ANGLES = (0.9, 0.28, 0.05, -0.18, -0.42)
KNUCKLE_DISTANCE = (0.25, 0.5, 0.52, 0.5, 0.45)
SEGMENTS = ((0.2, 0.16, 0.13), (0.2, 0.14, 0.11), (0.22, 0.15, 0.12), (0.2, 0.14, 0.11), (0.16, 0.11, 0.09))


def hand_points(
    elbow: np.ndarray, wrist: np.ndarray, side: str, curl: np.ndarray, spread: np.ndarray, flex: np.ndarray
) -> np.ndarray:
    """(T, 21, 2) points of a hand on the forearm elbow -> wrist: wrist, then 4 points per finger.

    `curl` (T, 5) in [0, 1] bends each finger (a fist at 1), `spread` (T,) fans the fingers out,
    `flex` (T,) bends the wrist (radians). The thumb lies on the side that faces the viewer's
    left for the right hand, right for the left hand (a dancer facing the camera, palms forward).
    """
    forearm = wrist - elbow
    length = np.linalg.norm(forearm, axis=-1, keepdims=True).clip(1e-6)
    axis = rotate(forearm / length, flex)
    thumb_side = -1.0 if side == "right" else 1.0
    points = np.zeros((len(wrist), 21, 2))
    points[:, 0] = wrist
    for finger in range(5):
        angle = thumb_side * (FINGER_ANGLES[finger] * (1 + 0.6 * spread))
        direction = rotate(axis, angle)
        joint = wrist + direction * KNUCKLE_DISTANCE[finger] * length
        for segment, size in enumerate(SEGMENTS[finger]):
            # each joint folds the finger further towards the palm (the thumb folds across it)
            direction = rotate(direction, -thumb_side * curl[:, finger] * (1.2 if segment else 0.6))
            points[:, 1 + 4 * finger + segment] = joint
            joint = joint + direction * size * length * 1.15
        points[:, 4 + 4 * finger] = joint
    return points


def hand_motion(rng: np.random.Generator, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(curl (T, 5), spread (T,), flex (T,)) that change smoothly: open, fist, pointing and between."""
    grip = np.clip(0.5 + smooth_wave(rng, frames, 1.2, periods=(16.0, 40.0)), 0, 1)
    curl = np.stack([np.clip(grip + smooth_wave(rng, frames, 0.5, (10.0, 30.0)), 0, 1) for _ in range(5)], 1)
    spread = np.clip(smooth_wave(rng, frames, 1.0, (12.0, 36.0)), -0.5, 1.0)
    flex = smooth_wave(rng, frames, 0.6, (14.0, 40.0))
    return curl, spread, flex


# --------------------------------------------------------------------------------------- motions


def with_hands(body_xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, 128, 3) points of a body with procedural hands; confidences 1, the face absent."""
    frames = len(body_xy)
    points = np.zeros((frames, 128, 3))
    points[:, BODY, :2] = body_xy
    for side in ("left", "right"):
        elbow, wrist = body_xy[:, ELBOW[side]], body_xy[:, WRIST[side]]
        points[:, HAND_SLICE[side], :2] = hand_points(elbow, wrist, side, *hand_motion(rng, frames))
    points[..., 2] = 1.0
    points[:, FACE] = (MISSING, MISSING, 0.0)
    return points


def varied(source: np.ndarray, rng: np.random.Generator, frames: int, height: int, width: int) -> np.ndarray:
    """A variation of the body motion `source` (T, 18, 2, in frame pixels): another speed and start,
    perturbed joint angles, maybe mirrored, rescaled and moved; with new hands."""
    start = int(rng.integers(0, len(source) // 2))
    body = change_speed(source[start:], rng.uniform(0.7, 1.4), frames)
    body = perturb_angles(body, rng, amplitude=0.35)
    if rng.random() < 0.5:
        body = mirror(body, width)
    body = place(
        body, rng.uniform(0.8, 1.0), (rng.uniform(-0.08, 0.08), rng.uniform(-0.04, 0.04)), height, width
    )
    return with_hands(body, rng)


def procedural(rng: np.random.Generator, frames: int, height: int, width: int) -> np.ndarray:
    body = procedural_body(rng, frames, height, width)
    body = place(body, rng.uniform(0.8, 1.0), (rng.uniform(-0.08, 0.08), 0.0), height, width)
    return with_hands(body, rng)


# ------------------------------------------------------------------------------------ observation


def observed(points: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """What a detector reports of `points` (T, 128, 3, pixels): confidences that dip during random
    episodes (a body point for a few frames, a whole hand for longer), and, with `noise` > 0, keypoints
    moved by Gaussian noise of standard deviation `noise` * (1 - confidence) * body height."""
    frames = len(points)
    confidence = np.clip(rng.normal(0.93, 0.04, (frames, 128)), 0.6, 1.0)

    def dip(columns: np.ndarray, chance: float, length: tuple[int, int]) -> None:
        for column in columns:
            if rng.random() < chance:
                start = int(rng.integers(0, frames))
                stop = start + int(rng.integers(*length))
                confidence[start:stop, column] = rng.uniform(0.05, 0.45)

    dip(np.arange(18), 0.35, (3, 12))
    for hand in (LEFT_HAND, RIGHT_HAND):
        if rng.random() < 0.5:
            start = int(rng.integers(0, frames))
            stop = start + int(rng.integers(6, 20))
            confidence[start:stop, hand] = rng.uniform(0.05, 0.45)

    result = points.copy()
    drawn = points[..., 2] > 0
    result[..., 2] = np.where(drawn, confidence, 0.0)
    if noise > 0:
        height = np.ptp(points[:, BODY, 1], axis=1).mean()
        offsets = rng.normal(0.0, 1.0, (frames, 128, 2)) * (noise * height * (1 - confidence))[..., None]
        result[..., :2] = np.where(drawn[..., None], points[..., :2] + offsets, points[..., :2])
    return result
