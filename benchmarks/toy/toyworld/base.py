"""The toy base model: a diffusers folder laid out like stable-video-diffusion-img2vid-xt-1-1, holding
small models of the real classes, which `mimicmotion train` and `MimicMotionPipeline.from_pretrained`
load as they load SVD.

- unet: `UNetSpatioTemporalConditionModel` with small channel counts, randomly initialised: MimicMotion
  training starts from it (and a fresh PoseNet) instead of SVD's weights, so everything it can do it
  learns in the toy world;
- vae: `AutoencoderKLTemporalDecoder`, trained first on synthetic frames (`vae.py`), its scaling factor
  set from the spread of its latents as SVD's is;
- image_encoder: a small `CLIPVisionModelWithProjection`, randomly initialised and frozen (as CLIP is in
  MimicMotion training): its embedding of the reference is a fixed random feature of the picture;
- scheduler: SVD's Euler scheduler configuration; feature_extractor: SVD's CLIP preprocessing.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

UNET = dict(
    sample_size=16,
    in_channels=8,
    out_channels=4,
    down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
    up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
    block_out_channels=(64, 128),
    addition_time_embed_dim=16,
    projection_class_embeddings_input_dim=48,  # 3 time ids x addition_time_embed_dim
    layers_per_block=1,
    cross_attention_dim=64,
    num_attention_heads=(4, 8),
    num_frames=8,
)
# Four blocks: latents at 1/8 of the frame size, as SVD's (PoseNet's output has that size). At least 64
# channels everywhere: the class's GroupNorms have 32 groups, and with one channel per group each channel is
# normalised on its own, which erases the absolute colour of flat regions; the toy world is made of flat
# colours, and with 32 channels in the outer blocks the VAE reconstructs shapes in the wrong colours.
VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(64, 64, 64, 64),
    layers_per_block=1,
    latent_channels=4,
    sample_size=128,
)
CLIP = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    image_size=224,
    patch_size=32,
    projection_dim=64,  # = the unet's cross_attention_dim
)
# SVD-xt's scheduler/scheduler_config.json.
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
MODEL_INDEX = {
    "_class_name": "StableVideoDiffusionPipeline",
    "_diffusers_version": "0.24.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
    "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
    "vae": ["diffusers", "AutoencoderKLTemporalDecoder"],
}


def new_vae(seed: int) -> AutoencoderKLTemporalDecoder:
    torch.manual_seed(seed)
    return AutoencoderKLTemporalDecoder(**VAE)


def save_base(folder: Path, vae: AutoencoderKLTemporalDecoder, seed: int) -> Path:
    """The base folder with `vae` and a fresh unet and CLIP encoder drawn from `seed`."""
    folder = Path(folder)
    torch.manual_seed(seed)
    UNetSpatioTemporalConditionModel(**UNET).save_pretrained(folder / "unet")
    vae.save_pretrained(folder / "vae")
    CLIPVisionModelWithProjection(CLIPVisionConfig(**CLIP)).save_pretrained(folder / "image_encoder")
    EulerDiscreteScheduler(**SVD_SCHEDULER).save_pretrained(folder / "scheduler")
    size = CLIP["image_size"]
    (folder / "feature_extractor").mkdir(exist_ok=True)
    (folder / "feature_extractor" / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": size, "width": size},
        "do_center_crop": True, "do_convert_rgb": True, "do_normalize": True, "do_rescale": True,
        "do_resize": True, "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
        "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": size},
    }, indent=2))  # fmt: skip
    (folder / "model_index.json").write_text(json.dumps(MODEL_INDEX, indent=2))
    return folder
