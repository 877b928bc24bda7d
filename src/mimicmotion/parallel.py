"""Several processes (GPUs, nodes) on one video: the windows of every denoising step shared among them.

Started with `accelerate launch`, each process runs the windows `rank, rank + world, ...` of a step; the
predictions are exchanged window by window (all-gather), and every process adds all of them up in window
order, exactly as one process would, and takes the same solver step. The frames are therefore the same as
one process's, bit for bit (with the same device type, dtype and seed): not only within rounding, as a sum
of partial sums (all-reduce) would be. What travels is one window's prediction per process and round: a
few MB, against seconds of unet work per window.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class WindowShare:
    """This process's place among `world` processes sharing the windows of each step."""

    rank: int
    world: int

    @classmethod
    def from_launch(cls) -> WindowShare | None:
        """The share of this process in the run `accelerate launch` (or torchrun) started; None when it is
        the only process."""
        if not launched():
            return None
        state = process_state()
        return cls(state.process_index, state.num_processes)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """The block runs on the main process first, then on the others (which then find what it cached)."""
        import torch.distributed as dist

        if not self.is_main:
            dist.barrier()
        yield
        if self.is_main:
            dist.barrier()

    def predictions(
        self, predict: Callable[[list[int]], torch.Tensor], windows: list[list[int]], like: torch.Tensor
    ) -> Iterator[tuple[int, torch.Tensor]]:
        """(window index, prediction) for every window, in window order: this process predicts its own
        windows and receives the others'. `like`: a tensor shaped as the whole video's prediction (frames
        on dim 1); all windows have the same length (`plan_windows`)."""
        import torch.distributed as dist

        for start in range(0, len(windows), self.world):
            mine = start + self.rank
            if mine < len(windows):
                own = predict(windows[mine]).contiguous()
            else:  # a process left without a window in the last round sends zeros of the same shape
                own = like.new_zeros(like[:, windows[start]].shape)
            received = [torch.empty_like(own) for _ in range(self.world)]
            dist.all_gather(received, own)
            for index, prediction in enumerate(received, start=start):
                if index < len(windows):
                    yield index, prediction


def launched() -> bool:
    """Whether this process is one of several that `accelerate launch` or torchrun started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def cpu_processes() -> bool:
    """Several processes launched on a machine without CUDA: they work together on the CPUs over gloo,
    rather than as independent single-process copies (accelerate's choice unless told `cpu=True`)."""
    return launched() and not torch.cuda.is_available()


def process_state():
    """accelerate's `PartialState` of this process (one process when it was not launched with others)."""
    from accelerate import PartialState

    return PartialState(cpu=cpu_processes())


def local_device_index() -> int:
    """The GPU of this process among the node's processes (0 when it was not launched with others)."""
    return int(os.environ.get("LOCAL_RANK", "0"))
