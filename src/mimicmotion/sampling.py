"""The windowed denoising loop, independent of any particular model.

Every step runs the denoiser on each window of the current latents, fuses the windows'
predictions per frame with the fusion weights, applies classifier-free guidance per frame and
takes one solver step on the whole sequence. Fusing the predictions before a single step is the
paper's latent fusion read with all windows updated from the same x_t (the step is linear in the
prediction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from mimicmotion.windows import fuse

if TYPE_CHECKING:
    from mimicmotion.parallel import WindowShare


@dataclass(frozen=True)
class Step:
    """One denoising step, as the denoiser sees it."""

    index: int  # 0 for the first step
    t: torch.Tensor  # the timestep the network is conditioned on
    progress: float  # index / number of steps: 0 at the first step, below 1 at the last
    guided: bool  # the unconditional prediction is wanted too (guidance at this step)


@dataclass(frozen=True)
class SamplerState:
    """Where sampling stands after step `step` (0-based): what `--resume` saves and continues from."""

    step: int
    latents: torch.Tensor
    solver: dict[str, torch.Tensor] = field(default_factory=dict)  # `solvers.solver_state`


# denoiser(latents_in, step, frame_indices) -> prediction for those frames. `latents_in` is the scaled
# model input of one window, (batch, n, C, h, w). When `step.guided`, the denoiser returns the
# unconditional and the conditional prediction stacked on the batch dimension, (2 * batch, n, ...).
Denoiser = Callable[[torch.Tensor, Step, list[int]], torch.Tensor]


def guided_steps(steps: int, cfg_until: float) -> int:
    """How many of `steps` steps run the unconditional pass with `--cfg-until cfg_until`."""
    return sum(index / steps <= cfg_until for index in range(steps))


def denoise(
    latents: torch.Tensor,
    scheduler,
    windows: list[list[int]],
    weights: list[torch.Tensor],
    denoiser: Denoiser,
    guidance: torch.Tensor | None,
    on_window: Callable[[], None] | None = None,
    start: int = 0,
    on_step: Callable[[int, torch.Tensor], None] | None = None,
    cfg_until: float = 1.0,
    share: WindowShare | None = None,
) -> torch.Tensor:
    """Run `scheduler.timesteps` (set by the caller) from `latents` (batch, F, C, h, w).

    `guidance` holds one scale per frame (F,), or None for a single conditional pass; with `cfg_until`
    below 1, steps whose progress exceeds it take the conditional prediction alone (one pass instead of
    two). `start`: the index of the first timestep to run (the steps before it were run earlier and gave
    `latents`, and the scheduler carries their state). `on_step(index, latents)` is called after each step.
    `share`: this process's share of the windows, when several processes sample the video together
    (`mimicmotion.parallel`); `on_window` is then called for its own windows only.
    """
    batch = latents.shape[0]
    steps = len(scheduler.timesteps)
    for index, t in enumerate(scheduler.timesteps):
        if index < start:
            continue
        step = Step(index, t, index / steps, guidance is not None and index / steps <= cfg_until)
        model_input = scheduler.scale_model_input(latents, t)
        like = model_input.new_zeros(((2 if step.guided else 1) * batch, *latents.shape[1:]))

        def predict(frames: list[int], model_input=model_input, step=step) -> torch.Tensor:
            prediction = denoiser(model_input[:, frames], step, frames)
            if on_window is not None:
                on_window()
            return prediction

        prediction = fuse(predict, windows, weights, like, share)
        if step.guided:
            uncond, cond = prediction.chunk(2)
            scale = guidance.to(device=cond.device, dtype=cond.dtype).view(1, -1, 1, 1, 1)
            prediction = uncond + scale * (cond - uncond)
        latents = scheduler.step(prediction, t, latents).prev_sample
        if on_step is not None:
            on_step(index, latents)
    return latents
