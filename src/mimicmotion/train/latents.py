"""The VAE posteriors of training frames, computed in the step or read from a cache (`cache_latents`).

A clip's target latents are a sample of the frozen VAE's posterior of each frame. The frames of a clip are
prepared the same way whatever the clip (a cover crop to the training size, no random augmentation), so
each frame's posterior (mean and standard deviation) can be computed once and read back: the step then
draws the sample from the cached mean and deviation instead of running the encoder over the clip. The
reference is still encoded in the step, since its noise augmentation differs from sample to sample.

Cache files: DATA/videos/NAME/latents/WxH-FINGERPRINT.safetensors with tensors "mean" and "std"
(pose entries, latent channels, H/8, W/8), float32; FINGERPRINT is drawn from the VAE's weights, so another
VAE never reads a cache it did not write. Size: 2 x 4 x (H/8) x (W/8) x 4 bytes per frame, about 300 KB at
576 x 1024.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm

from mimicmotion.pose.reference import CoverCrop
from mimicmotion.pose.types import PoseSequence
from mimicmotion.train.frames import read_frames, target_frames

VAE_CHUNK = 8  # frames encoded at once: bounds the VAE's activation memory at full resolution
READ_CHUNK = 64  # frames decoded at once when a video's cache is built


@torch.no_grad()
def frame_posteriors(vae, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the VAE posterior of every frame: frames (..., 3, H, W) in [-1, 1] ->
    two tensors (..., C, H/8, W/8), unscaled."""
    lead = frames.shape[:-3]
    flat = frames.flatten(0, len(lead) - 1).to(vae.dtype)
    means, stds = [], []
    for start in range(0, flat.shape[0], VAE_CHUNK):
        posterior = vae.encode(flat[start : start + VAE_CHUNK]).latent_dist
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


def build_cache(videos: list, vae, height: int, width: int, progress: bool = True) -> str:
    """Write the cache of every video that lacks one for this VAE and size; the VAE's fingerprint."""
    from mimicmotion.train.prepare import POSE_FILE
    from mimicmotion.video import atomic_output

    fingerprint = vae_fingerprint(vae)
    missing = [v for v in videos if not cache_file(v, height, width, fingerprint).is_file()]
    device = next(vae.parameters()).device
    for video in tqdm(missing, desc="encode latents", unit="video", disable=not progress or not missing):
        sources = [int(i) for i in PoseSequence.load(video.folder / POSE_FILE).frame_indices]
        crop = CoverCrop.fit(video.height, video.width, height, width)
        means, stds = [], []
        for start in range(0, len(sources), READ_CHUNK):
            chunk = sources[start : start + READ_CHUNK]
            frames = target_frames(read_frames(video, chunk), crop, chunk)
            pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).to(device).float() / 127.5 - 1.0
            mean, std = frame_posteriors(vae, pixels)
            means.append(mean.float().cpu())
            stds.append(std.float().cpu())
        path = cache_file(video, height, width, fingerprint)
        path.parent.mkdir(exist_ok=True)
        with atomic_output(path) as temp:
            save_file({"mean": torch.cat(means).contiguous(), "std": torch.cat(stds).contiguous()}, str(temp))
    return fingerprint


def read_cached(path: Path, entries: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) of the pose entries `entries`, each (N, C, h, w), read without loading the whole file."""
    with safe_open(str(path), framework="pt") as file:
        return tuple(torch.stack([file.get_slice(name)[i] for i in entries]) for name in ("mean", "std"))
