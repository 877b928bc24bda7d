"""Tables and JSON for evaluation results.

The summary table has the layout of the paper's Table 1 (one row per method: FID-VID, FVD,
SSIM, PSNR), followed by the extra columns that were asked for (LPIPS, temporal figures).
JSON has no infinity or NaN: such values (PSNR of identical frames, a flicker ratio without
boundaries) are written as null; the printed tables show them as inf / nan.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mimicmotion.eval.evaluate import EvalOptions, MethodResult, PairResult
from mimicmotion.eval.temporal import TemporalSummary
from mimicmotion.video import atomic_output

# (column title, JSON key, decimals)
_PAIR_COLUMNS = (
    ("PSNR↑", "psnr", 2),
    ("SSIM↑", "ssim", 3),
    ("LPIPS↓", "lpips", 3),
    ("diff", "mean_frame_difference", 2),
    ("gt diff", "gt_mean_frame_difference", 2),
    ("flicker", "boundary_flicker", 2),
)
_SUMMARY_COLUMNS = (
    ("FID-VID↓", "fid_vid", 1),
    ("FVD↓", "fvd", 0),
    ("SSIM↑", "ssim", 3),
    ("PSNR↑", "psnr", 1),
    ("LPIPS↓", "lpips", 3),
    ("diff", "mean_frame_difference", 2),
    ("flicker", "boundary_flicker", 2),
)


def pair_record(pair: PairResult) -> dict[str, Any]:
    record: dict[str, Any] = {"name": pair.name, "pred": str(pair.pred), "gt": str(pair.gt)}
    record.update(frames=pair.frames, psnr=pair.psnr, ssim=pair.ssim, lpips=pair.lpips)
    if pair.temporal is not None:
        record.update(_temporal_record(pair.temporal, with_boundaries=pair.boundary is not None))
        record["gt_mean_frame_difference"] = pair.gt_mean_difference
        record["window_layout"] = str(pair.window_layout) if pair.window_layout else None
    return record


def method_record(method: MethodResult) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "frames": method.frames,
        "fid_vid": method.fid_vid,
        "fvd": method.fvd,
        "fid_vid_frames": method.fid_frames,
        "fvd_clips": method.fvd_clips,
        "psnr": method.frame_mean("psnr"),
        "ssim": method.frame_mean("ssim"),
        "lpips": method.frame_mean("lpips"),
    }
    temporal = method.temporal()
    if temporal is not None:
        with_boundaries = any(pair.boundary is not None for pair in method.pairs)
        summary.update(_temporal_record(temporal, with_boundaries))
        summary["gt_mean_frame_difference"] = _transition_weighted_gt_difference(method)
    return {
        "label": method.label,
        "pred": str(method.pred),
        "summary": summary,
        "pairs": [pair_record(pair) for pair in method.pairs],
    }


def _transition_weighted_gt_difference(method: MethodResult) -> float | None:
    weighted = [(pair.gt_mean_difference, pair.frames - 1) for pair in method.pairs if pair.frames > 1]
    total = sum(count for _, count in weighted)
    if not total or any(value is None for value, _ in weighted):
        return None
    return sum(value * count for value, count in weighted) / total


def _temporal_record(summary: TemporalSummary, with_boundaries: bool) -> dict[str, Any]:
    """Boundary figures only where a window layout was known (they are undefined elsewhere)."""
    record: dict[str, Any] = {"mean_frame_difference": summary.mean_difference}
    if with_boundaries:
        record.update(
            boundary_transitions=summary.num_boundary,
            boundary_mean_difference=summary.boundary_mean,
            interior_mean_difference=summary.interior_mean,
            boundary_flicker=summary.boundary_flicker,
        )
    return record


def results_document(methods: Sequence[MethodResult], gt: Path, options: EvalOptions) -> dict[str, Any]:
    protocol = asdict(options)
    protocol["metrics"] = list(options.metrics)
    protocol.pop("progress")
    return json_ready({"gt": str(gt), "protocol": protocol, "methods": [method_record(m) for m in methods]})


def write_json(path: str | os.PathLike, document: dict[str, Any]) -> Path:
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return Path(path)


def pair_table(method: MethodResult) -> str:
    records = [pair_record(pair) for pair in method.pairs]
    columns = [c for c in _PAIR_COLUMNS if any(r.get(c[1]) is not None for r in records)]
    rows = [[r["name"], str(r["frames"])] + [format_number(r.get(key), digits) for _, key, digits in columns]
            for r in records]  # fmt: skip
    summary = method_record(method)["summary"]
    totals = [format_number(summary.get(key), digits) for _, key, digits in columns]
    rows.append(["all", str(summary["frames"]), *totals])
    return format_table([f"{method.label}: video", "frames", *[title for title, _, _ in columns]], rows)


def summary_table(methods: Sequence[MethodResult]) -> str:
    summaries = [method_record(m)["summary"] for m in methods]
    columns = [c for c in _SUMMARY_COLUMNS if any(s.get(c[1]) is not None for s in summaries)]
    rows = [[m.label] + [format_number(s.get(key), digits) for _, key, digits in columns]
            for m, s in zip(methods, summaries, strict=True)]  # fmt: skip
    return format_table(["Method", *[title for title, _, _ in columns]], rows)


def format_number(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        # Names left-aligned, numbers right-aligned.
        padded = [cell.rjust(width) for cell, width in zip(cells, widths, strict=True)]
        padded[0] = cells[0].ljust(widths[0])
        return "  ".join(padded)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)])


def json_ready(value: Any) -> Any:
    """Non-finite floats -> None, recursively; numpy scalars -> Python numbers."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
