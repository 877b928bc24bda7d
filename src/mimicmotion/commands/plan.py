"""`mimicmotion plan`: peak accelerator memory and time of a run, per mode, without weights or a GPU."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from mimicmotion.modes import OFFLOADS
from mimicmotion.settings import add_options as add_settings
from mimicmotion.settings import given, option, parse

_DTYPES = ("fp16", "bf16", "fp32")  # mimicmotion.planner.architecture.DTYPES (not imported: torch)


@dataclass
class Planning:
    resolution: int = option(
        576, "short side of the video (a multiple of 64; 576 gives 576x1024)", metavar="R"
    )
    tile_size: int = option(72, "frames per denoising window (the reference frame included)", metavar="N")
    dtype: str = option("fp16", "the models' dtype", choices=_DTYPES)
    gpu: str = option(
        "auto",
        "the GPU whose time to estimate, e.g. 'RTX 4090', 'H100' (auto: torch.cuda's device if any; none)",
        metavar="NAME",
    )
    base_model: str | None = option(
        None, "a diffusers base folder whose config files to read (default: the shipped SVD-xt-1.1)"
    )
    frames: int | None = option(None, "frames of the video (default: one window's)", metavar="N")
    steps: int = option(25, "denoising steps", metavar="N")
    tile_overlap: int = option(6, "frames shared by adjacent windows", metavar="N")
    guidance: bool = option(True, "classifier-free guidance (two unet predictions per step)")
    vram_gib: float | None = option(None, "mark the modes that fit in this much GPU memory", metavar="GIB")
    cfg_batch: bool = option(False, "also estimate a mode with the two predictions in one batch")
    offload: str | None = option(None, "also estimate a mode with this offload", choices=OFFLOADS)
    forward_chunking: bool = option(False, "also estimate a mode with unet forward chunking")
    decode_chunk: int | None = option(None, "also estimate a mode with this VAE decode chunk", metavar="N")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Estimate the peak GPU memory of every stage of a run and its time, for each mode (the speed and "
        "memory options), by running the real-size architecture on PyTorch's meta device: no weights, no "
        "GPU needed. Times need a GPU of the throughput table (--gpu)."
    )
    add_settings(parser, Planning)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from mimicmotion.errors import MimicMotionError
    from mimicmotion.modes import MODES, Mode
    from mimicmotion.planner import detected_gpu_name, header, plan_run, table
    from mimicmotion.pose.reference import target_size

    options = parse(args, Planning)
    height, width = target_size(9, 16, options.resolution)  # landscape; portrait costs the same
    if options.vram_gib is not None and options.vram_gib <= 0:
        raise MimicMotionError(f"vram-gib must be positive, got {options.vram_gib}")
    if options.decode_chunk is not None and options.decode_chunk < 1:
        raise MimicMotionError(f"decode chunk must be at least 1, got {options.decode_chunk}")
    gpu = options.gpu
    if gpu.lower() == "auto":
        gpu = detected_gpu_name()
    elif gpu.lower() == "none":
        gpu = None
    modes = list(MODES)
    # the mode options given on the command line: one more row when they name a mode not in MODES
    levers = ("cfg_batch", "offload", "forward_chunking", "decode_chunk")
    asked = {name: value for name, value in given(args, Planning).items() if name in levers}
    if asked and Mode(**asked) not in modes:
        modes.append(Mode(**asked))
    plan = plan_run(
        height,
        width,
        options.tile_size,
        options.dtype,
        frames=options.frames,
        steps=options.steps,
        guidance=options.guidance,
        tile_overlap=options.tile_overlap,
        gpu=gpu,
        base_model=options.base_model,
        modes=modes,
    )
    print("\n".join([*header(plan), "", *table(plan, options.vram_gib)]))
    if options.vram_gib is not None:
        best = plan.fastest_fitting(int(options.vram_gib * 2**30))
        if best is None:
            print(f"no mode is estimated to fit in {options.vram_gib:g} GiB")
        else:
            print(f"fastest mode that fits in {options.vram_gib:g} GiB: {best.mode.label()}")
    return 0
