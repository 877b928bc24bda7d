"""How the predictions of overlapping windows are fused into one per frame.

Weights are pure functions of the windows; the sampler multiplies each window's prediction by its
weights, sums per frame and divides by the summed weights (`fuse`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from mimicmotion.errors import MimicMotionError

if TYPE_CHECKING:
    from mimicmotion.parallel import WindowShare

FUSIONS = ("official", "progressive", "average")


def fusion_weights(
    windows: list[list[int]], fusion: str, dtype: torch.dtype = torch.float32
) -> list[torch.Tensor]:
    """Per-window weights (one tensor of `dtype` per window, one value per window position)."""
    if fusion == "official":
        return [triangular_weights(len(window), dtype) for window in windows]
    if fusion == "progressive":
        return [weight.to(dtype) for weight in progressive_weights(windows)]
    if fusion == "average":
        return [torch.ones(len(window), dtype=dtype) for window in windows]
    raise MimicMotionError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")


def triangular_weights(length: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The released sampler's weights: w[p] = min((p + .5) * 2 / N, 2 - (p + .5) * 2 / N).

    Computed in `dtype` step by step in the released order, so that fp16 weights round as released.
    """
    ramp = (torch.arange(length, dtype=dtype) + 0.5) * 2.0 / length
    return torch.minimum(ramp, 2.0 - ramp)


def progressive_weights(windows: list[list[int]]) -> list[torch.Tensor]:
    """The paper's progressive latent fusion (Algorithm 1) as per-window weights.

    For two adjacent windows sharing c driving frames, the k-th shared frame (k = 1..c) takes
    k / (c + 1) from the later window and 1 - k / (c + 1) from the earlier one, c being the actual
    overlap of that pair (the last window may overlap more than C). Outside overlaps a window has
    weight 1, and the reference frame 0 is averaged over all windows. A window's weight is the
    product of the ramps towards its two neighbours; where only two windows share a frame, the
    weights of that frame already sum to 1. The last window can reach back into the window before
    its neighbour; there the per-frame normalisation of the sampler makes the weights sum to 1.
    """
    weights = [torch.ones(len(window), dtype=torch.float64) for window in windows]
    for earlier, later in zip(range(len(windows) - 1), range(1, len(windows)), strict=True):
        shared = sorted(set(windows[earlier][1:]) & set(windows[later][1:]))
        lam = 1.0 / (len(shared) + 1)
        for k, frame in enumerate(shared, start=1):
            weights[later][windows[later].index(frame)] *= k * lam
            weights[earlier][windows[earlier].index(frame)] *= 1.0 - k * lam
    return weights


def fuse(
    predict,
    windows: list[list[int]],
    weights: list[torch.Tensor],
    like: torch.Tensor,
    share: WindowShare | None = None,
) -> torch.Tensor:
    """Weighted per-frame mean of the windows' predictions.

    `predict(frame_indices)` returns a tensor shaped like `like[:, frame_indices]`
    (frames on dim 1); windows are evaluated one at a time, so only one window's prediction is
    alive besides the running sums. With `share`, this process predicts only its share of the windows
    and receives the others' (`mimicmotion.parallel`); they are added in the same order either way.
    """
    if share is None:
        predictions = ((index, predict(window)) for index, window in enumerate(windows))
    else:
        predictions = share.predictions(predict, windows, like)
    total = torch.zeros_like(like)
    count = like.new_zeros(like.shape[1])
    for index, prediction in predictions:
        # The weights keep their dtype: fp16 weights make each weighted prediction round to fp16 before
        # it is added, as in the released fp16 run.
        window, weight = windows[index], weights[index].to(like.device)
        total[:, window] += prediction * weight.view(1, -1, *([1] * (like.ndim - 2)))
        count[window] += weight
    return total / count.view(1, -1, *([1] * (like.ndim - 2)))
