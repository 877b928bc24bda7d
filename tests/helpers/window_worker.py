"""One process of a window-parallel sampling run over gloo, for tests and benchmarks.

    python window_worker.py RANK WORLD PORT BASE CHECKPOINT OUT.pt FRAMES TILE OVERLAP STEPS [HEIGHT WIDTH]

Samples random inputs (seeded, the same in every process) with tiny or real weights; WORLD 1 is the plain
one-process run. The main process saves the latents and the seconds sampling took to OUT.pt.
"""

import os
import sys
import time

import torch
import torch.distributed as dist

from mimicmotion import MimicMotionPipeline
from mimicmotion.parallel import WindowShare


def main() -> None:
    rank, world, port = (int(v) for v in sys.argv[1:4])
    base, checkpoint, out = sys.argv[4:7]
    frames, tile, overlap, steps = (int(v) for v in sys.argv[7:11])
    height, width = (int(v) for v in sys.argv[11:13]) if len(sys.argv) > 11 else (32, 48)
    share = None
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
        share = WindowShare(rank, world)
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=checkpoint)
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, height, width, generator=g)
    poses = torch.rand(frames, 3, height, width, generator=g) * 2 - 1
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(7)
    latents = pipe(image, poses, tile_size=tile, tile_overlap=overlap, num_inference_steps=steps,
                   generator=generator, output_type="latent", share=share).frames  # fmt: skip
    seconds = time.perf_counter() - start
    if rank == 0:
        torch.save({"latents": latents, "seconds": seconds}, out)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
