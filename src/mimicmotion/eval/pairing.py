"""Pairing generated videos with their ground truth by name.

A "video" is a video file (mp4, mov, webm, mkv, avi, gif, ...) or a folder of images (frames in
natural name order). PRED and GT are each either one video, or a folder of videos; in the latter
case the members are paired by name stem (`00335.mp4` with `00335.mp4`, `00335/` or `00335.gif`).
A member folder without images but with an `images/` subfolder (the TikTok dataset's layout,
`00335/images/0001.png`) stands for that subfolder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mimicmotion.errors import MimicMotionError
from mimicmotion.video import IMAGE_SUFFIXES

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v", ".gif")


@dataclass(frozen=True)
class VideoPair:
    name: str
    pred: Path
    gt: Path


def pair_videos(pred: Path, gt: Path, warn: Callable[[str], None]) -> list[VideoPair]:
    """The (pred, gt) pairs to compare, in name order; unmatched names are reported via `warn`."""
    for label, path in (("prediction", pred), ("ground truth", gt)):
        if not path.exists():
            raise MimicMotionError(f"{label} not found: {path}")
    pred_set, gt_set = _members(pred), _members(gt)
    if pred_set is None and gt_set is None:
        return [VideoPair(_stem(pred), _frames_folder(pred), _frames_folder(gt))]
    if pred_set is None or gt_set is None:
        single, folder = (pred, gt) if pred_set is None else (gt, pred)
        raise MimicMotionError(
            f"{single} is a single video but {folder} is a folder of videos: give two videos or two folders"
        )
    names = sorted(pred_set.keys() & gt_set.keys())
    if not names:
        raise MimicMotionError(
            f"no video names in {pred} match those in {gt} "
            f"(prediction: {_sample(pred_set)}; ground truth: {_sample(gt_set)})"
        )
    for label, only, other in (
        ("prediction", sorted(pred_set.keys() - gt_set.keys()), gt),
        ("ground truth", sorted(gt_set.keys() - pred_set.keys()), pred),
    ):
        if only:
            more = " ..." if len(only) > 5 else ""
            listed = ", ".join(only[:5]) + more
            warn(f"{len(only)} {label} video(s) have no match in {other} and are skipped: {listed}")
    return [VideoPair(name, pred_set[name], gt_set[name]) for name in names]


def _members(path: Path) -> dict[str, Path] | None:
    """Name -> video for a folder of videos; None when `path` is itself one video."""
    if path.is_file() or _has_images(path) or _frames_folder(path) != path:
        return None  # a video file, a folder of images, or a TikTok-style sequence folder
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    videos = {p.stem: p for p in entries if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES}
    folders = {p.name: _frames_folder(p) for p in entries if p.is_dir()}
    if not videos and not folders:
        raise MimicMotionError(f"{path} holds no videos, image folders or images")
    clash = sorted(videos.keys() & folders.keys())
    if clash:
        raise MimicMotionError(f"{path} holds both a video and a folder named {clash[0]!r}; keep one")
    return {**folders, **videos}


def _frames_folder(path: Path) -> Path:
    if path.is_dir() and not _has_images(path) and (path / "images").is_dir():
        return path / "images"
    return path


def _has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir())


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def _sample(members: dict[str, Path]) -> str:
    names = sorted(members)
    return ", ".join(names[:5]) + (" ..." if len(names) > 5 else "") if names else "none"
