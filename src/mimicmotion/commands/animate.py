"""`mimicmotion animate`: a photo and a dance video in, an mp4 out."""

from __future__ import annotations

import argparse
from pathlib import Path

from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError

DEFAULTS = AnimateSettings()

# (flag, settings field, type, help). Every option defaults to None on the parser, so that only
# options actually given override a --config file; the real defaults are AnimateSettings'.
OPTIONS = [
    ("--ref", "ref", Path, "reference image: the person to animate"),
    ("--driving", "driving", Path, "driving video (mp4/mov/webm/mkv/gif or a folder of images)"),
    ("--out", "out", Path, "output .mp4 (with --config: a folder, default outputs/)"),
    ("--base-model", "base_model", str, "SVD base: hub id or diffusers folder"),
    ("--checkpoint", "checkpoint", str, "MimicMotion checkpoint: file or owner/repo/file on the hub"),
    ("--resolution", "resolution", int, "short side of the video, a multiple of 64"),
    ("--stride", "stride", int, "use every N-th driving frame (more above 24 fps)"),
    ("--max-frames", "max_frames", int, "use only the first N sampled driving frames"),
    ("--steps", "steps", int, "denoising steps"),
    ("--tile-size", "tile_size", int, "frames per denoising window (the reference frame included)"),
    (
        "--tile-overlap",
        "tile_overlap",
        int,
        "frames shared by adjacent windows (the reference frame included)",
    ),
    ("--fusion", "fusion", str, "how overlapping windows are blended: official, progressive or average"),
    ("--min-guidance", "min_guidance", float, "guidance scale of the first frame"),
    ("--max-guidance", "max_guidance", float, "guidance scale of the last frame"),
    ("--noise-aug", "noise_aug", float, "noise added to the reference before encoding"),
    ("--seed", "seed", int, "random seed"),
    ("--fps", "fps", float, "frame rate of the output video"),
    ("--dtype", "dtype", str, "auto (fp16 on CUDA, fp32 on CPU), fp32, fp16 or bf16"),
    ("--device", "device", str, "auto, cpu, cuda or cuda:N"),
    (
        "--pose-backend",
        "pose_backend",
        str,
        "keypoint detector: auto (dwpose when its weights are at hand, else mediapipe), dwpose or mediapipe",
    ),
    ("--dwpose-dir", "dwpose_dir", Path, "folder with yolox_l.onnx and dw-ll_ucoco_384.onnx"),
    ("--retarget", "retarget", str, "fit of the driving skeleton to the reference: none, linear or limbs"),
    ("--pose-style", "pose_style", str, "pose picture: released, confidence or threshold"),
]
FLAGS = [
    ("--offload", "offload", "keep idle model parts on the CPU (CUDA only; less GPU memory, slower)"),
    ("--side-by-side", "side_by_side", "write reference | pose | result side by side"),
    ("--quiet", "quiet", "no progress bars or notes"),
]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "animate",
        help="animate the person of a photo with the motion of a dance video",
        description="Generate a video of the person in --ref performing the motion of --driving. "
        "Defaults are those of the released MimicMotion config.",
    )
    parser.add_argument("--config", type=Path, help="released-format YAML (test_case list); runs every case")
    add_generation_options(parser)
    parser.set_defaults(run=run)


def add_generation_options(parser: argparse.ArgumentParser, leave_out: tuple[str, ...] = ()) -> None:
    """The options of a generation (all defaulting to None: see `settings_from`)."""
    for flag, name, kind, text in OPTIONS:
        if name in leave_out:
            continue
        default = getattr(DEFAULTS, name)
        parser.add_argument(
            flag,
            dest=name,
            type=kind,
            default=None,
            help=f"{text} (default: {default})" if default is not None else text,
        )
    parser.add_argument(
        "--guidance",
        type=float,
        default=None,
        help=f"one guidance scale for all frames (default: {DEFAULTS.max_guidance})",
    )
    for flag, name, text in FLAGS:
        if name not in leave_out:
            parser.add_argument(flag, dest=name, action="store_true", default=None, help=text)


def given_options(args: argparse.Namespace) -> dict:
    """The settings fields given on the command line."""
    given = {
        name: getattr(args, name)
        for _, name, *_ in [*OPTIONS, *FLAGS]
        if getattr(args, name, None) is not None
    }
    if args.guidance is not None:
        given.setdefault("min_guidance", args.guidance)
        given.setdefault("max_guidance", args.guidance)
    return given


def settings_from(args: argparse.Namespace) -> list[AnimateSettings]:
    """One AnimateSettings per case: defaults, then the config file's case, then the command line."""
    given = given_options(args)
    if args.config is None:
        return [DEFAULTS.replace(**given)]

    from mimicmotion.config import read_released_config

    cases = read_released_config(args.config)
    out = given.pop("out", None)
    folder = Path("outputs") if out is None else out
    if folder.suffix.lower() == ".mp4":
        if len(cases) > 1:
            raise MimicMotionError(f"{args.config} has {len(cases)} test cases: --out must be a folder")
        return [DEFAULTS.replace(**{**cases[0], **given, "out": out})]
    settings, names = [], set()
    for number, case in enumerate(cases, start=1):
        merged = DEFAULTS.replace(**{**case, **given})
        name = (
            f"{Path(merged.driving).stem}_{Path(merged.ref).stem}"
            if merged.driving and merged.ref
            else "case"
        )
        if name in names:
            name = f"{name}_{number}"
        names.add(name)
        settings.append(merged.replace(out=folder / f"{name}.mp4"))
    return settings


def run(args: argparse.Namespace) -> int:
    from mimicmotion.animate import animate, check_inputs, check_output, shared_loader
    from mimicmotion.video import make_folder

    cases = settings_from(args)
    for case in cases:  # every case is checked before the first one starts
        check_inputs(case)
    if args.config is not None:  # the released code wrote into a folder it created
        for folder in {Path(case.out).parent for case in cases}:
            make_folder(folder)
    for case in cases:
        check_output(case)
    load = shared_loader()
    for case in cases:
        animate(case, load)
    return 0
