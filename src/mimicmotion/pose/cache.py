"""Driving-video poses cached on disk, so that a second run on the same video skips detection.

An entry is keyed by the video's content (not its name or date), the pose backend, the stride and
the frame limit; it holds the raw detections in driving-frame coordinates (a PoseSequence .npz,
frames without a person left empty), so retargeting and rendering settings can change without
detecting again.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.types import PoseSequence
from mimicmotion.video import atomic_output

log = logging.getLogger("mimicmotion.pose")

CACHE_VERSION = 2  # 2: every person of a frame, float64, DWPose points no longer dropped


def cache_dir() -> Path:
    """$MIMICMOTION_CACHE, or ~/.cache/mimicmotion (XDG_CACHE_HOME respected)."""
    if os.environ.get("MIMICMOTION_CACHE"):
        return Path(os.environ["MIMICMOTION_CACHE"])
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "mimicmotion"


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of the names and contents of the files of a folder."""
    digest = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.name.encode() if path.is_dir() else b"")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def cache_path(video: str | os.PathLike, backend: str, stride: int, max_frames: int | None) -> Path:
    key = f"v{CACHE_VERSION}-{content_hash(video)}-{backend}-s{stride}-m{max_frames or 'all'}"
    return cache_dir() / "poses" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.npz"


def cached_poses(
    video: str | os.PathLike,
    backend: str,
    stride: int,
    max_frames: int | None,
    extract: Callable[[], PoseSequence],
) -> PoseSequence:
    """The cached poses of `video` for these settings, or `extract()` stored for next time.

    What happens is logged (logger "mimicmotion.pose"): a reuse, an unreadable entry, a cache that
    cannot be written (which does not stop the run: the cache only saves time).
    """
    path = cache_path(video, backend, stride, max_frames)
    if path.is_file():
        try:
            poses = PoseSequence.load(path)
        except MimicMotionError:
            log.warning("ignoring an unreadable pose cache entry %s", path)
        else:
            log.info("reusing the poses of %s extracted before (%s)", video, path)
            return poses
    poses = extract()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as temp:
            poses.save(temp)
    except (OSError, MimicMotionError) as error:
        log.warning(
            "could not store the poses in the cache (%s); set MIMICMOTION_CACHE to a writable folder", error
        )
    return poses
