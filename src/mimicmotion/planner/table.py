"""The planner's estimates as the lines `mimicmotion plan` prints."""

from __future__ import annotations

from mimicmotion.planner.estimates import GIB, RunEstimate
from mimicmotion.planner.gpus import ACHIEVED_FRACTION, CUDA_OVERHEAD_BYTES
from mimicmotion.units import counted, format_duration

_PARAMETER_NAMES = {"unet": "unet", "vae": "VAE", "image_encoder": "image encoder", "pose_net": "PoseNet"}


def _count(n: int) -> str:
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M"


def header(plan: RunEstimate) -> list[str]:
    parameters = ", ".join(f"{_PARAMETER_NAMES[k]} {_count(v)}" for k, v in plan.parameters.items())
    if plan.gpu is None:
        gpu = (
            f"{plan.gpu_name} (not in the throughput table: no times)" if plan.gpu_name else "none (no times)"
        )
    else:
        tflops = plan.gpu.tflops(plan.dtype)
        rate = f"{tflops:g} TFLOP/s {plan.dtype} peak" if tflops else f"no {plan.dtype} figure"
        gpu = f"{plan.gpu.name} ({rate}, {ACHIEVED_FRACTION:.0%} achieved assumed)"
    unet = plan.flops["unet"]
    guidance = "guidance (2 unet passes per step)" if plan.guidance else "no guidance"
    return [
        f"architecture: {plan.architecture} ({parameters} parameters)",
        f"size: {plan.height}x{plan.width} (height x width), {plan.window_frames} frames per window, "
        f"{plan.frames} frames in {plan.windows} window(s), {counted(plan.steps, 'step')}, {guidance}",
        f"dtype: {plan.dtype}; GPU: {gpu}",
        f"unet: {unet / 1e12:.1f} TFLOP per pass ({unet / plan.window_frames / 1e12:.2f} per frame); "
        f"memory includes {CUDA_OVERHEAD_BYTES / GIB:.2f} GiB of CUDA context and allocator overhead",
    ]


def table(plan: RunEstimate, budget_gib: float | None = None) -> list[str]:
    """One row per mode: its options, peak memory, the stage that sets it, times, and whether it fits."""
    titles = ["mode", "peak GiB", "peak stage", "s / window-step", "run time"]
    if budget_gib is not None:
        titles.append(f"fits {budget_gib:g} GiB")
    rows = []
    for m in plan.modes:
        row = [
            m.mode.label(),
            f"{m.peak_bytes / GIB:.1f}",
            m.peak_stage,
            "unknown" if m.seconds_per_window_step is None else f"{m.seconds_per_window_step:.2f}",
            "unknown" if m.seconds is None else format_duration(m.seconds),
        ]
        if budget_gib is not None:
            row.append("yes" if m.fits(int(budget_gib * GIB)) else "no")
        rows.append(row)
    widths = [max(len(r[i]) for r in [titles, *rows]) for i in range(len(titles))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in [titles, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines
