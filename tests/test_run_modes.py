"""The speed and memory levers (`mimicmotion.modes`) on tiny random weights: what each keeps of the frames,
and that each does what it says (one unet call per guided window-step, PoseNet once per window, chunked
feed-forward layers, PyTorch's fused attention, compiled blocks); and `--vram auto`'s choice."""

import contextlib
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import AttnProcessor2_0
from torch.overrides import TorchFunctionMode

from mimicmotion.animate import check_device_options, load_pipeline
from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.estimate import measure, run_plan
from mimicmotion.generation import PoseInputs, sample, video_frames
from mimicmotion.modes import MODES, Mode
from mimicmotion.planner.for_run import fitting_settings, plan_settings
from mimicmotion.pose_features import PoseFeatureCache

H, W = 32, 48


def pose_inputs(frames: int = 9, seed: int = 0) -> PoseInputs:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    poses = torch.from_numpy(rng.integers(0, 256, (frames, 3, H, W), dtype=np.uint8))
    return PoseInputs(reference, poses, poses=None)


SETTINGS = AnimateSettings(tile_size=4, tile_overlap=2, steps=3, quiet=True)  # 9 frames: 4 windows


def latents(pipe, settings=SETTINGS, inputs=None):
    return sample(pipe, inputs or pose_inputs(), settings).frames


@contextlib.contextmanager
def calls(module: torch.nn.Module):
    """The batch sizes of `module`'s calls within the block."""
    batches: list[int] = []
    handle = module.register_forward_pre_hook(lambda m, args, *rest: batches.append(args[0].shape[0]))
    try:
        yield batches
    finally:
        handle.remove()


def test_cfg_batch_makes_one_unet_call_per_guided_window_step_with_the_same_predictions(tiny_pipe):
    with calls(tiny_pipe.unet) as apart:
        plain = latents(tiny_pipe)
    with calls(tiny_pipe.unet) as together:
        batched = latents(tiny_pipe, SETTINGS.replace(cfg_batch=True))
    windows, steps = 4, 3
    assert apart == [1] * (2 * windows * steps)  # the released order: unconditional, then conditional
    assert together == [2] * (windows * steps)
    torch.testing.assert_close(batched, plain, rtol=1e-4, atol=1e-5)
    other_seed = latents(tiny_pipe, SETTINGS.replace(seed=SETTINGS.seed + 1))
    assert (other_seed - plain).abs().max() > 100 * (batched - plain).abs().max()


def test_cfg_batch_keeps_the_steps_without_guidance_single(tiny_pipe):
    # 4 steps at progress 0, 0.25, 0.5, 0.75: --cfg-until 0.3 guides the first two
    settings = SETTINGS.replace(steps=4, cfg_until=0.3, cfg_batch=True)
    with calls(tiny_pipe.unet) as batches:
        batched = latents(tiny_pipe, settings)
    assert batches == [2] * 8 + [1] * 8
    torch.testing.assert_close(
        batched, latents(tiny_pipe, settings.replace(cfg_batch=False)), rtol=1e-4, atol=1e-5
    )


def test_pose_net_runs_once_per_window_and_the_frames_stay_the_same(tiny_pipe):
    image, poses = (
        torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0)),
        pose_inputs().pose_frames,
    )

    def run(**kwargs):
        with calls(tiny_pipe.pose_net) as pose_calls:
            generator = torch.Generator().manual_seed(3)
            out = tiny_pipe(image, poses, tile_size=4, tile_overlap=2, num_inference_steps=3,
                            output_type="latent", generator=generator, **kwargs)  # fmt: skip
        return out.frames, len(pose_calls)

    kept, kept_calls = run()
    recomputed, recomputed_calls = run(pose_feature_budget=0)
    windows, steps = 4, 3
    assert recomputed_calls == windows * steps  # as released: every window at every step
    # once per window; the first window's first features come before any pass has shown the memory peak
    assert kept_calls == windows + 1
    assert torch.equal(kept, recomputed)  # the same features, bit for bit
    # a budget of one window's features: the others are recomputed
    one_window = 4 * tiny_pipe.unet.config.block_out_channels[0] * (H // 8) * (W // 8) * 4
    _, limited_calls = run(pose_feature_budget=one_window)
    assert limited_calls == 1 + (windows - 1) * steps  # window 2 kept (window 1 came first)


def test_kept_pose_features_are_freed_before_decoding(tiny_pipe, monkeypatch):
    events = []
    clear, decode = PoseFeatureCache.clear, type(tiny_pipe).decode_latents
    monkeypatch.setattr(PoseFeatureCache, "clear", lambda self: events.append("clear") or clear(self))
    monkeypatch.setattr(
        type(tiny_pipe), "decode_latents", lambda *a, **k: events.append("decode") or decode(*a, **k)
    )
    image = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(0))
    tiny_pipe(image, pose_inputs().pose_frames, tile_size=4, tile_overlap=2, num_inference_steps=2)
    assert events == ["clear", "decode"]


def test_compile_is_refused_with_sequential_offload():
    settings = AnimateSettings(compile=True, offload="sequential")
    with pytest.raises(MimicMotionError, match="--compile does not go with --offload sequential"):
        check_device_options(settings, torch.device("cuda"))
    check_device_options(settings.replace(offload="model"), torch.device("cuda"))  # accepted


def test_forward_chunking_runs_the_feed_forward_layers_frame_by_frame_with_the_same_frames(
    tiny_weights, tiny_pipe
):
    base, checkpoint = tiny_weights
    chunked = load_pipeline(
        AnimateSettings(base_model=str(base), checkpoint=str(checkpoint), forward_chunking=True)
    )
    blocks = [m for m in chunked.unet.modules() if hasattr(m, "set_chunk_feed_forward")]
    assert blocks and all(block._chunk_size == 1 for block in blocks)
    assert all(
        m._chunk_size is None for m in tiny_pipe.unet.modules() if hasattr(m, "set_chunk_feed_forward")
    )
    with calls(blocks[0].ff) as pieces:
        result = latents(chunked)
    assert len(pieces) > 2 * 4 * 3  # more than one feed-forward call per pass
    torch.testing.assert_close(result, latents(tiny_pipe), rtol=1e-4, atol=1e-5)


def test_decode_chunk_decodes_that_many_frames_per_clip(tiny_pipe):
    video = latents(tiny_pipe)
    frames = np.stack(list(video_frames(tiny_pipe, video, chunk_size=4)))
    # the temporal decoder sees each chunk alone: frames 1-3, 4-7, 8 (frame 0, the reference, left out)
    alone = [
        torch.cat(list(tiny_pipe.decode_latents(video[:, a:b], chunk_size=4)))
        for a, b in ((0, 4), (4, 8), (8, 9))
    ]
    expected = (torch.cat(alone)[1:] * 255.0).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(frames, expected)
    released = np.stack(list(video_frames(tiny_pipe, video)))
    assert np.array_equal(released, np.stack(list(video_frames(tiny_pipe, video, chunk_size=8))))
    assert not np.array_equal(frames, released)  # the clips differ, so do the frames


class SDPACount(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.scaled_dot_product_attention:
            self.count += 1
        return func(*args, **(kwargs or {}))


def test_attention_is_pytorchs_fused_scaled_dot_product_attention(tiny_pipe):
    processors = {**tiny_pipe.unet.attn_processors, **tiny_pipe.vae.attn_processors}
    assert processors and all(isinstance(p, AttnProcessor2_0) for p in processors.values())
    spy = SDPACount()
    with spy:
        latents(tiny_pipe, SETTINGS.replace(steps=1), pose_inputs(frames=3))
    unet_attention = len(tiny_pipe.unet.attn_processors)
    assert spy.count >= 2 * unet_attention  # every attention of both passes


def test_the_estimate_measures_one_call_of_both_passes_with_cfg_batch(tiny_pipe):
    settings = SETTINGS.replace(cfg_batch=True, decode_chunk=4)
    plan = run_plan(tiny_pipe, settings, 8, (H, W))
    assert plan.cfg_batch and plan.decode_chunk == 4
    with calls(tiny_pipe.unet) as batches:
        measured = measure(tiny_pipe, plan)
    assert batches == [2] and measured.pair_seconds > 0 and measured.decode_frames == 4
    assert measured.unet_seconds == pytest.approx(measured.pair_seconds / 2)
    assert measured.pose_bytes == 4 * tiny_pipe.unet.config.block_out_channels[0] * (H // 8) * (W // 8) * 4


@pytest.mark.slow
def test_compiled_models_give_the_eager_frames_and_the_compile_time_is_measured(tiny_weights, tiny_pipe):
    base, checkpoint = tiny_weights
    settings = SETTINGS.replace(base_model=str(base), checkpoint=str(checkpoint), compile=True, steps=1)
    pipe = load_pipeline(settings)
    measured = measure(pipe, run_plan(pipe, settings, 3, (H, W)))  # one window of 4 frames, as sampled
    assert measured.compile_seconds > 10 * measured.unet_seconds
    inputs = pose_inputs(frames=4)
    compiled, eager = latents(pipe, settings, inputs), latents(tiny_pipe, settings, inputs)
    # the compiled kernels add in another order: float rounding, far below another seed's difference
    torch.testing.assert_close(compiled, eager, rtol=1e-3, atol=1e-3)
    other_seed = latents(tiny_pipe, settings.replace(seed=settings.seed + 1), inputs)
    assert (other_seed - eager).abs().max() > 100 * (compiled - eager).abs().max()


# ------------------------------------------------------------------------------------ --vram auto


@pytest.fixture(scope="module")
def tiny_plan(tiny_weights):
    base, _ = tiny_weights
    settings = AnimateSettings(base_model=str(base), tile_size=4, tile_overlap=2, decode_overlap=5)
    return settings, plan_settings(settings, 8, (64, 64), torch.device("cpu"), torch.float16)


def test_vram_auto_takes_the_fastest_mode_that_fits(tiny_plan, caplog):
    caplog.set_level(logging.INFO, logger="mimicmotion")
    settings, plan = tiny_plan
    assert [m.mode for m in plan.modes] == list(MODES)
    peaks = {m.mode: m.peak_bytes for m in plan.modes}
    # no GPU times here: the fastest is taken to be the first of MODES that fits
    roomy = fitting_settings(settings.replace(decode_chunk=2), plan, max(peaks.values()))
    assert roomy.mode == MODES[0] and "--vram auto: --cfg-batch" in caplog.text
    assert "changes the frames" not in caplog.text  # back to the released decoding chunk
    leanest = min(peaks, key=peaks.__getitem__)
    tight = fitting_settings(settings, plan, peaks[leanest])
    assert tight.mode == leanest == Mode(offload="sequential", forward_chunking=True, decode_chunk=4)
    assert tight.decode_overlap == 3  # below the chunk
    assert "changes the frames" in caplog.text
    with pytest.raises(MimicMotionError, match=r"no mode is estimated to fit .* the leanest"):
        fitting_settings(settings, plan, peaks[leanest] - 1)


def test_a_plan_has_the_settings_mode_and_the_modes_they_allow(tiny_weights):
    base, _ = tiny_weights
    settings = AnimateSettings(base_model=str(base), tile_size=4, decode_chunk=2)
    plan = plan_settings(settings, 3, (64, 64), torch.device("cpu"), torch.float32)
    assert [m.mode for m in plan.modes] == [*MODES, Mode(decode_chunk=2)] and plan.dtype == "fp32"
    compiled = plan_settings(settings.replace(compile=True), 3, (64, 64), torch.device("cpu"), torch.float32)
    assert {m.mode.offload for m in compiled.modes} == {"none", "model"}  # compile refuses sequential


@pytest.mark.slow
def test_the_real_size_plan_has_a_mode_for_8_gb():
    # SVD-xt-1.1 (the shipped configs) at 576x1024, 72-frame windows, fp16: the released code's mode needs
    # about 16 GB; the leanest mode is estimated under 8 GB.
    settings = AnimateSettings(tile_size=72)
    plan = plan_settings(settings, 71, (576, 1024), torch.device("cpu"), torch.float16)
    peaks = {m.mode.label(): m.peak_bytes / 2**30 for m in plan.modes}
    assert 14 < peaks["released"] < 18
    assert min(peaks.values()) < 8
    assert peaks["--cfg-batch"] > peaks["released"] > peaks["--offload model"]
