"""The models of a run, built from a diffusers base folder's config files on the meta device (no weights).

Only config files are read: unet/config.json, vae/config.json and image_encoder/config.json. The default
folder is the SVD-xt-1.1 architecture shipped with the package (configs/svd-xt-1-1). PoseNet has no config
file: its output channels are the unet's first block's, as in MimicMotion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mimicmotion.errors import MimicMotionError

SVD_XT_1_1 = Path(__file__).resolve().parents[1] / "configs" / "svd-xt-1-1"
DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


@dataclass(frozen=True)
class Architecture:
    """The four models of a run, on the meta device, in one dtype."""

    name: str
    unet: nn.Module
    vae: nn.Module
    image_encoder: nn.Module
    pose_net: nn.Module

    def models(self) -> dict[str, nn.Module]:
        return {
            "unet": self.unet,
            "vae": self.vae,
            "image_encoder": self.image_encoder,
            "pose_net": self.pose_net,
        }


def dtype_of(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise MimicMotionError(f"unknown dtype {name!r}; choose one of {', '.join(DTYPES)}")
    return DTYPES[name]


def read_config(folder: Path, model: str) -> dict:
    """`folder/model/config.json` as a dict; a missing or unreadable file is a MimicMotionError."""
    path = Path(folder) / model / "config.json"
    if not path.is_file():
        raise MimicMotionError(f"{path} not found: the base model folder needs {model}/config.json")
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise MimicMotionError(f"{path} is not a readable JSON config: {error}") from None
    if not isinstance(config, dict):
        raise MimicMotionError(f"{path} is not a JSON object")
    return config


def build_architecture(base: Path | str | None = None, dtype: str = "fp16") -> Architecture:
    """The models of the base folder `base` (default: the shipped SVD-xt-1.1) on meta, in `dtype`."""
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from mimicmotion.models.pose_net import PoseNet

    torch_dtype = dtype_of(dtype)
    folder = SVD_XT_1_1 if base is None else Path(base)
    if not folder.is_dir():
        raise MimicMotionError(f"base model folder {folder} not found")
    configs = {name: read_config(folder, name) for name in ("unet", "vae", "image_encoder")}
    try:
        with torch.device("meta"):
            unet = UNetSpatioTemporalConditionModel.from_config(configs["unet"])
            vae = AutoencoderKLTemporalDecoder.from_config(configs["vae"])
            clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**configs["image_encoder"]))
            pose_net = PoseNet(out_channels=unet.config.block_out_channels[0])
    except (TypeError, ValueError, KeyError) as error:
        raise MimicMotionError(f"the configs of {folder} do not describe SVD models: {error}") from None
    models = {}
    for name, model in (("unet", unet), ("vae", vae), ("image_encoder", clip), ("pose_net", pose_net)):
        # Some tensors are made with constructors that ignore the default device (the unet's mix factors:
        # torch.Tensor([...]) lands on the CPU), hence the move. nn.Module.to rather than diffusers' own,
        # which warns about modules to keep in float32 (the released run casts them all too).
        models[name] = nn.Module.to(model, device="meta", dtype=torch_dtype).eval()
    name = "SVD-xt-1.1" if base is None else folder.name
    return Architecture(name=name, **models)


def weight_bytes(model: nn.Module) -> int:
    """Bytes of a model's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def largest_leaf_bytes(model: nn.Module) -> int:
    """Bytes of the largest weights any one module holds directly (what sequential offload moves at once)."""
    return max(
        (weight_bytes_direct(m) for m in model.modules()),
        default=0,
    )


def weight_bytes_direct(module: nn.Module) -> int:
    tensors = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
    return sum(t.numel() * t.element_size() for t in tensors)
