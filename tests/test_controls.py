"""The sampling controls beyond the released sampler, each checked for what it does.

Strengths against the same scaling done inside the weights (PoseNet's output scale, CLIP's projection,
the VAE's posterior mean), the pose interval and --cfg-until by the passes the unet sees, the solvers
against the closed-form solution of the probability-flow ODE of Gaussian data, custom sigmas against the
Karras formula, the initial noise against the generator's own draws, and decoding overlap against a
decoder whose output is known. That the defaults keep the released frames is checked against the
released code in tests/oracle/test_sampler_oracle.py.
"""

import math

import pytest
import torch
from diffusers import EulerDiscreteScheduler
from helpers.tiny_models import SVD_SCHEDULER

from mimicmotion import MimicMotionPipeline
from mimicmotion.controls import NAMED_SIGMAS, parse_sigmas
from mimicmotion.errors import MimicMotionError
from mimicmotion.sampling import denoise
from mimicmotion.solvers import DPMSolver2M, set_schedule

H, W = 32, 48


def inputs(num_frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, H, W, generator=g), torch.rand(num_frames, 3, H, W, generator=g) * 2 - 1


def run(pipe, image, pose, seed=0, **kwargs):
    kwargs = {"tile_size": 4, "tile_overlap": 2, "num_inference_steps": 3, "output_type": "latent", **kwargs}
    return pipe(image, pose, generator=torch.Generator().manual_seed(seed), **kwargs).frames


@pytest.fixture
def fresh_pipe(tiny_weights):
    """A pipeline of its own, for tests that change its weights."""
    base, checkpoint = tiny_weights
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=checkpoint)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class UnetCalls:
    """Records, for every unet call, its timestep and whether pose features were added (they are added to
    the output of the unet's conv_in by a hook of that call)."""

    def __init__(self, pipe):
        self.calls = []
        self.pose_calls = 0
        pipe.unet.register_forward_pre_hook(self._unet, with_kwargs=True)

    def _unet(self, module, args, kwargs):
        self.calls.append(float(args[1]))
        self.pose_calls += bool(module.conv_in._forward_hooks)


# ------------------------------------------------------------------------------------ strengths


def test_pose_strength_scales_the_pose_features(fresh_pipe):
    image, pose = inputs(6)
    strong = run(fresh_pipe, image, pose, pose_strength=1.7)
    with torch.no_grad():
        fresh_pipe.pose_net.scale *= 1.7  # PoseNet's own output scale
    assert torch.allclose(run(fresh_pipe, image, pose), strong, atol=1e-5)
    assert not torch.allclose(run(fresh_pipe, image, pose, pose_strength=1.0 / 1.7), strong, atol=1e-3)


def test_pose_strength_zero_is_no_pose_at_all(tiny_pipe):
    image, pose = inputs(6)
    off = run(tiny_pipe, image, pose, pose_strength=0.0)
    assert torch.equal(off, run(tiny_pipe, image, -pose, pose_strength=0.0))  # the poses no longer matter
    # and it is what leaving the pose out of every step gives (no step's progress reaches 1)
    assert torch.equal(off, run(tiny_pipe, image, pose, pose_interval=(1.0, 1.0)))
    assert not torch.allclose(off, run(tiny_pipe, image, pose), atol=1e-4)


def test_ref_strength_scales_the_image_embedding_and_latent(fresh_pipe):
    image, pose = inputs(6)
    scaled = run(fresh_pipe, image, pose, ref_strength=0.6)
    with torch.no_grad():
        fresh_pipe.image_encoder.visual_projection.weight *= 0.6  # a linear map without bias
        channels = fresh_pipe.vae.config.latent_channels  # the posterior's mean: the first half of quant_conv
        fresh_pipe.vae.quant_conv.weight[:channels] *= 0.6
        fresh_pipe.vae.quant_conv.bias[:channels] *= 0.6
    assert torch.allclose(run(fresh_pipe, image, pose), scaled, atol=1e-5)
    assert not torch.allclose(run(fresh_pipe, image, pose, ref_strength=1.2), scaled, atol=1e-3)


# ------------------------------------------------------------------------ pose interval, cfg-until


def test_the_pose_interval_selects_the_steps_that_see_the_pose(tiny_pipe):
    image, pose = inputs(6)  # windows [0..3], [0, 3, 4, 5]: two windows per step
    calls = UnetCalls(tiny_pipe)
    run(tiny_pipe, image, pose, num_inference_steps=4, pose_interval=(0.25, 0.5))
    assert calls.pose_calls == 2 * 2  # steps 1 and 2 (progress 0.25 and 0.5) of 0, 0.25, 0.5, 0.75
    assert len(calls.calls) == 4 * 2 * 2  # every step still guided: two passes per window


def test_cfg_until_drops_the_unconditional_pass_late_in_the_schedule(tiny_pipe):
    image, pose = inputs(6)
    calls = UnetCalls(tiny_pipe)
    states = {}

    def keep(tag):
        return lambda state: states.setdefault(tag, []).append(state.latents.clone())

    run(tiny_pipe, image, pose, num_inference_steps=4, cfg_until=0.5, on_step=keep("until"))
    # steps at progress 0, 0.25, 0.5 are guided (2 passes per window), the last one is not
    assert len(calls.calls) == (3 * 2 + 1) * 2
    run(tiny_pipe, image, pose, num_inference_steps=4, on_step=keep("full"))
    for step in range(3):
        assert torch.equal(states["until"][step], states["full"][step])
    assert not torch.allclose(states["until"][3], states["full"][3], atol=1e-5)


# ------------------------------------------------------------------------ solvers and schedules


def gaussian_data_denoiser(scale):
    """The exact v-prediction for data N(0, scale^2): its denoised estimate is x s^2 / (sigma^2 + s^2).

    The probability-flow ODE then has the closed-form solution x(sigma) = x_T sqrt((sigma^2 + s^2) /
    (sigma_T^2 + s^2)), against which a solver's error is measured."""

    def denoiser(model_input, step, frames):
        sigma = torch.exp(4 * step.t.double())  # continuous timesteps: 0.25 log sigma
        x = model_input.double() * torch.sqrt(sigma**2 + 1)  # inputs are scaled by 1 / sqrt(sigma^2 + 1)
        denoised = x * scale**2 / (sigma**2 + scale**2)
        # SVD's v-prediction: denoised = x / (sigma^2 + 1) - v sigma / sqrt(sigma^2 + 1)
        v = (x / (sigma**2 + 1) - denoised) * torch.sqrt(sigma**2 + 1) / sigma
        return v.to(model_input.dtype)

    return denoiser


def solve(solver, steps, x_t, scale):
    set_schedule(solver, steps, None, "cpu")
    frames = list(range(x_t.shape[1]))
    weights = [torch.ones(len(frames))]
    return denoise(x_t, solver, [frames], weights, gaussian_data_denoiser(scale), None)


@pytest.mark.parametrize("steps", [24, 48])  # below 15 steps DPM-Solver++ ends with two lower-order steps
def test_dpm_solver_is_second_order_where_euler_is_first(steps):
    euler = EulerDiscreteScheduler(**SVD_SCHEDULER)
    dpm = DPMSolver2M.for_svd(euler.config)
    scale = 0.8
    x_t = torch.randn(1, 3, 2, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 700.0
    # the solvers' schedules end at 0 (x(0) = x_T s / sqrt(sigma_T^2 + s^2)) from the same sigma_T
    set_schedule(euler, steps, None, "cpu")
    exact = x_t * scale / math.sqrt(float(euler.sigmas[0]) ** 2 + scale**2)
    errors = {}
    for name, solver in (("euler", euler), ("dpm", dpm)):
        errors[name] = [(solve(solver, n, x_t, scale) - exact).abs().max().item() for n in (steps, 2 * steps)]
    # doubling the steps divides a first-order error by about 2, a second-order one by about 4
    assert 1.5 < errors["euler"][0] / errors["euler"][1] < 2.5
    assert errors["dpm"][0] / errors["dpm"][1] > 3.0
    assert errors["dpm"][1] < errors["euler"][1] / 3


def test_dpm_solver_equals_euler_where_both_are_first_order(tiny_pipe):
    # DPM-Solver++ starts and ends with first-order steps (an exact Euler step in sigma); with two steps
    # it takes no other kind, with three the middle one is second order. (The two compute the Karras
    # levels in float32 and float64: they differ by about 1e-7 relative, which moves values by ~1e-4.)
    image, pose = inputs(6)
    for steps, same in ((1, True), (2, True), (3, False)):
        euler = run(tiny_pipe, image, pose, num_inference_steps=steps)
        dpm = run(tiny_pipe, image, pose, num_inference_steps=steps, scheduler="dpm++2m")
        assert ((euler - dpm).abs().max() < 1e-3) == same, steps


def karras(steps, sigma_min=0.002, sigma_max=700.0, rho=7.0):
    """Karras et al. 2022, eq. 5."""
    first, last = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return [(first + i / (steps - 1) * (last - first)) ** rho for i in range(steps)]


def test_sigmas_are_the_noise_levels_of_the_steps(tiny_pipe):
    image, pose = inputs(6)
    # the solver's own schedule, given as numbers, gives the same video
    by_count = run(tiny_pipe, image, pose, num_inference_steps=4)
    assert torch.allclose(run(tiny_pipe, image, pose, sigmas=karras(4)), by_count, atol=1e-4)
    # a published schedule: the unet is conditioned on 0.25 log sigma of each level, twice per window
    calls = UnetCalls(tiny_pipe)
    run(tiny_pipe, image, pose, sigmas="ays", scheduler="dpm++2m")
    expected = [0.25 * math.log(level) for level in NAMED_SIGMAS["ays"] for _ in range(2 * 2)]
    assert calls.calls == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(
    "value, problem",
    [
        ("1,2,3", "decrease strictly"),
        ("5,-1", "positive"),
        ("5,x", "numbers separated by commas"),
        ("", "at least one"),
    ],
)
def test_bad_sigmas_are_refused_with_what_is_wrong(value, problem):
    with pytest.raises(MimicMotionError, match=problem):
        parse_sigmas(value)


# ------------------------------------------------------------------------ initial noise, decoding


@pytest.mark.parametrize("init_noise", ["tiled", "independent"])
def test_initial_noise_tiled_repeats_one_window_independent_draws_every_frame(tiny_pipe, init_noise):
    image, pose = inputs(7)
    first_inputs = []
    hook = tiny_pipe.unet.register_forward_pre_hook(
        lambda module, args: first_inputs.append(args[0][:, :, :4])
    )
    try:
        run(tiny_pipe, image, pose, tile_size=4, tile_overlap=1, num_inference_steps=1, init_noise=init_noise)
    finally:
        hook.remove()
    # draws in the released order: the reference's noise, then the latents' noise
    g = torch.Generator().manual_seed(0)
    torch.randn((1, 3, H, W), generator=g)
    frames = 4 if init_noise == "tiled" else 7
    noise = torch.randn((1, frames, 4, H // 8, W // 8), generator=g)
    expected = noise.repeat(1, 2, 1, 1, 1)[:, :7] if init_noise == "tiled" else noise
    # the unet's first call sees window [0, 1, 2, 3]: the noise times sqrt(sigma_max^2 + 1), scaled by
    # c_in = 1 / sqrt(sigma_max^2 + 1)
    assert torch.allclose(first_inputs[0][0], expected[0, :4], atol=1e-4)
    second_window = first_inputs[2][0]  # windows [0..3] and [0, 4, 5, 6], two passes each
    assert torch.allclose(second_window[1:], expected[0, 4:7], atol=1e-4)


class KnownDecoder:
    """A stand-in VAE decoder: frame g of a chunk starting at frame c decodes to 0.01 g + 0.001 (g - c)
    (its latent holds g), so every frame shows which chunk decoded it."""

    def __init__(self):
        self.chunks = []

    def __call__(self, latents, num_frames):
        values = latents[:, 0, 0, 0].double()
        start = round(float(values[0]) / 0.01)
        self.chunks.append((start, num_frames))
        position = torch.arange(num_frames, dtype=torch.float64)
        raw = values + 0.001 * position
        return type("Decoded", (), {"sample": raw.view(-1, 1, 1, 1).expand(-1, 3, 2, 2).float()})()


def test_decoding_overlap_blends_the_chunks_linearly(tiny_pipe, monkeypatch):
    decoder = KnownDecoder()
    monkeypatch.setattr(tiny_pipe.vae, "decode", decoder)
    total = 14
    scaling = tiny_pipe.vae.config.scaling_factor
    latents = (0.01 * torch.arange(total, dtype=torch.float64) * scaling).view(1, total, 1, 1, 1)
    latents = latents.expand(1, total, 4, 2, 2).float()

    def raw(g, chunk_start):
        return 0.01 * g + 0.001 * (g - chunk_start)

    chunks = list(tiny_pipe.decode_latents(latents, overlap=2))
    assert decoder.chunks == [(0, 8), (6, 8)]  # the second chunk starts 2 frames before the first ended
    decoded = torch.cat(chunks)[:, 0, 0, 0].double()
    expected = [raw(g, 0) for g in range(6)]
    expected += [raw(6, 0) * 2 / 3 + raw(6, 6) / 3, raw(7, 0) / 3 + raw(7, 6) * 2 / 3]
    expected += [raw(g, 6) for g in range(8, 14)]
    assert decoded.tolist() == pytest.approx([v / 2 + 0.5 for v in expected], abs=1e-6)

    decoder.chunks.clear()
    plain = torch.cat(list(tiny_pipe.decode_latents(latents)))[:, 0, 0, 0].double()
    assert decoder.chunks == [(0, 8), (8, 6)]  # the released chunking
    assert plain.tolist() == pytest.approx([raw(g, 0 if g < 8 else 8) / 2 + 0.5 for g in range(14)], abs=1e-6)


@pytest.mark.parametrize(
    "controls, problem",
    [({"pose_strength": -1.0}, "pose-strength"), ({"ref_strength": float("nan")}, "ref-strength"),
     ({"pose_interval": (0.6, 0.2)}, "pose-interval"), ({"pose_interval": (0.1,)}, "pose-interval"),
     ({"cfg_until": 1.5}, "cfg-until"), ({"init_noise": "fresh"}, "init-noise"),
     ({"scheduler": "heun"}, "scheduler")],
)  # fmt: skip
def test_controls_out_of_range_are_refused_before_any_work(tiny_pipe, controls, problem):
    image, pose = inputs(3)
    with pytest.raises(MimicMotionError, match=problem):
        run(tiny_pipe, image, pose, **controls)


@pytest.mark.parametrize("scheduler", ["euler", "dpm++2m"])
def test_resuming_gives_the_uninterrupted_result_with_the_solvers_state(tiny_pipe, tmp_path, scheduler):
    from mimicmotion.resume import StateWriter, load_state
    from mimicmotion.sampling import SamplerState

    image, pose = inputs(6)
    states = []
    whole = run(tiny_pipe, image, pose, num_inference_steps=5, scheduler=scheduler, on_step=states.append)
    # the state after step 2 goes through the file `animate --resume` reads (torch.load, weights only)
    StateWriter(tmp_path / "out.mp4", "key")(states[2])
    saved = load_state(tmp_path / "out.mp4", "key")
    resumed = run(tiny_pipe, image, pose, num_inference_steps=5, scheduler=scheduler, resume=saved)
    assert torch.equal(resumed, whole)
    if scheduler == "dpm++2m":  # its next step uses the previous prediction: without it, another result
        bare = SamplerState(saved.step, saved.latents)
        forgetful = run(tiny_pipe, image, pose, num_inference_steps=5, scheduler=scheduler, resume=bare)
        assert not torch.allclose(forgetful, whole, atol=1e-4)
