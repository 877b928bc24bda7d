"""From a photo and a dance video to an mp4: the main job, end to end, in bounded memory.

Cheap checks come first (files, sizes, options, output folder, a person in the reference), then the
weights are loaded and checked, then the run's cost is measured and said (`mimicmotion.estimate`), then
the generation path (`mimicmotion.generation`) runs: the driving poses are extracted (or taken from the
pose cache), the video is denoised window by window and decoded chunk by chunk straight into the output
file. Nothing grows with the length of the video except the latents (a few hundred KB per frame) and the
keypoints; pose pictures live in a temporary file on disk.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mimicmotion.config import DTYPE_NAMES, AnimateSettings
from mimicmotion.controls import check_controls, check_solver, parse_sigmas
from mimicmotion.devices import MPS_FALLBACK, mps_fallback_enabled, mps_supports_bf16, mps_unavailable_reason
from mimicmotion.errors import MimicMotionError
from mimicmotion.parallel import launched, local_device_index
from mimicmotion.playback import fixed_fps, output_audio, output_fps
from mimicmotion.pose import BACKENDS, PoseSequence, prepare_reference, reference_pose
from mimicmotion.pose.build import pose_detector
from mimicmotion.pose.reference import check_resolution
from mimicmotion.pose.render import check_style
from mimicmotion.pose.retargeting import check_mode
from mimicmotion.resume import StateWriter, load_state, run_key, state_path
from mimicmotion.video import (
    VIDEO_OUTPUTS,
    check_writable,
    iter_frames,
    probe_video,
    read_image,
    remove_partial_outputs,
)
from mimicmotion.windows import FUSIONS, plan_windows, save_window_layout, window_layout_path

if TYPE_CHECKING:
    from mimicmotion.estimate import Estimate
    from mimicmotion.parallel import WindowShare

log = logging.getLogger("mimicmotion")

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def check_settings(settings: AnimateSettings) -> None:
    """Everything that can be checked without weights or pose detection; raises MimicMotionError."""
    check_inputs(settings)
    check_output(settings)


def check_output(s: AnimateSettings) -> None:
    if Path(s.out).suffix.lower() not in VIDEO_OUTPUTS:
        raise MimicMotionError(
            f"the output must be an .mp4 file (H.264) or an .mkv file (lossless FFV1), got {s.out}"
        )
    check_writable(s.out)
    if s.resume and not state_path(s.out).is_file():
        raise MimicMotionError(f"--resume: no saved state for {s.out} (expected {state_path(s.out)})")


def check_inputs(settings: AnimateSettings) -> None:
    """The checks of `check_settings` that do not concern the output file."""
    s = settings
    if s.ref is None or s.motion is None or s.out is None:
        raise MimicMotionError(
            "need a reference image (--ref), a driving video (--driving) or poses (--poses), and an output "
            "(--out)"
        )
    read_image(s.ref)
    if s.poses is not None and Path(s.poses).suffix.lower() != ".npz":
        raise MimicMotionError(f"--poses takes a pose .npz (mimicmotion pose --out), got {s.poses}")
    for source in (s.motion, s.driving):
        if source is None:
            continue
        if Path(source).suffix.lower() == ".npz":  # poses from `mimicmotion pose` or another tool
            PoseSequence.load(source)
        else:
            probe_video(source)
            next(iter_frames(source, max_frames=1))  # the first frame must decode, not just the header
    check_resolution(s.resolution)
    plan_windows(2 * s.tile_size + 1, s.tile_size, s.tile_overlap)  # validates size and overlap
    if s.fusion not in FUSIONS:
        raise MimicMotionError(f"unknown fusion {s.fusion!r}; choose one of {', '.join(FUSIONS)}")
    if s.steps < 1:
        raise MimicMotionError(f"steps must be at least 1, got {s.steps}")
    if s.stride < 1:
        raise MimicMotionError(f"stride must be at least 1, got {s.stride}")
    if s.max_frames is not None and s.max_frames < 1:
        raise MimicMotionError(f"max-frames must be at least 1, got {s.max_frames}")
    fixed_fps(s.fps)
    for name, value in (("min-guidance", s.min_guidance), ("max-guidance", s.max_guidance)):
        if not math.isfinite(value) or value < 0:
            raise MimicMotionError(f"{name} must be a number >= 0, got {value}")
    if not math.isfinite(s.noise_aug) or s.noise_aug < 0:
        raise MimicMotionError(f"noise-aug must be a number >= 0, got {s.noise_aug}")
    check_controls(s.pose_strength, s.ref_strength, s.pose_interval, s.cfg_until, s.init_noise)
    check_solver(s.scheduler)
    parse_sigmas(s.sigmas)
    if s.decode_chunk < 1:
        raise MimicMotionError(f"decode-chunk must be at least 1, got {s.decode_chunk}")
    if not 0 <= s.decode_overlap < s.decode_chunk:
        raise MimicMotionError(
            f"decode-overlap must be at least 0 and below the decoding chunk of {s.decode_chunk} frames, "
            f"got {s.decode_overlap}"
        )
    if s.pose_backend not in BACKENDS:
        raise MimicMotionError(
            f"unknown pose backend {s.pose_backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    check_mode(s.retarget)
    check_style(s.pose_style)
    if s.dtype not in DTYPE_NAMES:
        raise MimicMotionError(f"unknown dtype {s.dtype!r}; choose one of {', '.join(DTYPE_NAMES)}")
    device = execution_device(s)
    check_device_options(s, device)


def check_device_options(s: AnimateSettings, device: torch.device) -> None:
    """The options that only mean something on a CUDA GPU, refused elsewhere rather than ignored."""
    if s.offload != "none" and device.type != "cuda":
        raise MimicMotionError("--offload moves idle parts of the model to the CPU; it needs --device cuda")
    if s.vram == "auto" and device.type != "cuda":
        raise MimicMotionError("--vram auto plans for a GPU's free memory; it needs --device cuda")
    if s.tf32 and (device.type != "cuda" or execution_dtype(s, device) != torch.float32):
        raise MimicMotionError("--tf32 speeds up fp32 on a CUDA GPU; it needs --device cuda and --dtype fp32")
    if s.compile and s.offload == "sequential":
        # accelerate's hooks move every layer's weights in and out, inside the graphs compile would trace
        raise MimicMotionError("--compile does not go with --offload sequential; use --offload model or none")


def execution_device(s: AnimateSettings) -> torch.device:
    """The device the settings ask for. "auto": CUDA when available, else Apple's MPS when available
    (on an Apple-silicon Mac it is many times faster than the CPU), else the CPU.

    A device that is not there, or that cannot compute in the dtype asked for, is a MimicMotionError."""
    device = _requested_device(s)
    # bf16 on MPS needs macOS 14; on older systems torch would refuse it only when the loaded model
    # is moved to the GPU.
    if device.type == "mps" and s.dtype == "bf16" and not mps_supports_bf16():
        raise MimicMotionError("--dtype bf16 on MPS needs macOS 14 or later; use --dtype fp16 or fp32")
    return device


def _requested_device(s: AnimateSettings) -> torch.device:
    if s.device == "auto":
        if torch.cuda.is_available():
            # each of several launched processes on its own GPU of the node
            return torch.device("cuda", local_device_index()) if launched() else torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    unknown = MimicMotionError(f"unknown device {s.device!r}; use auto, cpu, cuda, cuda:N or mps")
    try:
        device = torch.device(s.device)
    except RuntimeError:
        raise unknown from None
    # torch names more devices than the pipeline is written for (xpu, meta, ...); and a Mac has one GPU.
    if device.type not in ("cpu", "cuda", "mps") or (device.type == "mps" and device.index not in (None, 0)):
        raise unknown
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MimicMotionError(f"--device {s.device} was asked for but no CUDA device is available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise MimicMotionError(
            f"--device {s.device} was asked for but this machine has {torch.cuda.device_count()} CUDA "
            "device(s), numbered from 0"
        )
    if device.type == "mps" and (why := mps_unavailable_reason()):
        raise MimicMotionError(f"--device mps was asked for but {why}")
    return device


def execution_dtype(s: AnimateSettings, device: torch.device) -> torch.dtype:
    """The dtype the settings ask for on `device`. "auto": fp16 on CUDA and MPS (half the memory, and
    fast on both), fp32 on the CPU (where fp16 is slow)."""
    if s.dtype != "auto":
        return DTYPES[s.dtype]
    return DTYPES["fp16" if device.type in ("cuda", "mps") else "fp32"]


def animate(
    settings: AnimateSettings,
    load: Callable[[AnimateSettings], Any] | None = None,
    proceed: Callable[[Estimate], bool] | None = None,
    dry_run: bool = False,
    share: WindowShare | None = None,
) -> Path | None:
    """Generate the video described by `settings` and return its path.

    `load(settings)` returns the pipeline (default `load_pipeline`); several cases can share one
    loaded model through it. It is called once the reference is known to show a person.
    Before the driving poses are detected, the run's cost is measured and logged (`estimate_run`).
    Then `dry_run` stops (the output is not checked: its folder need not exist yet), and so does
    `proceed(estimate)` returning False; either way nothing is written and None is returned.

    `share`: this process's share of the windows when several processes sample the video together
    (`mimicmotion.parallel`): every process calls `animate` with the same settings; the main process
    detects the poses first (the others take them from the pose cache) and alone writes the video.
    """
    from mimicmotion.estimate import estimate_run
    from mimicmotion.generation import driving_frame_count, pose_inputs, sample, video_frames, write_video

    main = share is None or share.is_main
    s = settings if main else settings.replace(quiet=True)
    if dry_run:  # nothing is written: the output need not be writable yet
        check_inputs(s)
    else:
        check_settings(s)
    image = read_image(s.ref)
    with pose_detector(s.pose_backend, s.dwpose_dir) as detector:
        # A photo without a person fails here, before the weights are loaded (the one image is
        # detected again with the driving poses; that costs a fraction of a second).
        reference = prepare_reference(image, s.resolution)
        reference_pose(reference, detector, str(s.ref))
        frames = driving_frame_count(s)
        s = planned(s, frames, reference.shape[:2], dry_run)
        pipe = (load or load_pipeline)(s)
        estimate = estimate_run(pipe, s, frames, reference.shape[:2])
        if dry_run or (proceed is not None and not proceed(estimate)):
            return None
        with share.main_first() if share is not None else contextlib.nullcontext():
            inputs = pose_inputs(s, image, backend=detector)
    key = run_key(s, inputs.reference, inputs.poses.points(), pipe.unet.dtype, pipe.execution_device)
    resume_from = None
    if s.resume:
        resume_from = load_state(s.out, key)
        if main:
            remove_partial_outputs(s.out)
        log.info("resuming after step %d of %d", resume_from.step + 1, s.step_count)
    state = StateWriter(s.out, key)
    with inputs.pose_frames:
        result = sample(pipe, inputs, s, resume_from, on_step=state if main else None, share=share)
        if not main:
            return Path(s.out)
        count = len(inputs.poses) - 1
        beside = inputs if s.side_by_side else None
        write_video(
            s.out,
            video_frames(pipe, result.frames, s.decode_overlap, s.decode_chunk),
            count,
            output_fps(s),
            beside,
            audio=output_audio(s, inputs.poses),
            progress=not s.quiet,
        )
    save_window_layout(
        window_layout_path(s.out),
        result.windows,
        len(inputs.poses),
        extra={"tile_size": s.tile_size, "tile_overlap": s.tile_overlap, "fusion": s.fusion, "seed": s.seed},
    )
    state.remove()
    log.info("wrote %s", s.out)
    return Path(s.out)


def planned(s: AnimateSettings, frames: int, size: tuple[int, int], dry_run: bool) -> AnimateSettings:
    """The settings in the mode `--vram auto` chooses for the GPU's free memory; on a dry run, the
    planner's estimates of every mode are logged too (`mimicmotion plan`)."""
    if s.vram != "auto" and not dry_run:
        return s
    from mimicmotion.planner import header, table
    from mimicmotion.planner.for_run import fitting_settings, plan_settings

    device = execution_device(s)
    log.info("planning: the real-size models traced on PyTorch's meta device (no weights needed)")
    try:
        plan = plan_settings(s, frames, size, device, execution_dtype(s, device))
    except MimicMotionError as error:
        if s.vram == "auto":
            raise
        log.warning("no planner table: %s", error)  # a dry run still measures the run
        return s
    free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else None
    if dry_run:
        for line in (*header(plan), *table(plan, None if free is None else free / 2**30)):
            log.info("%s", line)
    if s.vram == "auto":
        s = fitting_settings(s, plan, free)
    return s


def load_pipeline(s: AnimateSettings):
    """The pipeline for these settings, on the chosen device and dtype (weights checked strictly)."""
    from mimicmotion.pipeline import MimicMotionPipeline

    device = execution_device(s)
    dtype = execution_dtype(s, device)
    if device.type == "mps" and not mps_fallback_enabled():
        log.warning(
            "%s is not set: an operation MPS lacks will stop the run; set %s=1 before Python starts to run "
            "such operations on the CPU (the mimicmotion command does this itself)",
            MPS_FALLBACK,
            MPS_FALLBACK,
        )
    if s.quiet:
        _silence_loading_progress()
    pipe = MimicMotionPipeline.from_pretrained(s.base_model, checkpoint=s.checkpoint, torch_dtype=dtype)
    if s.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif s.offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    if s.forward_chunking:
        pipe.unet.enable_forward_chunking()  # frame by frame, in the spatial and the temporal layers
    if device.type == "cuda":
        # Process-wide, so set either way: a pipeline loaded after one with --tf32 gets what it asks for.
        # Convolutions run in TF32 by PyTorch's default already; matmuls do not.
        torch.set_float32_matmul_precision("high" if s.tf32 else "highest")
    if s.compile:
        compile_models(pipe)
    return pipe


def compile_models(pipe) -> None:
    """`torch.compile` the unet's blocks and the VAE decoder, where the time goes; compiled at their first
    call (`mimicmotion.estimate` makes that call and says how long it took).

    Block by block rather than the whole unet: the pose features enter through a hook on its `conv_in`,
    a hook a whole-model graph would have to be compiled again for at every call.
    """
    unet = pipe.unet
    for block in (*unet.down_blocks, unet.mid_block, *unet.up_blocks):
        block.compile()
    pipe.vae.decoder.compile()


def shared_loader() -> Callable[[AnimateSettings], Any]:
    """A `load` for `animate` that loads the pipeline once for all cases with the same weights."""
    loaded: dict[tuple, Any] = {}

    def load(s: AnimateSettings):
        key = (s.base_model, s.checkpoint, s.device, s.dtype, s.offload, s.forward_chunking, s.compile)
        key += (s.tf32,)
        if key not in loaded:
            loaded.clear()  # one model in memory at a time
            loaded[key] = load_pipeline(s)
        return loaded[key]

    return load


def _silence_loading_progress() -> None:
    import diffusers
    import huggingface_hub
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()
