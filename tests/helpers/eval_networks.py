"""Metric networks with random weights, saved in the formats of the public weight files.

pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` and piergiaj's `rgb_imagenet.pt` are plain
state dicts written by torch.save before PyTorch 1.6, i.e. in the legacy (non-zip) format, with
BatchNorm layers that have no num_batches_tracked counters. The helpers write files the same way.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mimicmotion.eval.i3d import InceptionI3d
from mimicmotion.eval.inception import FIDInceptionV3


def calibrated(model: nn.Module, sample: torch.Tensor, seed: int) -> nn.Module:
    """Random weights, with BatchNorm statistics measured on `sample` so that activations keep
    a useful scale through the depth (with default statistics they shrink towards zero)."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the calibration pass
    model.train()
    with torch.no_grad():
        model(sample)
    return model.eval()


def random_inception(seed: int = 0) -> FIDInceptionV3:
    torch.manual_seed(seed)
    model = FIDInceptionV3()
    generator = torch.Generator().manual_seed(seed + 1)
    return calibrated(model, torch.rand(4, 3, 299, 299, generator=generator), seed)


def random_i3d(seed: int = 0) -> InceptionI3d:
    torch.manual_seed(seed)
    model = InceptionI3d()
    generator = torch.Generator().manual_seed(seed + 1)
    return calibrated(model, torch.rand(1, 3, 16, 224, 224, generator=generator) * 2 - 1, seed)


def public_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as the public files hold it: no num_batches_tracked counters."""
    return {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def save_legacy(state: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path, _use_new_zipfile_serialization=False)
    return path
