"""Generating the held-out test cases with a trained model, and scoring the frames against ground truth.

Generation takes the path `mimicmotion animate` takes (`mimicmotion.generation`: reference prepared,
driving keypoints moved onto it and drawn, windowed sampling, decoding); only the detector is replaced
by the keypoints the world reports (`GivenPoseBackend` for the reference picture, the observed
keypoints for the driving frames), since the toy figures are not people a detector knows.

Scores per video, over its generated frames 1..T against the true frames:
- PSNR and SSIM of the whole frame (`mimicmotion.eval.frames`);
- PSNR and SSIM of the hand regions: square boxes around each true hand (its 21 points, padded by
  half the hand's size, at least 16 pixels), scored box by box;
- silhouette IoU: a generated pixel is figure where it differs from the known background by more than
  BACKGROUND_TOLERANCE in some channel; the true silhouette comes from the renderer (against the VAE's
  round trip, see `through_vae`, it is found the same way in the round trip's frames);
- for long videos, the boundary flicker of `mimicmotion evaluate` (frame differences at window
  boundaries over those inside windows).

Every model's frames come out of the toy VAE's decoder, so what the VAE loses in its own round trip of
the truth every model loses too. `through_vae` gives each case a second truth, its frames and background
encoded and decoded by that VAE: scored against it, the model is measured on what MimicMotion training
is responsible for (which latents it makes), apart from what the VAE loses, the same for every arm.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from mimicmotion.config import AnimateSettings
from mimicmotion.eval.frames import psnr, ssim
from mimicmotion.eval.temporal import frame_differences, temporal_summary
from mimicmotion.pose.types import LEFT_HAND, RIGHT_HAND
from mimicmotion.windows.layout import make_window_layout

from .world import TestCase, WorldSize, to_sequence

BACKGROUND_TOLERANCE = 40
HAND_BOX_MIN = 16
PSNR_CAP = 100.0  # identical frames: infinite PSNR, capped so that means stay finite


@dataclass
class Generated:
    frames: np.ndarray  # (T, H, W, 3) uint8, the reference left out
    windows: list[list[int]] = field(default_factory=list)


def generate(pipe, case: TestCase, settings: AnimateSettings, size: WorldSize) -> Generated:
    """The model's video of `case`: its frame 0 animated with the observed keypoints of frames 1..T."""
    from mimicmotion.generation import pose_inputs, sample, video_frames
    from mimicmotion.pose import GivenPoseBackend

    observed = to_sequence(case.observed, size)
    reference_pose = GivenPoseBackend(observed.select([0]))
    driving = observed.select(slice(1, None))
    inputs = pose_inputs(settings, case.frames[0], driving, reference_pose, size=(size.height, size.width))
    with inputs.pose_frames:
        output = sample(pipe, inputs, settings)
    return Generated(np.stack(list(video_frames(pipe, output.frames))), output.windows)


@torch.no_grad()
def round_trip(vae, frames: np.ndarray) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 encoded (posterior mode, as the pipeline encodes the reference) and
    decoded by `vae`, DECODE_CHUNK_SIZE frames per decoding call as the pipeline decodes."""
    from mimicmotion.controls import DECODE_CHUNK_SIZE

    pictures = []
    for start in range(0, len(frames), DECODE_CHUNK_SIZE):
        chunk = torch.from_numpy(frames[start : start + DECODE_CHUNK_SIZE]).permute(0, 3, 1, 2)
        x = (chunk.float() / 127.5 - 1.0).to(vae.device, vae.dtype)
        y = vae.decode(vae.encode(x).latent_dist.mode(), num_frames=len(x)).sample.float().cpu()
        pictures.append(((y.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    return np.concatenate(pictures)


def through_vae(vae, case: TestCase) -> TestCase:
    """`case` as the VAE reproduces it: its frames and background encoded and decoded, and its
    silhouettes the ones `silhouette` finds in those frames (keypoints kept).

    The silhouettes are found again rather than kept from the renderer because the toy VAE's colour
    error on flat backgrounds (about 44 grey levels in the largest channel) exceeds
    BACKGROUND_TOLERANCE: against the renderer's silhouettes the truth's own round trip scored IoU 0.28,
    so that IoU measured the VAE's background noise more than where the figure was."""
    background = round_trip(vae, case.background[None])[0]
    frames = round_trip(vae, case.frames)
    return replace(case, frames=frames, background=background, silhouettes=silhouette(frames, background))


def both_truths(generated: Generated, case: TestCase, vae_case: TestCase) -> dict[str, float]:
    """Scores against the true frames, and (keys prefixed "vae_") against the VAE's round trip of them."""
    against_vae = {f"vae_{key}": value for key, value in scores(generated, vae_case).items()}
    return {**scores(generated, case), **against_vae}


def repeated_reference(case: TestCase) -> Generated:
    """The baseline that does nothing: the reference picture shown for every frame."""
    return Generated(np.repeat(case.frames[:1], len(case.frames) - 1, axis=0))


def hand_boxes(points: np.ndarray, height: int, width: int) -> list[tuple[slice, slice]]:
    """Square boxes (rows, columns) around the two true hands of one frame (128, 3, pixels)."""
    boxes = []
    for hand in (LEFT_HAND, RIGHT_HAND):
        xy = points[hand, :2]
        low, high = xy.min(axis=0), xy.max(axis=0)
        side = max(HAND_BOX_MIN, 1.5 * float((high - low).max()))
        centre = (low + high) / 2
        x0 = int(np.clip(round(centre[0] - side / 2), 0, max(0, width - side)))
        y0 = int(np.clip(round(centre[1] - side / 2), 0, max(0, height - side)))
        side = round(side)
        boxes.append((slice(y0, min(height, y0 + side)), slice(x0, min(width, x0 + side))))
    return boxes


def silhouette(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    difference = np.abs(frames.astype(np.int16) - background.astype(np.int16)).max(axis=-1)
    return difference > BACKGROUND_TOLERANCE


def scores(generated: Generated, case: TestCase) -> dict[str, float]:
    truth = case.frames[1:]
    frames = generated.frames
    height, width = truth.shape[1:3]
    hand_psnr, hand_ssim = [], []
    for frame, true, points in zip(frames, truth, case.points[1:], strict=True):
        for rows, cols in hand_boxes(points, height, width):
            if rows.stop - rows.start >= 11 and cols.stop - cols.start >= 11:  # SSIM's 11-pixel window
                hand_psnr.append(psnr(frame[rows, cols], true[rows, cols]))
                hand_ssim.append(ssim(frame[rows, cols], true[rows, cols]))
    found = silhouette(frames, case.background)
    true_masks = case.silhouettes[1:]
    iou = (found & true_masks).sum(axis=(1, 2)) / np.maximum((found | true_masks).sum(axis=(1, 2)), 1)
    result = {
        "psnr": float(
            np.mean(np.minimum([psnr(f, t) for f, t in zip(frames, truth, strict=True)], PSNR_CAP))
        ),
        "ssim": float(np.mean([ssim(f, t) for f, t in zip(frames, truth, strict=True)])),
        "hand_psnr": float(np.mean(np.minimum(hand_psnr, PSNR_CAP))),
        "hand_ssim": float(np.mean(hand_ssim)),
        "iou": float(iou.mean()),
    }
    if generated.windows:
        layout = make_window_layout(generated.windows, len(frames) + 1)
        summary = temporal_summary(frame_differences(frames), layout.boundary_transitions(len(frames)))
        result["flicker"] = summary.boundary_flicker
    return result


def evaluation_settings(
    out: Path, model: tuple[Path, Path], device: str, style: str, tile_size: int, steps: int, seed: int
) -> AnimateSettings:
    """What the test videos are made with: `animate`'s defaults but for the model (base folder,
    trained checkpoint), fp32 on `device`, the window size (the clip length trained on), the step
    count, the pose style the model was trained with, and no retargeting (the observed keypoints
    already belong to the pictured figure)."""
    return AnimateSettings(
        out=out,
        base_model=str(model[0]),
        checkpoint=str(model[1]),
        device=device,
        dtype="fp32",
        tile_size=tile_size,
        tile_overlap=2,
        steps=steps,
        seed=seed,
        pose_style=style,
        retarget="none",
        quiet=True,
    )


def with_fusion(settings: AnimateSettings, fusion: str) -> AnimateSettings:
    return replace(settings, fusion=fusion)
