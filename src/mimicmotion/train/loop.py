"""The training loop (`mimicmotion train`), one script for CPU, one GPU, many GPUs and many nodes.

Launch it directly (`mimicmotion train ...`) or through `accelerate launch` with one of the configs in
`mimicmotion/configs/accelerate/`; accelerate decides devices, processes, DDP/DeepSpeed/FSDP wrapping and
gradient synchronisation. The loop itself reads like the paper's recipe (appendix A):

    for each optimizer step:
        for each of the accumulated micro-batches:
            clips -> noise at sigma ~ logN(0.5, 1.4^2) -> unet + PoseNet -> hand-weighted EDM loss -> backward
        AdamW step (lr 1e-5 after 500 warm-up steps), EMA update
        log; every K steps: checkpoint, validation video
"""

from __future__ import annotations

import json
import math
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.parallel import cpu_processes
from mimicmotion.train import checkpoint as ckpt
from mimicmotion.train.config import TrainConfig
from mimicmotion.train.dataset import ClipDataset, MicroBatches, load_prepared, min_video_frames
from mimicmotion.train.latents import build_cache
from mimicmotion.train.model import MimicMotionModel
from mimicmotion.train.objective import sample_noise, stack_noise
from mimicmotion.train.prepare import GIVEN
from mimicmotion.train.step import clip_losses

LR_SCHEDULE_NAMES = {
    "constant_with_warmup": "constant_with_warmup",
    "cosine_with_warmup": "cosine",
    "linear_with_warmup": "linear",
}


def train(config: TrainConfig, resume: str | Path | None = None) -> Path:
    """Train as `config` says (a new run in `config.run_dir`), or continue the run/checkpoint `resume`.

    Returns the run folder. When resuming, `config` must be the run's saved settings (see
    `config.resumed_config`); the caller reads them.
    """
    from accelerate import Accelerator
    from accelerate.utils import DistributedType, ProjectConfiguration, set_seed

    config.validate()
    # The data first: a missing or unusable folder is reported before anything is set up.
    videos = load_prepared(config.data, min_video_frames(config.num_frames, config.min_frame_interval))
    if config.validate_every and videos[0].pose_backend != GIVEN:
        # validation detects the reference's pose (given poses bring it along): its detector must be at hand
        from mimicmotion.pose import choose_backend

        choose_backend(videos[0].pose_backend)
    run_dir = ckpt.resolve_checkpoint(resume)[0] if resume is not None else Path(config.run_dir)
    try:
        accelerator = Accelerator(
            cpu=cpu_processes(),  # not independent copies writing to the same run folder
            mixed_precision=config.mixed_precision,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            log_with="tensorboard",
            project_config=ProjectConfiguration(
                project_dir=str(run_dir), logging_dir=str(run_dir / "tensorboard")
            ),
            # the warm-up counts optimizer steps, whatever the number of processes
            step_scheduler_with_optimizer=False,
        )
    except ValueError as error:  # accelerate's objections to the device or precision
        raise MimicMotionError(f"cannot set up training: {error}") from None
    if accelerator.mixed_precision == "fp16" and accelerator.device.type == "cpu":
        raise MimicMotionError("mixed_precision fp16 needs a GPU; on the CPU use bf16 or no")
    # Every process checks the run folder before any of them writes to it.
    resume_from = _check_run_folder(config, resume)
    accelerator.wait_for_everyone()
    set_seed(config.seed)  # the fresh PoseNet's initialisation
    device = accelerator.device

    # The model: SVD (or a MimicMotion checkpoint) + PoseNet trained, VAE and CLIP frozen.
    pipe = _load_pipeline(config)
    _check_frame_size(pipe, config)
    run_dir.mkdir(parents=True, exist_ok=True)  # only once the data and weights are known to be good
    model = MimicMotionModel(pipe.unet, pipe.pose_net).train()
    model.requires_grad_(True)
    if config.gradient_checkpointing:
        model.unet.enable_gradient_checkpointing()
    # The frozen encoders stay in float32 (a small share of the step's work): the reference embedding and
    # latent then have the dtype of the trained weights, in training and in the validation pipeline alike.
    for frozen in (pipe.vae, pipe.image_encoder):
        frozen.requires_grad_(False).eval()
        torch.nn.Module.to(frozen, device)

    latent_cache = _latent_cache(accelerator, pipe, videos, config) if config.cache_latents else None
    optimizer = _optimizer(model, config)
    from diffusers.optimization import get_scheduler

    clips_per_step = config.batch_size * accelerator.num_processes * config.gradient_accumulation_steps
    total_steps = config.max_steps or math.ceil(config.epochs * len(videos) / clips_per_step)
    lr_schedule = get_scheduler(
        LR_SCHEDULE_NAMES[config.lr_schedule],
        optimizer,
        num_warmup_steps=config.warmup_steps,
        num_training_steps=total_steps,
    )
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        # no dataloader goes through accelerate (the sampler shards by itself), so tell DeepSpeed the batch
        accelerator.state.deepspeed_plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = (
            config.batch_size
        )
    ckpt.register_model_file_hooks(accelerator, model)
    model, optimizer, lr_schedule = accelerator.prepare(model, optimizer, lr_schedule)
    ema = _ema(accelerator.unwrap_model(model), config) if config.ema else None

    step = 0
    if resume_from is not None:
        state = ckpt.load_checkpoint(accelerator, ema, accelerator.unwrap_model(model), resume_from)
        step = int(state["step"])
        if accelerator.is_main_process:
            ckpt.truncate_metrics(run_dir, step)
        accelerator.print(f"mimicmotion train: resumed {run_dir} at step {step} from {resume_from.name}")
    elif accelerator.is_main_process:
        config.save(run_dir / ckpt.CONFIG_FILE)
    accelerator.init_trackers(
        "train", config={k: "null" if v is None else v for k, v in config.to_dict().items()}
    )

    dataset = ClipDataset(videos, config, latent_scale=pipe.vae_scale_factor, latent_cache=latent_cache)
    micro_step = step * config.gradient_accumulation_steps  # the data position: samples follow from it
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=MicroBatches(
            micro_step, config.batch_size, accelerator.num_processes, accelerator.process_index
        ),
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
    )
    batches = iter(loader)
    latent_shape = (
        config.num_frames,
        pipe.vae.config.latent_channels,
        config.height // pipe.vae_scale_factor,
        config.width // pipe.vae_scale_factor,
    )
    metrics = (run_dir / ckpt.METRICS_FILE).open("a") if accelerator.is_main_process else None
    progress = _progress_bar(accelerator, step, total_steps)

    while step < total_steps:
        started = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]  # the rate this step's update uses
        losses, sigmas = [], []
        for _ in range(config.gradient_accumulation_steps):
            batch = next(batches)
            noise = _noise(batch["index"], config, latent_shape, device)
            with accelerator.accumulate(model):
                loss, sigma = clip_losses(
                    model, pipe, batch, noise, config.condition_fps, config.motion_bucket_id
                )
                accelerator.backward(loss.mean())
                if accelerator.sync_gradients and config.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                if accelerator.sync_gradients and not accelerator.optimizer_step_was_skipped:
                    lr_schedule.step()
                optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach())
            sigmas.append(sigma)
        step += 1
        micro_step += config.gradient_accumulation_steps
        samples = micro_step * config.batch_size * accelerator.num_processes
        if ema is not None:
            ema.step(accelerator.unwrap_model(model).parameters())

        # Every process's clips of this step, for the log.
        per_process = accelerator.gather(torch.cat(losses).mean().view(1))
        all_sigmas = accelerator.gather(torch.cat(sigmas))
        if accelerator.is_main_process:
            record = {
                "step": step,
                "loss": per_process.mean().item(),
                "lr": lr,
                "sigma": all_sigmas.mean().item(),
                "seconds": round(time.perf_counter() - started, 4),
                "samples": samples,
                "epoch": samples / len(videos),
                "loss_per_process": per_process.tolist(),
            }
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()
            progress.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{lr:.2e}")
        accelerator.log(
            {"loss": per_process.mean().item(), "lr": lr, "sigma": all_sigmas.mean().item()}, step=step
        )
        progress.update()

        if step % config.checkpoint_every == 0 or step == total_steps:
            trainer_state = {
                "step": step,
                "micro_step": micro_step,
                "samples": samples,
                "num_processes": accelerator.num_processes,
                "total_steps": total_steps,
            }
            ckpt.save_checkpoint(accelerator, model, ema, run_dir, trainer_state, config.keep_checkpoints)
        if config.validate_every and step % config.validate_every == 0:
            _validate(accelerator, pipe, model, dataset, config, run_dir, step)

    progress.close()
    if metrics is not None:
        metrics.close()
    accelerator.end_training()
    return run_dir


# ---------------------------------------------------------------------------------------------------- set-up


def _check_run_folder(config: TrainConfig, resume: str | Path | None) -> Path | None:
    """The checkpoint to resume from, or None for a new run, which must not overwrite an old one."""
    if resume is not None:
        return ckpt.resolve_checkpoint(resume)[1]
    run_dir = Path(config.run_dir)
    if ckpt.list_checkpoints(run_dir) or (run_dir / ckpt.CONFIG_FILE).exists():
        raise MimicMotionError(
            f"run folder {run_dir} already holds a run: continue it with `mimicmotion train --resume "
            f"{run_dir}` or choose another --run-dir"
        )
    return None


def _load_pipeline(config: TrainConfig):
    from mimicmotion.pipeline import MimicMotionPipeline

    pipe = MimicMotionPipeline.from_pretrained(config.base_model, checkpoint=config.init_checkpoint)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _check_frame_size(pipe, config: TrainConfig) -> None:
    multiple = pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1)
    if config.height % multiple or config.width % multiple:
        raise MimicMotionError(
            f"training size {config.width}x{config.height} must be a multiple of {multiple} in both "
            "directions for this model"
        )


def _latent_cache(accelerator, pipe, videos, config: TrainConfig) -> str:
    """The fingerprint of the VAE's latent cache, which the processes complete first, each a share."""
    fingerprint = build_cache(
        videos,
        pipe.vae,
        config.height,
        config.width,
        progress=accelerator.is_local_main_process,
        rank=accelerator.process_index,
        world=accelerator.num_processes,
    )
    accelerator.wait_for_everyone()
    return fingerprint


def _noise(indices: torch.Tensor, config: TrainConfig, latent_shape: tuple, device: torch.device):
    """The random numbers of the clips `indices` (drawn per clip from the run seed, see objective.py)."""
    return stack_noise(
        [
            sample_noise(
                config.seed,
                int(index),
                latent_shape,
                (3, config.height, config.width),
                config.p_mean,
                config.p_std,
                (config.noise_aug_min, config.noise_aug_max),
                config.uncond_prob,
            )
            for index in indices
        ],
        device,
    )


def _optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.use_8bit_adam:
        try:
            import bitsandbytes
        except ImportError:
            raise MimicMotionError(
                "use_8bit_adam needs bitsandbytes: `pip install bitsandbytes` (CUDA only), "
                "or set use_8bit_adam false"
            ) from None
        adamw = bitsandbytes.optim.AdamW8bit
    else:
        adamw = torch.optim.AdamW
    return adamw(
        model.parameters(),
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
        weight_decay=config.weight_decay,
    )


def _ema(model: torch.nn.Module, config: TrainConfig):
    from diffusers.training_utils import EMAModel

    return EMAModel(model.parameters(), decay=config.ema_decay)


def _progress_bar(accelerator, step: int, total: int):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=step,
        unit="step",
        desc="train",
        disable=not accelerator.is_local_main_process,
        dynamic_ncols=True,
    )


# -------------------------------------------------------------------------------------- validation


@torch.no_grad()
def _validate(
    accelerator, pipe, model, dataset: ClipDataset, config: TrainConfig, run_dir: Path, step: int
) -> None:
    """The first video's first frame animated with its own motion by the current weights, through the
    generation path `animate` uses (`validation_settings`); written to RUN/validation/step-XXXXXXXX.mp4 and
    shown in TensorBoard."""
    from accelerate.utils import DistributedType

    from mimicmotion.generation import pose_inputs, sample, video_frames, write_video

    if accelerator.distributed_type == DistributedType.FSDP:
        accelerator.print("mimicmotion train: validation videos are not made under FSDP (sharded weights)")
        return
    if accelerator.is_main_process:
        reference, driving, detector, fps = dataset.validation_inputs()
        settings = validation_settings(config, run_dir / "validation" / f"step-{step:08d}.mp4", fps)
        settings.out.parent.mkdir(exist_ok=True)
        model.eval()
        autocast = accelerator.autocast() if accelerator.mixed_precision != "no" else nullcontext()
        try:  # a validation video that cannot be made must not stop (or, on several GPUs, hang) training
            inputs = pose_inputs(settings, reference, driving, detector, size=(config.height, config.width))
            with inputs.pose_frames, autocast:
                frames = list(video_frames(pipe, sample(pipe, inputs, settings).frames))
        except MimicMotionError as error:
            accelerator.print(f"mimicmotion train: no validation video at step {step}: {error}")
            frames = []
        finally:
            model.train()
        if frames:
            write_video(settings.out, iter(frames), len(frames), fps, progress=False)
            tracker = accelerator.get_tracker("tensorboard", unwrap=True)
            tracker.add_image("validation", np.concatenate(frames, axis=1), step, dataformats="HWC")
    accelerator.wait_for_everyone()


def validation_settings(config: TrainConfig, out: Path, fps: float) -> AnimateSettings:
    """The generation settings of a validation video: one window of `num_frames` (the reference frame and
    the video's next frames), `validation_steps` steps, the run's seed and pose style; everything else as
    `animate`'s defaults. The reference's pose is found by what `ClipDataset.validation_inputs` gives."""
    return AnimateSettings(
        out=out,
        tile_size=config.num_frames,
        tile_overlap=1,
        steps=config.validation_steps,
        seed=config.seed,
        fps=str(fps),
        pose_style=config.render_style,
        quiet=True,
    )
