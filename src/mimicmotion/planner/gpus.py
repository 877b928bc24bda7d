"""What a GPU computes per second, and the other constants of the time and memory model.

The throughputs are the vendors' published dense (no sparsity) tensor-core figures: fp16/bf16 with fp32
accumulation (what PyTorch's matmuls and convolutions use) and TF32 for fp32 (PyTorch uses TF32 for
convolutions by default and for matmuls when allowed; plain fp32 where the GPU has no tensor cores for it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The share of the peak a real run achieves: issue 12 measured the released code at about 64 TFLOP/s on an
# RTX 4090 (165 TFLOP/s fp16 peak), i.e. about 40 %. One factor for every GPU and stage: a first-order model.
ACHIEVED_FRACTION = 0.40
# Host-to-device copies of the offload hooks (accelerate copies from pageable, not pinned, memory): about
# 12 GB/s on PCIe 4.0 x16 (32 GB/s theoretical; pageable copies reach roughly a third to a half of it).
PCIE_BYTES_PER_SECOND = 12e9
# Memory a process uses on the GPU beyond its tensors: the CUDA context and libraries' kernels and
# workspaces (cuBLAS, cuDNN), about 0.4-0.6 GiB with lazy module loading, plus the caching allocator's
# rounding and fragmentation. One constant, 0.75 GiB, added to every stage's peak.
CUDA_OVERHEAD_BYTES = int(0.75 * 2**30)


@dataclass(frozen=True)
class Gpu:
    name: str
    half_tflops: float | None  # fp16 / bf16 dense tensor TFLOP/s (bf16: None where unsupported)
    fp32_tflops: float  # TF32 dense tensor TFLOP/s, or plain fp32 without TF32
    tokens: tuple[str, ...]  # words a device name must contain to be this GPU
    bf16: bool = True

    def tflops(self, dtype: str) -> float | None:
        if dtype == "fp32":
            return self.fp32_tflops
        if dtype == "bf16" and not self.bf16:
            return None
        return self.half_tflops


# Ordered: the first entry whose tokens a name contains is taken (H100 PCIe before H100 SXM).
GPUS = (
    Gpu("H200", 989.0, 494.5, ("h200",)),
    Gpu("H100 PCIe", 756.0, 378.0, ("h100", "pcie")),
    Gpu("H100 SXM", 989.0, 494.5, ("h100",)),
    Gpu("A100", 312.0, 156.0, ("a100",)),
    Gpu("L40S", 366.0, 183.0, ("l40s",)),
    Gpu("RTX 6000 Ada", 364.0, 182.0, ("6000", "ada")),
    Gpu("RTX A6000", 154.8, 77.4, ("a6000",)),
    Gpu("RTX 4090", 165.2, 82.6, ("4090",)),
    Gpu("RTX 3090", 71.0, 35.6, ("3090",)),
    Gpu("L4", 121.0, 60.0, ("l4",)),
    Gpu("A10", 125.0, 62.5, ("a10",)),
    Gpu("T4", 65.0, 8.1, ("t4",), bf16=False),
)


def _words(name: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", name.lower()))


def find_gpu(name: str | None) -> Gpu | None:
    """The table's entry for a device name ("NVIDIA GeForce RTX 4090", "H100", "a100-sxm4-80gb"), or
    None."""
    if not name:
        return None
    words = _words(name)
    for gpu in GPUS:
        if set(gpu.tokens) <= words:
            return gpu
    return None


def detected_gpu_name() -> str | None:
    """The name of torch.cuda's first device, or None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)
