"""What a run will cost, said before it is paid: the time and peak memory of `animate` on this device.

The estimate is measured on the loaded pipeline: `measure` times one unet pass on one window of the run's
size (one call of two passes with --cfg-batch), PoseNet, and one decoding chunk, and `extrapolate` scales
that to the whole run with plain arithmetic. (`mimicmotion.planner` estimates without weights nor GPU,
from a model of each GPU; this is what the device at hand does.) The measurement draws its random inputs
from a generator of its own and changes no state of the pipeline, so the run that follows samples exactly
what it would have sampled without it. With --compile, its first calls compile the models; that time is
measured apart and said apart.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from mimicmotion.animate import DTYPES
from mimicmotion.config import AnimateSettings
from mimicmotion.models.conditioning import added_time_ids, conditioned_prediction
from mimicmotion.pipeline import DECODE_CHUNK_SIZE
from mimicmotion.pose_features import HOST_BUDGET
from mimicmotion.sampling import guided_steps
from mimicmotion.units import counted, format_duration, format_size
from mimicmotion.windows import plan_windows

log = logging.getLogger("mimicmotion")

ASK_ABOVE_SECONDS = 3600  # an interactive `animate` asks before starting a run expected to take longer
ADVISE_ABOVE_SECONDS = 600  # a CPU run expected to take longer gets advice on how to go faster
_DTYPE_NAMES = {dtype: name for name, dtype in DTYPES.items()}


@dataclass(frozen=True)
class RunPlan:
    """What a run computes."""

    device: str
    dtype: str
    frames: int  # frames of the video; the sampler adds the reference as frame 0
    height: int
    width: int
    windows: int
    window_frames: int  # frames per window, the reference frame included
    steps: int
    # Steps with guidance: two unet passes per window (unconditional, conditional), else one. All steps,
    # none (guidance off), or the first ones (--cfg-until).
    guided_steps: int
    latent_frame_bytes: int  # one frame of latents in the unet's dtype
    decode_overlap: int = 0  # frames decoded twice at each cut between decoding chunks
    decode_chunk: int = DECODE_CHUNK_SIZE  # frames per decoding call
    cfg_batch: bool = False  # a guided step's two passes of a window in one unet call
    compiled: bool = False  # the models were loaded for torch.compile (--compile)

    @property
    def unet_passes(self) -> int:
        return (self.steps + self.guided_steps) * self.windows

    @property
    def decoded_frames(self) -> int:
        """Frames the VAE decodes: the reference frame 0 too (not written), and the overlaps twice."""
        total = self.frames + 1
        advance = self.decode_chunk - self.decode_overlap
        cuts = -(-max(0, total - self.decode_chunk) // advance)
        return total + cuts * self.decode_overlap

    def passes_text(self) -> str:
        if self.guided_steps == self.steps:
            return "2 unet passes (guidance" + (", in one call: --cfg-batch)" if self.cfg_batch else ")")
        if self.guided_steps == 0:
            return "1 unet pass (no guidance)"
        saved = (self.steps - self.guided_steps) * self.windows
        return (
            f"2 unet passes (guidance) on the first {self.guided_steps}, 1 on the others (--cfg-until: "
            f"{self.unet_passes} passes instead of {self.unet_passes + saved})"
        )


@dataclass(frozen=True)
class Measurement:
    """One window's work, measured on this device."""

    pose_seconds: float  # PoseNet on one window
    unet_seconds: float  # one unet pass on one window
    decode_seconds: float  # the VAE decoding `decode_frames` frames
    decode_frames: int
    peak_bytes: int  # the most memory seen in use: GPU memory on CUDA, the process's RAM otherwise
    memory: str  # "GPU memory" or "RAM"
    pose_bytes: int = 0  # PoseNet's features of one window
    pair_seconds: float | None = None  # one unet call of both passes on one window (--cfg-batch)
    compile_seconds: float | None = None  # the first calls, which compiled the models (--compile)

    @property
    def guided_seconds(self) -> float:
        """A guided step's passes on one window."""
        return 2 * self.unet_seconds if self.pair_seconds is None else self.pair_seconds


@dataclass(frozen=True)
class Estimate:
    plan: RunPlan
    measured: Measurement
    seconds: float
    peak_bytes: int

    def line(self) -> str:
        """The plan and its cost in one line, labelled as the extrapolation it is."""
        p, m = self.plan, self.measured
        if m.pair_seconds is None:
            measured = f"one measured pass: {format_duration(m.unet_seconds)} per unet pass"
        else:
            measured = f"one measured call: {format_duration(m.pair_seconds)} per unet call of 2 passes"
        compiled = ""
        if m.compile_seconds is not None:
            compiled = f"; compiling took {format_duration(m.compile_seconds)}, paid once and not counted"
        return (
            f"plan: {p.device} {p.dtype}, {counted(p.frames, 'frame')} at {p.width}x{p.height}, "
            f"{counted(p.windows, 'window')} of {p.window_frames} frames, {counted(p.steps, 'step')} x "
            f"{p.passes_text()}: about {format_duration(self.seconds)} and "
            f"{format_size(self.peak_bytes)} peak {m.memory} (extrapolated from {measured}, "
            f"{format_duration(m.decode_seconds)} to decode {m.decode_frames} frames{compiled})"
        )

    def advice(self) -> str | None:
        """How to go faster, for a long run on the CPU; None otherwise."""
        p = self.plan
        if p.device != "cpu" or self.seconds <= ADVISE_ABOVE_SECONDS:
            return None
        return (
            f"on the CPU this run takes about {format_duration(self.seconds)}; to go faster: a CUDA GPU "
            f"(--device cuda), fewer steps (--steps, now {p.steps}; or --scheduler dpm++2m), fewer frames "
            f"(--max-frames N, now {p.frames}), "
            f"a lower --resolution (now {min(p.height, p.width)})"
        )


def run_plan(pipe: Any, s: AnimateSettings, frames: int, size: tuple[int, int]) -> RunPlan:
    """The plan of sampling `frames` frames of `size` (height, width) with settings `s` on `pipe`."""
    windows = plan_windows(frames + 1, s.tile_size, s.tile_overlap)
    height, width = size
    dtype = pipe.unet.dtype
    factor = pipe.vae_scale_factor
    latent_values = pipe.vae.config.latent_channels * (height // factor) * (width // factor)
    return RunPlan(
        device=str(pipe.execution_device),
        dtype=_DTYPE_NAMES.get(dtype, str(dtype)),
        frames=frames,
        height=height,
        width=width,
        windows=len(windows),
        window_frames=len(windows[0]),
        steps=s.step_count,
        guided_steps=guided_steps(s.step_count, s.cfg_until)
        if max(s.min_guidance, s.max_guidance) > 1.0
        else 0,
        latent_frame_bytes=latent_values * torch.finfo(dtype).bits // 8,
        decode_overlap=s.decode_overlap,
        decode_chunk=s.decode_chunk,
        cfg_batch=s.cfg_batch,
        compiled=s.compile,
    )


def extrapolate(plan: RunPlan, measured: Measurement) -> Estimate:
    """The whole run's time and peak memory from one window's measurement."""
    # PoseNet runs once for each window whose features are kept (`mimicmotion.pose_features`: on a GPU,
    # taken to be all of them), at every step for the others. When all are kept, the first window's
    # features are computed twice: its first come before any pass has shown how much memory there is.
    kept = plan.windows
    if not plan.device.startswith("cuda") and measured.pose_bytes:
        kept = min(plan.windows, HOST_BUDGET // measured.pose_bytes)
    pose_calls = kept + (plan.windows - kept) * plan.steps
    if kept == plan.windows and plan.steps > 1:
        pose_calls += 1
    unguided = plan.steps - plan.guided_steps
    seconds = (
        pose_calls * measured.pose_seconds
        + plan.windows * (plan.guided_steps * measured.guided_seconds + unguided * measured.unet_seconds)
        + plan.decoded_frames / measured.decode_frames * measured.decode_seconds
    )
    # Besides one window's work (measured), a denoising step holds latent tensors of the whole video: the
    # latents, their scaled copy, and for each prediction (unconditional, conditional) the fusion's running
    # sum and the zeros it is shaped from (sampling.denoise, windows.fuse).
    predictions = 2 if plan.guided_steps else 1
    whole_video = (2 + 2 * predictions) * (plan.frames + 1) * plan.latent_frame_bytes
    return Estimate(plan, measured, seconds, measured.peak_bytes + whole_video)


@torch.no_grad()
def measure(pipe: Any, plan: RunPlan) -> Measurement:
    """Time PoseNet and one unet pass on one window of the plan's size, and one decoded chunk."""
    device = pipe.execution_device
    dtype = pipe.unet.dtype
    channels = pipe.vae.config.latent_channels
    n, h, w = plan.window_frames, plan.height // pipe.vae_scale_factor, plan.width // pipe.vae_scale_factor
    # The inputs' values do not change the cost; they come from a generator of their own, on the CPU, so
    # that neither the run's generator nor torch's global one moves.
    generator = torch.Generator().manual_seed(0)

    def noise(*shape: int, dtype: torch.dtype = dtype) -> torch.Tensor:
        return torch.randn(shape, generator=generator).to(device=device, dtype=dtype)

    latents = noise(1, n, channels, h, w)
    image_latents = noise(1, channels, h, w)
    embeddings = noise(1, 1, pipe.unet.config.cross_attention_dim)
    pictures = noise(n, 3, plan.height, plan.width, dtype=pipe.pose_net.dtype).clamp(-1, 1)
    time_ids = added_time_ids(7, 127, 0.0, dtype, device)  # the values the sampler conditions on
    timestep = torch.tensor(1.0, device=device, dtype=dtype)

    def unet_pass(pose: torch.Tensor) -> torch.Tensor:
        if plan.cfg_batch:  # both passes in one call, as the sampler makes it
            pair = torch.cat([torch.zeros_like(pose), pose])
            return conditioned_prediction(
                pipe.unet, latents.repeat(2, 1, 1, 1, 1), timestep, image_latents.repeat(2, 1, 1, 1),
                embeddings.repeat(2, 1, 1), time_ids.repeat(2, 1), pair,
            )  # fmt: skip
        return conditioned_prediction(pipe.unet, latents, timestep, image_latents, embeddings, time_ids, pose)

    decode_frames = min(plan.decode_chunk, plan.frames + 1)
    chunk = noise(1, decode_frames, channels, h, w)

    def decode() -> list[torch.Tensor]:
        return list(pipe.decode_latents(chunk, plan.decode_chunk))

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    compile_seconds = None
    if plan.compiled:
        # The first calls compile the unet's blocks and the decoder: paid once, timed apart.
        compile_seconds = _timed(lambda: (unet_pass(pipe.pose_net(pictures)), decode()), device)[0]
    elif device.type == "cuda":
        # The first call on a GPU also chooses kernels and loads them (and, with offload, moves the unet
        # there): not a cost of every pass, so it is left out of the timing.
        unet_pass(pipe.pose_net(pictures))
    pose_seconds, pose = _timed(lambda: pipe.pose_net(pictures), device)
    unet_seconds, _ = _timed(lambda: unet_pass(pose), device)
    decode_seconds, _ = _timed(decode, device)
    peak, memory = _peak_memory(device)
    pose_bytes = pose.numel() * pose.element_size()
    # With --cfg-batch, the call measured holds two passes; a step without guidance makes one of half
    # the batch, taken to cost half.
    pair_seconds = unet_seconds if plan.cfg_batch else None
    if plan.cfg_batch:
        unet_seconds /= 2
    return Measurement(pose_seconds, unet_seconds, decode_seconds, decode_frames, peak, memory, pose_bytes,
                       pair_seconds, compile_seconds)  # fmt: skip


def estimate_run(pipe: Any, s: AnimateSettings, frames: int, size: tuple[int, int]) -> Estimate:
    """Measure and extrapolate the run of settings `s` (`frames` frames of `size`); log its plan line and,
    for a long run on the CPU, how to go faster."""
    plan = run_plan(pipe, s, frames, size)
    log.info("estimating the cost: one unet pass on a window of %d frames", plan.window_frames)
    estimate = extrapolate(plan, measure(pipe, plan))
    log.info("%s", estimate.line())
    advice = estimate.advice()
    if advice:
        log.warning("%s", advice)
    return estimate


def _timed(work: Callable[[], Any], device: torch.device) -> tuple[float, Any]:
    """(seconds, result) of `work()`, waiting for the device to finish it."""
    _synchronize(device)
    start = time.perf_counter()
    result = work()
    _synchronize(device)
    return time.perf_counter() - start, result


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _peak_memory(device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        # Reserved, not allocated: what the process holds from the GPU, which is what runs out.
        return torch.cuda.max_memory_reserved(device), "GPU memory"
    return _peak_rss(), "RAM"


def _peak_rss() -> int:
    """The process's largest resident size so far, in bytes (weights included)."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        return int(psutil.Process().memory_info().peak_wset)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB elsewhere
