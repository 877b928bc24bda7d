"""The same generation with each fusion strategy and one seed, and their temporal figures.

The paper's claim for progressive latent fusion is smoother transitions at window boundaries
(Fig. 9). This runs `animate` once per strategy (the driving poses are extracted once and then
taken from the pose cache) and measures each video: the mean difference of consecutive frames and
the boundary flicker (mean difference where the covering windows change over the mean elsewhere).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimicmotion.animate import animate
from mimicmotion.config import AnimateSettings
from mimicmotion.eval.report import format_number, format_table, json_ready
from mimicmotion.eval.temporal import TemporalSummary, frame_differences, temporal_summary
from mimicmotion.video import atomic_output, iter_frames, make_folder
from mimicmotion.windows import FUSIONS, load_window_layout, window_layout_path


def compare_fusion(
    settings: AnimateSettings, folder: Path, load: Callable[[AnimateSettings], Any] | None = None
) -> dict[str, TemporalSummary]:
    """Write `<folder>/<fusion>.mp4` for every fusion and return each video's temporal summary."""
    make_folder(folder)
    summaries = {}
    for fusion in FUSIONS:
        video = animate(
            settings.replace(fusion=fusion, out=folder / f"{fusion}.mp4", side_by_side=False), load
        )
        summaries[fusion] = measure(video)
    return summaries


def measure(video: Path) -> TemporalSummary:
    """Temporal summary of a generated video, with the boundaries of its saved window layout."""
    differences = frame_differences(frame for _, frame in iter_frames(video))
    layout = load_window_layout(window_layout_path(video))
    return temporal_summary(differences, layout.boundary_transitions(len(differences) + 1))


def summary_table(summaries: dict[str, TemporalSummary]) -> str:
    header = ["fusion", "mean |frame diff|", "at boundaries", "inside windows", "boundary flicker"]
    rows = [
        [name]
        + [
            format_number(v, 3)
            for v in (s.mean_difference, s.boundary_mean, s.interior_mean, s.boundary_flicker)
        ]
        for name, s in summaries.items()
    ]
    return format_table(header, rows)


def write_report(path: Path, summaries: dict[str, TemporalSummary], settings: AnimateSettings) -> Path:
    import json

    document = {
        "seed": settings.seed,
        "tile_size": settings.tile_size,
        "tile_overlap": settings.tile_overlap,
        "steps": settings.steps,
        "fusions": {name: json_ready(dataclasses.asdict(s)) for name, s in summaries.items()},
    }
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path
