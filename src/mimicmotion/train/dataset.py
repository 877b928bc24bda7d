"""Training samples from prepared videos (paper 3.2).

A sample is N frames of one video taken at a random equal interval, a reference frame drawn
independently from the same video, both resized to cover the training size and center-cropped, the
pose pictures of the N frames drawn by the same renderer inference uses (keypoints moved into the
crop), and the hand weight map at latent resolution.

Samples are numbered 0, 1, 2, ... over the whole run: sample g belongs to epoch g // V (V videos),
takes the video at position g % V of that epoch's shuffled order, and draws every random choice from a
generator seeded by (seed, g). A run that resumes at sample g therefore sees exactly the samples it
would have seen, on any number of processes. Frames are decoded from the original videos (seeking to
the clip), so prepared data stays small and the training size can change without preparing again; with a
latent cache (`latents.py`) a sample holds the clip frames' VAE posteriors instead of their pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.backends import GivenPoseBackend, PoseBackend
from mimicmotion.pose.reference import CoverCrop
from mimicmotion.pose.render import PoseRenderer
from mimicmotion.pose.types import PoseSequence
from mimicmotion.train.frames import read_frames, target_frames
from mimicmotion.train.hand_mask import hand_weight_maps
from mimicmotion.train.latents import cache_file, read_cached
from mimicmotion.train.prepare import GIVEN, POSE_FILE, VIDEOS_FOLDER, read_meta

DATA_STREAM = 0  # randomness streams per sample (objective.NOISE_STREAM is the other)
ORDER_STREAM = 2


@dataclass(frozen=True)
class PreparedVideo:
    folder: Path
    video: Path
    num_frames: int  # frames of the source video
    pose_frames: int  # entries of its PoseSequence (every frame, or every k-th above 24 fps)
    fps: float
    width: int
    height: int
    frame_pts: list[int] | None
    pose_backend: str  # the detector prepare-data found the poses with, or "given" (shipped with the video)


def load_prepared(data: str | Path, min_frames: int = 1) -> list[PreparedVideo]:
    """Videos that `mimicmotion prepare-data` finished in `data`, with at least `min_frames` pose frames."""
    data = Path(data)
    if not data.is_dir():
        raise MimicMotionError(f"prepared data not found: {data} (run `mimicmotion prepare-data` first)")
    folders = sorted(p.parent for p in (data / VIDEOS_FOLDER).glob("*/meta.json"))
    if not folders:
        raise MimicMotionError(f"no prepared videos in {data} (run `mimicmotion prepare-data --out {data}`)")
    videos, short = [], 0
    for folder in folders:
        meta = read_meta(folder)
        if meta["pose_frames"] < min_frames:
            short += 1
            continue
        videos.append(
            PreparedVideo(
                folder=folder,
                video=Path(meta["video"]),
                num_frames=int(meta["num_frames"]),
                pose_frames=int(meta["pose_frames"]),
                fps=float(meta["fps"]),
                width=int(meta["width"]),
                height=int(meta["height"]),
                frame_pts=meta.get("frame_pts"),
                pose_backend=str(meta.get("pose_backend", "mediapipe")),
            )
        )
    if not videos:
        raise MimicMotionError(
            f"all {len(folders)} prepared videos in {data} are shorter than a clip ({min_frames} frames)"
        )
    if short:
        tqdm.write(
            f"mimicmotion: {short} of {len(folders)} videos are shorter than a clip ({min_frames} frames)"
        )
    return videos


# ----------------------------------------------------------------------------------------- choices


def sample_rng(seed: int, index: int, stream: int = DATA_STREAM) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, index, stream]))


def video_order(seed: int, epoch: int, num_videos: int) -> np.ndarray:
    """The shuffled order of the videos in `epoch`."""
    return sample_rng(seed, epoch, ORDER_STREAM).permutation(num_videos)


@dataclass(frozen=True)
class ClipPlan:
    frames: list[int]  # positions of the N clip frames in the video's pose sequence
    reference: int  # position of the reference
    interval: int


def plan_clip(
    rng: np.random.Generator, length: int, num_frames: int, min_interval: int, max_interval: int
) -> ClipPlan:
    """N of `length` frames at a random equal interval (as far as the video allows), and an independent
    reference frame."""
    longest = (length - 1) // (num_frames - 1)
    if longest < min_interval:
        raise ValueError(f"a video of {length} frames cannot hold {num_frames} frames {min_interval} apart")
    interval = int(rng.integers(min_interval, min(max_interval, longest) + 1))
    span = (num_frames - 1) * interval
    start = int(rng.integers(0, length - span))
    reference = int(rng.integers(0, length))
    return ClipPlan([start + k * interval for k in range(num_frames)], reference, interval)


def min_video_frames(num_frames: int, min_interval: int) -> int:
    return (num_frames - 1) * min_interval + 1


# ------------------------------------------------------------------------------------- the dataset


class ClipDataset(torch.utils.data.Dataset):
    """Sample g -> dict(index, frames, reference, pose, hand_weights, fps); see the module docstring.

    frames, pose: uint8 (N, 3, H, W); reference: uint8 (3, H, W); hand_weights: float32 (N, H/s, W/s)
    with s = `latent_scale`; fps: the clip's frame rate (pose frame rate / interval). With
    `latent_cache` (the fingerprint of the VAE whose cache `latents.build_cache` wrote), latent_mean and
    latent_std (N, C, H/s, W/s) instead of frames.
    """

    def __init__(
        self, videos: list[PreparedVideo], config, latent_scale: int = 8, latent_cache: str | None = None
    ) -> None:
        self.videos = videos
        self.config = config
        self.latent_scale = latent_scale
        self.latent_cache = latent_cache
        self._renderer: PoseRenderer | None = None  # one per worker process, made on first use

    def __len__(self) -> int:
        return len(self.videos)  # one epoch; indices beyond it are the following epochs

    def video_of(self, index: int) -> PreparedVideo:
        epoch, position = divmod(index, len(self.videos))
        return self.videos[video_order(self.config.seed, epoch, len(self.videos))[position]]

    def __getitem__(self, index: int) -> dict:
        config = self.config
        video = self.video_of(index)
        all_poses = PoseSequence.load(video.folder / POSE_FILE)
        plan = plan_clip(
            sample_rng(config.seed, index),
            len(all_poses),
            config.num_frames,
            config.min_frame_interval,
            config.max_frame_interval,
        )
        crop = CoverCrop.fit(video.height, video.width, config.height, config.width)
        reference_source = int(all_poses.frame_indices[plan.reference])
        if self.latent_cache is None:
            sources = [int(i) for i in all_poses.frame_indices[plan.frames]]
            decoded = read_frames(video, [*sources, reference_source])
            clip = {"frames": torch.from_numpy(target_frames(decoded, crop, sources)).permute(0, 3, 1, 2)}
        else:
            decoded = read_frames(video, [reference_source])
            path = cache_file(video, config.height, config.width, self.latent_cache)
            mean, std = read_cached(path, plan.frames)
            clip = {"latent_mean": mean, "latent_std": std}
        reference = crop.image(decoded[reference_source])
        poses = self._cropped_poses(all_poses, plan.frames, crop)
        pose_pictures = self._render(poses)
        hand_weights = hand_weight_maps(
            poses.hands,
            config.height // self.latent_scale,
            config.width // self.latent_scale,
            config.hand_threshold,
            config.hand_padding,
            config.hand_weight,
            aspect=config.width / config.height,
        )
        return {
            "index": index,
            **clip,
            "reference": torch.from_numpy(reference).permute(2, 0, 1),
            "pose": torch.from_numpy(pose_pictures).permute(0, 3, 1, 2),
            "hand_weights": torch.from_numpy(hand_weights),
            "fps": all_poses.sample_fps / plan.interval,
        }

    def _cropped_poses(self, poses: PoseSequence, entries: list[int], crop: CoverCrop) -> PoseSequence:
        """The keypoints of `entries`, moved into the crop (normalised by the training size)."""
        chosen = poses.select(entries)
        return chosen.with_points(
            crop.points(chosen.points()),
            width=self.config.width,
            height=self.config.height,
            others=crop.points(chosen.others),
        )

    def _render(self, poses: PoseSequence) -> np.ndarray:
        if self._renderer is None:
            self._renderer = PoseRenderer(self.config.height, self.config.width, self.config.render_style)
        return np.stack([self._renderer.render(poses, k) for k in range(len(poses))])

    def validation_inputs(self) -> tuple[np.ndarray, PoseSequence, str | PoseBackend, float]:
        """What a validation video animates: (the first video's first frame, RGB uint8 at its own size;
        the poses of its first `num_frames - 1` frames, in its own coordinates; what finds the first
        frame's pose: the detector the poses were found with, or for given poses a `GivenPoseBackend`
        holding the frame's given pose; their frame rate). Generated as `animate` would generate them
        (training validation goes through the same generation path), so the video shows what the
        weights do at inference."""
        video = self.videos[0]
        poses = PoseSequence.load(video.folder / POSE_FILE)
        first = int(poses.frame_indices[0])
        reference = read_frames(video, [first])[first]
        driving = poses.select(slice(0, self.config.num_frames - 1))
        detector = GivenPoseBackend(poses.select([0])) if video.pose_backend == GIVEN else video.pose_backend
        return reference, driving, detector, poses.sample_fps


class MicroBatches(torch.utils.data.Sampler):
    """Endless micro-batches of sample indices for one process, from micro-step `start` on.

    Micro-step m of process r (of `world`) holds samples ((m * world + r) * B + i), i < B: all
    processes together walk through 0, 1, 2, ... without overlap.
    """

    def __init__(self, start: int, batch_size: int, world: int, rank: int) -> None:
        self.start, self.batch_size, self.world, self.rank = start, batch_size, world, rank

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start
        while True:
            first = (step * self.world + self.rank) * self.batch_size
            yield list(range(first, first + self.batch_size))
            step += 1
