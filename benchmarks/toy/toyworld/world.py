"""The synthetic world: training videos with their keypoints, and held-out test cases with ground truth.

Training and test never share an identity (each side draws its own from its own random stream), and
test motions are never trained on: the dance video's first 70 % of frames feed the training variations,
its last 30 % the test variations, and procedural dances come from separate random streams.

Training videos go to `videos/NAME.mp4` with `videos/NAME.npz` beside them (the observed keypoints:
confidences with dips, noise that follows 1 - confidence), which `mimicmotion prepare-data` takes as the
videos' poses. A test case is kept whole in one `.npz`: the true keypoints, the observed ones, the
identity, the rendered frames and silhouettes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from mimicmotion.pose.types import PoseSequence
from mimicmotion.video import video_writer

from . import dancer, motions

FPS = 12.0
DANCE_TRAIN_SHARE = 0.7
# Separate random streams: training identities and motions never meet the test ones.
STREAMS = {"train": 1, "test": 2, "long": 3}


@dataclass(frozen=True)
class WorldSize:
    height: int = 160
    width: int = 128
    train_videos: int = 64
    train_identities: int = 32
    train_frames: int = 48
    test_cases: int = 8
    test_frames: int = 24
    long_cases: int = 1
    long_frames: int = 48
    noise: float = 0.25  # keypoint noise: standard deviation noise * (1 - confidence) * body height


def dance_body(poses: PoseSequence | None, size: WorldSize) -> np.ndarray | None:
    """The dance video's body keypoints (T, 18, 2) fitted into the toy frame, or None without them."""
    if poses is None:
        return None
    pixels = poses.body[..., :2] * [poses.width, poses.height]
    return motions.fit_into_frame(pixels, size.height, size.width)


def make_motion(rng, source: np.ndarray | None, frames: int, size: WorldSize) -> tuple[np.ndarray, str]:
    """Half the motions vary the dance (when its keypoints are at hand), half are procedural."""
    if source is not None and rng.random() < 0.5:
        return motions.varied(source, rng, frames, size.height, size.width), "dance"
    return motions.procedural(rng, frames, size.height, size.width), "procedural"


def to_sequence(points: np.ndarray, size: WorldSize) -> PoseSequence:
    """Pixel keypoints (T, 128, 3) as a PoseSequence (coordinates normalised by the frame size)."""
    normalised = points.copy()
    drawn = points[..., 2] > 0
    normalised[..., 0] = np.where(drawn, points[..., 0] / size.width, points[..., 0])
    normalised[..., 1] = np.where(drawn, points[..., 1] / size.height, points[..., 1])
    return PoseSequence.from_points(normalised, size.width, size.height, FPS, np.arange(len(points)))


def render(identity: dancer.Identity, points: np.ndarray, size: WorldSize) -> tuple[np.ndarray, np.ndarray]:
    """(frames (T, H, W, 3) uint8, silhouettes (T, H, W) bool)."""
    drawn = [dancer.draw(identity, p, size.height, size.width) for p in points]
    return np.stack([f for f, _ in drawn]), np.stack([m for _, m in drawn])


def write_training_videos(folder: Path, size: WorldSize, dance: PoseSequence | None, seed: int) -> Path:
    """`size.train_videos` videos of training identities doing training motions, with their keypoints."""
    rng = np.random.default_rng([seed, STREAMS["train"]])
    source = dance_body(dance, size)
    if source is not None:
        source = source[: int(len(source) * DANCE_TRAIN_SHARE)]
    identities = [dancer.random_identity(rng) for _ in range(size.train_identities)]
    videos = folder / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for index in tqdm(range(size.train_videos), desc="training videos", unit="video"):
        name = f"train_{index:03d}"
        if (videos / f"{name}.npz").exists():
            continue
        identity = identities[index % len(identities)]
        points, _ = make_motion(rng, source, size.train_frames, size)
        frames, _ = render(identity, points, size)
        with video_writer(videos / f"{name}.mp4", FPS, crf=10) as writer:
            for frame in frames:
                writer.write(frame)
        observed = motions.observed(points, rng, size.noise)
        to_sequence(observed, size).save(videos / f"{name}.npz")  # written last: the video is complete
    return videos


def write_test_cases(
    folder: Path, size: WorldSize, dance: PoseSequence | None, seed: int, kind: str
) -> list[Path]:
    """Held-out identities doing held-out motions: `kind` "test" (short clips for the quality table) or
    "long" (several windows long, for the fusion comparison)."""
    rng = np.random.default_rng([seed, STREAMS[kind]])
    source = dance_body(dance, size)
    if source is not None:
        source = source[int(len(source) * DANCE_TRAIN_SHARE) :]
    count, frames = (
        (size.test_cases, size.test_frames) if kind == "test" else (size.long_cases, size.long_frames)
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"{kind}_{index:03d}.npz"
        paths.append(path)
        if path.exists():
            continue
        identity = dancer.random_identity(rng)
        # frame 0 is the reference picture; frames 1.. are what the model must generate
        points, origin = make_motion(rng, source, frames + 1, size)
        observed = motions.observed(points, rng, size.noise)
        video, silhouettes = render(identity, points, size)
        np.savez_compressed(
            path,
            points=points,
            observed=observed,
            frames=video,
            silhouettes=silhouettes,
            background=dancer.background(identity, size.height, size.width),
            identity=json.dumps(asdict(identity)),
            origin=origin,
        )
    return paths


@dataclass
class TestCase:
    name: str
    points: np.ndarray  # (T + 1, 128, 3) true keypoints, pixels
    observed: np.ndarray  # (T + 1, 128, 3) what the detector reports
    frames: np.ndarray  # (T + 1, H, W, 3): frame 0 is the reference
    silhouettes: np.ndarray  # (T + 1, H, W)
    background: np.ndarray  # (H, W, 3)
    origin: str  # dance | procedural


def load_case(path: Path) -> TestCase:
    with np.load(path) as data:
        return TestCase(
            name=path.stem,
            points=data["points"],
            observed=data["observed"],
            frames=data["frames"],
            silhouettes=data["silhouettes"],
            background=data["background"],
            origin=str(data["origin"]),
        )
