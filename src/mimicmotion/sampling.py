"""The windowed denoising loop, independent of any particular model.

Every step runs the denoiser on each window of the current latents, fuses the windows'
predictions per frame with the fusion weights, applies classifier-free guidance per frame and
takes one scheduler step on the whole sequence. Fusing the predictions before a single Euler step
is the paper's latent fusion read with all windows updated from the same x_t (the step is linear
in the prediction).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mimicmotion.windows import fuse

# denoiser(latents_in, t, frame_indices) -> prediction for those frames. `latents_in` is the
# scaled model input of one window, (batch, n, C, h, w). With guidance the denoiser returns the
# unconditional and the conditional prediction stacked on the batch dimension, (2 * batch, n, ...).
Denoiser = Callable[[torch.Tensor, torch.Tensor, list[int]], torch.Tensor]


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
) -> torch.Tensor:
    """Run `scheduler.timesteps` (set by the caller) from `latents` (batch, F, C, h, w).

    `guidance` holds one scale per frame (F,), or None for a single conditional pass. `start`: the
    index of the first timestep to run (the steps before it were run earlier and gave `latents`; the
    Euler step draws no random numbers, so continuing gives what one run would have given).
    `on_step(index, latents)` is called after each step.
    """
    batch = latents.shape[0]
    for index, t in enumerate(scheduler.timesteps):
        if index < start:
            continue
        model_input = scheduler.scale_model_input(latents, t)
        predictions = 1 if guidance is None else 2
        like = model_input.new_zeros((predictions * batch, *latents.shape[1:]))

        def predict(frames: list[int], model_input=model_input, t=t) -> torch.Tensor:
            prediction = denoiser(model_input[:, frames], t, frames)
            if on_window is not None:
                on_window()
            return prediction

        prediction = fuse(predict, windows, weights, like)
        if guidance is not None:
            uncond, cond = prediction.chunk(2)
            scale = guidance.to(device=cond.device, dtype=cond.dtype).view(1, -1, 1, 1, 1)
            prediction = uncond + scale * (cond - uncond)
        latents = scheduler.step(prediction, t, latents).prev_sample
        if on_step is not None:
            on_step(index, latents)
    return latents
