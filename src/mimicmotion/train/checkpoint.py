"""Run folders, checkpoints (atomic save, exact resume) and export to the released checkpoint format.

A run folder holds `config.yaml`, `metrics.jsonl`, `tensorboard/`, `validation/` and
`checkpoints/step-XXXXXXXX/`. A checkpoint holds
- `model.safetensors`: the trained weights with the released keys (`unet.*`, `pose_net.*`), whatever
  the distribution backend (so a run can resume on another number of processes and export reads one file);
- accelerate's state: optimizer, lr schedule, gradient scaler, and each process's RNG states
  (`random_states_<rank>.pkl`, read back by accelerate with `torch.load(weights_only=True)`; DeepSpeed
  and FSDP add their own sharded files);
- `ema.safetensors` + `ema.json` when training keeps an EMA;
- `trainer_state.json`: the optimizer step and the data position (micro-step, samples seen).
It is written into `checkpoints/.tmp-step-XXXXXXXX/` and renamed when complete, so a killed run
never leaves a checkpoint that looks finished.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from mimicmotion.errors import MimicMotionError

CHECKPOINTS = "checkpoints"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
STATE_FILE = "trainer_state.json"
MODEL_FILE = "model.safetensors"
EMA_FILE = "ema.safetensors"
EMA_STATE_FILE = "ema.json"
_NAME = re.compile(r"^step-(\d{8})$")
EXPORT_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
EXPORT_WEIGHTS = ("model", "ema")


# ----------------------------------------------------------------------------------------- finding


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step-{step:08d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders of interrupted saves are ignored)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.match(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def resolve_checkpoint(path: str | os.PathLike) -> tuple[Path, Path]:
    """(run folder, checkpoint folder) for a run folder (its newest checkpoint) or a checkpoint folder."""
    path = Path(path)
    if (path / STATE_FILE).is_file() and path.parent.name == CHECKPOINTS:
        return path.parent.parent, path
    if not path.is_dir():
        raise MimicMotionError(f"run not found: {path}")
    if not (path / CONFIG_FILE).is_file():
        raise MimicMotionError(f"{path} is not a training run (no {CONFIG_FILE}) nor one of its checkpoints")
    checkpoints = list_checkpoints(path)
    if not checkpoints:
        raise MimicMotionError(f"run {path} has no complete checkpoint yet")
    return path, checkpoints[-1]


def read_trainer_state(checkpoint: Path) -> dict[str, Any]:
    try:
        return json.loads((checkpoint / STATE_FILE).read_text())
    except (OSError, ValueError) as error:
        raise MimicMotionError(f"cannot read {checkpoint / STATE_FILE}: {error}") from None


# ------------------------------------------------------------------------------------------ saving


def _write_json(path: Path, value: dict) -> None:
    path.write_text(json.dumps(value, indent=1))


def ema_state(model: torch.nn.Module, ema) -> dict[str, torch.Tensor]:
    """The model's state dict with every parameter replaced by its moving average."""
    state = {name: tensor.detach() for name, tensor in model.state_dict().items()}
    for (name, _), shadow in zip(model.named_parameters(), ema.shadow_params, strict=True):
        state[name] = shadow.detach()
    return state


def save_checkpoint(accelerator, model, ema, run_dir: Path, trainer_state: dict[str, Any], keep: int) -> Path:
    """Save everything needed to continue exactly; collective: every process must call it."""
    from safetensors.torch import save_file

    step = trainer_state["step"]
    final = checkpoint_path(run_dir, step)
    temp = final.with_name(".tmp-" + final.name)
    if accelerator.is_main_process:
        shutil.rmtree(temp, ignore_errors=True)  # left by a run killed while saving
        temp.mkdir(parents=True)
    accelerator.wait_for_everyone()

    accelerator.save_state(
        str(temp)
    )  # optimizer, lr schedule, scaler, RNG states (+ sharded model for DS/FSDP)
    full_state = _full_model_state(accelerator, model)  # collective for DeepSpeed/FSDP
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        save_file(_contiguous(full_state), str(temp / MODEL_FILE))
        if ema is not None:
            save_file(_contiguous(ema_state(unwrapped, ema)), str(temp / EMA_FILE))
            _write_json(temp / EMA_STATE_FILE, {"optimization_step": ema.optimization_step})
        _write_json(temp / STATE_FILE, trainer_state)  # last: marks the folder complete
        if final.exists():  # resumed from an older checkpoint: the newer one belongs to the abandoned path
            shutil.rmtree(final)
        os.replace(temp, final)
        if keep > 0:
            for old in list_checkpoints(run_dir)[:-keep]:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def _full_model_state(accelerator, model) -> dict[str, torch.Tensor]:
    from accelerate.utils import DistributedType

    if accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP):
        return accelerator.get_state_dict(model)  # gathers shards; only complete on the main process
    return accelerator.unwrap_model(model).state_dict()


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: tensor.detach().contiguous().cpu() for key, tensor in state.items()}


def register_model_file_hooks(accelerator, model) -> None:
    """Let `model.safetensors` (released keys) stand in for accelerate's own copy of the weights.

    Without DeepSpeed/FSDP, accelerate would save the wrapped model's state dict (keys prefixed
    `module.` under DDP) and could only reload it with the same number of processes.
    """
    from accelerate.utils import DistributedType

    if accelerator.distributed_type in (DistributedType.DEEPSPEED, DistributedType.FSDP):
        return  # they save and load their own sharded model state

    def skip_saving(models: list, weights: list, output_dir: str) -> None:
        weights.clear()

    def load_model_file(models: list, input_dir: str) -> None:
        from mimicmotion.loading import check_state_dict, read_state_dict

        unwrapped = accelerator.unwrap_model(model)
        path = Path(input_dir) / MODEL_FILE
        state = read_state_dict(path)
        check_state_dict(unwrapped, state, str(path))
        unwrapped.load_state_dict(state)
        models.clear()

    accelerator.register_save_state_pre_hook(skip_saving)
    accelerator.register_load_state_pre_hook(load_model_file)


def load_checkpoint(accelerator, ema, unwrapped, checkpoint: Path) -> dict[str, Any]:
    """Restore a checkpoint into the prepared objects; returns its trainer state."""
    state = read_trainer_state(checkpoint)
    accelerator.load_state(str(checkpoint))
    if ema is not None:
        from mimicmotion.loading import read_state_dict

        if not (checkpoint / EMA_FILE).is_file():
            raise MimicMotionError(f"{checkpoint} has no EMA weights: the run was trained without ema")
        averages = read_state_dict(checkpoint / EMA_FILE)
        for (name, _), shadow in zip(unwrapped.named_parameters(), ema.shadow_params, strict=True):
            shadow.copy_(averages[name])
        ema.optimization_step = json.loads((checkpoint / EMA_STATE_FILE).read_text())["optimization_step"]
    return state


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop metric lines after `step` (written by the run after its last checkpoint) and torn lines."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("step", 0) <= step:
            kept.append(line)
    from mimicmotion.video import atomic_output

    with atomic_output(path) as temp:
        temp.write_text("".join(line + "\n" for line in kept))


# ------------------------------------------------------------------------------------------ export


def export_checkpoint(
    source: str | os.PathLike, out: str | os.PathLike, weights: str = "model", dtype: str = "float16"
) -> Path:
    """Write the weights of a run (its newest checkpoint) or of one checkpoint as a MimicMotion checkpoint.

    The file has the released layout (`unet.*`, `pose_net.*`) that `MimicMotionPipeline.from_pretrained(
    checkpoint=...)` reads: `.safetensors`, or `.pth` (a torch-saved flat state dict, like
    MimicMotion_1-1.pth). `weights` is "model" or "ema"; `dtype` float16 (as released), bfloat16 or float32.
    """
    from mimicmotion.loading import read_state_dict, split_checkpoint
    from mimicmotion.video import atomic_output

    out = Path(out)
    if out.suffix not in (".safetensors", ".pth"):
        raise MimicMotionError(f"export file must end in .safetensors or .pth, got {out.name}")
    if weights not in EXPORT_WEIGHTS:
        raise MimicMotionError(f"weights must be one of {', '.join(EXPORT_WEIGHTS)}, got {weights!r}")
    if dtype not in EXPORT_DTYPES:
        raise MimicMotionError(f"dtype must be one of {', '.join(EXPORT_DTYPES)}, got {dtype!r}")
    _, checkpoint = resolve_checkpoint(source)
    file = checkpoint / (MODEL_FILE if weights == "model" else EMA_FILE)
    if not file.is_file():
        what = "EMA weights (the run was trained without ema)" if weights == "ema" else "model weights"
        raise MimicMotionError(f"{checkpoint} has no {what}")
    state = read_state_dict(file)
    split_checkpoint(state, file)  # the released layout, nothing else
    target = EXPORT_DTYPES[dtype]
    state = {k: (v.to(target) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    with atomic_output(out) as temp:
        if out.suffix == ".safetensors":
            from safetensors.torch import save_file

            save_file(state, str(temp))
        else:
            torch.save(state, temp)
    return out
