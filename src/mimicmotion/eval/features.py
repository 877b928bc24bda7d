"""Feature extractors for the distribution metrics, and the buffers that feed them.

FID-VID: every compared frame -> FID Inception-v3 pool features (2048-d).
FVD: consecutive, non-overlapping 16-frame clips of each video -> I3D Kinetics logits (400-d);
a video's last incomplete clip is dropped.

Only a batch of frames (or clips) is buffered at a time; features go straight into running
statistics (`FeatureStats`), so memory does not grow with the number of videos.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Self

import numpy as np
import torch
import torch.nn.functional as F

from mimicmotion.eval import i3d, inception
from mimicmotion.eval.frechet import FeatureStats
from mimicmotion.eval.prepare import resize
from mimicmotion.eval.weights import (
    I3D_WEIGHTS,
    INCEPTION_WEIGHTS,
    WeightFile,
    load_weights,
    resolve_weights,
)


class _FeatureNetwork:
    """A metric network in eval mode on a device, made from its weight file."""

    weights: WeightFile
    network: Callable[[], torch.nn.Module]

    def __init__(self, model: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_weights(cls, source: str | os.PathLike | None, device: str | torch.device = "cpu") -> Self:
        path = resolve_weights(cls.weights, source)
        return cls(load_weights(cls.network(), path, cls.weights), device)


class InceptionFeatures(_FeatureNetwork):
    """RGB uint8 frames (any size) -> (n, 2048) FID Inception features."""

    weights = INCEPTION_WEIGHTS
    network = inception.FIDInceptionV3

    @torch.no_grad()
    def __call__(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        # Frames may differ in size: each is resized to 299 on its own (as pytorch-fid does for a
        # batch), then the batch runs at once; the model's own resize is then the identity.
        size = (inception.INPUT_SIZE, inception.INPUT_SIZE)
        batch = torch.cat(
            [
                F.interpolate(_to_tensor(frame, self.device), size=size, mode="bilinear", align_corners=False)
                for frame in frames
            ]
        )
        return self.model(batch).double().cpu().numpy()


class I3DFeatures(_FeatureNetwork):
    """Clips of RGB uint8 frames -> (n, 400) I3D logits; frames are resized to 224x224."""

    weights = I3D_WEIGHTS
    network = i3d.InceptionI3d

    @torch.no_grad()
    def __call__(self, clips: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
        batch = np.stack([np.stack([fvd_frame(frame) for frame in clip]) for clip in clips])
        # (B, T, H, W, 3) uint8 -> (B, 3, T, H, W) in [-1, 1]
        tensor = torch.from_numpy(batch).to(self.device).permute(0, 4, 1, 2, 3).float() / 127.5 - 1
        return self.model(tensor).double().cpu().numpy()


def fvd_frame(frame: np.ndarray) -> np.ndarray:
    """A frame at the I3D input size; clips are buffered at this size to keep them small."""
    return resize(frame, i3d.INPUT_SIZE, i3d.INPUT_SIZE)


def _to_tensor(frame: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [0, 1]."""
    # torch.tensor copies: decoded frames may be read-only arrays, which from_numpy would share.
    return torch.tensor(frame, device=device).permute(2, 0, 1)[None].float() / 255


class BatchedStats:
    """Collects items (frames or clips) into batches, runs `extract` on each batch and keeps
    only the running statistics of the features."""

    def __init__(self, extract: Callable[[list], np.ndarray], batch_size: int) -> None:
        self.extract = extract
        self.batch_size = max(1, batch_size)
        self.stats = FeatureStats()
        self._pending: list = []

    def add(self, item) -> None:
        self._pending.append(item)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.stats.update(self.extract(self._pending))
            self._pending = []


class ClipCollector:
    """Cuts one video's frame stream into consecutive clips of `length` frames."""

    def __init__(self, sink: Callable[[list[np.ndarray]], None], length: int = i3d.CLIP_LENGTH) -> None:
        self.sink, self.length = sink, length
        self._frames: list[np.ndarray] = []
        self.clips = 0

    def add(self, frame: np.ndarray) -> None:
        self._frames.append(frame)
        if len(self._frames) == self.length:
            self.sink(self._frames)
            self._frames = []
            self.clips += 1

    def end_video(self) -> None:
        """Drop the incomplete clip at the end of a video (clips never span two videos)."""
        self._frames = []
