"""`mimicmotion prepare-data`: the keypoints of every training video, detected once (or given).

For each video in a folder (searched recursively) the output holds one folder
`OUT/videos/<name>-<hash>/` with
- `pose.npz`: the PoseSequence of every frame (confidences kept; frames without a person filled from
  their neighbours with lowered confidence, as inference does);
- `meta.json`: the source path, frame count, fps, size, the presentation timestamps of the frames (for
  seeking to a clip at training time), frames with a person, and where the poses came from (the
  detector that ran, or "given" and the pose file).
`meta.json` is written last and atomically, so a folder with it is complete: a rerun skips those
videos, and an interrupted run leaves nothing that looks finished. Videos that cannot be used get a
`skipped.json` with the reason (unreadable, bad pose file, no person) and are not retried unless asked.
Frames are not stored: training decodes them from the source video at the size it needs.

Given poses: a video shipped with its keypoints (`clip.mp4` beside `clip.npz`, a file written by
`PoseSequence.save`: one entry per frame, frame_indices 0..n-1, coordinates normalised by the video's
upright width and height) is not detected; its poses are checked against the video and used as they
are. No detector is made unless some video has no pose file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from mimicmotion.config import pose_backend_option
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import option

if TYPE_CHECKING:
    from mimicmotion.pose import PoseSequence
    from mimicmotion.video import VideoInfo

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif")
VIDEOS_FOLDER = "videos"
POSE_FILE = "pose.npz"
META_FILE = "meta.json"
SKIPPED_FILE = "skipped.json"
REPORT_FILE = "report.json"
FORMAT_VERSION = 1
GIVEN_POSE_SUFFIX = ".npz"  # clip.mp4 ships its poses as clip.npz
GIVEN = "given"  # meta.json's pose_backend for poses read from a pose file


@dataclass(frozen=True)
class PrepareSettings:
    pose_backend: str = pose_backend_option()
    min_person_fraction: float = option(
        0.5, "skip videos with a person in fewer than this fraction of frames", metavar="F"
    )


@dataclass
class PrepareReport:
    prepared: list[str] = field(default_factory=list)
    already_done: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # video -> reason

    def summary(self) -> str:
        text = (
            f"{len(self.prepared)} prepared, {len(self.already_done)} already done, "
            f"{len(self.skipped)} skipped"
        )
        return text + "".join(
            f"\n  skipped {video}: {reason}" for video, reason in sorted(self.skipped.items())
        )


def find_videos(folder: str | os.PathLike) -> list[Path]:
    """Video files under `folder` (recursively), in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MimicMotionError(f"video folder not found: {folder}")
    videos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise MimicMotionError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {folder}")
    return videos


def given_pose_file(video: Path) -> Path | None:
    """The pose file shipped beside `video` (same name, suffix .npz), or None."""
    path = video.with_suffix(GIVEN_POSE_SUFFIX)
    return path if path.is_file() else None


def entry_name(video: Path, root: Path) -> str:
    """A folder name unique to the video's path under `root`, readable and filesystem-safe."""
    relative = video.relative_to(root).as_posix()
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", video.stem)[:60]
    return f"{stem}-{hashlib.sha1(relative.encode()).hexdigest()[:10]}"


def read_meta(folder: Path) -> dict:
    path = folder / META_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise MimicMotionError(f"cannot read {path}: {error}") from None
    if meta.get("format") != FORMAT_VERSION:
        raise MimicMotionError(
            f"{path} has format {meta.get('format')}, expected {FORMAT_VERSION}; prepare again"
        )
    return meta


def _write_json(path: Path, value: dict, indent: int | None = 1) -> None:
    from mimicmotion.video import atomic_output

    with atomic_output(path) as temp:
        temp.write_text(json.dumps(value, indent=indent))


# --------------------------------------------------------------------------------------- one video


def frame_timestamps(path: Path) -> list[int] | None:
    """Presentation timestamps of the frames, in order, from the packets (no decoding); None if unknown."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = [packet.pts for packet in container.demux(stream) if packet.size]
    if not pts or any(p is None for p in pts):
        return None
    return sorted(pts)


def prepare_video(
    video: Path, entry: Path, settings: PrepareSettings, given: Path | None = None
) -> str | None:
    """Detect (or read from the pose file `given`), check and store one video in `entry`; the reason it
    was skipped, or None when done."""
    from mimicmotion.pose import detect_poses, fill_gaps
    from mimicmotion.video import probe_video

    try:
        info = probe_video(video)
        timestamps = frame_timestamps(video)
        if given is None:
            # stride 1: every frame the released rule samples at this frame rate (all of them up to 24 fps)
            raw = detect_poses(video, settings.pose_backend, stride=1, progress=False)
    except MimicMotionError as error:  # the backend was checked before, so this is about the video
        return f"unreadable: {error}"
    except Exception as error:  # decoders fail in many ways on broken files
        return f"unreadable: {type(error).__name__}: {error}"
    if given is not None:
        raw = read_given_poses(given, info)
        if isinstance(raw, str):
            return f"bad pose file: {raw}"
    person = raw.has_person()
    if person.mean() < settings.min_person_fraction:
        where = "" if given is None else f" of the pose file {given}"
        return f"no person: found in {int(person.sum())} of {len(raw)} frames{where}"
    poses, _ = fill_gaps(raw)

    entry.mkdir(parents=True, exist_ok=True)
    poses.save(entry / POSE_FILE)
    meta = {
        "format": FORMAT_VERSION,
        "video": str(video.resolve()),
        "num_frames": info.num_frames,
        "pose_frames": len(poses),
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "frame_pts": timestamps if timestamps is not None and len(timestamps) == info.num_frames else None,
        "person_frames": int(person.sum()),
        "pose_backend": settings.pose_backend if given is None else GIVEN,
        "pose_file": None if given is None else str(given.resolve()),
    }
    _write_json(entry / META_FILE, meta, indent=None)  # long per-frame lists: one line
    return None


def read_given_poses(path: Path, info: VideoInfo) -> PoseSequence | str:
    """The poses of the video `info` describes from its pose file `path`, as detection at stride 1 would
    give them (raw: frames without a person left empty); or what is wrong with the file.

    The file holds one entry per frame (frame_indices 0..n-1) in the video's upright size. Above 48 fps
    detection samples every k-th frame (the released rule), so only those entries are kept and training
    sees given and detected videos alike; a file holding just those entries (what `mimicmotion pose
    --stride 1` writes) is taken too. The frame rate is the video's.
    """
    from mimicmotion.pose import PoseSequence
    from mimicmotion.pose.types import REFERENCE_FRAME_INDEX
    from mimicmotion.video import driving_frame_step

    try:
        poses = PoseSequence.load(path)
    except MimicMotionError as error:  # its messages name the file
        return str(error)
    if (poses.width, poses.height) != (info.width, info.height):
        return (
            f"{path} is for frames of {poses.width}x{poses.height}, the video's are "
            f"{info.width}x{info.height} (coordinates are normalised by the video's upright size)"
        )
    if len(poses) and poses.frame_indices[0] == REFERENCE_FRAME_INDEX:
        return (
            f"{path} starts with a reference image's pose (frame index -1; `mimicmotion pose --ref` writes "
            "those, moved onto that image): give the video's own poses"
        )
    every = np.arange(info.num_frames)
    step = driving_frame_step(info.fps, 1)
    if np.array_equal(poses.frame_indices, every):
        poses = poses.select(slice(None, None, step))
    elif step == 1 or not np.array_equal(poses.frame_indices, every[::step]):
        found = poses.frame_indices
        numbers = f"{found[0]}..{found[-1]}" if len(found) else "none"
        return (
            f"{path} has {len(poses)} entries (frame indices {numbers}), the video {info.num_frames} "
            f"frames: give one entry per frame, frame indices 0..{info.num_frames - 1}"
        )
    return dataclasses.replace(poses, fps=info.fps)


def _prepare_one(
    video: str, entry: str, settings: PrepareSettings, given: str | None
) -> tuple[str, str | None]:
    return video, prepare_video(Path(video), Path(entry), settings, None if given is None else Path(given))


# -------------------------------------------------------------------------------------- all videos


def prepare_data(
    videos: str | os.PathLike,
    out: str | os.PathLike,
    settings: PrepareSettings = PrepareSettings(),
    workers: int = 1,
    retry_skipped: bool = False,
    progress: bool = True,
) -> PrepareReport:
    """Prepare every video under `videos` into `out`, `workers` videos at a time; see the module docstring."""
    root = Path(videos)
    files = find_videos(root)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MimicMotionError(f"output path is not a folder: {out}")
    if workers < 1:
        raise MimicMotionError(f"workers must be at least 1, got {workers}")
    if not 0.0 <= settings.min_person_fraction <= 1.0:
        raise MimicMotionError(
            f"min person fraction must be within [0, 1], got {settings.min_person_fraction}"
        )
    report = PrepareReport()
    todo: list[tuple[str, str, str | None]] = []  # video, entry, its pose file
    for video in files:
        entry = out / VIDEOS_FOLDER / entry_name(video, root)
        if (entry / META_FILE).is_file():
            report.already_done.append(str(video))
        elif (entry / SKIPPED_FILE).is_file() and not retry_skipped:
            report.skipped[str(video)] = json.loads((entry / SKIPPED_FILE).read_text())["reason"]
        else:
            given = given_pose_file(video)
            todo.append((str(video), str(entry), None if given is None else str(given)))

    undetected = [video for video, _, given in todo if given is None]
    if undetected:  # no detector is made when every video to do comes with its poses
        settings = _with_detector(settings, undetected, progress)
    (out / VIDEOS_FOLDER).mkdir(parents=True, exist_ok=True)

    bar = tqdm(total=len(todo), unit="video", desc="prepare-data", disable=not progress, dynamic_ncols=True)

    def record(video: str, entry: str, reason: str | None) -> None:
        if reason is None:
            report.prepared.append(video)
            Path(entry, SKIPPED_FILE).unlink(missing_ok=True)
        else:
            report.skipped[video] = reason
            Path(entry).mkdir(parents=True, exist_ok=True)
            _write_json(Path(entry) / SKIPPED_FILE, {"video": video, "reason": reason})
        bar.update()

    try:
        if workers == 1 or len(todo) <= 1:
            for video, entry, given in todo:
                poses = None if given is None else Path(given)
                record(video, entry, prepare_video(Path(video), Path(entry), settings, poses))
        else:
            # spawn: detectors hold threads and native state that do not survive a fork
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {
                    pool.submit(_prepare_one, video, entry, settings, given): entry
                    for video, entry, given in todo
                }
                for future in as_completed(futures):
                    video, reason = future.result()
                    record(video, futures[future], reason)
    finally:
        bar.close()
        _write_json(out / REPORT_FILE, asdict(report) | {"settings": asdict(settings)})
    return report


def _with_detector(settings: PrepareSettings, videos: list[str], progress: bool) -> PrepareSettings:
    """`settings` naming the detector that runs (every video gets the same one), checked to be at hand
    once here (an uninstalled backend or missing weights stop the run, not each video)."""
    from mimicmotion.pose import choose_backend, get_backend

    try:
        detector, why = choose_backend(settings.pose_backend)
        get_backend(detector).close()
    except MimicMotionError as error:
        first = Path(videos[0])
        raise MimicMotionError(
            f"poses must be detected for {len(videos)} video(s) without a pose file beside them (e.g. "
            f"{first} has no {first.with_suffix(GIVEN_POSE_SUFFIX).name}): {error}"
        ) from None
    if progress:
        print(why, flush=True)
    return dataclasses.replace(settings, pose_backend=detector)
