"""PoseNet (paper, Table 3) and the hook that adds its features to the unet's `conv_in` output."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from diffusers import ModelMixin
from diffusers.configuration_utils import ConfigMixin, register_to_config
from torch import nn

# (in, out, kernel, stride) of the eight convolutions, each followed by SiLU. Padding is 1 throughout.
# The three stride-2 convolutions bring the pose picture down to the latent resolution (H/8, W/8).
_CONVS = (
    (3, 3, 3, 1),
    (3, 16, 4, 2),
    (16, 16, 3, 1),
    (16, 32, 4, 2),
    (32, 32, 3, 1),
    (32, 64, 4, 2),
    (64, 64, 3, 1),
    (64, 128, 3, 1),
)


class PoseNet(ModelMixin, ConfigMixin):
    """Pose pictures (frames, 3, H, W) in [-1, 1] -> features (frames, out_channels, H/8, W/8).

    Parameter names are those of the released checkpoint: `conv_layers.{0,2,...,14}`,
    `final_proj`, `scale`. A fresh PoseNet has a zero projection, so it adds nothing until trained.
    """

    @register_to_config
    def __init__(self, out_channels: int = 320) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for in_ch, out_ch, kernel, stride in _CONVS:
            layers += [nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=1), nn.SiLU()]
        self.conv_layers = nn.Sequential(*layers)
        self.final_proj = nn.Conv2d(128, out_channels, kernel_size=1)
        self.scale = nn.Parameter(torch.tensor([2.0]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for layer in self.conv_layers:
            if isinstance(layer, nn.Conv2d):
                # He-normal, std = sqrt(2 / (k * k * in_channels)), as the released PoseNet
                nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        nn.init.zeros_(self.final_proj.weight)
        nn.init.zeros_(self.final_proj.bias)

    def forward(self, pose_frames: torch.Tensor) -> torch.Tensor:
        if pose_frames.ndim == 5:  # (batch, frames, 3, H, W) -> (batch * frames, 3, H, W)
            pose_frames = pose_frames.flatten(0, 1)
        return self.final_proj(self.conv_layers(pose_frames)) * self.scale


@contextlib.contextmanager
def pose_conditioning(unet: nn.Module, features: torch.Tensor | None) -> Iterator[None]:
    """Within the block, add `features` to the output of `unet.conv_in` (and nowhere else).

    The unet stays an unmodified diffusers model, so its parameter names remain those of SVD
    and of the released checkpoint. `features` must match the conv_in output, (batch * frames,
    C, h, w); None leaves the unet unconditioned on pose.
    """
    if features is None:
        yield
        return

    def add_features(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if output.shape != features.shape:
            raise ValueError(
                f"pose features of shape {tuple(features.shape)} do not match the unet's conv_in "
                f"output {tuple(output.shape)}"
            )
        return output + features.to(output.dtype)

    handle = unet.conv_in.register_forward_hook(add_features)
    try:
        yield
    finally:
        handle.remove()
