"""The denoising objective of SVD (EDM, Karras et al. 2022), v-prediction, plus MimicMotion's hand weights.

Noise levels: log(sigma) ~ N(P_mean, P_std^2), P_mean = 0.5, P_std = 1.4 (paper appendix A). The unet F
sees the noisy latents x + sigma * n through the preconditioning that SVD's Euler v-prediction scheduler
implies at inference:

    c_in = 1 / sqrt(sigma^2 + 1)           (scheduler.scale_model_input)
    c_skip = 1 / (sigma^2 + 1)             denoised D = c_skip * x + c_out * F(c_in * x; c_noise)
    c_out = -sigma / sqrt(sigma^2 + 1)     (pred_original_sample of scheduler.step)
    c_noise = 0.25 * log(sigma)            (the scheduler's continuous timesteps)

and the loss is lambda(sigma) * w * ||D - x0||^2 with lambda(sigma) = (sigma^2 + 1) / sigma^2 (EDM weighting
for sigma_data = 1) and w the hand weight map, averaged over all elements of a clip.

Every random number of a sample comes from a generator seeded by (run seed, sample index), so a sample
is the same whichever process draws it and whenever it is drawn: resuming reproduces it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# Streams of randomness per sample; the data pipeline uses stream 0 (see dataset.sample_rng).
NOISE_STREAM = 1


@dataclass(frozen=True)
class Preconditioning:
    c_in: torch.Tensor
    c_skip: torch.Tensor
    c_out: torch.Tensor
    c_noise: torch.Tensor


def preconditioning(sigma: torch.Tensor) -> Preconditioning:
    """EDM coefficients for v-prediction with sigma_data = 1 (what SVD's scheduler computes)."""
    sigma = torch.as_tensor(sigma)
    scale = (sigma**2 + 1.0).rsqrt()
    return Preconditioning(c_in=scale, c_skip=scale**2, c_out=-sigma * scale, c_noise=0.25 * sigma.log())


def loss_weight(sigma: torch.Tensor) -> torch.Tensor:
    """lambda(sigma) = (sigma^2 + 1) / sigma^2: makes the effective target of F unit-variance."""
    return (sigma**2 + 1.0) / sigma**2


def weighted_denoising_loss(
    denoised: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Per-clip loss (batch,) for latents (batch, frames, C, h, w) and weight maps (batch, frames, h, w).

    The mean runs over all elements (as SVD's StandardDiffusionLoss), so hand weights raise the loss
    where hands are rather than renormalising it.
    """
    lam = loss_weight(sigma.float()).view(-1, 1, 1, 1, 1)
    squared = (denoised.float() - target.float()) ** 2
    return (lam * weights.float()[:, :, None] * squared).flatten(1).mean(dim=1)


@dataclass(frozen=True)
class SampleNoise:
    """The random numbers one training clip needs."""

    sigma: torch.Tensor  # () noise level of the clip
    noise: torch.Tensor  # (frames, C, h, w) diffusion noise
    latent_noise: torch.Tensor  # (frames, C, h, w) for sampling the VAE posterior of the frames
    reference_noise: torch.Tensor  # (3, H, W) noise augmentation of the reference image
    noise_aug: torch.Tensor  # () noise augmentation strength
    drop: torch.Tensor  # () bool: drop the reference and pose (unconditional sample)


def sample_noise(
    seed: int,
    index: int,
    latent_shape: tuple[int, int, int, int],
    image_shape: tuple[int, int, int],
    p_mean: float,
    p_std: float,
    noise_aug_range: tuple[float, float],
    uncond_prob: float,
) -> SampleNoise:
    """The noise of sample `index`, drawn on the CPU from a generator seeded by (seed, index)."""
    state = np.random.SeedSequence([seed, index, NOISE_STREAM]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))
    log_sigma = p_mean + p_std * torch.randn((), generator=generator)
    low, high = noise_aug_range
    return SampleNoise(
        sigma=log_sigma.exp(),
        noise=torch.randn(latent_shape, generator=generator),
        latent_noise=torch.randn(latent_shape, generator=generator),
        reference_noise=torch.randn(image_shape, generator=generator),
        noise_aug=low + (high - low) * torch.rand((), generator=generator),
        drop=torch.rand((), generator=generator) < uncond_prob,
    )


def stack_noise(samples: list[SampleNoise], device: torch.device) -> SampleNoise:
    """One SampleNoise whose tensors have a leading batch dimension, on `device`."""
    return SampleNoise(
        **{
            name: torch.stack([getattr(s, name) for s in samples]).to(device)
            for name in SampleNoise.__dataclass_fields__
        }
    )
