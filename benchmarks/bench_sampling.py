"""Seconds per denoising step and peak memory of MimicMotionPipeline, per speed/memory mode, beside the
released code.

    # real weights (hub ids or local paths)
    python benchmarks/bench_sampling.py --base FOLDER_OR_HUB_ID --checkpoint FILE \\
        --frames 73 --resolution 576 --steps 3 --device cuda --dtype fp16
    # the real SVD-xt-1.1 architecture with random weights (no download), every mode, and the released
    # pipeline on the same weights: 576x1024, one 72-frame window, 3 steps
    python benchmarks/bench_sampling.py --random-full-size --modes all --side-by-side --device cuda
    # a CPU smoke run (tests/test_bench_sampling.py): the full depth at an eighth of the width, 64x64 frames
    python benchmarks/bench_sampling.py --random-full-size --scale 8 --resolution 64 --width 64 \\
        --frames 4 --tile-size 4 --tile-overlap 1 --steps 2 --side-by-side
    python benchmarks/bench_sampling.py --tiny --frames 16 --resolution 256   # tiny random weights

`--random-full-size` builds the unet, VAE and CLIP image encoder from the configs shipped in
src/mimicmotion/configs/svd-xt-1-1 (and a PoseNet whose final projection is random, so poses matter),
fills them with seeded random weights (normal, std 1/sqrt(fan_in); norms weight 1 bias 0, so activations
stay of order one, finite in fp16) and saves them once, in the released formats, to --weights (default: a
temporary folder): a diffusers base folder (safetensors; fp16 variant files for fp16/bf16 runs) and a
`.pth` checkpoint of `unet.*`/`pose_net.*` keys. Both our loader and the released one then read those files.
`--scale N` divides every channel count by N (depth, blocks and layers stay those of SVD-xt): for CPU tests.

`--modes` runs each mode of `mimicmotion.modes.MODES` in turn ("all", or labels separated by commas as
`Mode.label()` prints them, with or without the leading dashes: `--modes=released,--cfg-batch` or
`--modes "released,offload model forward-chunking"`). Peak-memory statistics start afresh for each mode;
the weights are written once and a loaded pipeline is reused by the modes that load it the same way.
`--side-by-side` also runs the released pipeline (the folder named by MIMICMOTION_RELEASED_SRC, which holds
its `mimicmotion` package; see tests/helpers/oracle.py; in its own interpreter:
benchmarks/released_runner.py) on the same weights, inputs, settings, device and dtype, and prints the
ratios ours / released (its defaults are the "released" mode).

Inputs are random (a random reference image and random pose pictures): speed and memory do not depend on
the content. A step is one scheduler step: every window through the unet (twice with guidance) plus the
fusion; s/window-step is the mean step time (the first step, which also holds the reference encoding and
any warm-up, is left out when there are two or more steps) divided by the windows. Sampling is the whole
sampler call (encoding and every step), decoding the VAE decoding of every frame. Peak memory covers
sampling and decoding of each run, with the weights in place (loading is not in it): on CUDA the
accelerator's peak allocated and reserved memory, on the CPU the process's peak resident set (VmHWM, reset
per run on Linux; the random weights are built in a child process, so their building is not in it).
"""

from __future__ import annotations

import argparse
import atexit
import gc
import itertools
import json
import math
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mimicmotion.config import AnimateSettings
from mimicmotion.modes import MODES, Mode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # where the released code is found, as the oracle tests find it
from helpers.oracle import released_source, why_no_released_source  # noqa: E402

CONFIGS = ROOT / "src" / "mimicmotion" / "configs" / "svd-xt-1-1"
RUNNER = Path(__file__).resolve().parent / "released_runner.py"
RELEASED_MODE = Mode()  # the released code's defaults
WEIGHTS_NOTE = "random-weights.json"  # what a --weights folder was written with


# ----------------------------------------------------------------------------- modes


def recompute_pose_features() -> None:
    """No room to keep PoseNet's features in (`mimicmotion.pose_features`): every window's are recomputed at
    every step, as the released sampler does."""
    from mimicmotion.pose_features import PoseFeatureCache

    PoseFeatureCache._room = lambda self: 0


def settings_for(mode: Mode, base: AnimateSettings) -> AnimateSettings:
    """`base` with the speed and memory levers of `mode` (every lever set, whatever `base` had)."""
    return base.replace(
        cfg_batch=mode.cfg_batch,
        offload=mode.offload,
        forward_chunking=mode.forward_chunking,
        decode_chunk=mode.decode_chunk,
    )


def _normalised(label: str) -> str:
    return " ".join(word.removeprefix("--") for word in label.split())


def parse_modes(text: str) -> list[Mode]:
    """ "all" (MODES), or labels as `Mode.label()` writes them, comma-separated, dashes optional."""
    known = {_normalised(mode.label()): mode for mode in (RELEASED_MODE, *MODES)}
    if text.strip() == "all":
        return list(MODES)
    modes = []
    for label in text.split(","):
        if _normalised(label) not in known:
            raise SystemExit(f"unknown mode {label.strip()!r}; known: all, {', '.join(known)}")
        modes.append(known[_normalised(label)])
    return modes


# ----------------------------------------------------------------------------- random full-size weights


def scaled_configs(scale: int) -> dict[str, dict]:
    """The shipped SVD-xt-1.1 configs of unet, VAE and image encoder, channel counts divided by `scale`.

    Scale 1 is the real architecture. Otherwise the depth stays and every width shrinks, rounded so that
    the group norms (32 groups) and the attention heads (SVD's head sizes: 64 in the unet, 80 in CLIP)
    still divide it; the CLIP projection stays the unet's cross-attention width.
    """
    configs = {
        name: json.loads((CONFIGS / name / "config.json").read_text())
        for name in ("unet", "vae", "image_encoder")
    }
    if scale == 1:
        return configs

    def width(channels: int, multiple: int) -> int:
        return max(multiple, round(channels / scale / multiple) * multiple)

    unet, vae, clip = configs["unet"], configs["vae"], configs["image_encoder"]
    unet["block_out_channels"] = [width(c, 32) for c in unet["block_out_channels"]]
    unet["num_attention_heads"] = [max(1, c // 64) for c in unet["block_out_channels"]]
    vae["block_out_channels"] = [width(c, 32) for c in vae["block_out_channels"]]
    clip_heads = clip["num_attention_heads"]
    heads = max(1, round(clip_heads / scale))
    clip["num_attention_heads"] = heads
    clip["hidden_size"] = heads * clip["hidden_size"] // clip_heads  # CLIP's head size, 80
    clip["intermediate_size"] = 4 * clip["hidden_size"]
    clip["projection_dim"] = unet["cross_attention_dim"] = width(unet["cross_attention_dim"], 8)
    return configs


def fill_random(
    module: nn.Module, generator: torch.Generator, device: torch.device, dtype: torch.dtype
) -> int:
    """Give every parameter of `module` (built on the meta device) a seeded random value on `device`.

    Much faster than the libraries' initialisers at 2.2 B parameters: one normal draw per tensor, std
    1/sqrt(fan_in) for weights (activations keep their scale through each layer), biases 0, norms
    weight 1 bias 0, other vectors (CLIP's class embedding, the temporal mix factors) std 0.02.
    Returns the number of values.
    """
    count = 0
    norms = (nn.GroupNorm, nn.LayerNorm)
    for sub in module.modules():
        for name, param in list(sub.named_parameters(recurse=False)):
            value = torch.empty(param.shape, device=device, dtype=torch.float32)
            if isinstance(sub, norms):
                value.fill_(1.0 if name == "weight" else 0.0)
            elif name == "bias":
                value.zero_()
            elif value.ndim >= 2:
                value.normal_(0.0, 1.0 / math.sqrt(math.prod(value.shape[1:])), generator=generator)
            else:
                value.normal_(0.0, 0.02, generator=generator)
            setattr(sub, name, nn.Parameter(value.to(dtype), requires_grad=False))
            count += value.numel()
        for name, buffer in list(sub.named_buffers(recurse=False)):
            if buffer.is_meta:
                raise RuntimeError(f"buffer {name} of {type(sub).__name__} was left on the meta device")
    return count


def write_random_weights(folder: Path, scale: int, dtype_name: str, device: str, seed: int = 0) -> None:
    """Random SVD-xt-1.1 weights in the released formats under `folder`: base/ (a diffusers folder with
    the VAE and image encoder as safetensors, fp16 variant files unless fp32, and the unet's config; its
    weights are in the checkpoint) and MimicMotion_random.pth (`unet.*` and `pose_net.*`, torch.save)."""
    from accelerate import init_empty_weights
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from mimicmotion.models.pose_net import PoseNet

    start = time.perf_counter()
    fp16 = dtype_name != "fp32"
    dtype = torch.float16 if fp16 else torch.float32
    init_device = torch.device(device)
    generator = torch.Generator(device=init_device).manual_seed(seed)
    configs = scaled_configs(scale)
    base = folder / "base"
    base.mkdir(parents=True, exist_ok=True)
    for name in ("scheduler", "feature_extractor"):
        shutil.copytree(CONFIGS / name, base / name, dirs_exist_ok=True)
    shutil.copy(CONFIGS / "model_index.json", base / "model_index.json")
    (base / "unet").mkdir(exist_ok=True)
    (base / "unet" / "config.json").write_text(json.dumps(configs["unet"], indent=2))

    # init_empty_weights puts parameters on the meta device and keeps buffers (CLIP's position ids) real
    with init_empty_weights():
        vae = AutoencoderKLTemporalDecoder.from_config(configs["vae"])
        clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**configs["image_encoder"]))
        unet = UNetSpatioTemporalConditionModel.from_config(configs["unet"])
    variant = "fp16" if fp16 else None
    parameters = 0
    for name, model in (("vae", vae), ("image_encoder", clip)):
        parameters += fill_random(model, generator, init_device, dtype)
        model.to("cpu").save_pretrained(base / name, variant=variant, safe_serialization=True)
        del model
    del vae, clip
    parameters += fill_random(unet, generator, init_device, dtype)
    torch.manual_seed(seed)
    pose_net = PoseNet(out_channels=configs["unet"]["block_out_channels"][0])
    # the released PoseNet's projection starts at zero; a random one makes the poses change the work's values
    nn.init.normal_(pose_net.final_proj.weight, std=1 / math.sqrt(pose_net.final_proj.in_channels))
    state = {f"unet.{k}": v.to("cpu") for k, v in unet.state_dict().items()}
    state.update({f"pose_net.{k}": v.to(dtype) for k, v in pose_net.state_dict().items()})
    torch.save(state, folder / "MimicMotion_random.pth")
    parameters += sum(p.numel() for p in pose_net.parameters())
    note = {"scale": scale, "dtype": "fp32" if not fp16 else "fp16", "seed": seed, "parameters": parameters,
            "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    (folder / WEIGHTS_NOTE).write_text(json.dumps(note))


def random_weights(args: argparse.Namespace, device: torch.device) -> tuple[Path, Path]:
    """(base folder, checkpoint) of the random weights for these options, written unless already there.

    They are written by a child process: the parent's peak memory then holds loading and sampling only.
    """
    folder = Path(args.weights) if args.weights else Path(tempfile.mkdtemp(prefix="mimicmotion-random-"))
    if not args.weights:  # 4 to 9 GB at full size: not left behind in the temporary folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    disk_dtype = "fp32" if args.dtype_name == "fp32" else "fp16"
    wanted = {"scale": args.scale, "dtype": disk_dtype, "seed": 0}
    note = folder / WEIGHTS_NOTE
    if not (note.is_file() and {k: json.loads(note.read_text()).get(k) for k in wanted} == wanted):
        if note.is_file():
            note.unlink()
        child = multiprocessing.get_context("spawn").Process(
            target=write_random_weights, args=(folder, args.scale, disk_dtype, str(device))
        )
        child.start()
        child.join()
        if child.exitcode != 0 or not note.is_file():
            raise SystemExit(f"writing the random weights into {folder} failed (exit code {child.exitcode})")
        written = json.loads(note.read_text())
        print(
            f"random weights: {written['parameters'] / 1e9:.2f} B parameters ({disk_dtype}, scale "
            f"{args.scale}) written to {folder} in {written['seconds']:.1f} s"
        )
    else:
        print(f"random weights: reusing {folder}")
    return folder / "base", folder / "MimicMotion_random.pth"


# ----------------------------------------------------------------------------- running


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_gib() -> float:
    """This process's peak resident set size: VmHWM on Linux (its own memory; ru_maxrss would also count
    what the parent process held before this one was started, as Linux keeps it across exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kilobytes on Linux, where it is read


def reset_peak_rss() -> bool:
    """Start a new peak resident set size (Linux: writing 5 to /proc/self/clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def run_mode(pipe: Any, inputs: Any, settings: AnimateSettings, mode: Mode, frames_file: Path | None) -> dict:
    """Sample and decode once with `settings`; the timings and peak memory of that run."""
    from mimicmotion.generation import sample

    device = pipe.execution_device
    cuda = device.type == "cuda"
    step_times: list[float] = []
    step = pipe.scheduler.step

    def timed_step(*a, **k):
        sync(device)
        step_times.append(time.perf_counter())
        return step(*a, **k)

    gc.collect()
    reset_peak_rss()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    pipe.scheduler.step = timed_step
    try:
        start = time.perf_counter()
        out = sample(pipe, inputs, settings)  # the generation path animate takes
        sync(device)
        sampled = time.perf_counter()
        chunks = [chunk for chunk in pipe.decode_latents(out.frames, chunk_size=mode.decode_chunk)]
        sync(device)
        decoded = time.perf_counter()
    finally:
        pipe.scheduler.step = step
    frames = torch.cat(chunks)
    if frames_file is not None:
        np.savez(frames_file, frames=frames.numpy())
    # step i lasts from the call of step i-1 to the call of step i (the sampler's steps run in the scheduler's
    # order, so the first gap is step 1's work); one step only: from the start, encoding included
    gaps = [b - a for a, b in itertools.pairwise(step_times)]
    per_step = sum(gaps) / len(gaps) if gaps else step_times[0] - start
    result = {
        "mode": mode.label(),
        "windows": len(out.windows),
        "per_step_s": per_step,
        "per_window_step_s": per_step / len(out.windows),
        "sampling_s": sampled - start,
        "decode_s": decoded - sampled,
        "frames_shape": list(frames.shape),
        "finite": bool(torch.isfinite(frames).all()),
        "peak_rss_gib": peak_rss_gib(),
    }
    if cuda:
        result["peak_allocated_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        result["peak_reserved_gib"] = torch.cuda.max_memory_reserved(device) / 2**30
    return result


def run_released(
    args: argparse.Namespace,
    base: Path,
    checkpoint: Path,
    inputs_file: Path,
    device: torch.device,
    frames_file: Path | None,
) -> dict:
    """The released pipeline on the same files, in its own interpreter; its figures (released_runner.py)."""
    released = released_source()
    if released is None:
        raise SystemExit(f"--side-by-side needs the released code: {why_no_released_source()}")
    work = inputs_file.parent
    spec = {
        "released": str(released), "base": str(base), "checkpoint": str(checkpoint),
        "inputs": str(inputs_file), "device": str(device), "dtype": args.dtype_name, "seed": 42,
        "tile_size": args.tile_size, "tile_overlap": args.tile_overlap, "steps": args.steps,
        "guidance": args.guidance, "noise_aug": 0.0, "output": str(work / "released.json"),
        "frames": str(frames_file) if frames_file else None,
    }  # fmt: skip
    (work / "released.spec.json").write_text(json.dumps(spec))
    # PYTHONPATH cleared: the released package is also called `mimicmotion` and must not meet ours
    env = {**os.environ, "PYTHONPATH": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(RUNNER), str(work / "released.spec.json")], env=env, cwd=work,
        capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"the released pipeline failed:\n{result.stderr[-4000:]}")
    figures = json.loads((work / "released.json").read_text())
    figures["per_window_step_s"] = figures["per_step_s"] / args.windows
    return figures


def memory_of(result: dict) -> float:
    """The peak memory compared across runs: accelerator allocation on CUDA, resident set on the CPU."""
    return result.get("peak_allocated_gib", result["peak_rss_gib"])


def print_table(rows: list[dict], released: dict | None, cuda: bool) -> None:
    memory = ["peak alloc GiB", "peak reserved GiB"] if cuda else ["peak RSS GiB"]
    header = ["mode", "s/window-step", "sampling s", "decode s", *memory]
    if released is not None:
        header += ["time ours/released", "memory ours/released"]
    memory_keys = ("peak_allocated_gib", "peak_reserved_gib") if cuda else ("peak_rss_gib",)
    lines = [header]
    for row in [*rows, *([{**released, "mode": "released code"}] if released else [])]:
        cells = [row["mode"], f"{row['per_window_step_s']:.3f}", f"{row['sampling_s']:.2f}"]
        cells += [f"{row['decode_s']:.2f}", *(f"{row[key]:.2f}" for key in memory_keys)]
        if released is not None:
            ratios = row.get("time_ratio"), row.get("memory_ratio")
            cells += [f"{r:.3f}" if r is not None else "" for r in ratios]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    weights = parser.add_argument_group("weights")
    weights.add_argument(
        "--base",
        default="stabilityai/stable-video-diffusion-img2vid-xt-1-1",
        help="SVD base model: hub id or diffusers folder (real weights)",
    )
    weights.add_argument("--checkpoint", default="tencent/MimicMotion/MimicMotion_1-1.pth")
    weights.add_argument("--tiny", action="store_true", help="tiny random weights (tests/helpers)")
    weights.add_argument(
        "--random-full-size",
        action="store_true",
        help="the real SVD-xt-1.1 architecture with random weights, no download",
    )
    weights.add_argument(
        "--scale",
        type=int,
        default=1,
        help="with --random-full-size: divide every channel count by N (same depth; for CPU tests)",
    )
    weights.add_argument(
        "--weights",
        metavar="DIR",
        help="with --random-full-size: where the random weights are written, or reused from "
        "when a previous run wrote the same ones (default: a new temporary folder)",
    )
    size = parser.add_argument_group("work")
    size.add_argument("--frames", type=int, default=73, help="frames including the reference frame 0")
    size.add_argument("--resolution", type=int, default=576, help="frame height; the width follows 9:16")
    size.add_argument("--width", type=int, help="frame width instead of the 9:16 one")
    size.add_argument("--steps", type=int, default=3)
    size.add_argument("--tile-size", type=int, default=72)
    size.add_argument("--tile-overlap", type=int, default=6)
    size.add_argument("--guidance", type=float, default=2.0)
    run = parser.add_argument_group("run")
    run.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N")
    run.add_argument(
        "--dtype",
        choices=("auto", "fp32", "fp16", "bf16"),
        default="auto",
        help="auto: fp16 on CUDA, fp32 on the CPU",
    )
    run.add_argument(
        "--modes",
        default="released",
        metavar="all|LABEL,...",
        help="modes to run in turn: all (mimicmotion.modes.MODES) or labels as Mode.label() "
        "writes them, comma-separated (default: released)",
    )
    run.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the models (AnimateSettings.compile), in every mode",
    )
    run.add_argument(
        "--tf32", action="store_true", help="TF32 matmuls in fp32 (AnimateSettings.tf32), in every mode"
    )
    run.add_argument(
        "--recompute-pose",
        action="store_true",
        help="PoseNet at every step for every window, as released (its features not kept): what keeping "
        "them saves",
    )
    run.add_argument(
        "--side-by-side",
        action="store_true",
        help="also run the released pipeline on the same weights, inputs and settings",
    )
    run.add_argument("--json", metavar="FILE", help="also write every figure to FILE (JSON)")
    run.add_argument(
        "--save-frames",
        metavar="DIR",
        help="save the decoded frames (float32 .npz in [0, 1]) of every run: ours-N.npz "
        "(N: the mode's position in --modes) and released.npz",
    )
    args = parser.parse_args()  # fmt: skip
    if sum((args.tiny, args.random_full_size)) > 1:
        parser.error("--tiny and --random-full-size are alternatives")
    if args.side_by_side and not args.random_full_size:
        parser.error("--side-by-side needs --random-full-size (weights both loaders read)")
    modes = parse_modes(args.modes)
    if args.recompute_pose:
        recompute_pose_features()

    from mimicmotion.animate import execution_device, execution_dtype, load_pipeline
    from mimicmotion.generation import PoseInputs
    from mimicmotion.windows.layout import plan_windows

    base_settings = AnimateSettings(
        base_model=args.base, checkpoint=args.checkpoint, device=args.device, dtype=args.dtype,
        tile_size=args.tile_size, tile_overlap=args.tile_overlap, steps=args.steps,
        min_guidance=args.guidance, max_guidance=args.guidance, quiet=True,
    )  # fmt: skip
    if args.compile or args.tf32:
        base_settings = base_settings.replace(compile=args.compile, tf32=args.tf32)
    device = execution_device(base_settings)
    dtype = execution_dtype(base_settings, device)
    args.dtype_name = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}[dtype]
    if args.side_by_side and args.dtype_name == "bf16":
        parser.error("--side-by-side runs in fp16 or fp32: the released code has no bf16 run")
    if device.type == "cuda":
        torch.cuda.set_device(device)

    base, checkpoint = args.base, args.checkpoint
    if args.tiny:
        sys.path.insert(0, str(ROOT / "tests"))
        from helpers.tiny_models import save_tiny_weights

        base, checkpoint = save_tiny_weights(Path(tempfile.mkdtemp()))
    elif args.random_full_size:
        base, checkpoint = random_weights(args, device)
    base_settings = base_settings.replace(base_model=str(base), checkpoint=str(checkpoint))

    height = args.resolution
    width = args.width or int(args.resolution / (9 / 16) // 64) * 64
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    poses = rng.integers(0, 256, (args.frames, height, width, 3), dtype=np.uint8)
    inputs = PoseInputs(reference, torch.from_numpy(poses).permute(0, 3, 1, 2).contiguous(), poses=None)
    args.windows = len(plan_windows(args.frames, args.tile_size, args.tile_overlap))
    work = Path(tempfile.mkdtemp(prefix="mimicmotion-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    frames_dir = Path(args.save_frames) if args.save_frames else None
    if frames_dir is not None:
        frames_dir.mkdir(parents=True, exist_ok=True)

    rows = []
    pipe, loaded_key = None, None
    for index, mode in enumerate(modes):
        settings = settings_for(mode, base_settings)
        # cfg_batch and decode_chunk are arguments of a call; the other levers change how the model is loaded
        key = (mode.offload, mode.forward_chunking)
        if key != loaded_key:
            pipe = None
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            load_start = time.perf_counter()
            pipe = load_pipeline(settings)
            print(f"loaded for {mode.label()} in {time.perf_counter() - load_start:.1f} s")
            loaded_key = key
        frames_file = frames_dir / f"ours-{index}.npz" if frames_dir else None
        rows.append(run_mode(pipe, inputs, settings, mode, frames_file))
    print(
        f"device {device} dtype {args.dtype_name}, {args.frames} frames at {width}x{height}, "
        f"{args.windows} window(s) of {args.tile_size}, {args.steps} steps, guidance {args.guidance}"
    )

    released = None
    if args.side_by_side:
        pipe = None  # the released process needs the memory
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        np.savez(work / "inputs.npz", reference=reference, poses=poses)
        frames_file = frames_dir / "released.npz" if frames_dir else None
        released = run_released(args, Path(base), Path(checkpoint), work / "inputs.npz", device, frames_file)
        for row in rows:
            row["time_ratio"] = row["per_window_step_s"] / released["per_window_step_s"]
            row["memory_ratio"] = memory_of(row) / memory_of(released)
    print_table(rows, released, device.type == "cuda")
    if args.json:
        Path(args.json).write_text(json.dumps({"modes": rows, "released": released}, indent=2))


if __name__ == "__main__":
    main()
