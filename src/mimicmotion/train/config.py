"""Training settings: one dataclass of plain values, read from YAML and overridden from the command line.

Every field can be set in the YAML file (`key: value`) and on the command line (`--key-name VALUE`);
the command line wins. Unknown keys and values of the wrong type or range stop with one clear
MimicMotionError. The defaults are the paper's settings (appendix A); `configs/train.yaml` spells them
out with comments.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from mimicmotion.errors import MimicMotionError

MIXED_PRECISION = ("no", "fp16", "bf16")
LR_SCHEDULES = ("constant_with_warmup", "cosine_with_warmup", "linear_with_warmup")
RENDER_STYLES = ("released", "confidence", "threshold")
PACKAGED_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train.yaml"
ACCELERATE_CONFIGS = ("ddp", "deepspeed_zero2", "fsdp")

# Settings that may change when a run is resumed: they do not change what the run computes
# (how long it runs, how often it saves, where its inputs now live, how many loader workers).
RESUMABLE_CHANGES = frozenset(
    {
        "data",
        "base_model",
        "max_steps",
        "epochs",
        "checkpoint_every",
        "keep_checkpoints",
        "validate_every",
        "validation_steps",
        "num_workers",
    }
)


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"help": text}, **kwargs)


@dataclass
class TrainConfig:
    # ---- where things are
    data: str = _doc("folder written by `mimicmotion prepare-data`", default="data/prepared")
    run_dir: str = _doc(
        "run folder: config, metrics, TensorBoard logs, checkpoints", default="runs/mimicmotion"
    )
    base_model: str = _doc(
        "SVD base (hub id or diffusers folder)", default="stabilityai/stable-video-diffusion-img2vid-xt-1-1"
    )
    init_checkpoint: str | None = _doc(
        "start from this MimicMotion checkpoint instead of SVD's unet + a fresh PoseNet", default=None
    )
    # ---- samples (paper 3.2)
    height: int = _doc("training frame height (paper: 1024, portrait dance videos)", default=1024)
    width: int = _doc("training frame width (paper: 576)", default=576)
    num_frames: int = _doc("frames per clip (paper: 16)", default=16)
    min_frame_interval: int = _doc("smallest interval between sampled frames", default=1)
    max_frame_interval: int = _doc("largest interval between sampled frames", default=4)
    render_style: str = _doc("pose picture style; use the one inference uses", default="released")
    hand_threshold: float = _doc("a hand counts when all 21 keypoint confidences exceed this", default=0.3)
    hand_padding: float = _doc("hand box padding, as a fraction of the box's longer side", default=0.2)
    hand_weight: float = _doc("loss weight inside hand boxes (paper: 10); 1 elsewhere", default=10.0)
    num_workers: int = _doc("data loader worker processes per training process", default=4)
    # ---- objective (paper appendix A, SVD)
    p_mean: float = _doc("mean of log(sigma)", default=0.5)
    p_std: float = _doc("standard deviation of log(sigma)", default=1.4)
    uncond_prob: float = _doc(
        "probability of dropping reference and pose (the unconditional input of guidance)", default=0.1
    )
    noise_aug_min: float = _doc("smallest noise augmentation of the reference", default=0.0)
    noise_aug_max: float = _doc("largest noise augmentation of the reference", default=0.1)
    condition_fps: int | None = _doc(
        "fps time id (inference passes 7 whatever the video's rate); null: each clip's own frame rate",
        default=7,
    )
    motion_bucket_id: int = _doc("motion bucket time id (inference: 127)", default=127)
    # ---- optimisation
    batch_size: int = _doc("clips per process and micro-batch (paper: 1 on each of 8 GPUs)", default=1)
    gradient_accumulation_steps: int = _doc("micro-batches per optimizer step", default=1)
    learning_rate: float = _doc("AdamW learning rate (paper: 1e-5)", default=1e-5)
    warmup_steps: int = _doc("linear warm-up steps (paper: 500)", default=500)
    lr_schedule: str = _doc(
        "after warm-up: constant (paper), cosine or linear decay", default="constant_with_warmup"
    )
    adam_beta1: float = _doc("AdamW beta1", default=0.9)
    adam_beta2: float = _doc("AdamW beta2", default=0.999)
    adam_epsilon: float = _doc("AdamW epsilon", default=1e-8)
    weight_decay: float = _doc("AdamW weight decay", default=0.01)
    max_grad_norm: float = _doc("gradient clipping norm (0: off)", default=1.0)
    use_8bit_adam: bool = _doc("bitsandbytes 8-bit AdamW (needs `pip install bitsandbytes`)", default=False)
    ema: bool = _doc("keep an exponential moving average of the weights", default=False)
    ema_decay: float = _doc("EMA decay", default=0.9999)
    epochs: float = _doc("passes over the videos (paper: 20); ignored when max_steps is set", default=20.0)
    max_steps: int | None = _doc("optimizer steps to train for (overrides epochs)", default=None)
    mixed_precision: str = _doc("no, fp16 or bf16", default="bf16")
    gradient_checkpointing: bool = _doc(
        "recompute activations in the backward pass to save memory", default=True
    )
    seed: int = _doc("seed of everything random: data order, clips, noise, sigmas, dropout", default=42)
    # ---- run
    checkpoint_every: int = _doc("save a checkpoint every K optimizer steps", default=500)
    keep_checkpoints: int = _doc("keep the K newest checkpoints (0: keep all)", default=3)
    validate_every: int = _doc("write a validation video every K steps (0: never)", default=500)
    validation_steps: int = _doc("denoising steps of the validation video", default=25)

    # ------------------------------------------------------------------------------------------------

    def validate(self) -> TrainConfig:
        """Raise MimicMotionError for values that cannot work; return self."""
        positive = ("height", "width", "num_frames", "min_frame_interval", "batch_size",
                    "gradient_accumulation_steps", "checkpoint_every", "validation_steps")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise MimicMotionError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("num_workers", "warmup_steps", "keep_checkpoints", "validate_every", "learning_rate",
                     "weight_decay", "max_grad_norm", "p_std", "noise_aug_min", "hand_padding"):  # fmt: skip
            if getattr(self, name) < 0:
                raise MimicMotionError(f"{name} must not be negative, got {getattr(self, name)}")
        if self.num_frames < 2:
            raise MimicMotionError(f"num_frames must be at least 2, got {self.num_frames}")
        if self.height % 8 or self.width % 8:
            raise MimicMotionError(f"height and width must be multiples of 8, got {self.height}x{self.width}")
        if self.max_frame_interval < self.min_frame_interval:
            raise MimicMotionError(
                f"max_frame_interval ({self.max_frame_interval}) is below min_frame_interval "
                f"({self.min_frame_interval})"
            )
        if not 0.0 <= self.uncond_prob <= 1.0:
            raise MimicMotionError(f"uncond_prob must be within [0, 1], got {self.uncond_prob}")
        if not 0.0 <= self.hand_threshold < 1.0:
            raise MimicMotionError(f"hand_threshold must be within [0, 1), got {self.hand_threshold}")
        if self.hand_weight < 1.0:
            raise MimicMotionError(
                f"hand_weight must be at least 1 (the weight elsewhere), got {self.hand_weight}"
            )
        if self.noise_aug_max < self.noise_aug_min:
            raise MimicMotionError(
                f"noise_aug_max ({self.noise_aug_max}) is below noise_aug_min ({self.noise_aug_min})"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise MimicMotionError(f"ema_decay must be within [0, 1), got {self.ema_decay}")
        if self.max_steps is not None and self.max_steps < 1:
            raise MimicMotionError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.max_steps is None and self.epochs <= 0:
            raise MimicMotionError(f"epochs must be positive, got {self.epochs}")
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_choice("render_style", self.render_style, RENDER_STYLES)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write the settings as YAML (atomically), in field order."""
        from mimicmotion.video import atomic_output

        with atomic_output(path) as temp:
            temp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise MimicMotionError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


# ------------------------------------------------------------------------------------------ values


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in fields(TrainConfig)}


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """`value` (from YAML or the command line) as the field's type, or a MimicMotionError."""
    optional = isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind)
    if optional:
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "")):
            return None
    problem = f"{name} must be {_type_name(kind)}{' or null' if optional else ''}, got {value!r}"
    if value is None:
        raise MimicMotionError(problem)
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise MimicMotionError(problem)
    if kind is int:
        if isinstance(value, bool):
            raise MimicMotionError(problem)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise MimicMotionError(problem) from None
    if kind is float:
        if isinstance(value, bool):
            raise MimicMotionError(problem)
        try:  # YAML reads "1e-5" (no dot) as a string; float() reads it as a number
            return float(str(value).strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise MimicMotionError(problem) from None
    if kind is str:
        if isinstance(value, (dict, list)):
            raise MimicMotionError(problem)
        return str(value)
    raise TypeError(f"unsupported config field type {kind}")  # a programming error, not user input


def _type_name(kind: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[kind]


def from_values(values: dict[str, Any], source: str, base: TrainConfig | None = None) -> TrainConfig:
    """`base` (default: the defaults) with `values` applied; keys and values are checked."""
    kinds = _field_types()
    unknown = [key for key in values if key not in kinds]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), kinds, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise MimicMotionError(f"{source}: unknown setting(s) {', '.join(hints)}")
    current = (base or TrainConfig()).to_dict()
    for key, value in values.items():
        current[key] = _coerce(key, value, kinds[key])
    return TrainConfig(**current)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """The mapping in a YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise MimicMotionError(f"config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise MimicMotionError(f"cannot read config {path}: {error}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise MimicMotionError(f"config {path} must be a mapping of `key: value` lines")
    return values


def load_config(path: str | os.PathLike | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the YAML file (if any), then the command-line overrides; validated."""
    config = TrainConfig()
    if path is not None:
        config = from_values(read_yaml(path), str(path), config)
    if overrides:
        config = from_values(overrides, "command line", config)
    return config.validate()


def resumed_config(run_config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """The saved settings of a run with the overrides that keep it the same run."""
    config = from_values(overrides, "command line", run_config)
    changed = sorted(
        key
        for key in overrides
        if key not in RESUMABLE_CHANGES and getattr(config, key) != getattr(run_config, key)
    )
    if changed:
        raise MimicMotionError(
            f"cannot change {', '.join(changed)} when resuming: the run would no longer continue the same "
            f"training (settings that may change: {', '.join(sorted(RESUMABLE_CHANGES))})"
        )
    return config.validate()


# ------------------------------------------------------------------------------------ command line


def add_arguments(parser) -> None:
    """One `--field-name VALUE` option per setting (default: not given, so the file's value holds)."""
    group = parser.add_argument_group("settings (override the config file; see `configs/train.yaml`)")
    for f in fields(TrainConfig):
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f"set_{f.name}",
            metavar="VALUE",
            default=None,
            help=f"{f.metadata['help']} (default {f.default})",
        )


def overrides_from_args(args) -> dict[str, Any]:
    """The settings given on the command line, as raw strings (coerced by `from_values`)."""
    return {
        f.name: getattr(args, f"set_{f.name}")
        for f in fields(TrainConfig)
        if getattr(args, f"set_{f.name}", None) is not None
    }
