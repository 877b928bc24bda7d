"""The VAE posteriors of training frames, computed in the step or read from a cache (`cache_latents`).

A clip's target latents are a sample of the frozen VAE's posterior of each frame. The frames of a clip are
prepared the same way whatever the clip (a cover crop to the training size, no random augmentation), so
each frame's posterior (mean and standard deviation) can be computed once and read back: the step then
draws the sample from the cached mean and deviation instead of running the encoder over the clip. The
reference is still encoded in the step, since its noise augmentation differs from sample to sample.

Cache files: DATA/videos/ENTRY/latents/WxH-FINGERPRINT.safetensors, one row per pose entry (the frames
training samples: every frame, or every k-th above 48 fps), tensors "mean" and "std" (entries, latent
channels, H/8, W/8) in float32. FINGERPRINT is drawn from the VAE's weights, so another VAE never reads a
cache it did not write; the file's metadata names the frames it holds (which source frames, of which
video file), and a file that no longer matches its prepared video is written again. Size: 2 x 4 x (H/8) x
(W/8) x 4 bytes per entry, about 300 KB at 576 x 1024.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.reference import CoverCrop
from mimicmotion.pose.types import PoseSequence
from mimicmotion.train.frames import read_frames, target_frames
from mimicmotion.train.prepare import POSE_FILE
from mimicmotion.video import atomic_output, make_folder

VAE_CHUNK = 8  # frames encoded at once: bounds the VAE's activation memory at full resolution
READ_CHUNK = 64  # frames decoded at once when a video's cache is built
FORMAT = "1"  # bumped when what a cache file holds changes


@torch.no_grad()
def frame_posteriors(vae, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the VAE posterior of every frame: frames (..., N, 3, H, W) in [-1, 1], on any
    device -> two tensors (..., N, C, H/8, W/8) on the VAE's device, unscaled. Frames go to the VAE's
    device VAE_CHUNK at a time."""
    if frames.dim() < 4:
        raise ValueError(f"frames must be (..., N, 3, H, W), got shape {tuple(frames.shape)}")
    lead = frames.shape[:-3]
    flat = frames.flatten(0, len(lead) - 1)
    device = next(vae.parameters()).device
    means, stds = [], []
    for start in range(0, flat.shape[0], VAE_CHUNK):
        posterior = vae.encode(flat[start : start + VAE_CHUNK].to(device, vae.dtype)).latent_dist
        means.append(posterior.mean)
        stds.append(posterior.std)
    return torch.cat(means).unflatten(0, lead), torch.cat(stds).unflatten(0, lead)


def target_latents(mean: torch.Tensor, std: torch.Tensor, noise: torch.Tensor, scaling_factor: float):
    """A sample of the posterior drawn with `noise` (the clip's own random numbers, so that resuming
    reproduces it), in the latent space the sampler works in."""
    return (mean + std * noise.to(mean.dtype)) * scaling_factor


def vae_fingerprint(vae) -> str:
    """16 hex digits drawn from the VAE's weights."""
    digest = hashlib.sha256()
    for name, tensor in sorted(vae.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def cache_file(video, height: int, width: int, fingerprint: str) -> Path:
    return video.folder / "latents" / f"{width}x{height}-{fingerprint}.safetensors"


def build_cache(
    videos: list, vae, height: int, width: int, progress: bool = True, rank: int = 0, world: int = 1
) -> str:
    """Write the cache of every video that lacks a current one for this VAE and size; the VAE's
    fingerprint. Process `rank` of `world` writes every world-th of the videos to do."""
    fingerprint = vae_fingerprint(vae)
    missing = [v for v in videos if not is_current(cache_file(v, height, width, fingerprint), v)]
    mine = missing[rank::world]
    for video in tqdm(mine, desc="encode latents", unit="video", disable=not progress or not mine):
        encode_video(video, vae, height, width, cache_file(video, height, width, fingerprint))
    return fingerprint


def describe(video) -> dict[str, str]:
    """What a video's cache holds: its format, the source frame of each row, and the video file."""
    poses = PoseSequence.load(video.folder / POSE_FILE)
    stat = Path(video.video).stat()
    return {
        "format": FORMAT,
        "frames": hashlib.sha256(poses.frame_indices.astype("int64").tobytes()).hexdigest()[:16],
        "video": f"{video.video}:{stat.st_size}:{stat.st_mtime_ns}",
    }


def is_current(path: Path, video) -> bool:
    if not path.is_file():
        return False
    try:
        with safe_open(str(path), framework="pt") as file:
            return file.metadata() == describe(video)
    except (SafetensorError, OSError):
        return False  # unreadable: written again


def encode_video(video, vae, height: int, width: int, path: Path) -> None:
    sources = [int(i) for i in PoseSequence.load(video.folder / POSE_FILE).frame_indices]
    crop = CoverCrop.fit(video.height, video.width, height, width)
    means, stds = [], []
    for start in range(0, len(sources), READ_CHUNK):
        chunk = sources[start : start + READ_CHUNK]
        frames = torch.from_numpy(target_frames(read_frames(video, chunk), crop, chunk))
        mean, std = frame_posteriors(vae, frames.permute(0, 3, 1, 2).float() / 127.5 - 1.0)
        means.append(mean.float().cpu())
        stds.append(std.float().cpu())
    make_folder(path.parent)
    tensors = {"mean": torch.cat(means).contiguous(), "std": torch.cat(stds).contiguous()}
    with atomic_output(path) as temp:
        save_file(tensors, str(temp), metadata=describe(video))


def read_cached(path: Path, entries: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the pose entries `entries`, each (N, C, h, w), read without loading the whole file."""
    try:
        with safe_open(str(path), framework="pt") as file:
            mean, std = file.get_slice("mean"), file.get_slice("std")
            return torch.stack([mean[i] for i in entries]), torch.stack([std[i] for i in entries])
    except (SafetensorError, OSError) as error:
        raise MimicMotionError(
            f"cannot read latent cache {path}: {error} (delete it to have it written again; with several "
            "machines, the prepared data must be on a filesystem they share)"
        ) from None
