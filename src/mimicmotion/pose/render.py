"""The pose picture: keypoints -> RGB image (docs/released-behaviour.md, Pose picture).

Everything is drawn on a black canvas s = 2160 / min(H, W) times the output size and then resized to
H x W bilinearly, exactly as the released checkpoint's inputs were made. Colours are the final RGB
colours, so the canvas is RGB and needs no channel swap.

Every person of the frame is drawn, in the released order: body limb i of each person for i = 0..16, the
canvas dimmed, body joint i of each person, the left hands of all people, their right hands, then each
person's face.

Styles differ only in how a confidence becomes visibility and brightness:
- ``released`` (default): brightness = confidence; body limbs are skipped when either end is < 0.3 and
  body joints drawn only when > 0.3; hands and face have no cut-off.
- ``confidence`` (the paper): brightness = confidence; body points drawn when their confidence is > 0,
  hands and face as in ``released``.
- ``threshold`` (earlier works): points below the threshold are dropped, the rest drawn at full brightness.
Confidences are used as they are, not clipped: a colour channel c x confidence beyond 255 (DWPose scores
exceed 1 at times) or below 0 (scores <= 0) saturates to 255 or 0, as OpenCV's drawing does with the
released integer and float colours. Hands and face points are skipped only when their canvas pixel lies
left of or above pixel 1, which drops absent points (stored at -1); a DWPose point with a score <= 0 is
drawn in black, and an edge between two such points in the colour of their product, as released.

`PoseRenderer` keeps its large canvas between frames and clears only the boxes it drew into, and draws
limbs directly in their dimmed colour instead of dimming the canvas: the picture is the same as the
released way, only faster.
"""

from __future__ import annotations

import colorsys
import math
from fractions import Fraction

import cv2
import numpy as np

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.skeleton import BODY_COLORS, BODY_LIMBS, HAND_EDGES
from mimicmotion.pose.types import BODY, FACE, LEFT_HAND, RIGHT_HAND, PoseSequence

STYLES = ("released", "confidence", "threshold")
CANVAS_SHORT_SIDE = 2160
RELEASED_BODY_CUTOFF = 0.3
DEFAULT_THRESHOLD = 0.3
LIMB_HALF_WIDTH = 4
BODY_JOINT_RADIUS = 4
HAND_LINE_THICKNESS = 2
HAND_POINT_RADIUS = 4
FACE_POINT_RADIUS = 3
LIMB_DIMMING = 0.6

# value * 0.6 truncated to uint8, as the released canvas dimming computed it.
_DIM_TABLE = (np.arange(256, dtype=np.float64) * LIMB_DIMMING).astype(np.uint8)
# Hand edge e: HSV(e / 20, 1, 1) with R and B swapped (the released code drew RGB into a BGR canvas).
_HAND_EDGE_COLORS = tuple(
    (b, g, r)
    for r, g, b in (colorsys.hsv_to_rgb(e / len(HAND_EDGES), 1.0, 1.0) for e in range(len(HAND_EDGES)))
)


def check_style(style: str) -> str:
    if style not in STYLES:
        raise MimicMotionError(f"unknown render style {style!r} (choose one of: {', '.join(STYLES)})")
    return style


def canvas_size(height: int, width: int) -> tuple[int, int]:
    """Size (rows, columns) of the drawing canvas for an output of height x width."""
    short = min(height, width)
    scale = CANVAS_SHORT_SIDE / short if short != CANVAS_SHORT_SIDE else 1
    return int(height * scale), int(width * scale)


class PoseRenderer:
    """Draws pose pictures of one size and style; reuses its canvas, so keep one per thread."""

    def __init__(
        self, height: int, width: int, style: str = "released", threshold: float = DEFAULT_THRESHOLD
    ):
        if height < 1 or width < 1:
            raise MimicMotionError(f"pose picture size must be positive, got {width}x{height}")
        self.height, self.width = int(height), int(width)
        self.style = check_style(style)
        self.threshold = float(threshold)
        self._canvas = np.zeros((*canvas_size(self.height, self.width), 3), np.uint8)
        self._drawn: list[tuple[slice, slice]] = []  # boxes holding everything drawn since the last clear
        self._blocks = _aligned_blocks(self._canvas.shape[1], self.width, self._canvas.shape[0], self.height)

    def render(self, seq: PoseSequence, index: int) -> np.ndarray:
        """The picture of entry `index` of `seq` (every person in it): uint8 RGB (height, width, 3)."""
        canvas = self._canvas
        self._clear()
        people = seq.people(index)
        self._draw_bodies(people[:, BODY])
        for hand in (LEFT_HAND, RIGHT_HAND):  # every left hand, then every right hand, as released
            for person in people:
                self._draw_hand(person[hand])
        for person in people:
            self._draw_face(person[FACE])
        return self._resize(canvas)

    def _resize(self, canvas: np.ndarray) -> np.ndarray:
        """The canvas resized bilinearly to the output size.

        Where the canvas/output ratio is a fraction p/q with a power-of-two q (2160/576 = 15/4, ...),
        a block of q output pixels starts exactly where a block of p canvas pixels does, in floating
        point too; resizing only the blocks around what was drawn then gives bit for bit the pixels of
        the full resize (the rest is black, and 2+ pixels of black margin make the edge handling agree).
        """
        size = (self.width, self.height)
        if self._blocks is None or not self._drawn:
            return cv2.resize(canvas, size, interpolation=cv2.INTER_LINEAR)
        (px, qx), (py, qy) = self._blocks
        rows, cols = canvas.shape[:2]
        x0 = min(box[1].start for box in self._drawn)
        x1 = max(box[1].stop for box in self._drawn)
        y0 = min(box[0].start for box in self._drawn)
        y1 = max(box[0].stop for box in self._drawn)
        # output range covering the drawn canvas region plus 2 output pixels, aligned to blocks
        ox0, ox1 = max(0, (x0 * qx // px - 2) // qx * qx), min(self.width, -(-(x1 * qx // px + 3) // qx) * qx)
        oy0, oy1 = (
            max(0, (y0 * qy // py - 2) // qy * qy),
            min(self.height, -(-(y1 * qy // py + 3) // qy) * qy),
        )
        sx0, sx1 = ox0 * px // qx, min(cols, ox1 * px // qx)
        sy0, sy1 = oy0 * py // qy, min(rows, oy1 * py // qy)
        picture = np.zeros((self.height, self.width, 3), np.uint8)
        picture[oy0:oy1, ox0:ox1] = cv2.resize(
            canvas[sy0:sy1, sx0:sx1], (ox1 - ox0, oy1 - oy0), interpolation=cv2.INTER_LINEAR
        )
        return picture

    # ----------------------------------------------------------------------------------------------

    def _clear(self) -> None:
        """Black canvas again: only the boxes drawn into are zeroed (far less than the whole canvas)."""
        for box in self._drawn:
            self._canvas[box] = 0
        self._drawn.clear()

    def _mark(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Remember that pixels within [x0, x1] x [y0, y1] (plus a safety pixel) may have been drawn."""
        rows, cols = self._canvas.shape[:2]
        left, top = max(int(x0) - 1, 0), max(int(y0) - 1, 0)
        right, bottom = min(int(x1) + 2, cols), min(int(y1) + 2, rows)
        if left < right and top < bottom:
            self._drawn.append((slice(top, bottom), slice(left, right)))

    def _brightness(self, conf: np.ndarray) -> np.ndarray:
        if self.style == "threshold":
            return np.where(conf >= self.threshold, 1.0, 0.0)
        return conf

    def _draw_bodies(self, bodies: np.ndarray) -> None:
        """Limbs of every person, limb by limb, then joints, joint by joint (later ones drawn over)."""
        rows, cols = self._canvas.shape[:2]
        conf = bodies[..., 2]
        brightness = self._brightness(conf).tolist()
        limb_end_ok = self._body_visible(conf, limb=True).tolist()
        joint_ok = self._body_visible(conf, limb=False).tolist()
        xs = (bodies[..., 0] * float(cols)).tolist()
        ys = (bodies[..., 1] * float(rows)).tolist()
        for i, (a, b) in enumerate(BODY_LIMBS):
            for n in range(len(bodies)):
                if limb_end_ok[n][a] and limb_end_ok[n][b]:
                    color = _scaled(BODY_COLORS[i], brightness[n][a] * brightness[n][b])
                    self._draw_limb((xs[n][a], ys[n][a]), (xs[n][b], ys[n][b]), color)
        r = BODY_JOINT_RADIUS
        for i in range(len(BODY_COLORS)):
            for n in range(len(bodies)):
                if joint_ok[n][i]:
                    x, y = int(xs[n][i]), int(ys[n][i])
                    cv2.circle(
                        self._canvas, (x, y), r, _scaled(BODY_COLORS[i], brightness[n][i]), thickness=-1
                    )
                    self._mark(x - r, y - r, x + r, y + r)

    def _draw_limb(self, a: tuple[float, float], b: tuple[float, float], color: tuple[int, int, int]) -> None:
        """A filled ellipse from canvas point a to b, half as wide as the limb width, in its dimmed colour."""
        dx, dy = a[0] - b[0], a[1] - b[1]
        length = (dx**2 + dy**2) ** 0.5  # this form, not math.hypot: int(length / 2) must round alike
        angle = math.degrees(math.atan2(dy, dx))
        center = (int((a[0] + b[0]) / 2), int((a[1] + b[1]) / 2))
        polygon = cv2.ellipse2Poly(center, (int(length / 2), LIMB_HALF_WIDTH), int(angle), 0, 360, 1)
        # The released code multiplied the whole canvas by 0.6 after the limbs. Limbs overwrite each
        # other and the rest is black, so drawing each limb in its dimmed (saturated) colour is the same.
        cv2.fillConvexPoly(self._canvas, polygon, tuple(int(_DIM_TABLE[_saturated(c)]) for c in color))
        self._mark(*polygon.min(axis=0), *polygon.max(axis=0))

    def _body_visible(self, conf: np.ndarray, limb: bool) -> np.ndarray:
        """Which body points take part in limbs (limb=True) or get a joint circle."""
        if self.style == "released":  # limbs need both ends >= 0.3, joints > 0.3
            return (conf >= RELEASED_BODY_CUTOFF) if limb else (conf > RELEASED_BODY_CUTOFF)
        if self.style == "threshold":
            return (conf > 0) & (conf >= self.threshold)
        return conf > 0

    def _part_visible(self, conf: np.ndarray) -> np.ndarray:
        """Hands and face: every point the canvas rule keeps, except in the threshold style."""
        if self.style == "threshold":
            return conf >= self.threshold
        return np.ones(conf.shape, bool)

    def _pixels(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer canvas pixels of (N, 3) points and whether each lies right of / below pixel 0."""
        rows, cols = self._canvas.shape[:2]
        xy = np.empty((len(points), 2), np.int64)
        # int() truncation toward zero, as the released code did; clip only to keep OpenCV in int range
        xy[:, 0] = np.trunc(np.clip(points[:, 0].astype(np.float64) * cols, -1e6, 1e6))
        xy[:, 1] = np.trunc(np.clip(points[:, 1].astype(np.float64) * rows, -1e6, 1e6))
        on_canvas = (xy[:, 0] >= 1) & (xy[:, 1] >= 1)
        return xy, on_canvas & self._part_visible(points[:, 2])

    def _draw_hand(self, hand: np.ndarray) -> None:
        canvas = self._canvas
        xy, shown = self._pixels(hand)
        brightness = self._brightness(hand[:, 2])
        for e, (a, b) in enumerate(HAND_EDGES):
            if not (shown[a] and shown[b]):
                continue
            level = int(brightness[a] * brightness[b] * 255)
            color = tuple(c * level for c in _HAND_EDGE_COLORS[e])  # OpenCV rounds float colours
            start, end = (int(xy[a, 0]), int(xy[a, 1])), (int(xy[b, 0]), int(xy[b, 1]))
            cv2.line(canvas, start, end, color, HAND_LINE_THICKNESS)
        for i in np.flatnonzero(shown):
            x, y = int(xy[i, 0]), int(xy[i, 1])
            cv2.circle(canvas, (x, y), HAND_POINT_RADIUS, (int(brightness[i] * 255), 0, 0), thickness=-1)
        self._mark_points(xy[shown], HAND_POINT_RADIUS)

    def _draw_face(self, face: np.ndarray) -> None:
        xy, shown = self._pixels(face)
        brightness = self._brightness(face[:, 2])
        for i in np.flatnonzero(shown):
            level = int(brightness[i] * 255)
            center = (int(xy[i, 0]), int(xy[i, 1]))
            cv2.circle(self._canvas, center, FACE_POINT_RADIUS, (level, level, level), thickness=-1)
        self._mark_points(xy[shown], FACE_POINT_RADIUS)

    def _mark_points(self, xy: np.ndarray, radius: int) -> None:
        """Mark the box around points drawn with `radius` (lines between them lie inside it too)."""
        if len(xy):
            low, high = xy.min(axis=0), xy.max(axis=0)
            self._mark(low[0] - radius, low[1] - radius, high[0] + radius, high[1] + radius)


def _aligned_blocks(cols: int, width: int, rows: int, height: int) -> tuple[tuple[int, int], ...] | None:
    """((p, q) along x, (p, q) along y) with canvas/output = p/q and q a power of two, else None."""
    blocks = []
    for canvas_side, side in ((cols, width), (rows, height)):
        ratio = Fraction(canvas_side, side)
        q = ratio.denominator
        if q & (q - 1) or q >= side:  # not a power of two, or no block fits: resize the whole canvas
            return None
        blocks.append((ratio.numerator, q))
    return tuple(blocks)


def _scaled(color: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    """colour x factor, each channel truncated to an integer (the released alpha blend); not saturated:
    OpenCV saturates a drawing colour to 0..255 itself."""
    return tuple(int(c * factor) for c in color)


def _saturated(channel: int) -> int:
    """A colour channel as OpenCV stores it in a uint8 canvas."""
    return min(max(channel, 0), 255)


def render_pose(
    seq: PoseSequence,
    index: int,
    height: int,
    width: int,
    style: str = "released",
    threshold: float = DEFAULT_THRESHOLD,
) -> np.ndarray:
    """The pose picture of entry `index` of `seq` as uint8 RGB (height, width, 3).

    A pure function of its arguments. To draw many frames, keep one `PoseRenderer`.
    """
    return PoseRenderer(height, width, style, threshold).render(seq, index)
