"""MimicMotionPipeline: reference image + pose frames -> video, on Stable Video Diffusion.

The sampler follows the released implementation step for step (docs/released-behaviour.md) so that a
seed gives the released frames: the CLIP and VAE paths of the reference, the order in which
random numbers are drawn, the window layout, classifier-free guidance per frame and the decoding
in chunks. On top of it: any number of frames (also fewer than one window), a choice of fusion,
a single conditional pass when guidance is off, and decoding as an iterator so that frames can be
written while the rest are still being decoded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import PIL.Image
import torch
from diffusers import DiffusionPipeline
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor

from mimicmotion.config import DEFAULT_BASE, FROM_BASE
from mimicmotion.controls import DECODE_CHUNK_SIZE, check_controls, parse_sigmas
from mimicmotion.errors import MimicMotionError
from mimicmotion.loading import cast, load_components
from mimicmotion.models.conditioning import added_time_ids, conditioned_prediction, pose_input
from mimicmotion.pose_features import PoseFeatureCache
from mimicmotion.sampling import SamplerState, Step, denoise
from mimicmotion.solvers import make_solver, restore_solver_state, set_schedule, solver_state
from mimicmotion.windows import fusion_weights, plan_windows

if TYPE_CHECKING:
    from mimicmotion.parallel import WindowShare

OUTPUT_TYPES = ("pt", "np", "pil", "latent")
log = logging.getLogger("mimicmotion")


class PoseFrameSource(Protocol):
    """What `pose_frames` must offer: a tensor (F, 3, H, W) or anything indexed like one.

    Indexing with a list of frame numbers gives those pose pictures as a tensor (n, 3, H, W): uint8
    pictures (converted to [-1, 1] as the released program converted them) or floats in [-1, 1].
    """

    shape: Any

    def __len__(self) -> int: ...

    def __getitem__(self, frames: list[int]) -> torch.Tensor: ...


def released_default_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype in which the released program computed what it built without an explicit dtype.

    Its inference script sets torch's default dtype to float16 for fp16 runs, so buffers, weights and
    conversions made along the way are float16 there, and float32 in full-precision runs. bf16 has no
    released counterpart; those steps stay in float32 for it.
    """
    return torch.float16 if dtype == torch.float16 else torch.float32


@dataclass
class MimicMotionPipelineOutput(BaseOutput):
    """`frames`: (batch, F, 3, H, W) in [0, 1] for "pt", (batch, F, H, W, 3) for "np", a list of
    lists of PIL images for "pil", and the latents (batch, F, 4, H/8, W/8) for "latent".
    `windows`: the frame indices of every denoising window (frame 0 is the reference)."""

    frames: Any
    windows: list[list[int]]


class MimicMotionPipeline(DiffusionPipeline):
    model_cpu_offload_seq = "image_encoder->unet->vae"
    # PoseNet is small and runs between unet calls; keeping it on the accelerator avoids a
    # transfer per window.
    _exclude_from_cpu_offload = ("pose_net",)

    def __init__(self, vae, image_encoder, unet, pose_net, scheduler, feature_extractor) -> None:
        super().__init__()
        self.register_modules(
            vae=vae,
            image_encoder=image_encoder,
            unet=unet,
            pose_net=pose_net,
            scheduler=scheduler,
            feature_extractor=feature_extractor,
        )
        self.vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)

    @classmethod
    def from_pretrained(
        cls,
        base: str | os.PathLike = DEFAULT_BASE,
        checkpoint: str | os.PathLike | None = FROM_BASE,
        torch_dtype: torch.dtype = torch.float32,
    ) -> MimicMotionPipeline:
        """Load the SVD base (hub id or diffusers folder) and a MimicMotion checkpoint.

        `checkpoint`: by default the unet and PoseNet of a folder written by `save_pretrained`, or the
        released `tencent/MimicMotion/MimicMotion_1-1.pth` for any other base; a local
        `.pth`/`.safetensors` file or "owner/repo/file" on the hub; None keeps SVD's own unet and a
        fresh PoseNet. Move the result with `.to("cuda")` or call `enable_model_cpu_offload()` to keep
        idle components on the CPU.
        """
        return cls(**load_components(base, checkpoint, torch_dtype))

    @property
    def execution_device(self) -> torch.device:
        """Where the models run: the accelerator, also when idle components are offloaded to the CPU.

        Create the generator here to get the released code's random numbers on a GPU."""
        return self._execution_device

    # ------------------------------------------------------------------ reference image

    def _image_tensor(self, image, height: int, width: int, dtype: torch.dtype) -> torch.Tensor:
        """The reference as float32 (1, 3, H, W) in [0, 1], on the CPU.

        A uint8 picture (PIL image, (H, W, 3) array or (3, H, W) tensor) first makes the released
        program's trip to [-1, 1] and back in `released_default_dtype(dtype)`, truncated to uint8, which
        lowers some pixels by one level; it is then converted by diffusers' image processor, as the
        released pipeline converted it: the tensor keeps the processor's channels-last memory layout,
        which decides how convolutions round in fp16. Float tensors are taken as they are.
        """
        if isinstance(image, PIL.Image.Image):
            image = np.asarray(image.convert("RGB"))
        if isinstance(image, torch.Tensor) and image.dtype == torch.uint8:
            image = image.cpu().permute(1, 2, 0).numpy()
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise MimicMotionError(
                    f"a reference image array must be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}"
                )
            trip = torch.from_numpy(np.array(image)).to(released_default_dtype(dtype))
            image = ((trip / 127.5 - 1 + 1.0) * 127.5).to(torch.uint8).numpy()
            image = VaeImageProcessor.numpy_to_pt(VaeImageProcessor.pil_to_numpy(PIL.Image.fromarray(image)))
        if not isinstance(image, torch.Tensor):
            raise MimicMotionError(f"unsupported reference image type {type(image).__name__}")
        image = image.cpu().float()
        if image.ndim == 3:
            image = image[None]
        if image.shape[1:] != (3, height, width):
            raise MimicMotionError(
                f"the reference image is {tuple(image.shape[-2:])} (H, W) but the pose frames are "
                f"{(height, width)}: prepare both at the same size (see mimicmotion.pose.prepare_reference)"
            )
        return image

    def encode_image(self, image: torch.Tensor, device: torch.device) -> torch.Tensor:
        """CLIP image embedding (1, 1, D), preprocessed like the released code (no crop)."""
        size = self.image_encoder.config.image_size
        # Resized in [-1, 1] with SVD's antialiasing filter, then back to [0, 1] and normalised.
        resized = (_svd_resize()(image * 2.0 - 1.0, (size, size)) + 1.0) / 2.0
        mean = torch.tensor(self.feature_extractor.image_mean).view(1, 3, 1, 1)
        std = torch.tensor(self.feature_extractor.image_std).view(1, 3, 1, 1)
        pixels = ((resized - mean) / std).to(device=device, dtype=self.image_encoder.dtype)
        return self.image_encoder(pixels).image_embeds.unsqueeze(1)

    def encode_reference_latent(self, image: torch.Tensor, device: torch.device) -> torch.Tensor:
        """Mode of the VAE posterior (1, 4, h, w), unscaled, as the released sampler conditions.

        Encoded in the VAE's own dtype, as released (fp16 too, although the VAE's config asks for an
        fp32 upcast). Should fp16 overflow, the encoding is redone in fp32, with a warning.
        """
        latent = self.vae.encode(image.to(device=device, dtype=self.vae.dtype)).latent_dist.mode()
        if torch.isfinite(latent).all() or self.vae.dtype == torch.float32:
            return latent
        log.warning("the reference overflowed in the %s VAE encoder; encoding it in float32", self.vae.dtype)
        dtype = self.vae.dtype
        cast(self.vae, torch.float32)
        try:
            latent = self.vae.encode(image.to(device=device, dtype=torch.float32)).latent_dist.mode()
        finally:
            cast(self.vae, dtype)
        return latent.to(dtype)

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def __call__(
        self,
        image: PIL.Image.Image | np.ndarray | torch.Tensor,
        pose_frames: torch.Tensor | PoseFrameSource,
        tile_size: int = 72,
        tile_overlap: int = 6,
        fusion: str = "official",
        num_inference_steps: int = 25,
        min_guidance_scale: float = 2.0,
        max_guidance_scale: float = 2.0,
        fps: int = 7,
        motion_bucket_id: int = 127,
        noise_aug_strength: float = 0.0,
        generator: torch.Generator | None = None,
        output_type: str = "pt",
        decode_chunk_size: int = DECODE_CHUNK_SIZE,
        scheduler: str = "euler",
        sigmas: Sequence[float] | str | None = None,
        pose_strength: float = 1.0,
        ref_strength: float = 1.0,
        pose_interval: tuple[float, float] = (0.0, 1.0),
        cfg_until: float = 1.0,
        init_noise: str = "tiled",
        decode_overlap: int = 0,
        cfg_batch: bool = False,
        pose_feature_budget: int | None = None,
        resume: SamplerState | None = None,
        on_step: Callable[[SamplerState], None] | None = None,
        share: WindowShare | None = None,
    ) -> MimicMotionPipelineOutput:
        """Generate F frames following `pose_frames` (F, 3, H, W) in [-1, 1].

        Frame 0 of `pose_frames` must be the pose of the reference image itself; output frame 0
        stands for the reference and is normally dropped when writing the video. `image` is the
        reference at H x W (PIL, uint8 array, or float tensor in [0, 1]). `fps` is the
        conditioning value (the released code passes 7 whatever the output frame rate).

        Beyond the released sampler (each default keeps its frames):
        - `scheduler`: "euler" (released) or "dpm++2m"; `sigmas`: each step's noise level instead of
          `num_inference_steps` steps of the Karras schedule (numbers, or a name in `NAMED_SIGMAS`);
        - `pose_strength` scales the PoseNet features, `ref_strength` the reference's image embedding and
          latent (the conditional pass); `pose_interval` (A, B): the pose applies only at steps whose
          progress (step index / steps) lies in [A, B];
        - `cfg_until` P: steps whose progress exceeds P skip the unconditional pass (no guidance there);
        - `init_noise`: "tiled" (released: one window of noise repeated along time) or "independent"
          (the paper's Algorithm 1: noise drawn for every frame);
        - `decode_overlap` K: decoding chunks share K frames, blended linearly (0: released chunking);
        - `cfg_batch`: a guided step's unconditional and conditional passes of a window in one unet call
          (batch 2; the same predictions up to float rounding, more memory);
        - PoseNet's features of each window are computed once and reused at later steps (the same values:
          they do not depend on the noise), up to `pose_feature_budget` bytes (None: as memory allows,
          `mimicmotion.pose_features`; 0: recomputed at every step, as released).

        To continue an interrupted run: `resume`, a `SamplerState` given by `on_step(state)` (called after
        each step), and the same settings and generator seed. `share`: this process's share of the
        windows when several processes sample the video together (`mimicmotion.parallel`; every process
        calls the pipeline with the same arguments and gets the same latents).
        """
        num_frames, height, width = self._check_inputs(pose_frames, output_type, fusion)
        check_controls(pose_strength, ref_strength, pose_interval, cfg_until, init_noise)
        device = self._execution_device
        dtype = self.unet.dtype
        # What the released program computed in its default dtype (fp16 in fp16 runs) is computed in
        # that dtype here too: the fusion weights, the guidance ramp, the timesteps, the conversions of
        # the reference and of the pose pictures.
        default_dtype = released_default_dtype(dtype)
        windows = plan_windows(num_frames, tile_size, tile_overlap)
        weights = fusion_weights(windows, fusion, default_dtype)
        guided = max(min_guidance_scale, max_guidance_scale) > 1.0

        # Conditioning on the reference, with random numbers drawn in the released order:
        # first the image noise (drawn even when its strength is 0), then the initial latents.
        image = self._image_tensor(image, height, width, dtype)
        image_embeddings = self.encode_image(image, device) * ref_strength
        vae_input = (2.0 * image - 1.0).to(device)
        noise = randn_tensor(vae_input.shape, generator=generator, device=device, dtype=vae_input.dtype)
        vae_input = vae_input + noise_aug_strength * noise
        image_latents = self.encode_reference_latent(vae_input, device).to(dtype) * ref_strength
        time_ids = added_time_ids(fps, motion_bucket_id, noise_aug_strength, dtype, device)

        solver = make_solver(scheduler, self.scheduler)
        set_schedule(solver, num_inference_steps, parse_sigmas(sigmas), device)
        solver.timesteps = solver.timesteps.to(default_dtype)
        if resume is None:
            noise_frames = tile_size if init_noise == "tiled" else num_frames
            latents = self._initial_latents(
                num_frames, noise_frames, height, width, dtype, device, generator, solver.init_noise_sigma
            )
        else:
            latents = resume.latents.to(device=device, dtype=dtype)
            restore_solver_state(solver, resume.solver, device)

        pose_net_features = PoseFeatureCache(
            lambda frames: self._pose_features(pose_frames, frames, device, default_dtype),
            device,
            pose_feature_budget,
        )

        def denoiser(model_input: torch.Tensor, step: Step, frames: list[int]) -> torch.Tensor:
            pose_features = None
            if pose_interval[0] <= step.progress <= pose_interval[1]:
                pose_features = pose_net_features(frames) * pose_strength
            if step.guided and cfg_batch:
                return self._guided_prediction(
                    model_input, step.t, image_latents, image_embeddings, time_ids, pose_features
                )
            cond = conditioned_prediction(
                self.unet, model_input, step.t, image_latents, image_embeddings, time_ids, pose_features
            )
            if not step.guided:
                return cond
            zeros = torch.zeros_like
            uncond = conditioned_prediction(
                self.unet, model_input, step.t, zeros(image_latents), zeros(image_embeddings), time_ids, None
            )
            return torch.cat([uncond, cond])

        def after_step(index: int, latents: torch.Tensor) -> None:
            if on_step is not None:
                on_step(SamplerState(index, latents, solver_state(solver)))

        guidance = None
        if guided:
            guidance = torch.linspace(min_guidance_scale, max_guidance_scale, num_frames, dtype=default_dtype)
        start = 0 if resume is None else resume.step + 1
        own_windows = len(windows) if share is None else len(range(share.rank, len(windows), share.world))
        with self.progress_bar(total=len(solver.timesteps) * own_windows) as progress:
            progress.update(start * own_windows)
            latents = denoise(
                latents,
                solver,
                windows,
                weights,
                denoiser,
                guidance,
                progress.update,
                start,
                after_step,
                cfg_until,
                share,
            )
        pose_net_features.clear()
        self.maybe_free_model_hooks()

        if output_type == "latent":
            return MimicMotionPipelineOutput(frames=latents, windows=windows)
        video = torch.cat(list(self.decode_latents(latents, decode_chunk_size, decode_overlap)))[None]
        return MimicMotionPipelineOutput(frames=_convert_output(video, output_type), windows=windows)

    def _guided_prediction(
        self, latents, timestep, image_latents, image_embeddings, time_ids, pose_features
    ) -> torch.Tensor:
        """The unconditional and the conditional prediction of a window (batch 2, in that order) from one
        unet call: the unconditional half sees a zero reference latent, a zero embedding and no pose."""
        pair = torch.cat([torch.zeros_like(image_latents), image_latents])
        embeddings = torch.cat([torch.zeros_like(image_embeddings), image_embeddings])
        if pose_features is not None:
            pose_features = torch.cat([torch.zeros_like(pose_features), pose_features])
        return conditioned_prediction(
            self.unet, latents.repeat(2, 1, 1, 1, 1), timestep, pair, embeddings, time_ids.repeat(2, 1),
            pose_features,
        )  # fmt: skip

    def _check_inputs(self, pose_frames, output_type: str, fusion: str) -> tuple[int, int, int]:
        if output_type not in OUTPUT_TYPES:
            raise MimicMotionError(
                f"unknown output_type {output_type!r}; choose one of {', '.join(OUTPUT_TYPES)}"
            )
        fusion_weights([[0]], fusion)  # rejects unknown names before any work is done
        shape = tuple(pose_frames.shape)
        if len(shape) != 4 or shape[1] != 3 or shape[0] < 1:
            raise MimicMotionError(f"pose_frames must be (F, 3, H, W) with F >= 1, got shape {shape}")
        num_frames, _, height, width = shape
        multiple = self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)
        if height % multiple or width % multiple:
            raise MimicMotionError(
                f"frame size {width}x{height} must be a multiple of {multiple} in both directions"
            )
        return num_frames, height, width

    def _initial_latents(
        self, num_frames, noise_frames, height, width, dtype, device, generator, sigma
    ) -> torch.Tensor:
        # `noise_frames` of noise, repeated along time: frame f starts from the noise of frame f mod N (the
        # released tiling when N is the window size).
        shape = (
            1,
            noise_frames,
            self.vae.config.latent_channels,
            height // self.vae_scale_factor,
            width // self.vae_scale_factor,
        )
        noise = randn_tensor(shape, generator=generator, device=device, dtype=dtype)
        noise = noise * sigma
        return noise.repeat(1, num_frames // noise_frames + 1, 1, 1, 1)[:, :num_frames]

    def _pose_features(
        self, pose_frames, frames: list[int], device: torch.device, default_dtype: torch.dtype
    ) -> torch.Tensor:
        """PoseNet features of one window, all its frames in one call as released (a convolution's
        result may depend on the batch it runs in)."""
        pictures = pose_input(torch.as_tensor(pose_frames[frames]).contiguous(), default_dtype)
        return self.pose_net(pictures.to(device=device, dtype=self.pose_net.dtype))

    # ------------------------------------------------------------------ decoding

    @torch.no_grad()
    def decode_latents(
        self, latents: torch.Tensor, chunk_size: int = DECODE_CHUNK_SIZE, overlap: int = 0
    ) -> Iterator[torch.Tensor]:
        """Decode (1, F, 4, h, w) latents `chunk_size` frames at a time.

        Yields float32 CPU tensors (n, 3, H, W) in [0, 1] in frame order; the temporal decoder
        sees each chunk as one clip, as in the released code, so chunks must stay the same to
        reproduce its frames. With `overlap` K, each chunk starts K frames before the previous one
        ended, and on those K frames the two decodings are blended linearly (the later chunk's weight
        rising from 1/(K+1) to K/(K+1)), so the temporal decoder's context does not restart at a cut.
        """
        if chunk_size < 1:
            raise MimicMotionError(f"decode chunk size must be at least 1, got {chunk_size}")
        if not 0 <= overlap < chunk_size:
            raise MimicMotionError(
                f"decode overlap must be at least 0 and below the chunk size {chunk_size}, got {overlap}"
            )
        latents = latents.flatten(0, 1) * (1 / self.vae.config.scaling_factor)  # as released, not a division
        total = latents.shape[0]
        start, held = 0, None  # held: the previous chunk's last `overlap` decoded frames
        while start < total:
            chunk = latents[start : start + chunk_size].to(
                device=self._execution_device, dtype=self.vae.dtype
            )
            frames = self.vae.decode(chunk, num_frames=chunk.shape[0]).sample.float().cpu()
            end = start + chunk.shape[0]
            if held is not None:
                rising = torch.arange(1, overlap + 1, dtype=frames.dtype).view(-1, 1, 1, 1) / (overlap + 1)
                frames[:overlap] = held * (1 - rising) + frames[:overlap] * rising
            last = end >= total
            if not last and overlap:
                frames, held = frames[:-overlap], frames[-overlap:]
            yield (frames / 2.0 + 0.5).clamp(0.0, 1.0)
            start = end - (0 if last else overlap)
        self.maybe_free_model_hooks()


def _svd_resize():
    """diffusers' antialiased resize of SVD's image-encoder input (the released preprocessing).

    Its module imports `transformers.CLIPImageProcessor` by name, and without torchvision transformers
    answers that import with a notice that it falls back to `CLIPImageProcessorPil`. This pipeline never
    uses that class (it reads the processor's constants from `CLIPImageProcessorPil` itself), so the
    notice is kept quiet for this one import.
    """
    from transformers.utils import logging as transformers_logging

    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import (
            _resize_with_antialiasing,
        )
    finally:
        transformers_logging.set_verbosity(level)
    return _resize_with_antialiasing


def to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """Frames in [0, 1] as uint8, truncated as the released program converted them (not rounded)."""
    return (frames * 255.0).to(torch.uint8)


def _convert_output(video: torch.Tensor, output_type: str):
    """(batch, F, 3, H, W) in [0, 1] -> the requested output type."""
    if output_type == "pt":
        return video
    if output_type == "np":
        return video.permute(0, 1, 3, 4, 2).numpy()
    pictures = to_uint8(video).permute(0, 1, 3, 4, 2).numpy()
    return [[PIL.Image.fromarray(frame) for frame in clip] for clip in pictures]
