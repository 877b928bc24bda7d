"""Synthetic videos for the evaluation tests: image folders (lossless) and H.264 files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from mimicmotion.video import video_writer


def write_frames(folder: Path, frames: Sequence[np.ndarray]) -> Path:
    """A folder of PNG frames, which mimicmotion reads as a lossless video."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:04d}.png")
    return folder


def write_mp4(path: Path, frames: Sequence[np.ndarray], fps: float = 10.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with video_writer(path, fps=fps, crf=10) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def random_frames(count: int, height: int, width: int, seed: int, high: int = 256) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, high, (height, width, 3), dtype=np.uint8) for _ in range(count)]


def uniform_frames(levels: Sequence[float], height: int = 24, width: int = 32) -> list[np.ndarray]:
    """One flat frame per brightness level."""
    return [np.full((height, width, 3), round(level), dtype=np.uint8) for level in levels]
