"""The speed and memory levers of a run, and the modes (combinations of them) offered to users.

Every lever keeps the frames a seed gives, up to float rounding where the work is batched or split
differently (`cfg_batch`, `forward_chunking`) and exactly otherwise. What each costs and saves:
- `cfg_batch`: the unconditional and conditional passes of a window in one unet call (batch 2): faster
  on a GPU with memory to spare, more activation memory (the released code runs them one after the other);
- `offload`: "none" (every model on the accelerator), "model" (a model moves to the accelerator when it
  runs, then back: only the largest model's weights on the GPU at a time), "sequential" (each layer's
  weights move when that layer runs: the least memory, much slower);
- `forward_chunking`: the unet's feed-forward layers run over their tokens in chunks, which lowers the
  peak of the largest activations (diffusers' `enable_forward_chunking`);
- `decode_chunk`: frames per VAE decoding call (the released 8; fewer lowers the decoding peak, but the
  temporal decoder then sees other clips, so the frames change).
"""

from __future__ import annotations

from dataclasses import dataclass

from mimicmotion.controls import DECODE_CHUNK_SIZE

OFFLOADS = ("none", "model", "sequential")
VRAM_CHOICES = ("off", "auto")


@dataclass(frozen=True)
class Mode:
    cfg_batch: bool = False
    offload: str = "none"
    forward_chunking: bool = False
    decode_chunk: int = DECODE_CHUNK_SIZE

    def label(self) -> str:
        """The options that select this mode on the command line ("released" for the defaults)."""
        parts = []
        if self.cfg_batch:
            parts.append("--cfg-batch")
        if self.offload != "none":
            parts.append(f"--offload {self.offload}")
        if self.forward_chunking:
            parts.append("--forward-chunking")
        if self.decode_chunk != DECODE_CHUNK_SIZE:
            parts.append(f"--decode-chunk {self.decode_chunk}")
        return " ".join(parts) or "released"


# The modes the planner compares and `--vram auto` chooses from, roughly fastest first. The last one is
# the leanest (576x1024 with 72-frame windows in 8 GB, by the planner's estimate); its shorter decoding
# chunks change the frames, so it is chosen only when nothing else fits.
MODES = (
    Mode(cfg_batch=True),
    Mode(),
    Mode(forward_chunking=True),
    Mode(offload="model"),
    Mode(offload="model", forward_chunking=True),
    Mode(offload="sequential", forward_chunking=True),
    Mode(offload="sequential", forward_chunking=True, decode_chunk=4),
)
