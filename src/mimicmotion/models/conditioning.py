"""How the unet is conditioned, the same for sampling and for training.

The unet sees the noisy latents with the reference's VAE latent concatenated along channels (4 + 4), the
reference's CLIP embedding as cross-attention context, SVD's added time ids and, added to the output of
its `conv_in`, PoseNet's features of the pose pictures. The unconditional input of guidance is the same
with a zero embedding, a zero latent and no pose features.
"""

from __future__ import annotations

import torch
from torch import nn

from mimicmotion.models.pose_net import pose_conditioning


def pose_input(pictures: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Pose pictures as PoseNet takes them: uint8 pictures become `uint8 / 127.5 - 1` computed in `dtype`
    (the released conversion, in the dtype the released program computed it in); floats in [-1, 1] are
    taken as they are."""
    if pictures.dtype == torch.uint8:
        return pictures.to(dtype) / 127.5 - 1
    return pictures


def added_time_ids(
    fps: float | torch.Tensor,
    motion_bucket_id: float | torch.Tensor,
    noise_aug_strength: float | torch.Tensor,
    dtype: torch.dtype,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """SVD's micro-conditioning, (batch, 3): [fps - 1, motion bucket, noise augmentation strength].

    SVD was trained on fps - 1. Each value is one number or one per clip.
    """
    # Made in float64 on the CPU and rounded to `dtype` once, then moved (MPS has no float64).
    values = [
        torch.as_tensor(v).detach().to("cpu", torch.float64)
        for v in (fps, motion_bucket_id, noise_aug_strength)
    ]
    fps, bucket, strength = torch.broadcast_tensors(*values)
    ids = torch.stack([fps - 1, bucket, strength], dim=-1).reshape(-1, 3).to(dtype)
    return ids.to(device)


def conditioned_prediction(
    unet: nn.Module,
    latents: torch.Tensor,
    timestep: torch.Tensor,
    image_latents: torch.Tensor,
    image_embeddings: torch.Tensor,
    time_ids: torch.Tensor,
    pose_features: torch.Tensor | None,
) -> torch.Tensor:
    """The unet's prediction for `latents` (batch, frames, 4, h, w), conditioned on the reference latent
    (batch, 4, h, w), its embedding (batch, 1, D), the time ids (batch, 3) and the pose features
    (batch * frames, C, h, w), or on no pose when they are None."""
    frames = latents.shape[1]
    reference = image_latents[:, None].expand(-1, frames, -1, -1, -1)
    with pose_conditioning(unet, pose_features):
        return unet(
            torch.cat([latents, reference], dim=2),
            timestep,
            encoder_hidden_states=image_embeddings,
            added_time_ids=time_ids,
            return_dict=False,
        )[0]
