"""Make the example shipped in src/mimicmotion/examples: the dance (dance.npz), made by this project's code,
and the photo (reference.jpg), cut from scikit-image's public-domain astronaut photograph.

    python tools/make_example.py                                # writes examples/dance.npz
    python tools/make_example.py --photo skimage/data/astronaut.png    # and examples/reference.jpg

The photo: `pip download --no-deps scikit-image==0.26.0` and `unzip` its skimage/data/astronaut.png (512 x
512, NASA, public domain); the 288 x 512 portrait around her (columns 80 to 367) is kept, as a JPEG of
quality 95 (64 KB).

The dance is a synthetic dancer's motion from benchmarks/toy (arms and legs swinging on sums of waves, the
body swaying, hands whose fingers curl, spread and flex over time), given a face (68 points placed on the
eyes, the mouth opening and closing), then observed as a detector would report it: confidences around
0.93 that dip for a few frames (a whole hand for longer), and keypoint noise that grows as confidence
falls. It is drawn at 30 frames per second and every third frame is kept: 10 frames per second, so the
toy motions' slow waves become a lively 2.4-second dance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "toy"))
from toyworld import motions  # noqa: E402

from mimicmotion.pose.types import FACE, PoseSequence  # noqa: E402

EXAMPLES = ROOT / "src" / "mimicmotion" / "examples"
PHOTO_CROP = (80, 0, 368, 512)  # left, top, right, bottom: a 9:16 portrait, as the driving frame
WIDTH, HEIGHT = 576, 1024  # the driving frame: portrait, the released resolution's shape
FPS = 10.0
FRAMES = 24
DRAWN_EVERY = 3  # drawn at 3 x FPS
SEED = 4
NOISE = 0.01  # keypoint noise: this fraction of the body height times (1 - confidence)

# A face in the iBUG-300W order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67), with the eye
# centres at (-0.5, 0) (the person's right eye, on the image's left) and (0.5, 0): units of the distance
# between the eyes, y down. The nose tip lies half an eye distance below the eyes, as the toy body's does.
_ARC = np.linspace(0, np.pi, 17)
JAW = np.stack([-np.cos(_ARC), 0.2 + 1.15 * np.sin(_ARC)], axis=1)
_BROW_X = np.linspace(-0.9, -0.15, 5)
BROWS = np.concatenate([
    np.stack([_BROW_X, -0.3 - 0.1 * np.sin(np.linspace(0, np.pi, 5))], axis=1),
    np.stack([-_BROW_X[::-1], -0.3 - 0.1 * np.sin(np.linspace(0, np.pi, 5))], axis=1),
])  # fmt: skip
NOSE = np.array([(0, 0.1), (0, 0.22), (0, 0.35), (0, 0.5), (-0.2, 0.6), (-0.1, 0.63), (0, 0.65),
                 (0.1, 0.63), (0.2, 0.6)])  # fmt: skip


def _ring(centre: tuple[float, float], half_width: float, half_height: float, count: int) -> np.ndarray:
    """`count` points on an ellipse from its left end, over the top, clockwise on screen."""
    angle = np.pi + np.arange(count) * 2 * np.pi / count
    return np.stack([centre[0] + half_width * np.cos(angle), centre[1] + half_height * np.sin(angle)], axis=1)


EYES = np.concatenate([_ring((-0.5, 0.0), 0.2, 0.08, 6), _ring((0.5, 0.0), 0.2, 0.08, 6)])
MOUTH_CENTRE, OUTER_MOUTH, INNER_MOUTH = (0.0, 0.95), (0.4, 0.12), (0.28, 0.05)  # half width, half height


def face_template(mouth_open: float) -> np.ndarray:
    """(68, 2) face points, the mouth opened by `mouth_open` (0: at rest, 1: wide)."""
    outer = _ring(MOUTH_CENTRE, OUTER_MOUTH[0], OUTER_MOUTH[1] * (1 + 1.5 * mouth_open), 12)
    inner = _ring(MOUTH_CENTRE, INNER_MOUTH[0], INNER_MOUTH[1] * (1 + 4 * mouth_open), 8)
    return np.concatenate([JAW, BROWS, NOSE, EYES, outer, inner])


def with_face(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`points` (T, 128, 3) with a face on its body's eyes (OpenPose 14: right eye, 15: left eye)."""
    right_eye, left_eye = points[:, 14, :2], points[:, 15, :2]
    across = left_eye - right_eye  # one template unit along x
    down = np.stack([-across[:, 1], across[:, 0]], axis=1)  # the same length, turned a quarter to y down
    centre = (right_eye + left_eye) / 2
    mouth_open = np.clip(0.5 + motions.smooth_wave(rng, len(points), 1.2, (8.0, 20.0)), 0, 1)
    faces = np.stack([face_template(amount) for amount in mouth_open])  # (T, 68, 2)
    result = points.copy()
    result[:, FACE, :2] = centre[:, None] + faces[..., :1] * across[:, None] + faces[..., 1:] * down[:, None]
    result[:, FACE, 2] = 1.0
    return result


def example_dance() -> PoseSequence:
    """The shipped dance, made afresh (the same arrays on every run: one seeded random stream)."""
    rng = np.random.default_rng(SEED)
    drawn = FRAMES * DRAWN_EVERY
    points = with_face(motions.procedural(rng, drawn, HEIGHT, WIDTH), rng)
    points = motions.observed(points, rng, NOISE)[::DRAWN_EVERY]
    normalised = points.copy()
    located = points[..., 2] > 0
    normalised[..., 0] = np.where(located, points[..., 0] / WIDTH, points[..., 0])
    normalised[..., 1] = np.where(located, points[..., 1] / HEIGHT, points[..., 1])
    return PoseSequence.from_points(normalised, WIDTH, HEIGHT, FPS, np.arange(FRAMES))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photo", type=Path, help="scikit-image's astronaut.png: also write reference.jpg")
    parser.add_argument(
        "--out", type=Path, default=EXAMPLES, help="folder to write to (default: %(default)s)"
    )
    args = parser.parse_args()
    example_dance().save(args.out / "dance.npz")
    print(f"wrote {args.out / 'dance.npz'}")
    if args.photo:
        Image.open(args.photo).convert("RGB").crop(PHOTO_CROP).save(args.out / "reference.jpg", quality=95)
        print(f"wrote {args.out / 'reference.jpg'}")


if __name__ == "__main__":
    main()
