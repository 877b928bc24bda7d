"""One batch of clips -> the per-clip training loss, conditioned exactly as the inference pipeline conditions.

The reference goes through the pipeline's own encoders (`MimicMotionPipeline.encode_image` for CLIP,
`encode_reference_latent` for the latent: posterior mode, unscaled), after the same noise augmentation as at
inference (image + strength * noise); the time ids, the pose pictures' conversion and the unet call are
the sampler's own (`mimicmotion.models.conditioning`). The frames become target latents by sampling the
VAE posterior (computed here, or read from the latent cache), times the scaling factor (the latent space
the sampler works in). Dropped clips get what the unconditional pass of guidance gets: zero image
embedding, zero reference latent, no pose features.
"""

from __future__ import annotations

import torch

from mimicmotion.models.conditioning import added_time_ids, pose_input
from mimicmotion.train.latents import frame_posteriors, target_latents
from mimicmotion.train.objective import SampleNoise, preconditioning, weighted_denoising_loss


def clip_losses(
    model, pipe, batch: dict, noise: SampleNoise, condition_fps: int | None, motion_bucket_id: int
):
    """(per-clip loss (batch,), sigma (batch,)) for a batch from `ClipDataset` and its `SampleNoise`.

    `pipe` is a MimicMotionPipeline holding the frozen VAE and CLIP encoder; `model` the (wrapped)
    MimicMotionModel being trained.
    """
    device = noise.sigma.device

    # Conditioning on the reference, as MimicMotionPipeline.__call__ does it.
    reference = batch["reference"].float() / 255.0  # on the CPU, where the pipeline's CLIP resize runs
    with torch.no_grad():
        if "frames" in batch:
            mean, std = frame_posteriors(pipe.vae, batch["frames"].to(device).float() / 127.5 - 1.0)
        else:  # the cached posteriors of the frames
            mean, std = batch["latent_mean"].to(device), batch["latent_std"].to(device)
        target = target_latents(mean, std, noise.latent_noise, pipe.vae.config.scaling_factor)
        image_embeddings = pipe.encode_image(reference, device).float()
        augmented = (
            reference.to(device) * 2.0 - 1.0 + noise.noise_aug.view(-1, 1, 1, 1) * noise.reference_noise
        )
        image_latents = pipe.encode_reference_latent(augmented, device).float()
    keep = (~noise.drop).float()
    image_embeddings = image_embeddings * keep.view(-1, 1, 1)
    image_latents = image_latents * keep.view(-1, 1, 1, 1)
    fps = batch["fps"].to(device).float().round() if condition_fps is None else condition_fps
    time_ids = added_time_ids(fps, motion_bucket_id, noise.noise_aug, torch.float32, device)
    time_ids = time_ids.expand(len(keep), -1)

    # EDM: noise the targets, precondition, predict, denoise.
    sigma = noise.sigma.float().view(-1, 1, 1, 1, 1)
    noisy = target + sigma * noise.noise
    c = preconditioning(sigma)
    pose = pose_input(batch["pose"].to(device), torch.float32)
    inputs = (c.c_in * noisy, c.c_noise.flatten(), image_latents, image_embeddings, time_ids, pose, keep)
    prediction = model(*inputs)
    denoised = c.c_skip * noisy + c.c_out * prediction.float()

    weights = batch["hand_weights"].to(device)
    return weighted_denoising_loss(denoised, target, noise.sigma, weights), noise.sigma
