"""Tiny, randomly initialised MimicMotion components saved in the real on-disk formats.

`save_tiny_base` writes a diffusers folder laid out like stable-video-diffusion-img2vid-xt-1-1
(optionally with the fp16 variant files only, as the released loader read them);
`save_checkpoint` writes a flat `unet.*` / `pose_net.*` state dict as `.pth` or `.safetensors`,
like MimicMotion_1-1.pth. The code under test loads them exactly as it loads the real weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from mimicmotion.models.pose_net import PoseNet

# Frame sizes must be multiples of 8 (VAE) x 2 (one unet downsampling): 16.
TINY_UNET = dict(
    sample_size=8,
    in_channels=8,
    out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
    up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
    block_out_channels=(32, 64),
    addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=24,
    layers_per_block=1,
    cross_attention_dim=32,
    num_attention_heads=(2, 4),
    num_frames=4,
)
TINY_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(32, 32, 32, 32),
    layers_per_block=1,
    latent_channels=4,
    sample_size=32,
)
TINY_CLIP = dict(
    hidden_size=32,
    intermediate_size=37,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=224,  # the released pipeline resizes the reference to 224 for CLIP whatever the config says
    patch_size=32,
    projection_dim=32,
)
# The scheduler configuration of the SVD-xt base (its scheduler/scheduler_config.json).
SVD_SCHEDULER = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    prediction_type="v_prediction",
    interpolation_type="linear",
    use_karras_sigmas=True,
    sigma_min=0.002,
    sigma_max=700.0,
    timestep_spacing="leading",
    timestep_type="continuous",
    steps_offset=1,
)


def redrawn(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """`model` with every parameter drawn again, in the order of their names, from a seeded stream of ours:
    norms weight 1 and bias 0, other biases 0, matrices and kernels normal with std 1/sqrt(fan_in), other
    vectors std 0.02. transformers' initialisers change between releases (the tiny CLIP came out different
    under 5.4 and 5.25), and the oracle's recorded outputs hold for one set of weights."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, module in sorted(model.named_modules(), key=lambda named: named[0]):
            for name, param in sorted(module.named_parameters(recurse=False)):
                if isinstance(module, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
                    param.fill_(1.0 if name == "weight" else 0.0)
                elif name == "bias":
                    param.zero_()
                else:
                    std = 1 / math.sqrt(math.prod(param.shape[1:])) if param.ndim >= 2 else 0.02
                    param.copy_(torch.randn(param.shape, generator=generator) * std)
    return model


def tiny_unet(seed: int = 0) -> UNetSpatioTemporalConditionModel:
    torch.manual_seed(seed)
    return UNetSpatioTemporalConditionModel(**TINY_UNET)


def tiny_pose_net(seed: int = 0, trained: bool = True) -> PoseNet:
    """A PoseNet; `trained` gives its zero-initialised projection random weights so it has an effect."""
    torch.manual_seed(seed)
    pose_net = PoseNet(out_channels=TINY_UNET["block_out_channels"][0])
    if trained:
        torch.nn.init.normal_(pose_net.final_proj.weight, std=0.2)
        torch.nn.init.normal_(pose_net.final_proj.bias, std=0.2)
    return pose_net


def save_tiny_base(folder: Path, fp16_variant: bool = False, seed: int = 0) -> Path:
    """A diffusers folder like the SVD-xt base; with `fp16_variant` only *.fp16.safetensors weights."""
    torch.manual_seed(seed)
    folder = Path(folder)
    variant = "fp16" if fp16_variant else None
    models = {
        "unet": tiny_unet(seed),
        "vae": AutoencoderKLTemporalDecoder(**TINY_VAE),
        "image_encoder": redrawn(CLIPVisionModelWithProjection(CLIPVisionConfig(**TINY_CLIP)), seed),
    }
    for name, model in models.items():
        (model.half() if fp16_variant else model).save_pretrained(folder / name, variant=variant)
    EulerDiscreteScheduler(**SVD_SCHEDULER).save_pretrained(folder / "scheduler")
    # The feature extractor config as the SVD repository stores it (only the size differs).
    size = TINY_CLIP["image_size"]
    (folder / "feature_extractor").mkdir()
    (folder / "feature_extractor" / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": size, "width": size},
        "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True, "do_rescale": True,
        "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
        "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": size},
    }, indent=2))  # fmt: skip
    model_index = {
        "_class_name": "StableVideoDiffusionPipeline",
        "_diffusers_version": "0.24.0",
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"],
        "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
        "vae": ["diffusers", "AutoencoderKLTemporalDecoder"],
    }
    (folder / "model_index.json").write_text(json.dumps(model_index, indent=2))
    return folder


def checkpoint_state(unet: torch.nn.Module, pose_net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The released checkpoint's flat key layout: unet.<diffusers key>, pose_net.<PoseNet key>."""
    state = {f"unet.{k}": v for k, v in unet.state_dict().items()}
    state.update({f"pose_net.{k}": v for k, v in pose_net.state_dict().items()})
    return state


def save_checkpoint(path: Path, state: dict[str, torch.Tensor]) -> Path:
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return path


def save_tiny_weights(
    folder: Path, fp16_variant: bool = False, trained_pose_net: bool = True
) -> tuple[Path, Path]:
    """A tiny base folder and a `.pth` checkpoint next to it: (base, checkpoint)."""
    folder = Path(folder)
    base = save_tiny_base(folder / "base", fp16_variant=fp16_variant)
    state = checkpoint_state(tiny_unet(seed=1), tiny_pose_net(seed=2, trained=trained_pose_net))
    checkpoint = save_checkpoint(folder / "MimicMotion_tiny.pth", state)
    return base, checkpoint
