"""The same generation with each fusion strategy and one seed, and their temporal figures.

The paper's claim for progressive latent fusion is smoother transitions at window boundaries
(Fig. 9). This is `mimicmotion compare` varying the fusion: one video per strategy, named by it, and each
video's mean difference of consecutive frames and boundary flicker (mean difference where the covering
windows change over the mean elsewhere).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimicmotion.compare import Variant, compare, measure, summary_table, write_report
from mimicmotion.config import AnimateSettings
from mimicmotion.eval.temporal import TemporalSummary
from mimicmotion.windows import FUSIONS


def compare_fusion(
    settings: AnimateSettings, folder: Path, load: Callable[[AnimateSettings], Any] | None = None
) -> dict[str, TemporalSummary]:
    """Write `<folder>/<fusion>.mp4` for every fusion and return each video's temporal summary."""
    variants = [Variant(fusion, {"fusion": fusion}) for fusion in FUSIONS]
    videos = compare(settings, folder, variants, load, name=lambda variant: f"{variant.name}.mp4")
    return {fusion: measure(video) for fusion, video in videos.items()}


def fusion_table(summaries: dict[str, TemporalSummary]) -> str:
    return summary_table(summaries, first="fusion")


def write_fusion_report(path: Path, summaries: dict[str, TemporalSummary], settings: AnimateSettings) -> Path:
    document = {
        "seed": settings.seed,
        "tile_size": settings.tile_size,
        "tile_overlap": settings.tile_overlap,
        "steps": settings.steps,
        "fusions": {name: dataclasses.asdict(s) for name, s in summaries.items()},
    }
    return write_report(path, document)
