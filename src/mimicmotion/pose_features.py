"""PoseNet features of each window, computed once and reused at every step.

PoseNet sees only the pose pictures, not the noisy latents nor the noise level, so a window's features
are the same at every step: the released sampler recomputes them at each of them. Here they are kept, as
far as memory allows, on the device they were computed on. What is kept is exactly what would have been
recomputed (same call, same batch), so the frames do not change.

How much is kept: `budget` bytes when given. Otherwise on a CUDA GPU, what the device has left once the
largest pass seen so far is accounted for, less a margin: a window's features are kept only after the
first unet pass has set that peak, so the cache never takes memory a pass needs. On the CPU and MPS
(the machine's memory), up to `HOST_BUDGET`. Windows beyond the budget are recomputed at every step, as
released.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

HOST_BUDGET = 2 * 2**30
CUDA_MARGIN = 2**30  # left free for the allocator's fragmentation and for other work on the GPU


class PoseFeatureCache:
    def __init__(
        self, compute: Callable[[list[int]], torch.Tensor], device: torch.device, budget: int | None = None
    ) -> None:
        self._compute = compute
        self._device = device
        self._budget = budget
        self._kept: dict[tuple[int, ...], torch.Tensor] = {}
        self._kept_bytes = 0
        self._requests = 0

    def __call__(self, frames: list[int]) -> torch.Tensor:
        key = tuple(frames)
        self._requests += 1
        if key in self._kept:
            return self._kept[key]
        features = self._compute(frames)
        size = features.numel() * features.element_size()
        # The first request comes before any unet pass: its memory peak is not known yet.
        if self._requests > 1 and self._kept_bytes + size <= self._room():
            self._kept[key] = features
            self._kept_bytes += size
        return features

    def clear(self) -> None:
        """Free the kept features (once sampling is done, before decoding needs the memory)."""
        self._kept.clear()
        self._kept_bytes = 0

    def _room(self) -> int:
        """The bytes the cache may hold in all."""
        if self._budget is not None:
            return self._budget
        if self._device.type != "cuda":
            return HOST_BUDGET
        free, _ = torch.cuda.mem_get_info(self._device)
        # All torch could allocate (what it holds plus what the device has free) above the largest
        # allocation so far, which a pass after this one reaches again plus what the cache adds (the
        # kept features are part of every later pass's allocation).
        capacity = free + torch.cuda.memory_reserved(self._device)
        headroom = capacity - torch.cuda.max_memory_allocated(self._device) - CUDA_MARGIN
        return self._kept_bytes + max(0, headroom)
