"""The EDM objective: preconditioning equals SVD's Euler v-prediction scheduler; the loss is the v-loss."""

import math

import pytest
import torch
from diffusers import EulerDiscreteScheduler
from helpers.tiny_models import SVD_SCHEDULER

from mimicmotion.train.objective import (
    loss_weight,
    preconditioning,
    sample_noise,
    weighted_denoising_loss,
)


@pytest.fixture(scope="module")
def scheduler():
    scheduler = EulerDiscreteScheduler(**SVD_SCHEDULER)
    scheduler.set_timesteps(25)
    return scheduler


def test_preconditioning_equals_the_schedulers_denoising_formula(scheduler):
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(1, 3, 4, 8, 8, generator=generator) * 5
    model_output = torch.randn(1, 3, 4, 8, 8, generator=generator)
    for i, t in enumerate(scheduler.timesteps):
        sigma = scheduler.sigmas[i]
        c = preconditioning(sigma)
        scheduler.set_timesteps(25)
        scheduler.set_begin_index(i)
        scaled = scheduler.scale_model_input(sample, t)
        torch.testing.assert_close(scaled, c.c_in * sample, rtol=1e-6, atol=1e-6)
        # The unet's timestep at inference is the scheduler's continuous timestep: c_noise.
        torch.testing.assert_close(t.float(), c.c_noise.float(), rtol=1e-5, atol=1e-5)
        denoised = scheduler.step(model_output, t, sample).pred_original_sample
        torch.testing.assert_close(denoised, c.c_skip * sample + c.c_out * model_output, rtol=1e-5, atol=1e-5)


def test_weighted_loss_is_the_v_prediction_loss():
    # lambda(sigma) * |D - x0|^2 = |F - v|^2 with v = alpha * n - sigma_t * x0 (alpha = 1/sqrt(1+s^2),
    # sigma_t = s/sqrt(1+s^2)): the SVD objective written with the DDPM definition of v.
    generator = torch.Generator().manual_seed(1)
    x0 = torch.randn(3, 2, 4, 4, 6, generator=generator)
    n = torch.randn(3, 2, 4, 4, 6, generator=generator)
    F = torch.randn(3, 2, 4, 4, 6, generator=generator)
    sigma = torch.tensor([0.05, 1.0, 30.0])
    s = sigma.view(-1, 1, 1, 1, 1)
    x = x0 + s * n
    c = preconditioning(s)
    denoised = c.c_skip * x + c.c_out * F
    weights = torch.ones(3, 2, 4, 6)
    weights[:, :, 1:3, 2:5] = 10.0

    v = (n - s * x0) / torch.sqrt(1 + s**2)
    expected = (weights[:, :, None] * (F - v) ** 2).flatten(1).mean(1)
    torch.testing.assert_close(
        weighted_denoising_loss(denoised, x0, sigma, weights), expected, rtol=1e-4, atol=1e-5
    )


def test_loss_weight_formula():
    sigma = torch.tensor([0.5, 2.0])
    torch.testing.assert_close(loss_weight(sigma), torch.tensor([1.25 / 0.25, 5.0 / 4.0]))


def test_sigma_distribution_and_per_sample_determinism():
    def draw(index, uncond=0.1):
        return sample_noise(7, index, (2, 4, 3, 3), (3, 8, 8), 0.5, 1.4, (0.0, 0.1), uncond)

    log_sigmas = torch.stack([draw(i).sigma.log() for i in range(4000)])
    assert abs(log_sigmas.mean().item() - 0.5) < 0.07  # 3.5 standard errors of 1.4 / sqrt(4000)
    assert abs(log_sigmas.std().item() - 1.4) < 0.06

    a, b, c = draw(11), draw(11), draw(12)
    for name in ("sigma", "noise", "latent_noise", "reference_noise", "noise_aug", "drop"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    assert not torch.equal(a.noise, c.noise)
    assert 0.0 <= a.noise_aug.item() <= 0.1
    drops = sum(bool(draw(i, uncond=0.25).drop) for i in range(800))
    assert abs(drops / 800 - 0.25) < 0.06
    assert math.isfinite(a.sigma.item())
