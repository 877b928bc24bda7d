"""Peak accelerator memory of every stage and the time of a run, per mode, from the stages' traces.

Memory of a stage = weights on the device in that mode + the stage's peak live tensors (traced) + what the
sampler holds for the whole video meanwhile + `CUDA_OVERHEAD_BYTES`. Weights on the device:
- offload "none": every model's (unet, VAE, image encoder, PoseNet);
- "model": the running model's, and PoseNet's (tiny, it stays);
- "sequential": twice the largest weights one module holds directly (the one running, and the next being
  copied in or the last one's freed block still cached by the allocator; an approximation), and PoseNet's.
Time = FLOPs / (the GPU's dense tensor throughput x ACHIEVED_FRACTION), plus the offload hooks' copies
over PCIe. Per window-step: PoseNet once and the unet once per prediction (two with guidance: two calls,
or one of batch 2 with --cfg-batch, the same FLOPs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mimicmotion.errors import MimicMotionError
from mimicmotion.modes import MODES, OFFLOADS, Mode
from mimicmotion.planner import stages
from mimicmotion.planner.architecture import (
    Architecture,
    build_architecture,
    dtype_of,
    largest_leaf_bytes,
    parameter_count,
    weight_bytes,
)
from mimicmotion.planner.gpus import (
    ACHIEVED_FRACTION,
    CUDA_OVERHEAD_BYTES,
    PCIE_BYTES_PER_SECOND,
    Gpu,
    find_gpu,
)
from mimicmotion.planner.tracing import Trace
from mimicmotion.windows import plan_windows

GIB = 2**30


@dataclass(frozen=True)
class ModeEstimate:
    mode: Mode
    stage_bytes: dict[str, int]  # each stage's peak on the device, CUDA overhead included
    seconds_per_window_step: float | None  # None: the GPU's throughput is unknown
    seconds: float | None  # the whole run

    @property
    def peak_bytes(self) -> int:
        return max(self.stage_bytes.values())

    @property
    def peak_stage(self) -> str:
        return max(self.stage_bytes, key=self.stage_bytes.__getitem__)

    def fits(self, budget_bytes: int) -> bool:
        return self.peak_bytes <= budget_bytes


@dataclass(frozen=True)
class RunEstimate:
    architecture: str
    parameters: dict[str, int]  # parameter count of each model
    height: int
    width: int
    window_frames: int
    frames: int  # frames of the video (the reference frame not counted)
    windows: int
    steps: int
    guidance: bool
    dtype: str
    gpu_name: str | None  # as asked or detected
    gpu: Gpu | None  # its entry in the throughput table, None if unknown
    modes: tuple[ModeEstimate, ...]
    flops: dict[str, int] = field(default_factory=dict)  # per call of each stage (unet: batch 1)

    def fitting(self, budget_bytes: int) -> list[ModeEstimate]:
        """The modes whose peak fits in `budget_bytes`, in the order of `modes`."""
        return [m for m in self.modes if m.fits(budget_bytes)]

    def fastest_fitting(self, budget_bytes: int) -> ModeEstimate | None:
        """The fastest mode that fits (by estimated time; by the modes' order when the GPU is unknown)."""
        fitting = self.fitting(budget_bytes)
        if not fitting:
            return None
        if any(m.seconds is None for m in fitting):
            return fitting[0]
        return min(fitting, key=lambda m: m.seconds)


def check_run(height: int, width: int, tile_size: int, frames: int, steps: int, dtype: str) -> None:
    for name, side in (("height", height), ("width", width)):
        if side < 64 or side % 64:
            raise MimicMotionError(f"{name} must be a positive multiple of 64, got {side}")
    if tile_size < 2:
        raise MimicMotionError(
            f"tile size must be at least 2 (the reference frame and one more), got {tile_size}"
        )
    if frames < 1:
        raise MimicMotionError(f"frames must be at least 1, got {frames}")
    if steps < 1:
        raise MimicMotionError(f"steps must be at least 1, got {steps}")
    dtype_of(dtype)


def plan_run(
    height: int,
    width: int,
    tile_size: int,
    dtype: str = "fp16",
    *,
    frames: int | None = None,
    steps: int = 25,
    guidance: bool = True,
    tile_overlap: int = 6,
    gpu: str | None = None,
    base_model: Path | str | None = None,
    modes: Sequence[Mode] = MODES,
) -> RunEstimate:
    """Estimate every mode of a run of `frames` frames (default: one window's, `tile_size` - 1) of
    height x width, `tile_size`-frame windows, `steps` steps, on the GPU called `gpu` (a name such as
    "RTX 4090"; None or unknown: no times). Needs neither weights nor a GPU; raises MimicMotionError on bad
    input."""
    frames = tile_size - 1 if frames is None else frames
    check_run(height, width, tile_size, frames, steps, dtype)
    for mode in modes:
        if mode.offload not in OFFLOADS or mode.decode_chunk < 1:
            raise MimicMotionError(f"unknown mode {mode}")
    # one window's video has no overlap to check (the default 6 is too large for windows under 11 frames)
    overlap = tile_overlap if frames + 1 > tile_size else 1
    windows = plan_windows(frames + 1, tile_size, overlap)
    window_frames = len(windows[0])
    arch = build_architecture(base_model, dtype)
    size = stages.Size(height, width, window_frames)
    traces = _Traces(arch, size)
    entry = find_gpu(gpu)
    throughput = entry.tflops(dtype) if entry else None
    run = _Run(arch, size, frames + 1, len(windows), steps, guidance, dtype)
    estimates = tuple(run.estimate(mode, traces, throughput) for mode in modes)
    return RunEstimate(
        architecture=arch.name,
        parameters={name: parameter_count(model) for name, model in arch.models().items()},
        height=height,
        width=width,
        window_frames=window_frames,
        frames=frames,
        windows=len(windows),
        steps=steps,
        guidance=guidance,
        dtype=dtype,
        gpu_name=gpu,
        gpu=entry,
        modes=estimates,
        flops={
            "image encoder": traces.get("image encoder").flops,
            "vae encoder": traces.get("vae encoder").flops,
            "pose net": traces.get("pose net").flops,
            "unet": traces.get("unet").flops,
        },
    )


class _Traces:
    """Each stage traced once, when first needed."""

    def __init__(self, arch: Architecture, size: stages.Size) -> None:
        self.arch, self.size = arch, size
        self._done: dict[tuple, Trace] = {}

    def get(self, stage: str, batch: int = 1, chunking: bool = False, decode_chunk: int = 0) -> Trace:
        key = (stage, batch, chunking, decode_chunk)
        if key not in self._done:
            a, s = self.arch, self.size
            if stage == "unet":
                # FLOPs are the same whatever the batching and chunking: counted on the plain pass only
                self._done[key] = stages.unet(a, s, batch, chunking, count_flops=batch == 1 and not chunking)
            elif stage == "vae decoder":
                self._done[key] = stages.vae_decoder(a, s, decode_chunk)
            else:
                work = {"image encoder": stages.image_encoder, "vae encoder": stages.vae_encoder}
                self._done[key] = work.get(stage, stages.pose_net)(a, s)
        return self._done[key]


@dataclass(frozen=True)
class _Run:
    arch: Architecture
    size: stages.Size
    video_frames: int  # the reference frame included
    windows: int
    steps: int
    guidance: bool
    dtype: str

    def weights(self, model: str) -> int:
        return weight_bytes(self.arch.models()[model])

    def resident(self, stage: str, offload: str) -> int:
        """Weights on the device while `stage` runs."""
        model = stages.STAGE_MODELS[stage]
        pose_net = self.weights("pose_net") if model != "pose_net" else 0
        if offload == "none":
            return sum(self.weights(name) for name in self.arch.models())
        if offload == "model":
            return self.weights(model) + pose_net
        return 2 * largest_leaf_bytes(self.arch.models()[model]) + pose_net

    def latent_frame_bytes(self) -> int:
        h, w = self.size.latent
        element = next(self.arch.unet.parameters()).element_size()
        return self.arch.vae.config.latent_channels * h * w * element

    def sampler_bytes(self, cfg_batch: bool) -> int:
        """What a denoising step holds besides one window's work (as `mimicmotion.estimate.extrapolate`):
        the latents of the whole video, their scaled copy, and per prediction the fusion's running sum and
        the zeros it is shaped from; with guidance run as two calls, the first call's prediction while the
        second runs."""
        predictions = 2 if self.guidance else 1
        video = (2 + 2 * predictions) * self.video_frames * self.latent_frame_bytes()
        held = self.size.frames * self.latent_frame_bytes() if self.guidance and not cfg_batch else 0
        return video + held

    def activations(self, stage: str, mode: Mode, traces: _Traces) -> int:
        if stage == "unet":
            batch = 2 if mode.cfg_batch and self.guidance else 1
            return traces.get("unet", batch, mode.forward_chunking).peak_bytes + self.sampler_bytes(
                mode.cfg_batch
            )
        if stage == "pose net":
            return traces.get("pose net").peak_bytes + self.sampler_bytes(mode.cfg_batch)
        if stage == "vae decoder":
            # the denoised latents of the whole video and their scaled copy stay while decoding
            chunk = traces.get("vae decoder", decode_chunk=min(mode.decode_chunk, self.video_frames))
            return chunk.peak_bytes + 2 * self.video_frames * self.latent_frame_bytes()
        return traces.get(stage).peak_bytes

    def estimate(self, mode: Mode, traces: _Traces, tflops: float | None) -> ModeEstimate:
        stage_bytes = {
            stage: self.resident(stage, mode.offload)
            + self.activations(stage, mode, traces)
            + CUDA_OVERHEAD_BYTES
            for stage in stages.STAGES
        }
        if tflops is None:
            return ModeEstimate(mode, stage_bytes, None, None)
        speed = tflops * 1e12 * ACHIEVED_FRACTION
        passes = 2 if self.guidance else 1
        unet_calls = 1 if mode.cfg_batch or not self.guidance else 2
        step_flops = passes * traces.get("unet").flops + traces.get("pose net").flops
        chunk = min(mode.decode_chunk, self.video_frames)
        decode_flops = traces.get("vae decoder", decode_chunk=chunk).flops * self.video_frames / chunk
        once_flops = traces.get("image encoder").flops + traces.get("vae encoder").flops + decode_flops
        vae, unet, clip = self.weights("vae"), self.weights("unet"), self.weights("image_encoder")
        step_copies, once_copies = 0, 0
        if mode.offload == "model":
            # each model in when it runs, out when the next one runs; the unet stays for all the steps
            once_copies = 2 * clip + 4 * vae + 2 * unet
        elif mode.offload == "sequential":
            # every module's weights are copied in for each call (and dropped after, not copied back)
            step_copies = unet_calls * unet
            once_copies = clip + vae + math.ceil(self.video_frames / chunk) * vae
        per_step = step_flops / speed + step_copies / PCIE_BYTES_PER_SECOND
        seconds = (
            self.windows * self.steps * per_step + once_flops / speed + once_copies / PCIE_BYTES_PER_SECOND
        )
        return ModeEstimate(mode, stage_bytes, per_step, seconds)
