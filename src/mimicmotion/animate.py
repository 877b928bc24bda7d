"""From a photo and a dance video to an mp4: the main job, end to end, in bounded memory.

Cheap checks come first (files, sizes, options, output folder, a person in the reference), then
the weights are loaded and checked, then the driving poses are extracted (or taken from the pose
cache), then the video is denoised window by window and decoded chunk by chunk straight into the
output file. Nothing grows with the length of the video except the latents (a few hundred KB per
frame) and the keypoints; pose pictures live in a temporary file on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mimicmotion.config import DTYPE_NAMES, AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.eval.window_layout import save_window_layout, window_layout_path
from mimicmotion.pose import (
    BACKENDS,
    choose_backend,
    detect_poses,
    get_backend,
    prepare_reference,
    reference_first,
    reference_pose,
    render_pose_frames,
)
from mimicmotion.pose.reference import check_resolution
from mimicmotion.pose.render import check_style
from mimicmotion.pose.retargeting import check_mode
from mimicmotion.pose_cache import cached_poses
from mimicmotion.video import check_writable, iter_frames, probe_video, read_image, video_writer
from mimicmotion.windows import FUSIONS, plan_windows


def check_settings(settings: AnimateSettings) -> None:
    """Everything that can be checked without weights or pose detection; raises MimicMotionError."""
    check_inputs(settings)
    check_output(settings)


def check_output(s: AnimateSettings) -> None:
    if Path(s.out).suffix.lower() != ".mp4":
        raise MimicMotionError(f"the output must be an .mp4 file, got {s.out}")
    check_writable(s.out)


def check_inputs(settings: AnimateSettings) -> None:
    """The checks of `check_settings` that do not concern the output file."""
    s = settings
    if s.ref is None or s.driving is None or s.out is None:
        raise MimicMotionError(
            "need a reference image (--ref), a driving video (--driving) and an output (--out)"
        )
    read_image(s.ref)
    probe_video(s.driving)
    next(iter_frames(s.driving, max_frames=1))  # the first frame must decode, not just the header
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
    if s.fps <= 0:
        raise MimicMotionError(f"fps must be positive, got {s.fps}")
    if s.pose_backend not in BACKENDS:
        raise MimicMotionError(
            f"unknown pose backend {s.pose_backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    check_mode(s.retarget)
    check_style(s.pose_style)
    if s.dtype not in DTYPE_NAMES:
        raise MimicMotionError(f"unknown dtype {s.dtype!r}; choose one of {', '.join(DTYPE_NAMES)}")
    device = execution_device(s)
    if s.offload and device.type != "cuda":
        raise MimicMotionError("--offload moves idle parts of the model to the CPU; it needs --device cuda")


def execution_device(s: AnimateSettings) -> torch.device:
    """The device the settings ask for ("auto": CUDA when available)."""
    if s.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(s.device)
    except RuntimeError:
        raise MimicMotionError(f"unknown device {s.device!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MimicMotionError(f"--device {s.device} was asked for but no CUDA device is available")
    return device


def animate(settings: AnimateSettings, load: Callable[[AnimateSettings], Any] | None = None) -> Path:
    """Generate the video described by `settings` and return its path.

    `load(settings)` returns the pipeline (default `load_pipeline`); several cases can share one
    loaded model through it. It is called once the reference is known to show a person.
    """
    s = settings
    check_settings(s)
    note = _notifier(s.quiet)

    reference = prepare_reference(read_image(s.ref), s.resolution)
    height, width = reference.shape[:2]
    detector, why = choose_backend(s.pose_backend, s.dwpose_dir)
    with get_backend(detector, s.dwpose_dir) as backend:
        note(why)
        own_pose = reference_pose(reference, backend, str(s.ref))
        pipe = (load or load_pipeline)(s)

        def extract():
            return detect_poses(s.driving, backend, s.stride, s.max_frames, progress=not s.quiet)

        driving = cached_poses(s.driving, detector, s.stride, s.max_frames, extract, note)
    poses = reference_first(own_pose, driving, s.retarget, smooth=s.smooth)
    note(f"{len(poses) - 1} driving frames at {width}x{height}, {s.steps} steps, fusion {s.fusion}")

    # Pose pictures go to a temporary file beside the output (on disk, where the video goes too),
    # not to /tmp, which may be memory-backed.
    pictures = render_pose_frames(
        poses, height, width, s.pose_style, directory=Path(s.out).parent, progress=not s.quiet
    )
    with pictures as pose_frames:
        generator = torch.Generator(device=pipe._execution_device).manual_seed(s.seed)
        pipe.set_progress_bar_config(disable=s.quiet, desc="denoising", unit="window", dynamic_ncols=True)
        result = pipe(
            reference,
            pose_frames,
            tile_size=s.tile_size,
            tile_overlap=s.tile_overlap,
            fusion=s.fusion,
            num_inference_steps=s.steps,
            min_guidance_scale=s.min_guidance,
            max_guidance_scale=s.max_guidance,
            noise_aug_strength=s.noise_aug,
            generator=generator,
            output_type="latent",
        )
        _write_video(pipe, result.frames, s, reference, pose_frames)
    save_window_layout(
        window_layout_path(s.out),
        result.windows,
        len(poses),
        extra={"tile_size": s.tile_size, "tile_overlap": s.tile_overlap, "fusion": s.fusion, "seed": s.seed},
    )
    note(f"wrote {s.out}")
    return Path(s.out)


def _write_video(pipe, latents, s: AnimateSettings, reference: np.ndarray, pose_frames) -> None:
    """Decode chunk by chunk into the mp4; frame 0 (the reference) is not written."""
    from tqdm.auto import tqdm

    total = latents.shape[1] - 1
    with (
        video_writer(s.out, s.fps) as writer,
        tqdm(total=total, unit="frame", desc="writing", disable=s.quiet, dynamic_ncols=True) as progress,
    ):
        index = 0
        for chunk in pipe.decode_latents(latents):
            # uint8 by truncation, as the released code converts its frames
            frames = (chunk * 255.0).to(torch.uint8).permute(0, 2, 3, 1).numpy()
            for frame in frames:
                if index > 0:
                    if s.side_by_side:
                        pose = pose_frames[index].permute(1, 2, 0).numpy()
                        frame = np.concatenate([reference, pose, frame], axis=1)
                    writer.write(frame)
                    progress.update()
                index += 1


def load_pipeline(s: AnimateSettings):
    """The pipeline for these settings, on the chosen device and dtype (weights checked strictly)."""
    from mimicmotion.pipeline import MimicMotionPipeline

    device = execution_device(s)
    dtype_name = s.dtype if s.dtype != "auto" else ("fp16" if device.type == "cuda" else "fp32")
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype_name]
    if s.quiet:
        _silence_loading_progress()
    pipe = MimicMotionPipeline.from_pretrained(s.base_model, checkpoint=s.checkpoint, torch_dtype=dtype)
    if s.offload:
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    return pipe


def shared_loader() -> Callable[[AnimateSettings], Any]:
    """A `load` for `animate` that loads the pipeline once for all cases with the same weights."""
    loaded: dict[tuple, Any] = {}

    def load(s: AnimateSettings):
        key = (s.base_model, s.checkpoint, s.device, s.dtype, s.offload)
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


def _notifier(quiet: bool):
    def note(message: str) -> None:
        if not quiet:
            print(message, flush=True)

    return note
