"""The trained network: SVD's unet and PoseNet in one module, so one optimizer and one DDP/FSDP/DeepSpeed
wrapper hold both, and its state dict has exactly the released checkpoint's keys (`unet.*`, `pose_net.*`)."""

from __future__ import annotations

import torch
from torch import nn

from mimicmotion.models.pose_net import pose_conditioning


class MimicMotionModel(nn.Module):
    def __init__(self, unet: nn.Module, pose_net: nn.Module) -> None:
        super().__init__()
        self.unet = unet
        self.pose_net = pose_net

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        image_embeddings: torch.Tensor,
        added_time_ids: torch.Tensor,
        pose: torch.Tensor,
        pose_keep: torch.Tensor,
    ) -> torch.Tensor:
        """The unet's prediction for `sample` (batch, frames, 8, h, w) with PoseNet features added to conv_in.

        `pose` (batch, frames, 3, H, W) in [-1, 1]; `pose_keep` (batch,) is 0 for clips trained without
        conditioning: their pose features are zeroed, which is what "no pose" means at inference.
        """
        frames = sample.shape[1]
        features = self.pose_net(pose.flatten(0, 1))
        features = features * pose_keep.repeat_interleave(frames).view(-1, 1, 1, 1).to(features.dtype)
        with pose_conditioning(self.unet, features):
            return self.unet(
                sample,
                timestep,
                encoder_hidden_states=image_embeddings,
                added_time_ids=added_time_ids,
                return_dict=False,
            )[0]
