"""The trained network: SVD's unet and PoseNet in one module, so one optimizer and one DDP/FSDP/DeepSpeed
wrapper hold both, and its state dict has exactly the released checkpoint's keys (`unet.*`, `pose_net.*`)."""

from __future__ import annotations

import torch
from torch import nn

from mimicmotion.models.conditioning import conditioned_prediction


class MimicMotionModel(nn.Module):
    def __init__(self, unet: nn.Module, pose_net: nn.Module) -> None:
        super().__init__()
        self.unet = unet
        self.pose_net = pose_net

    def forward(
        self,
        latents: torch.Tensor,
        timestep: torch.Tensor,
        image_latents: torch.Tensor,
        image_embeddings: torch.Tensor,
        added_time_ids: torch.Tensor,
        pose: torch.Tensor,
        pose_keep: torch.Tensor,
    ) -> torch.Tensor:
        """The unet's prediction for `latents` (batch, frames, 4, h, w), conditioned as the sampler
        conditions it (`conditioned_prediction`).

        `pose` (batch, frames, 3, H, W) in [-1, 1]; `pose_keep` (batch,) is 0 for clips trained without
        conditioning: their pose features are zeroed, which is what "no pose" means at inference.
        """
        frames = latents.shape[1]
        features = self.pose_net(pose.flatten(0, 1))
        features = features * pose_keep.repeat_interleave(frames).view(-1, 1, 1, 1).to(features.dtype)
        return conditioned_prediction(
            self.unet, latents, timestep, image_latents, image_embeddings, added_time_ids, features
        )
