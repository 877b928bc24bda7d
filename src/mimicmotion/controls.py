"""The sampling controls beyond the released sampler: their names, values and checks, without torch.

Strengths, the pose interval, guidance until a point of the schedule, the initial noise, the solver and
its noise levels. The solvers themselves are in `mimicmotion.solvers`; `MimicMotionPipeline.__call__`
says what each control does.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from mimicmotion.errors import MimicMotionError

SOLVERS = ("euler", "dpm++2m")
# Frames the VAE decodes at once, as released: the temporal decoder sees each chunk as one clip.
DECODE_CHUNK_SIZE = 8
INIT_NOISES = ("tiled", "independent")  # tiled: the released sampler's; independent: the paper's

# Align Your Steps (Sabour et al., NVIDIA 2024): the 10-step schedule published for SVD in its quick-start
# guide (research.nvidia.com/labs/toronto-ai/AlignYourSteps). The guide's last level, 0.002, is where its
# samplers stop; here every schedule ends at 0, so it is left out.
NAMED_SIGMAS = {
    "ays": (700.0, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034),
}


def check_solver(name: str) -> None:
    if name not in SOLVERS:
        raise MimicMotionError(f"unknown scheduler {name!r}; choose one of {', '.join(SOLVERS)}")


def parse_sigmas(value: Sequence[float | str] | str | None) -> tuple[float, ...] | None:
    """The noise levels `--sigmas` gives: a named schedule (`NAMED_SIGMAS`) or numbers, each step's level
    in strictly decreasing order, all positive (the last step ends at 0); None: the solver's own schedule.

    `value`: a string ("ays", "700,54.5,..."), or a sequence of numbers or of such strings.
    """
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else [str(item) for item in value]
    items = [item.strip() for item in items if item.strip()]
    if len(items) == 1 and items[0].lower() in NAMED_SIGMAS:
        return NAMED_SIGMAS[items[0].lower()]
    try:
        levels = tuple(float(item) for item in items)
    except ValueError:
        raise MimicMotionError(
            f"sigmas must be numbers separated by commas, or one of {', '.join(NAMED_SIGMAS)}, "
            f"got {','.join(items)!r}"
        ) from None
    shown = ",".join(f"{level:g}" for level in levels)
    if not levels:
        raise MimicMotionError("sigmas: give at least one noise level")
    if not all(math.isfinite(level) and level > 0 for level in levels):
        raise MimicMotionError(f"sigmas must be positive numbers, got {shown}")
    if any(later >= earlier for earlier, later in itertools.pairwise(levels)):
        raise MimicMotionError(f"sigmas must decrease strictly from the first step to the last, got {shown}")
    return levels


def step_count(steps: int, sigmas: Sequence[float | str] | str | None) -> int:
    """The steps a run takes: one per level of `sigmas` when given, else `steps`."""
    levels = parse_sigmas(sigmas)
    return steps if levels is None else len(levels)


def check_controls(
    pose_strength: float,
    ref_strength: float,
    pose_interval: Sequence[float],
    cfg_until: float,
    init_noise: str,
) -> None:
    """A MimicMotionError naming the first control out of its range."""
    for name, value in (("pose-strength", pose_strength), ("ref-strength", ref_strength)):
        if not math.isfinite(value) or value < 0:
            raise MimicMotionError(f"{name} must be a number >= 0, got {value}")
    interval = tuple(pose_interval)
    if (
        len(interval) != 2
        or not all(math.isfinite(v) for v in interval)
        or not 0 <= interval[0] <= interval[1] <= 1
    ):
        raise MimicMotionError(
            f"pose-interval must be two numbers A,B with 0 <= A <= B <= 1 (progress through the steps), got "
            f"{','.join(map(str, interval))}"
        )
    if not math.isfinite(cfg_until) or not 0 <= cfg_until <= 1:
        raise MimicMotionError(
            f"cfg-until must be a number from 0 to 1 (progress through the steps), got {cfg_until}"
        )
    if init_noise not in INIT_NOISES:
        raise MimicMotionError(f"unknown init-noise {init_noise!r}; choose one of {', '.join(INIT_NOISES)}")
