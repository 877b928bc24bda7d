"""Temporal windows over a long pose sequence, and how their predictions are fused.

Frame 0 of the sequence is the reference image itself and belongs to every window, so each
window sees the reference next to N - 1 consecutive driving frames. Windows and weights are pure
functions of the frame count, the window size N and the overlap C; the sampler multiplies each
window's prediction by its weights, sums per frame and divides by the summed weights.
"""

from __future__ import annotations

import torch

from mimicmotion.errors import MimicMotionError

FUSIONS = ("official", "progressive", "average")


def plan_windows(num_frames: int, tile_size: int, tile_overlap: int) -> list[list[int]]:
    """Frame indices of every window, in the layout of the released sampler.

    Window starts are i = 0, N - C, 2(N - C), ... while i <= F - N; the window at i covers
    [0, i + 1, ..., i + N - 1], so adjacent windows share frame 0 and C - 1 driving frames. When
    the last window stops short of frame F - 1, one more window [0, F - N + 1, ..., F - 1] is added;
    it may share more than C frames with its neighbour. With F <= N there is a single window.
    """
    if num_frames < 1:
        raise MimicMotionError(f"need at least one frame, got {num_frames}")
    if tile_size < 2:
        raise MimicMotionError(
            f"tile_size must be at least 2 (the reference frame plus one driving frame), got {tile_size}"
        )
    # The overlap counts the shared reference frame 0: C = 1 means windows share no driving frame,
    # C = 0 would skip one driving frame between windows.
    max_overlap = (tile_size + 1) // 2
    if not 1 <= tile_overlap <= max_overlap:
        raise MimicMotionError(
            f"tile_overlap must be between 1 and {max_overlap} for tile_size {tile_size}, got "
            f"{tile_overlap}: a larger overlap makes three windows share a frame, a smaller one skips "
            "frames (the overlap counts the reference frame 0 that every window shares)"
        )
    if num_frames <= tile_size:
        return [list(range(num_frames))]
    step = tile_size - tile_overlap
    windows = [[0, *range(i + 1, i + tile_size)] for i in range(0, num_frames - tile_size + 1, step)]
    if windows[-1][-1] < num_frames - 1:
        windows.append([0, *range(num_frames - tile_size + 1, num_frames)])
    return windows


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


def fuse(predict, windows: list[list[int]], weights: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """Weighted per-frame mean of the windows' predictions.

    `predict(window_index, frame_indices)` returns a tensor shaped like `like[:, frame_indices]`
    (frames on dim 1); windows are evaluated one at a time, so only one window's prediction is
    alive besides the running sums.
    """
    total = torch.zeros_like(like)
    count = like.new_zeros(like.shape[1])
    for index, (window, weight) in enumerate(zip(windows, weights, strict=True)):
        # The weights keep their dtype: fp16 weights make each weighted prediction round to fp16 before
        # it is added, as in the released fp16 run.
        weight = weight.to(like.device)
        total[:, window] += predict(index, window) * weight.view(1, -1, *([1] * (like.ndim - 2)))
        count[window] += weight
    return total / count.view(1, -1, *([1] * (like.ndim - 2)))
