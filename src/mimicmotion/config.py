"""Settings of a generation, with the released defaults, and the released YAML config format.

The released config looks like:

    base_model_path: stabilityai/stable-video-diffusion-img2vid-xt-1-1
    ckpt_path: models/MimicMotion_1-1.pth
    test_case:
      - ref_video_path: dance.mp4
        ref_image_path: person.jpg
        num_frames: 72
        resolution: 576
        frames_overlap: 6
        num_inference_steps: 25
        noise_aug_strength: 0
        guidance_scale: 2.0
        sample_stride: 2
        fps: 15
        seed: 42

Each test case becomes one `AnimateSettings`; options given on the command line override it. The file and
its cases may also set any `AnimateSettings` field by name (`scheduler: dpm++2m`).
Relative paths in the file are taken relative to the current directory, as the released code did.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimicmotion.controls import DECODE_CHUNK_SIZE, INIT_NOISES, NAMED_SIGMAS, SOLVERS, step_count
from mimicmotion.errors import MimicMotionError
from mimicmotion.modes import OFFLOADS, VRAM_CHOICES, Mode
from mimicmotion.pose.backends import BACKENDS, DEFAULT_BACKEND
from mimicmotion.pose.extract import DEFAULT_STRIDE
from mimicmotion.pose.reference import DEFAULT_RESOLUTION, RESOLUTION_MULTIPLE
from mimicmotion.pose.render import STYLES
from mimicmotion.pose.retargeting import MODES as RETARGET_MODES
from mimicmotion.settings import check_keys, convert, option, read_yaml
from mimicmotion.windows import FUSIONS

DEFAULT_BASE = "stabilityai/stable-video-diffusion-img2vid-xt-1-1"
DEFAULT_CHECKPOINT = "tencent/MimicMotion/MimicMotion_1-1.pth"
# `checkpoint=FROM_BASE`: the unet and PoseNet saved in the base folder by `save_pretrained`, when it holds
# them, else DEFAULT_CHECKPOINT.
FROM_BASE = "default"
DTYPE_NAMES = ("auto", "fp32", "fp16", "bf16")

# The example shipped inside the package (examples/README.md: source and licence), for `animate --example`.
EXAMPLES = Path(__file__).parent / "examples"
EXAMPLE_REF = EXAMPLES / "reference.jpg"
EXAMPLE_POSES = EXAMPLES / "dance.npz"  # a pose file: the motion needs no driving video
EXAMPLE_OUT = Path("example.mp4")  # in the current folder, unless --out says otherwise
# What `--example` fills in when not given (with --fps auto, written at the dance's own 10 fps).
EXAMPLE_SETTINGS = {"ref": EXAMPLE_REF, "poses": EXAMPLE_POSES, "out": EXAMPLE_OUT}


# Settings that several commands share, declared once.


def base_model_option() -> Any:
    return option(DEFAULT_BASE, "SVD base: hub id or folder in diffusers layout", metavar="ID|DIR")


def checkpoint_option() -> Any:
    return option(
        FROM_BASE,
        "MimicMotion checkpoint: a .pth/.safetensors file or owner/repo/file on the hub; default: the "
        f"base folder's own weights when `save_pretrained` wrote it, else {DEFAULT_CHECKPOINT}",
        metavar="FILE",
    )


def pose_backend_option() -> Any:
    return option(
        DEFAULT_BACKEND,
        "keypoint detector; auto: dwpose when its weights are at hand, else mediapipe",
        choices=BACKENDS,
        aliases=("--backend",),  # the old name in `pose` and `prepare-data`, kept for one release
        metavar="NAME",
    )


@dataclass
class PoseSettings:
    """How the driving poses are found and drawn: the options `pose` and `animate` share."""

    resolution: int = option(
        DEFAULT_RESOLUTION,
        f"short side of the video and pose pictures, a multiple of {RESOLUTION_MULTIPLE} "
        "(576 gives 576 x 1024)",
        metavar="PX",
    )
    stride: int = option(
        DEFAULT_STRIDE, "use every N-th driving frame (N x int(fps/24) above 24 fps)", metavar="N"
    )
    max_frames: int | None = option(None, "use only the first N sampled driving frames", metavar="N")
    pose_backend: str = pose_backend_option()
    dwpose_dir: Path | None = option(
        None, "folder with yolox_l.onnx and dw-ll_ucoco_384.onnx (dwpose)", metavar="DIR"
    )
    retarget: str = option(
        "linear",
        "fit of the driving skeleton to the reference (linear: the released fit)",
        choices=RETARGET_MODES,
        metavar="MODE",
    )
    pose_style: str = option(
        "released",
        "pose picture (released: what the checkpoint was trained on)",
        choices=STYLES,
        aliases=("--style",),  # the old name in `pose`, kept for one release
        metavar="STYLE",
    )
    smooth: bool = option(False, "smooth the keypoints over time (one-euro filter)")
    quiet: bool = option(False, "no progress bars or notes")


@dataclass
class AnimateSettings(PoseSettings):
    """Everything `animate` needs; the defaults are those of the released config."""

    ref: Path | None = option(None, "reference image: the person to animate", metavar="IMAGE")
    driving: Path | None = option(
        None, "driving video (mp4/mov/webm/mkv/gif), a folder of images, or a pose .npz", metavar="VIDEO"
    )
    poses: Path | None = option(
        None,
        "keypoints to follow instead of detecting them: a pose .npz (`mimicmotion pose --out`, or any tool "
        "that writes the format: docs/pose-format.md), retargeted and drawn as detected ones are; "
        "--driving, if given too, then only gives the sound",
        metavar="NPZ",
    )
    out: Path | None = option(
        None,
        "output .mp4, or .mkv for lossless FFV1 (with --config: a folder, default outputs/)",
        metavar="OUT",
    )
    base_model: str = base_model_option()
    checkpoint: str = checkpoint_option()
    steps: int = option(25, "denoising steps", metavar="N")
    tile_size: int = option(72, "frames per denoising window (the reference frame included)", metavar="N")
    tile_overlap: int = option(
        6, "frames shared by adjacent windows (the reference frame included)", metavar="N"
    )
    fusion: str = option("official", "how overlapping windows are blended", choices=FUSIONS, metavar="NAME")
    min_guidance: float = option(2.0, "guidance scale of the first frame", metavar="SCALE")
    max_guidance: float = option(2.0, "guidance scale of the last frame", metavar="SCALE")
    noise_aug: float = option(0.0, "noise added to the reference before encoding", metavar="STRENGTH")
    seed: int = option(42, "random seed", metavar="N")
    pose_strength: float = option(1.0, "scale of the pose features (0: no pose guidance)", metavar="S")
    ref_strength: float = option(
        1.0, "scale of the reference's image embedding and latent in the conditional pass", metavar="S"
    )
    pose_interval: tuple[float, ...] = option(
        (0.0, 1.0),
        "A,B: the pose applies only at steps whose progress (step index / steps) lies in [A, B]",
        metavar="A,B",
    )
    cfg_until: float = option(
        1.0,
        "guidance only at steps whose progress (step index / steps) is at most P; later steps skip the "
        "unconditional pass (fewer unet passes)",
        metavar="P",
    )
    scheduler: str = option(
        "euler",
        "ODE solver: euler (released) or dpm++2m (second order, same cost per step)",
        choices=SOLVERS,
        metavar="NAME",
    )
    sigmas: tuple[str, ...] | None = option(
        None,
        "each step's noise level, decreasing (the last step ends at 0), instead of --steps steps of the "
        f"Karras schedule; or a published schedule by name: {', '.join(NAMED_SIGMAS)} (Align Your Steps, "
        "10 steps for SVD)",
        metavar="S1,S2,...",
    )
    init_noise: str = option(
        "tiled",
        "initial noise: tiled (released: one window of noise repeated along time) or independent (the "
        "paper's: drawn for every frame)",
        choices=INIT_NOISES,
        metavar="KIND",
    )
    decode_overlap: int = option(
        0,
        "frames shared by consecutive decoding chunks (--decode-chunk), blended linearly (0: the released "
        "chunking)",
        metavar="K",
    )
    fps: str = option(
        "auto",
        "frame rate of the output; auto: the driving video's, divided by the frames skipped, so the output "
        "plays in real time (with its sound); a number: that rate (15: the released program's)",
        metavar="auto|FPS",
    )
    audio: bool = option(True, "copy the driving video's sound into the output (with --fps auto)")
    dtype: str = option(
        "auto",
        "precision; auto: fp16 on CUDA and MPS, fp32 on CPU (bf16 on MPS needs macOS 14)",
        choices=DTYPE_NAMES,
        metavar="DTYPE",
    )
    device: str = option(
        "auto",
        "auto (CUDA, else Apple's MPS, else CPU), cpu, cuda, cuda:N or mps (Apple silicon)",
        metavar="DEVICE",
    )
    offload: str = option(
        "none",
        "model parts kept on the CPU while idle (CUDA only): none; model (each model moves to the GPU when "
        "it runs: only the largest one's weights there at a time, a little slower); sequential (each layer "
        "moves when it runs: the least GPU memory, much slower)",
        choices=OFFLOADS,
        metavar="MODE",
    )
    cfg_batch: bool = option(
        False,
        "the unconditional and conditional passes of a window in one unet call (faster on a GPU with memory "
        "to spare; the released code runs them one after the other)",
    )
    forward_chunking: bool = option(
        False, "the unet's feed-forward layers run frame by frame (a lower GPU memory peak, a little slower)"
    )
    decode_chunk: int = option(
        DECODE_CHUNK_SIZE,
        f"frames per VAE decoding call ({DECODE_CHUNK_SIZE}: released; fewer lowers the decoding memory "
        "peak, but the temporal decoder then sees other clips, so the frames change)",
        metavar="N",
    )
    compile: bool = option(
        False,
        "torch.compile the unet's blocks and the VAE decoder: faster passes after a compilation paid once "
        "per process and input shape (the first is timed and said apart before sampling); not with --offload "
        "sequential",
    )
    tf32: bool = option(
        False,
        "in fp32 on a CUDA GPU of the Ampere generation or later, matmuls in TF32, as convolutions already "
        "are (much faster, about 1e-3 relative error)",
    )
    vram: str = option(
        "off",
        "auto: before loading, choose the fastest mode (--cfg-batch, --offload, --forward-chunking; "
        "--decode-chunk 4, which changes the frames, only when nothing else fits) that the planner estimates "
        "to fit the GPU's free memory, and say which (CUDA only); off: the options as given",
        choices=VRAM_CHOICES,
        metavar="off|auto",
    )
    side_by_side: bool = option(False, "write reference | pose | result side by side")
    resume: bool = option(
        False, "continue the interrupted run that was writing --out, from the state it saved beside it"
    )

    def replace(self, **changes: Any) -> AnimateSettings:
        return dataclasses.replace(self, **changes)

    @property
    def motion(self) -> Path | None:
        """Where the poses come from: the pose file of --poses, else --driving."""
        return self.poses if self.poses is not None else self.driving

    @property
    def mode(self) -> Mode:
        """The speed and memory levers of these settings (`mimicmotion.modes`)."""
        return Mode(self.cfg_batch, self.offload, self.forward_chunking, self.decode_chunk)

    @property
    def step_count(self) -> int:
        """The steps the sampler takes: one per level of --sigmas when given, else --steps."""
        return step_count(self.steps, self.sigmas)


# released key -> the AnimateSettings fields it sets
RELEASED_CASE_KEYS = {
    "ref_video_path": ("driving",),
    "ref_image_path": ("ref",),
    "num_frames": ("tile_size",),
    "resolution": ("resolution",),
    "frames_overlap": ("tile_overlap",),
    "num_inference_steps": ("steps",),
    "noise_aug_strength": ("noise_aug",),
    "guidance_scale": ("min_guidance", "max_guidance"),
    "sample_stride": ("stride",),
    "fps": ("fps",),
    "seed": ("seed",),
}
RELEASED_COMMON_KEYS = {"base_model_path": ("base_model",), "ckpt_path": ("checkpoint",)}


def read_released_config(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The test cases of a released-format YAML file, as dicts of `AnimateSettings` fields.

    Besides the released keys, the file and each case may set any `AnimateSettings` field by its own name
    (`pose_strength: 0.8`, `scheduler: dpm++2m`, ...); a case's value wins over the file's.
    """
    document = read_yaml(path)
    ours = [f.name for f in dataclasses.fields(AnimateSettings)]
    check_keys(document, [*RELEASED_COMMON_KEYS, "test_case", *ours], str(path))
    cases = document.pop("test_case", None)
    if not isinstance(cases, list) or not cases:
        raise MimicMotionError(f"{path} has no test_case list (the released config format)")
    common = _case_values(document, RELEASED_COMMON_KEYS, str(path))
    return [
        {**common, **_case_values(case, RELEASED_CASE_KEYS, f"{path}: test case {number}")}
        for number, case in enumerate(cases, start=1)
    ]


def _case_values(values: Any, released: dict[str, tuple[str, ...]], source: str) -> dict[str, Any]:
    """The settings a mapping of released keys and field names gives."""
    if not isinstance(values, dict):
        raise MimicMotionError(f"{source} is not a mapping")
    keys = {**{f.name: (f.name,) for f in dataclasses.fields(AnimateSettings)}, **released}
    check_keys(values, keys, source)
    return {
        name: convert(AnimateSettings, name, value, f"{source}: {key}")
        for key, value in values.items()
        for name in keys[key]
    }
