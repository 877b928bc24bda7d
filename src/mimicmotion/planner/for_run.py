"""The planner applied to one `animate` run: its estimates for the run's settings (`animate --dry-run`),
and the mode `--vram auto` chooses for the GPU's free memory."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from mimicmotion.config import AnimateSettings
from mimicmotion.controls import DECODE_CHUNK_SIZE
from mimicmotion.errors import MimicMotionError
from mimicmotion.modes import MODES
from mimicmotion.planner.estimates import RunEstimate, plan_run
from mimicmotion.units import format_size

log = logging.getLogger("mimicmotion")

_DTYPE_NAMES = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32"}


def plan_settings(
    s: AnimateSettings, frames: int, size: tuple[int, int], device: torch.device, dtype: torch.dtype
) -> RunEstimate:
    """The planner's estimates of the run of `s` (`frames` frames of `size` (height, width), on `device`
    in `dtype`), for every mode the settings allow and for the one they give."""
    # The architecture is read from a local base folder; a hub id is taken to be SVD-xt (the shipped
    # configs), the architecture every released MimicMotion checkpoint is built on.
    base = s.base_model if Path(s.base_model).is_dir() else None
    modes = [m for m in MODES if not (s.compile and m.offload == "sequential")]  # see check_device_options
    if s.mode not in modes:
        modes.append(s.mode)
    height, width = size
    return plan_run(
        height,
        width,
        s.tile_size,
        _DTYPE_NAMES[dtype],
        frames=frames,
        steps=s.step_count,
        guidance=max(s.min_guidance, s.max_guidance) > 1.0,
        tile_overlap=s.tile_overlap,
        gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        base_model=base,
        modes=modes,
    )


def fitting_settings(s: AnimateSettings, plan: RunEstimate, free_bytes: int) -> AnimateSettings:
    """`s` in the fastest mode estimated to fit in `free_bytes` (`--vram auto`), said in the log."""
    best = plan.fastest_fitting(free_bytes)
    if best is None:
        leanest = min(plan.modes, key=lambda m: m.peak_bytes)
        raise MimicMotionError(
            f"--vram auto: no mode is estimated to fit in the {format_size(free_bytes)} of GPU memory free; "
            f"the leanest ({leanest.mode.label()}) needs about {format_size(leanest.peak_bytes)}: lower "
            "--resolution or --tile-size"
        )
    mode = best.mode
    log.info(
        "--vram auto: %s, estimated to peak at %s of the %s free",
        mode.label(),
        format_size(best.peak_bytes),
        format_size(free_bytes),
    )
    if mode.decode_chunk != DECODE_CHUNK_SIZE:
        log.warning(
            "--vram auto: decoding %d frames at a time changes the frames (the temporal decoder sees shorter "
            "clips than the released %d)",
            mode.decode_chunk,
            DECODE_CHUNK_SIZE,
        )
    overlap = min(s.decode_overlap, mode.decode_chunk - 1)
    if overlap != s.decode_overlap:
        log.warning("--vram auto: --decode-overlap %d, below the decoding chunk", overlap)
    return s.replace(
        cfg_batch=mode.cfg_batch,
        offload=mode.offload,
        forward_chunking=mode.forward_chunking,
        decode_chunk=mode.decode_chunk,
        decode_overlap=overlap,
    )
