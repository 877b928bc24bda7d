"""The one generation path: (reference image, driving video or poses, settings) -> frames -> video file.

`mimicmotion animate`, `compare`, `compare-fusion`, the benchmarks and training validation all come this
way, so a setting means the same everywhere and a validation video is what `animate` writes for the same
inputs (training without mixed precision; with it, validation runs under autocast):

1. `pose_inputs`: the reference prepared, the poses detected (or cached), retargeted, smoothed and drawn;
2. `sample`: the windowed sampler, seeded on the execution device as released;
3. `video_frames`: the latents decoded a few frames at a time (`--decode-chunk`) into uint8 frames
   (truncated, as released), the reference frame 0 left out;
4. `write_video`: the frames streamed into an H.264 file, optionally beside the reference and its pose.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mimicmotion.audio import AudioSpan
from mimicmotion.config import AnimateSettings
from mimicmotion.controls import DECODE_CHUNK_SIZE
from mimicmotion.parallel import WindowShare
from mimicmotion.pipeline import MimicMotionPipeline, MimicMotionPipelineOutput, PoseFrameSource, to_uint8
from mimicmotion.pose import PoseBackend, PoseSequence, build_pose_frames
from mimicmotion.pose.extract import sampled_frame_count
from mimicmotion.sampling import SamplerState
from mimicmotion.video import probe_video, video_writer

log = logging.getLogger("mimicmotion")


@dataclass
class PoseInputs:
    """What the sampler takes from the pose side; close `pose_frames` (a temporary file) when done."""

    reference: np.ndarray  # prepared reference image, RGB uint8 (H, W, 3)
    pose_frames: PoseFrameSource  # F pose pictures (PoseFrames on disk), frame 0 the reference's own pose
    poses: PoseSequence | None  # the keypoints they were drawn from


def pose_inputs(
    s: AnimateSettings,
    reference_image: np.ndarray | str | os.PathLike | None = None,
    driving: PoseSequence | str | os.PathLike | None = None,
    backend: str | PoseBackend | None = None,
    size: tuple[int, int] | None = None,
) -> PoseInputs:
    """The reference and pose pictures for settings `s` (its `ref` and `driving` unless given here), at
    the size its resolution gives, or at `size` (height, width).

    Pose pictures go to a temporary file beside the output (on disk, where the video goes too), not to
    /tmp, which may be memory-backed.
    """
    reference, pose_frames, poses = build_pose_frames(
        s.ref if reference_image is None else reference_image,
        s.motion if driving is None else driving,
        resolution=s.resolution,
        backend=s.pose_backend if backend is None else backend,
        retarget=s.retarget,
        style=s.pose_style,
        stride=s.stride,
        max_frames=s.max_frames,
        smooth=s.smooth,
        progress=not s.quiet,
        directory=Path(s.out).parent if s.out is not None else None,
        dwpose_dir=s.dwpose_dir,
        size=size,
    )
    height, width = reference.shape[:2]
    log.info(
        "%d driving frames at %dx%d, %d steps (%s), fusion %s",
        len(poses) - 1,
        width,
        height,
        s.step_count,
        s.scheduler,
        s.fusion,
    )
    return PoseInputs(reference, pose_frames, poses)


def driving_frame_count(s: AnimateSettings) -> int:
    """How many frames `pose_inputs(s)` gives the video (the reference not counted), known before any
    frame is decoded or detected: from the video's header, or the pose file's length."""
    if Path(s.motion).suffix.lower() == ".npz":
        total = len(PoseSequence.load(s.motion))
        return total if s.max_frames is None else min(total, s.max_frames)
    return sampled_frame_count(probe_video(s.motion), s.stride, s.max_frames)


def sample(
    pipe: MimicMotionPipeline,
    inputs: PoseInputs,
    s: AnimateSettings,
    resume: SamplerState | None = None,
    on_step: Callable[[SamplerState], None] | None = None,
    share: WindowShare | None = None,
) -> MimicMotionPipelineOutput:
    """The latents of the video (output_type "latent") and its windows, for settings `s`; continuing
    from `resume` when given; `on_step(state)` after each step (`mimicmotion.resume`); `share`: this
    process's share of the windows (`mimicmotion.parallel`)."""
    # The generator lives on the execution device, as the released code made it: a seed then gives the
    # released random numbers on a GPU too.
    generator = torch.Generator(device=pipe.execution_device).manual_seed(s.seed)
    pipe.set_progress_bar_config(disable=s.quiet, desc="denoising", unit="window", dynamic_ncols=True)
    return pipe(
        inputs.reference,
        inputs.pose_frames,
        tile_size=s.tile_size,
        tile_overlap=s.tile_overlap,
        fusion=s.fusion,
        num_inference_steps=s.steps,
        min_guidance_scale=s.min_guidance,
        max_guidance_scale=s.max_guidance,
        noise_aug_strength=s.noise_aug,
        generator=generator,
        output_type="latent",
        scheduler=s.scheduler,
        sigmas=s.sigmas,
        pose_strength=s.pose_strength,
        ref_strength=s.ref_strength,
        pose_interval=s.pose_interval,
        cfg_until=s.cfg_until,
        init_noise=s.init_noise,
        cfg_batch=s.cfg_batch,
        resume=resume,
        on_step=on_step,
        share=share,
    )


def video_frames(
    pipe: MimicMotionPipeline, latents: torch.Tensor, overlap: int = 0, chunk_size: int = DECODE_CHUNK_SIZE
) -> Iterator[np.ndarray]:
    """The video's RGB uint8 frames (H, W, 3), decoded `chunk_size` at a time (chunks sharing `overlap`
    frames); frame 0 (the reference) is left out."""
    first = True
    for chunk in pipe.decode_latents(latents, chunk_size, overlap):
        frames = to_uint8(chunk).permute(0, 2, 3, 1).numpy()
        yield from frames[1:] if first else frames
        first = False


def write_video(
    path: str | os.PathLike,
    frames: Iterator[np.ndarray],
    count: int,
    fps: float,
    beside: PoseInputs | None = None,
    audio: AudioSpan | None = None,
    progress: bool = True,
) -> Path:
    """Stream `count` frames into an H.264 mp4, or a lossless .mkv (`video_writer`; written under a
    temporary name, renamed at the end).

    With `beside`, each frame is written as reference | pose picture | frame; `audio`: the sound to add.
    """
    from tqdm.auto import tqdm

    with (
        video_writer(path, fps, audio=audio) as writer,
        tqdm(total=count, unit="frame", desc="writing", disable=not progress, dynamic_ncols=True) as bar,
    ):
        for index, frame in enumerate(frames, start=1):
            if beside is not None:
                pose = beside.pose_frames[index].permute(1, 2, 0).numpy()
                frame = np.concatenate([beside.reference, pose, frame], axis=1)
            writer.write(frame)
            bar.update()
    return Path(path)
