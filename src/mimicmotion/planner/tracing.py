"""Peak live tensor bytes and FLOPs of some work, run on meta tensors (or real ones, in tests).

Memory: torch's own `torch.distributed._tools.mem_tracker.MemTracker` (a TorchDispatchMode that adds
the bytes of each new storage and subtracts them when the storage is freed, keyed by storage identity). It
works with meta tensors on a CPU-only torch, so it is used rather than a tracker of our own. Only storages
MemTracker also counts the weights of the modules that run (it finds them by module hooks, as they first
run); they are registered before the work starts, so that they count from the start, and taken off, so that
the peak is the work's activations, its inputs included (the planner adds the weights per offload mode).

Attention: on a GPU diffusers and transformers call `F.scaled_dot_product_attention`, which runs a fused
(flash or memory-efficient) kernel that never holds the tokens x tokens matrix; on meta SDPA would take the
math path and count that matrix (9216 x 9216 per head in the spatial attention at 576x1024). `FusedAttention`
makes SDPA return only its output and the small log-sum-exp, as the fused kernel does, and counts its FLOPs
(4 * batch * heads * Lq * Lk * d: two matmuls of 2 * Lq * Lk * d), which the FLOP counter then cannot see.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from mimicmotion.errors import MimicMotionError

try:  # a private module of torch, absent from its builds without torch.distributed
    from torch.distributed._tools.mem_tracker import MemTracker, _MemRefType
except ImportError as missing:
    MemTracker = _MemRefType = None
    _MISSING = str(missing)


@dataclass(frozen=True)
class Trace:
    peak_bytes: int  # the most bytes of tensors made by the work alive at one time
    flops: int  # FLOPs of the work (0 when not counted)


def attention_flops(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> int:
    """FLOPs of one SDPA call: Q K^T (2 * Lq * Lk * d) and P V (2 * Lq * Lk * dv) for every batch and head."""
    batch = query.shape[:-2].numel()
    lq, lk = query.shape[-2], key.shape[-2]
    return 2 * batch * lq * lk * (query.shape[-1] + value.shape[-1])


class FusedAttention(TorchFunctionMode):
    """SDPA as a fused kernel costs it: its output and log-sum-exp in memory, its FLOPs counted here."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is not F.scaled_dot_product_attention:
            return func(*args, **kwargs)
        query, key, value = (kwargs[name] if name in kwargs else args[i] for i, name in enumerate("qkv"))
        self.flops += attention_flops(query, key, value)
        # The flash kernel writes a float32 log-sum-exp per query beside its output (freed at once here).
        lse = torch.empty(query.shape[:-1], dtype=torch.float32, device=query.device)
        output = query.new_empty((*query.shape[:-1], value.shape[-1]))
        del lse
        return output


def _one_chunk_feed_forward(
    ff: Callable, hidden_states: torch.Tensor, chunk_dim: int, chunk_size: int
) -> Any:
    """diffusers' `_chunked_feed_forward` in memory, at the cost of one chunk.

    The real function keeps every chunk's output in a list, then concatenates them: its peak is the
    outputs of all chunks but the last, the last chunk's intermediates, then all outputs plus their
    concatenation. Running the thousands of chunks of the temporal layers (one per latent pixel) on meta
    would take minutes, so this holds the first chunks' outputs as one tensor of the same bytes, runs one
    chunk, then makes the concatenation. (The FLOPs of chunking are those of the unchunked pass.)
    """
    total = hidden_states.shape[chunk_dim]
    if total % chunk_size:
        raise ValueError(f"feed-forward chunk size {chunk_size} does not divide {total}")
    chunk = hidden_states.narrow(chunk_dim, 0, chunk_size)
    shape = list(ff(chunk).shape)  # the output's shape; this run's memory is freed before the real one
    shape[chunk_dim] = total - chunk_size
    held = hidden_states.new_empty(shape)
    last = ff(chunk)
    shape[chunk_dim] = total
    output = last.new_empty(shape)
    del held, last
    return output


@contextlib.contextmanager
def _feed_forward_one_chunk() -> Iterator[None]:
    with mock.patch("diffusers.models.attention._chunked_feed_forward", _one_chunk_feed_forward):
        yield


@torch.no_grad()
def trace(
    work: Callable[[], Any],
    modules: Sequence[nn.Module] = (),
    *,
    count_flops: bool = True,
    one_chunk: bool = False,
) -> Trace:
    """Run `work` (which makes its own inputs) under no_grad, as inference does, and return its peak live
    bytes (the weights of `modules`, the models it runs, left out) and FLOPs. `one_chunk`: chunked
    feed-forward layers run as `_one_chunk_feed_forward` (same memory)."""
    if MemTracker is None:
        raise MimicMotionError(
            f"the planner needs torch's memory tracker (torch.distributed._tools.mem_tracker), which this "
            f"torch {torch.__version__} lacks ({_MISSING})"
        )
    attention = FusedAttention()
    tracker = MemTracker()
    flops = FlopCounterMode(display=False) if count_flops else contextlib.nullcontext()
    chunking = _feed_forward_one_chunk() if one_chunk else contextlib.nullcontext()
    if modules:
        tracker.track_external(*modules)
    with tracker, flops, attention, chunking:
        work()
    weights = (_MemRefType.PARAM, _MemRefType.BUFFER)
    peak = sum(
        snapshot["Total"] - sum(snapshot.get(kind, 0) for kind in weights)
        for snapshot in tracker.get_tracker_snapshot("peak").values()
    )
    counted = flops.get_total_flops() if count_flops else 0
    return Trace(int(peak), int(counted + (attention.flops if count_flops else 0)))
