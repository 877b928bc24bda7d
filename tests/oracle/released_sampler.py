"""Run the released MimicMotion pipeline on a test's inputs and save its frames (executed in its own process).

Usage: python released_sampler.py SPEC.json. The spec names the released sources, a base folder in diffusers
layout, a checkpoint, an .npz with the prepared reference (H, W, 3) uint8 and the pose pictures (F, H, W, 3)
uint8, the sampling settings, "dtype" ("fp16": the released inference.py default, which sets the default
torch dtype to float16 before anything is built; "fp32": its --no_use_float16 run) and "output" (.npz).

Between loading and sampling this does what inference.py does, without torchvision: pose pictures and the
reference become tensors in [-1, 1] (uint8 / 127.5 - 1 under the default dtype), the reference goes back to
uint8 ((x + 1) * 127.5, truncated) and into a PIL image, and the pipeline is called with fps 7 and chunks of
8 decoded frames. The frames it returns (output_type "pt", in [0, 1]) are saved as float32.
"""

import contextlib
import json
import sys
import types

import numpy as np
import PIL.Image
import torch


def main(spec_path: str) -> None:
    with open(spec_path) as file:
        spec = json.load(file)
    sys.path.insert(0, spec["released"])
    torch.cuda.device = lambda device: contextlib.nullcontext()  # the released pipeline asks for CUDA
    if spec["dtype"] == "fp16":
        torch.set_default_dtype(torch.float16)

    from mimicmotion.utils.geglu_patch import patch_geglu_inplace

    patch_geglu_inplace()  # inference.py patches it at import time
    pipeline = load_pipeline(spec)

    inputs = np.load(spec["inputs"])
    pose_pixels = torch.from_numpy(inputs["poses"].transpose(0, 3, 1, 2).copy()) / 127.5 - 1
    image_pixels = torch.from_numpy(inputs["reference"].transpose(2, 0, 1)[None].copy()) / 127.5 - 1
    images = [
        PIL.Image.fromarray(image.to(torch.uint8).permute(1, 2, 0).numpy())
        for image in (image_pixels + 1.0) * 127.5
    ]
    generator = torch.Generator(device="cpu").manual_seed(spec["seed"])
    frames = pipeline(
        images,
        image_pose=pose_pixels,
        num_frames=pose_pixels.size(0),
        tile_size=spec["tile_size"],
        tile_overlap=spec["tile_overlap"],
        height=pose_pixels.shape[-2],
        width=pose_pixels.shape[-1],
        fps=7,
        noise_aug_strength=spec["noise_aug"],
        num_inference_steps=spec["steps"],
        generator=generator,
        min_guidance_scale=spec["min_guidance"],
        max_guidance_scale=spec["max_guidance"],
        decode_chunk_size=8,
        output_type="pt",
        device="cpu",
    ).frames.cpu()
    np.savez(spec["output"], frames=frames[0].float().numpy())


def load_pipeline(spec: dict):
    """fp16: the released loader itself. fp32: the same components, all in float32 (the released loader
    reads the VAE and image encoder in fp16 whatever the default dtype; an all-fp32 pipeline is what
    `torch_dtype=float32` means on our side)."""
    if spec["dtype"] == "fp16":
        from mimicmotion.utils.loader import create_pipeline

        config = types.SimpleNamespace(base_model_path=spec["base"], ckpt_path=spec["checkpoint"])
        pipeline = create_pipeline(config, spec.get("device", "cpu"))
    else:
        from diffusers.models import AutoencoderKLTemporalDecoder
        from diffusers.schedulers import EulerDiscreteScheduler
        from mimicmotion.modules.pose_net import PoseNet
        from mimicmotion.modules.unet import UNetSpatioTemporalConditionModel
        from mimicmotion.pipelines.pipeline_mimicmotion import MimicMotionPipeline
        from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

        base = spec["base"]
        unet = UNetSpatioTemporalConditionModel.from_config(
            UNetSpatioTemporalConditionModel.load_config(base, subfolder="unet")
        )
        pose_net = PoseNet(noise_latent_channels=unet.config.block_out_channels[0])
        state = torch.load(spec["checkpoint"], map_location="cpu")
        unet.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("unet.")})
        pose_net.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("pose_net.")})
        pipeline = MimicMotionPipeline(
            vae=AutoencoderKLTemporalDecoder.from_pretrained(base, subfolder="vae"),
            image_encoder=CLIPVisionModelWithProjection.from_pretrained(base, subfolder="image_encoder"),
            unet=unet,
            scheduler=EulerDiscreteScheduler.from_pretrained(base, subfolder="scheduler"),
            feature_extractor=CLIPImageProcessor.from_pretrained(base, subfolder="feature_extractor"),
            pose_net=pose_net,
        )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


if __name__ == "__main__":
    main(sys.argv[1])
