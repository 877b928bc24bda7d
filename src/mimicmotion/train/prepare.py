"""`mimicmotion prepare-data`: the keypoints of every training video, detected once.

For each video in a folder (searched recursively) the output holds one folder
`OUT/videos/<name>-<hash>/` with
- `pose.npz`: the PoseSequence of every frame (confidences kept; frames without a person filled from
  their neighbours with lowered confidence, as inference does);
- `meta.json`: the source path, frame count, fps, size, the presentation timestamps of the frames (for
  seeking to a clip at training time), frames with a person, and per-frame hand boxes in source pixels
  (the boxes the training loss weights, for the threshold and padding recorded beside them).
`meta.json` is written last and atomically, so a folder with it is complete: a rerun skips those
videos, and an interrupted run leaves nothing that looks finished. Videos that cannot be used get a
`skipped.json` with the reason (unreadable, no person) and are not retried unless asked. Frames are
not stored: training decodes them from the source video at the size it needs.
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

from tqdm.auto import tqdm

from mimicmotion.config import pose_backend_option
from mimicmotion.errors import MimicMotionError
from mimicmotion.settings import option

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif")
VIDEOS_FOLDER = "videos"
POSE_FILE = "pose.npz"
META_FILE = "meta.json"
SKIPPED_FILE = "skipped.json"
REPORT_FILE = "report.json"
FORMAT_VERSION = 1


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


def prepare_video(video: Path, entry: Path, settings: PrepareSettings) -> str | None:
    """Detect, check and store one video in `entry`; the reason it was skipped, or None when done."""
    from mimicmotion.pose import detect_poses, fill_gaps
    from mimicmotion.video import probe_video

    try:
        info = probe_video(video)
        timestamps = frame_timestamps(video)
        # stride 1: every frame the released rule samples at this frame rate (all of them up to 24 fps)
        raw = detect_poses(video, settings.pose_backend, stride=1, progress=False)
    except MimicMotionError as error:  # the backend was checked before, so this is about the video
        return f"unreadable: {error}"
    except Exception as error:  # decoders fail in many ways on broken files
        return f"unreadable: {type(error).__name__}: {error}"
    person = raw.has_person()
    if person.mean() < settings.min_person_fraction:
        return f"no person: found in {int(person.sum())} of {len(raw)} frames"
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
        "pose_backend": settings.pose_backend,
    }
    _write_json(entry / META_FILE, meta, indent=None)  # long per-frame lists: one line
    return None


def _prepare_one(video: str, entry: str, settings: PrepareSettings) -> tuple[str, str | None]:
    return video, prepare_video(Path(video), Path(entry), settings)


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
    from mimicmotion.pose import choose_backend, get_backend

    detector, why = choose_backend(settings.pose_backend)
    if progress:
        print(why, flush=True)
    settings = dataclasses.replace(settings, pose_backend=detector)  # every video gets the same detector
    get_backend(detector).close()  # an uninstalled backend or missing weights stop here, not per video
    (out / VIDEOS_FOLDER).mkdir(parents=True, exist_ok=True)

    report = PrepareReport()
    todo: list[tuple[str, str]] = []
    for video in files:
        entry = out / VIDEOS_FOLDER / entry_name(video, root)
        if (entry / META_FILE).is_file():
            report.already_done.append(str(video))
        elif (entry / SKIPPED_FILE).is_file() and not retry_skipped:
            report.skipped[str(video)] = json.loads((entry / SKIPPED_FILE).read_text())["reason"]
        else:
            todo.append((str(video), str(entry)))

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
            for video, entry in todo:
                record(video, entry, prepare_video(Path(video), Path(entry), settings))
        else:
            # spawn: detectors hold threads and native state that do not survive a fork
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = {pool.submit(_prepare_one, video, entry, settings): entry for video, entry in todo}
                for future in as_completed(futures):
                    video, reason = future.result()
                    record(video, futures[future], reason)
    finally:
        bar.close()
        _write_json(out / REPORT_FILE, asdict(report) | {"settings": asdict(settings)})
    return report
