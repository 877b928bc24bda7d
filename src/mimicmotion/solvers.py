"""The ODE solvers the sampler can step with, their noise schedules, and their state for `--resume`.

SVD is an EDM model: its Euler scheduler (v-prediction, continuous timesteps 0.25 log sigma, inputs scaled
by 1 / sqrt(sigma^2 + 1)) is EDM's preconditioning with sigma_data = 1. So diffusers' EDM schedulers run
the same network the same way, given sigma_data = 1 and the base's sigma range:

- "euler": the base's own scheduler, as released (first order, one unet evaluation per step);
- "dpm++2m": DPM-Solver++(2M) (Lu et al. 2022; `EDMDPMSolverMultistepScheduler`), second order from the
  previous step's prediction: also one evaluation per step, so the same cost per step as Euler.

Both use Karras et al.'s schedule (rho = 7) over the base's [sigma_min, sigma_max] unless `sigmas` are
given (`mimicmotion.controls`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers import EDMDPMSolverMultistepScheduler

from mimicmotion.controls import check_solver


class DPMSolver2M(EDMDPMSolverMultistepScheduler):
    """DPM-Solver++(2M) for SVD, which also takes a list of sigmas.

    The initial noise is scaled as the base's Euler scheduler scales it, sqrt(sigma_0^2 + 1), so that the
    same seed starts both solvers from the same latents.
    """

    @classmethod
    def for_svd(cls, euler_config) -> DPMSolver2M:
        """The solver for the network the Euler scheduler with `euler_config` samples."""
        return cls(
            sigma_min=euler_config.sigma_min,
            sigma_max=euler_config.sigma_max,
            sigma_data=1.0,
            sigma_schedule="karras",
            prediction_type=euler_config.prediction_type,
            solver_order=2,
        )

    def set_timesteps(
        self,
        num_inference_steps: int | None = None,
        device: str | torch.device | None = None,
        sigmas: Sequence[float] | None = None,
    ) -> None:
        if sigmas is None:
            super().set_timesteps(num_inference_steps, device)
            return
        super().set_timesteps(len(sigmas), device)  # resets the solver's history
        levels = torch.tensor([*sigmas, 0.0], dtype=torch.float32)
        self.sigmas = levels
        self.timesteps = self.precondition_noise(levels[:-1]).to(device)

    @property
    def init_noise_sigma(self) -> float:
        return float(self.sigmas[0] ** 2 + 1) ** 0.5


def make_solver(name: str, scheduler):
    """The scheduler that steps with solver `name`, for a pipeline whose scheduler is `scheduler` (the
    base's Euler scheduler, used as it is for "euler")."""
    check_solver(name)
    if name == "euler":
        return scheduler
    return DPMSolver2M.for_svd(scheduler.config)


def set_schedule(solver, steps: int, sigmas: Sequence[float] | None, device: torch.device) -> None:
    """`steps` steps of the solver's own schedule, or the steps of `sigmas` (each step's noise level, in
    decreasing order; the last step ends at 0)."""
    if sigmas is None:
        solver.set_timesteps(steps, device=device)
    elif isinstance(solver, DPMSolver2M):
        solver.set_timesteps(device=device, sigmas=sigmas)
    else:  # diffusers' Euler takes the levels with the final one
        solver.set_timesteps(device=device, sigmas=[*sigmas, 0.0])


# ------------------------------------------------------------------------ state, for --resume


def solver_state(solver) -> dict[str, torch.Tensor]:
    """What the solver carries from one step to the next besides the latents (DPM-Solver++(2M): the
    previous step's prediction), as tensors; nothing for Euler."""
    if not isinstance(solver, EDMDPMSolverMultistepScheduler):
        return {}
    state = {"lower_order_nums": torch.tensor(solver.lower_order_nums)}
    for index, output in enumerate(solver.model_outputs):
        if output is not None:
            state[f"model_outputs.{index}"] = output.detach().cpu()
    return state


def restore_solver_state(solver, state: dict[str, torch.Tensor], device: torch.device) -> None:
    """Give the solver, set to its schedule, the state `solver_state` saved (none: no history, so the next
    step is first order)."""
    if not isinstance(solver, EDMDPMSolverMultistepScheduler):
        return
    solver.lower_order_nums = int(state.get("lower_order_nums", 0))
    solver.model_outputs = [
        state[key].to(device) if (key := f"model_outputs.{index}") in state else None
        for index in range(len(solver.model_outputs))
    ]
