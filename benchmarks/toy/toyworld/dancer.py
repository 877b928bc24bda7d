"""Drawing a synthetic dancer: an identity (colours, widths, background) and keypoints -> an RGB frame
and the figure's exact silhouette.

The figure is drawn at twice the frame size with anti-aliased shapes and reduced by area averaging:
legs and arms are capsules (thick lines with round ends), the torso a polygon between shoulders and
hips, the head a disc with a hair cap, and each hand a palm plus five separate fingers, so that what the
hand does is visible. The background is a plain colour, stripes or a checkerboard, known exactly, so
the silhouette of a generated frame can be measured against it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from mimicmotion.pose.types import BODY, LEFT_HAND, RIGHT_HAND

SUPERSAMPLE = 2
SHIFT = 4
FINGER_BASES = (1, 5, 9, 13, 17)


@dataclass(frozen=True)
class Identity:
    """How one dancer looks. Widths are fractions of the figure's height."""

    background: tuple[int, int, int]
    background_2: tuple[int, int, int]  # the second colour of a textured background
    texture: str  # plain | stripes | checks
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    short_sleeves: bool
    limb_width: float
    head_size: float


def _colour(rng: np.random.Generator, value: tuple[float, float], saturation=(0.4, 0.9)) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]])
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(int)


def _distinct(rng, avoid: list[np.ndarray], value, saturation=(0.4, 0.9), gap: float = 90.0):
    """A random colour at least `gap` (RGB distance) from every colour in `avoid`."""
    for _ in range(200):
        colour = _colour(rng, value, saturation)
        if all(np.linalg.norm(colour - other) >= gap for other in avoid):
            return colour
    return colour


def random_identity(rng: np.random.Generator) -> Identity:
    background = _colour(rng, (0.15, 0.95), (0.0, 0.6))
    background_2 = np.clip(background + rng.choice([-1, 1]) * rng.uniform(25, 45), 0, 255).astype(int)
    skin = _distinct(rng, [background, background_2], (0.35, 0.95), (0.2, 0.6))
    shirt = _distinct(rng, [background, background_2, skin], (0.2, 1.0))
    trousers = _distinct(rng, [background, background_2, shirt], (0.1, 0.8))
    hair = _distinct(rng, [skin], (0.05, 0.6), (0.2, 0.8), gap=60.0)
    return Identity(
        background=_rgb(background),
        background_2=_rgb(background_2),
        texture=str(rng.choice(["plain", "stripes", "checks"])),
        skin=_rgb(skin),
        hair=_rgb(hair),
        shirt=_rgb(shirt),
        trousers=_rgb(trousers),
        short_sleeves=bool(rng.random() < 0.5),
        limb_width=float(rng.uniform(0.045, 0.075)),
        head_size=float(rng.uniform(0.055, 0.075)),
    )


def background(identity: Identity, height: int, width: int) -> np.ndarray:
    """The frame without the dancer, RGB uint8."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = identity.background
    if identity.texture != "plain":
        rows, cols = np.mgrid[:height, :width]
        cell = max(4, height // 10)
        second = (rows // cell) % 2 == 1
        if identity.texture == "checks":
            second ^= (cols // cell) % 2 == 1
        frame[second] = identity.background_2
    return frame


def _px(point) -> tuple[int, int]:
    """OpenCV's fixed-point coordinates (SHIFT fractional bits): shapes land between pixels too."""
    return round(point[0] * (1 << SHIFT)), round(point[1] * (1 << SHIFT))


def _rgb(value) -> tuple[int, ...]:
    return tuple(int(c) for c in np.broadcast_to(value, 3))


def draw(identity: Identity, points: np.ndarray, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 frame (H, W, 3), silhouette bool (H, W)) of the dancer at `points` (128, 3; x, y in
    frame pixels; confidences ignored: the figure is drawn where its keypoints truly are)."""
    s = SUPERSAMPLE
    big = cv2.resize(
        background(identity, height, width), (width * s, height * s), interpolation=cv2.INTER_NEAREST
    )
    mask = np.zeros((height * s, width * s), np.uint8)
    canvases = (big, mask)
    body = points[BODY, :2] * s
    figure = np.ptp(body[:, 1]) or height * s
    limb = identity.limb_width * figure

    def line(a, b, w, colour):
        for canvas, value in zip(canvases, (colour, 255), strict=True):
            cv2.line(canvas, _px(a), _px(b), _rgb(value), max(1, round(w)), cv2.LINE_AA, SHIFT)

    def disc(centre, radius, colour):
        for canvas, value in zip(canvases, (colour, 255), strict=True):
            cv2.circle(canvas, _px(centre), int(radius * (1 << SHIFT)), _rgb(value), -1, cv2.LINE_AA, SHIFT)

    def polygon(corners, colour):
        contour = np.array([_px(c) for c in corners], np.int32)
        for canvas, value in zip(canvases, (colour, 255), strict=True):
            cv2.fillPoly(canvas, [contour], _rgb(value), cv2.LINE_AA, SHIFT)

    # legs: trousers, hip -> knee -> ankle
    for hip, knee, ankle in ((8, 9, 10), (11, 12, 13)):
        line(body[hip], body[knee], limb * 1.3, identity.trousers)
        line(body[knee], body[ankle], limb * 1.1, identity.trousers)
    # torso: shirt between shoulders and hips, the neck in skin
    line(body[1], body[0] * 0.4 + body[1] * 0.6, limb * 0.8, identity.skin)
    polygon([body[2], body[5], body[11], body[8]], identity.shirt)
    # arms: shirt on the upper arm, skin or shirt on the forearm
    forearm = identity.skin if identity.short_sleeves else identity.shirt
    for shoulder, elbow, wrist in ((2, 3, 4), (5, 6, 7)):
        line(body[shoulder], body[elbow], limb, identity.shirt)
        line(body[elbow], body[wrist], limb * 0.85, forearm)
    # head: a skin disc with a hair cap above the eyes
    head = identity.head_size * figure
    centre = body[0] + np.array([0.0, -0.3 * head])
    disc(centre + np.array([0.0, -0.35 * head]), head * 0.95, identity.hair)
    disc(centre, head * 0.85, identity.skin)
    # hands: palm and five separate fingers
    for hand in (LEFT_HAND, RIGHT_HAND):
        xy = points[hand, :2] * s
        polygon([xy[0], xy[2], xy[5], xy[17]], identity.skin)
        finger = limb * 0.3
        for base in FINGER_BASES:
            chain = [xy[0] if base == 1 else xy[base], *xy[base + 1 : base + 4]]
            for a, b in itertools.pairwise(chain):
                line(a, b, finger, identity.skin)
    frame = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
    silhouette = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA) >= 128
    return frame, silhouette
