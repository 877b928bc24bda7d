"""A memory and time planner: the peak accelerator memory of every stage of a run and its time, per mode,
estimated without weights and without a GPU (the real-size models run on PyTorch's meta device).

`plan_run` estimates; `RunEstimate.fastest_fitting(bytes)` picks a mode for a memory budget; `table`
formats the estimates as `mimicmotion plan` prints them.
"""

from mimicmotion.planner.estimates import ModeEstimate, RunEstimate, plan_run
from mimicmotion.planner.gpus import GPUS, detected_gpu_name, find_gpu
from mimicmotion.planner.table import header, table

__all__ = [
    "GPUS",
    "ModeEstimate",
    "RunEstimate",
    "detected_gpu_name",
    "find_gpu",
    "header",
    "plan_run",
    "table",
]
