"""An independent, literal transcription of the released sampler (facts doc section 3).

Written from the description, not from the pipeline: its own window list, its own triangular
weights, pose features added by swapping `conv_in` for a wrapper module, the CLIP normalisation
done by the feature extractor itself, and a private copy of the scheduler. Tests compare the
pipeline's `fusion="official"` output with it for the same seed.
"""

from __future__ import annotations

import copy

import torch
from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
    _resize_with_antialiasing,
)
from torch import nn


class _AddToConvIn(nn.Module):
    def __init__(self, conv: nn.Module, extra: torch.Tensor | None) -> None:
        super().__init__()
        self.conv, self.extra = conv, extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return y if self.extra is None else y + self.extra


def _unet(unet, x, t, emb, time_ids, pose_latents):
    original = unet.conv_in
    unet.conv_in = _AddToConvIn(original, pose_latents)
    try:
        return unet(x, t, encoder_hidden_states=emb, added_time_ids=time_ids, return_dict=False)[0]
    finally:
        unet.conv_in = original


@torch.no_grad()
def released_sample(pipe, image01, pose, seed, tile_size, tile_overlap, steps, guidance, noise_aug=0.0):
    """image01: (1, 3, H, W) in [0, 1]; pose: (F, 3, H, W) in [-1, 1]. Returns (F, 3, H, W) in [0, 1].

    `guidance` is one scale or (min, max) for the per-frame ramp. Works in the pipeline's dtype.
    """
    vae, unet, pose_net = pipe.vae, pipe.unet, pipe.pose_net
    scheduler = copy.deepcopy(pipe.scheduler)
    generator = torch.Generator().manual_seed(seed)
    num_frames, _, height, width = pose.shape
    n, c = tile_size, tile_overlap

    # CLIP path
    size = pipe.image_encoder.config.image_size
    clip_in = (_resize_with_antialiasing(image01 * 2 - 1, (size, size)) + 1) / 2
    clip_in = pipe.feature_extractor(
        images=clip_in,
        do_normalize=True,
        do_center_crop=False,
        do_resize=False,
        do_rescale=False,
        return_tensors="pt",
    ).pixel_values
    dtype = pipe.unet.dtype
    emb = pipe.image_encoder(clip_in.to(dtype)).image_embeds.unsqueeze(1)

    # VAE path: the image noise is drawn first
    vae_in = image01 * 2 - 1
    noise = torch.randn(vae_in.shape, generator=generator)
    upcast = vae.dtype == torch.float16 and vae.config.force_upcast  # fp16 VAE encodes in fp32
    if upcast:
        nn.Module.to(vae, torch.float32)
    image_latent = vae.encode((vae_in + noise_aug * noise).to(vae.dtype)).latent_dist.mode().to(dtype)
    if upcast:
        nn.Module.to(vae, torch.float16)
    image_latents = image_latent.unsqueeze(1).repeat(1, num_frames, 1, 1, 1)
    time_ids = torch.tensor([[7 - 1, 127, noise_aug]], dtype=dtype)

    scheduler.set_timesteps(steps)
    latents = torch.randn((1, n, 4, height // 8, width // 8), generator=generator, dtype=dtype)
    latents = latents * scheduler.init_noise_sigma
    latents = latents.repeat(1, num_frames // n + 1, 1, 1, 1)[:, :num_frames]

    windows = []
    i = 0
    while i <= num_frames - n:
        windows.append([0, *list(range(i + 1, i + n))])
        i += n - c
    if windows[-1][-1] < num_frames - 1:
        windows.append([0, *list(range(num_frames - n + 1, num_frames))])
    w = (torch.arange(n) + 0.5) * 2.0 / n  # float32, as the released code computes it
    w = torch.minimum(w, 2 - w)
    low, high = guidance if isinstance(guidance, tuple) else (guidance, guidance)
    g = torch.linspace(low, high, num_frames).view(1, -1, 1, 1, 1).to(dtype)

    for t in scheduler.timesteps:
        x = scheduler.scale_model_input(latents, t)
        x = torch.cat([x, image_latents], dim=2)
        uncond = torch.zeros_like(latents)
        cond = torch.zeros_like(latents)
        count = torch.zeros(num_frames, dtype=dtype)
        for idx in windows:
            u = _unet(
                unet,
                x[:, idx] * torch.tensor([1.0] * 4 + [0.0] * 4, dtype=dtype).view(1, 1, 8, 1, 1),
                t,
                torch.zeros_like(emb),
                time_ids,
                None,
            )
            uncond[:, idx] += u * w.view(1, -1, 1, 1, 1)
            pose_latents = pose_net(pose[idx].to(dtype))
            cond[:, idx] += _unet(unet, x[:, idx], t, emb, time_ids, pose_latents) * w.view(1, -1, 1, 1, 1)
            count[idx] += w
        uncond /= count.view(1, -1, 1, 1, 1)
        cond /= count.view(1, -1, 1, 1, 1)
        latents = scheduler.step(uncond + g * (cond - uncond), t, latents).prev_sample

    flat = latents.flatten(0, 1) / vae.config.scaling_factor
    frames = [
        vae.decode(flat[s : s + 8], num_frames=flat[s : s + 8].shape[0]).sample
        for s in range(0, num_frames, 8)
    ]
    return (torch.cat(frames).float() / 2 + 0.5).clamp(0, 1)
