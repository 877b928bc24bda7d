"""The stages of a run, each traced once on the meta device at the run's real size.

Each stage runs the real module's forward pass as the pipeline calls it (mimicmotion.pipeline):
- "image encoder": CLIP on the reference resized to its image size (224 for SVD);
- "vae encoder": the VAE's encoder on the reference (1, 3, H, W), the posterior's mode;
- "pose net": PoseNet on a window's N pose pictures (N, 3, H, W);
- "unet": one prediction through `conditioned_prediction` on latents (batch, N, 4, H/8, W/8) with the
  reference latent and PoseNet's features (batch 2 for --cfg-batch);
- "vae decoder": the temporal decoder on `decode_chunk` frames of latents.
Each trace counts what the stage makes (its inputs included), not the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from mimicmotion.models.conditioning import conditioned_prediction
from mimicmotion.planner.architecture import Architecture
from mimicmotion.planner.tracing import Trace, trace

STAGES = ("image encoder", "vae encoder", "pose net", "unet", "vae decoder")
# The model whose weights each stage runs (what "model" offload puts on the device for it).
STAGE_MODELS = {
    "image encoder": "image_encoder",
    "vae encoder": "vae",
    "pose net": "pose_net",
    "unet": "unet",
    "vae decoder": "vae",
}


@dataclass(frozen=True)
class Size:
    height: int
    width: int
    frames: int  # frames per window, the reference frame included

    @property
    def latent(self) -> tuple[int, int]:
        return self.height // 8, self.width // 8


def _empty(*shape: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(shape, device="meta", dtype=dtype)


def _dtype(arch: Architecture) -> torch.dtype:
    return next(arch.unet.parameters()).dtype


def image_encoder(arch: Architecture, size: Size) -> Trace:
    side = arch.image_encoder.config.image_size
    return trace(
        lambda: arch.image_encoder(_empty(1, 3, side, side, dtype=_dtype(arch))).image_embeds,
        [arch.image_encoder],
    )


def vae_encoder(arch: Architecture, size: Size) -> Trace:
    picture = lambda: _empty(1, 3, size.height, size.width, dtype=_dtype(arch))  # noqa: E731
    return trace(lambda: arch.vae.encode(picture()).latent_dist.mode(), [arch.vae])


def pose_net(arch: Architecture, size: Size) -> Trace:
    return trace(
        lambda: arch.pose_net(_empty(size.frames, 3, size.height, size.width, dtype=_dtype(arch))),
        [arch.pose_net],
    )


def unet(
    arch: Architecture, size: Size, batch: int = 1, chunking: bool = False, count_flops: bool = True
) -> Trace:
    """One unet prediction on a window; `batch` 2 is --cfg-batch's; `chunking`: diffusers'
    `enable_forward_chunking()` (chunks of one: per frame in the spatial layers, dimension 0; the temporal
    layers fix dimension 1, frames), as --forward-chunking."""
    dtype, (h, w), n = _dtype(arch), size.latent, size.frames
    model = arch.unet
    channels = model.config.in_channels // 2  # latents and the reference latent, concatenated
    context = model.config.cross_attention_dim
    features = model.config.block_out_channels[0]

    def work() -> torch.Tensor:
        return conditioned_prediction(
            model,
            _empty(batch, n, channels, h, w, dtype=dtype),
            _empty(dtype=dtype),
            _empty(batch, channels, h, w, dtype=dtype),
            _empty(batch, 1, context, dtype=dtype),
            _empty(batch, 3, dtype=dtype),
            _empty(batch * n, features, h, w, dtype=dtype),
        )

    if not chunking:
        return trace(work, [model], count_flops=count_flops)
    model.enable_forward_chunking()
    try:
        return trace(work, [model], count_flops=count_flops, one_chunk=True)
    finally:  # the SVD unet has no disable_forward_chunking
        for block in model.modules():
            if hasattr(block, "set_chunk_feed_forward"):
                block.set_chunk_feed_forward(None)


def vae_decoder(arch: Architecture, size: Size, chunk: int) -> Trace:
    (h, w), channels = size.latent, arch.vae.config.latent_channels

    def work() -> torch.Tensor:
        return arch.vae.decode(_empty(chunk, channels, h, w, dtype=_dtype(arch)), num_frames=chunk).sample

    return trace(work, [arch.vae])
