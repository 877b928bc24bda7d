"""The same generation with settings varied, side by side: one model load, one video per variant, a grid.

`mimicmotion compare --vary pose-strength=0.5,1,1.5` runs `animate` once per value (every combination when
several settings vary) with the same seed, inputs and other settings; the driving poses are detected once
and then taken from the pose cache. Each video is measured for smoothness (the mean difference of
consecutive frames and the boundary flicker of its window layout, as `compare-fusion` does for the paper's
Fig. 9), and all of them are written side by side into one grid video, each labelled with its variant.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mimicmotion.animate import animate
from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.eval.report import format_number, format_table, json_ready
from mimicmotion.eval.temporal import TemporalSummary, frame_differences, temporal_summary
from mimicmotion.settings import check_keys, convert
from mimicmotion.video import atomic_output, iter_frames, make_folder, probe_video, video_writer
from mimicmotion.windows import load_window_layout, window_layout_path

# Settings a comparison cannot vary: where things are read and written, and how the run is reported.
FIXED = ("ref", "driving", "poses", "out", "quiet", "resume", "side_by_side")


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str  # "pose-strength=0.5", or "pose-strength=0.5 scheduler=dpm++2m"
    changes: dict[str, Any]  # AnimateSettings fields and their values


def parse_vary(specs: list[str]) -> list[Variant]:
    """The variants `--vary NAME=V1,V2,...` options give: every combination of their values.

    NAME is an option of `animate` (`pose-strength` or `pose_strength`); the values are separated by
    commas, or by semicolons when a value is itself a list (`pose-interval=0,0.5;0.2,1`).
    """
    axes = []
    names = [f.name for f in dataclasses.fields(AnimateSettings) if f.name not in FIXED]
    for spec in specs:
        key, equals, values = spec.partition("=")
        field = key.strip().lstrip("-").replace("-", "_")
        if not equals or not values.strip():
            raise MimicMotionError(f"--vary takes NAME=VALUE1,VALUE2,..., got {spec!r}")
        check_keys({field: None}, names, "--vary")
        if any(axis[0] == field for axis in axes):
            raise MimicMotionError(f"--vary: {key.strip()} is varied twice; give all its values once")
        separator = ";" if ";" in values else ","
        texts = [text.strip() for text in values.split(separator) if text.strip()]
        converted = [convert(AnimateSettings, field, text, f"--vary {key.strip()}") for text in texts]
        axes.append((field, list(zip(texts, converted, strict=True))))
    variants = []
    for combination in itertools.product(*(values for _, values in axes)):
        label = " ".join(
            f"{field.replace('_', '-')}={text}"
            for (field, _), (text, _) in zip(axes, combination, strict=True)
        )
        changes = {field: value for (field, _), (_, value) in zip(axes, combination, strict=True)}
        variants.append(Variant(label, changes))
    if len(variants) < 2:
        raise MimicMotionError("--vary: give at least two values to compare")
    return variants


def file_name(variant: Variant) -> str:
    """A file name for the variant's video: its label with characters unsafe in file names replaced."""
    safe = "".join(c if c.isalnum() or c in "=.-+_" else "_" for c in variant.name.replace(" ", "_"))
    return f"{safe}.mp4"


def compare(
    settings: AnimateSettings,
    folder: Path,
    variants: list[Variant],
    load: Callable[[AnimateSettings], Any] | None = None,
    name: Callable[[Variant], str] = file_name,
) -> dict[str, Path]:
    """Write each variant's video into `folder` (named by `name`), in order; returns label -> video."""
    make_folder(folder)
    videos = {}
    for variant in variants:
        case = settings.replace(**variant.changes, out=folder / name(variant), side_by_side=False)
        videos[variant.name] = animate(case, load)
    return videos


def measure(video: Path) -> TemporalSummary:
    """Temporal summary of a generated video, with the boundaries of its saved window layout."""
    differences = frame_differences(frame for _, frame in iter_frames(video))
    layout = load_window_layout(window_layout_path(video))
    return temporal_summary(differences, layout.boundary_transitions(len(differences) + 1))


def summary_table(summaries: dict[str, TemporalSummary], first: str = "variant") -> str:
    header = [first, "mean |frame diff|", "at boundaries", "inside windows", "boundary flicker"]
    rows = [
        [name]
        + [
            format_number(v, 3)
            for v in (s.mean_difference, s.boundary_mean, s.interior_mean, s.boundary_flicker)
        ]
        for name, s in summaries.items()
    ]
    return format_table(header, rows)


def write_report(path: Path, document: dict[str, Any]) -> Path:
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(json_ready(document), indent=1) + "\n", encoding="utf-8")
    return path


def write_grid(path: Path, videos: dict[str, Path], columns: int = 4) -> Path:
    """All videos side by side (`columns` to a row), each under a bar with its label, at the first video's
    frame rate; the grid lasts as long as the shortest video."""
    import cv2

    fps = probe_video(next(iter(videos.values()))).fps
    streams = [iter_frames(video) for video in videos.values()]
    labels = list(videos)
    with video_writer(path, fps) as writer:
        for frames in zip(*streams, strict=False):
            tiles = [_labelled(frame, label, cv2) for (_, frame), label in zip(frames, labels, strict=True)]
            writer.write(_grid(tiles, columns))
    return path


def _labelled(frame: np.ndarray, label: str, cv2) -> np.ndarray:
    width = frame.shape[1]
    scale = max(0.3, width / 640)
    bar_height = (int(24 * scale) + 9) // 2 * 2  # even, so that the frames below keep their even size
    bar = np.full((bar_height, width, 3), 255, dtype=np.uint8)
    cv2.putText(
        bar, label, (4, bar_height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 0), 1, cv2.LINE_AA
    )
    return np.concatenate([bar, frame], axis=0)


def _grid(tiles: list[np.ndarray], columns: int) -> np.ndarray:
    blank = np.zeros_like(tiles[0])
    rows = []
    for start in range(0, len(tiles), columns):
        row = tiles[start : start + columns]
        if rows:  # later rows are as wide as the first
            row = row + [blank] * (columns - len(row))
        rows.append(np.concatenate(row, axis=1))
    grid = np.concatenate(rows, axis=0)
    # H.264 in yuv420p needs even sides
    return grid[: grid.shape[0] // 2 * 2, : grid.shape[1] // 2 * 2]
