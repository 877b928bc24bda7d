"""The unet's GEGLU feed-forward with its product formed in place when no gradient is needed.

The released inference code multiplied the value half of each feed-forward projection by the GELU of
the gate half in place. That saves one activation-sized buffer per transformer block, and in fp16 it also
decides how the next projection rounds: it reads the product from the strided half of the projection
instead of from a fresh contiguous tensor. We do the same, so that a seed gives the released fp16 frames.
With gradients enabled (training) the product is formed out of place, as autograd needs the value half.
"""

from __future__ import annotations

import torch
from diffusers.models.activations import GEGLU
from torch import nn


class InPlaceGEGLU(GEGLU):
    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if torch.is_grad_enabled():
            return super().forward(hidden_states, *args, **kwargs)
        value, gate = self.proj(hidden_states).chunk(2, dim=-1)
        return value.mul_(self.gelu(gate))


def use_in_place_geglu(model: nn.Module) -> nn.Module:
    """Switch every GEGLU of `model` to `InPlaceGEGLU` (same parameters, same state dict)."""
    for module in model.modules():
        if type(module) is GEGLU:
            module.__class__ = InPlaceGEGLU
    return model
