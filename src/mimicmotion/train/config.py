"""Training settings: one dataclass of plain values, read from YAML and overridden from the command line.

Every field can be set in the YAML file (`key: value`) and on the command line (`--key-name VALUE`;
true/false settings as `--key-name` / `--no-key-name`); the command line wins (see
`mimicmotion.settings`). Unknown keys and values of the wrong type or range stop with one clear
MimicMotionError. The defaults are the paper's settings (appendix A); `configs/train.yaml` spells them
out with comments.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mimicmotion.config import base_model_option
from mimicmotion.errors import MimicMotionError
from mimicmotion.pose.render import STYLES
from mimicmotion.settings import check_choices, from_mapping, option, read_yaml

MIXED_PRECISION = ("no", "fp16", "bf16")
LR_SCHEDULES = ("constant_with_warmup", "cosine_with_warmup", "linear_with_warmup")
PACKAGED_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train.yaml"
ACCELERATE_CONFIGS = ("ddp", "deepspeed_zero2", "fsdp")

# Settings that may change when a run is resumed: they do not change what the run computes
# (how long it runs, how often it saves, where its inputs now live, how many loader workers; whether the
# frames' VAE posteriors are computed in the step or read from a cache changes them only to float precision).
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
        "cache_latents",
    }
)


@dataclass
class TrainConfig:
    # ---- where things are
    data: str = option("data/prepared", "folder written by `mimicmotion prepare-data`")
    run_dir: str = option("runs/mimicmotion", "run folder: config, metrics, TensorBoard logs, checkpoints")
    base_model: str = base_model_option()
    init_checkpoint: str | None = option(
        None, "start from this MimicMotion checkpoint instead of SVD's unet + a fresh PoseNet"
    )
    # ---- samples (paper 3.2)
    height: int = option(1024, "training frame height, a multiple of 8 (paper: 1024, portrait dance videos)")
    width: int = option(576, "training frame width, a multiple of 8 (paper: 576)")
    num_frames: int = option(16, "frames per clip (paper: 16)")
    min_frame_interval: int = option(1, "smallest interval between sampled frames")
    max_frame_interval: int = option(4, "largest interval between sampled frames")
    render_style: str = option("released", "pose picture style; use the one inference uses", choices=STYLES)
    hand_threshold: float = option(0.3, "a hand counts when all 21 keypoint confidences exceed this")
    hand_padding: float = option(0.2, "hand box padding, as a fraction of the box's longer side")
    hand_weight: float = option(10.0, "loss weight inside hand boxes (paper: 10); 1 elsewhere")
    num_workers: int = option(4, "data loader worker processes per training process")
    cache_latents: bool = option(
        False,
        "encode the prepared frames with the VAE once, into files beside them, and train from those "
        "latents (faster steps; about 300 KB of disk per frame at 576 x 1024)",
    )
    # ---- objective (paper appendix A, SVD)
    p_mean: float = option(0.5, "mean of log(sigma)")
    p_std: float = option(1.4, "standard deviation of log(sigma)")
    uncond_prob: float = option(
        0.1, "probability of dropping reference and pose (the unconditional input of guidance)"
    )
    noise_aug_min: float = option(0.0, "smallest noise augmentation of the reference")
    noise_aug_max: float = option(0.1, "largest noise augmentation of the reference")
    condition_fps: int | None = option(
        7, "fps time id (inference passes 7 whatever the video's rate); null: each clip's own frame rate"
    )
    motion_bucket_id: int = option(127, "motion bucket time id (inference: 127)")
    # ---- optimisation
    batch_size: int = option(1, "clips per process and micro-batch (paper: 1 on each of 8 GPUs)")
    gradient_accumulation_steps: int = option(1, "micro-batches per optimizer step")
    learning_rate: float = option(1e-5, "AdamW learning rate (paper: 1e-5)")
    warmup_steps: int = option(500, "linear warm-up steps (paper: 500)")
    lr_schedule: str = option(
        "constant_with_warmup",
        "after warm-up: constant (paper), cosine or linear decay",
        choices=LR_SCHEDULES,
    )
    adam_beta1: float = option(0.9, "AdamW beta1")
    adam_beta2: float = option(0.999, "AdamW beta2")
    adam_epsilon: float = option(1e-8, "AdamW epsilon")
    weight_decay: float = option(0.01, "AdamW weight decay")
    max_grad_norm: float = option(1.0, "gradient clipping norm (0: off)")
    use_8bit_adam: bool = option(False, "bitsandbytes 8-bit AdamW (needs `pip install bitsandbytes`)")
    ema: bool = option(False, "keep an exponential moving average of the weights")
    ema_decay: float = option(0.9999, "EMA decay")
    epochs: float = option(20.0, "passes over the videos (paper: 20); ignored when max_steps is set")
    max_steps: int | None = option(None, "optimizer steps to train for (overrides epochs)")
    mixed_precision: str = option(
        "bf16", "mixed precision of the training computation", choices=MIXED_PRECISION
    )
    gradient_checkpointing: bool = option(True, "recompute activations in the backward pass to save memory")
    seed: int = option(42, "seed of everything random: data order, clips, noise, sigmas, dropout")
    # ---- run
    checkpoint_every: int = option(500, "save a checkpoint every K optimizer steps")
    keep_checkpoints: int = option(3, "keep the K newest checkpoints (0: keep all)")
    validate_every: int = option(500, "write a validation video every K steps (0: never)")
    validation_steps: int = option(25, "denoising steps of the validation video")

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
        # The VAE works on 8 x 8 blocks; the multiple the model itself needs (64 for SVD, see
        # pose.reference.RESOLUTION_MULTIPLE; less for the tiny test models) is checked once it is loaded.
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
        check_choices(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | os.PathLike) -> None:
        """Write the settings as YAML (atomically), in field order."""
        from mimicmotion.video import atomic_output

        with atomic_output(path) as temp:
            temp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def read_config(path: str | os.PathLike) -> TrainConfig:
    """The settings in a YAML file (not validated: see `load_config`)."""
    return from_mapping(TrainConfig, read_yaml(path), str(path))


def load_config(path: str | os.PathLike | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the YAML file (if any), then the command-line overrides; validated."""
    config = TrainConfig() if path is None else read_config(path)
    if overrides:
        config = from_mapping(TrainConfig, overrides, "command line", config)
    return config.validate()


def resumed_config(run_config: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    """The saved settings of a run with the overrides that keep it the same run."""
    config = from_mapping(TrainConfig, overrides, "command line", run_config)
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
