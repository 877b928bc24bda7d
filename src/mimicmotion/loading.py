"""Finding and loading weights: the SVD base model and MimicMotion checkpoints.

The base model is a hub id or a local folder in diffusers layout (`unet`, `vae`,
`image_encoder`, `scheduler`, `feature_extractor`). A MimicMotion checkpoint is one flat state dict
with `unet.*` and `pose_net.*` keys, as `.pth` (read with `torch.load(weights_only=True)`) or
`.safetensors`. Every key is accounted for: a missing, unexpected or wrongly shaped tensor stops
loading with a message that names the keys and the file, instead of leaving parts of the model at
their random initialisation.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import socket
import urllib.parse
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from mimicmotion.config import DEFAULT_BASE, DEFAULT_CHECKPOINT, FROM_BASE
from mimicmotion.errors import MimicMotionError

CHECKPOINT_PREFIXES = ("unet.", "pose_net.")
WEIGHT_NAMES = {
    "unet": "diffusion_pytorch_model",
    "vae": "diffusion_pytorch_model",
    "image_encoder": "model",
    "pose_net": "diffusion_pytorch_model",
}

_SHOWN_KEYS = 8
log = logging.getLogger("mimicmotion")


# ----------------------------------------------------------------------------- finding files


def is_hub_id(reference: str | os.PathLike) -> bool:
    """True for "owner/name" (maybe followed by a path in the repository) that is not a local path."""
    text = str(reference)
    return (
        not Path(text).exists()
        and text.count("/") >= 1
        and not text.startswith(("/", ".", "~"))
        and all(text.split("/"))
    )


class WeightsUnavailable(MimicMotionError):
    """Weights that are neither on disk nor downloadable now; `reason` says why in a few words."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class NotEnoughDiskSpace(WeightsUnavailable):
    """A download that would not fit on the cache's disk (said as it is, never wrapped in advice to
    download elsewhere)."""


def is_offline() -> bool:
    """Whether downloads are off: HF_HUB_OFFLINE (the Hugging Face switch) or MIMICMOTION_OFFLINE."""
    from huggingface_hub import constants

    switches = [os.environ.get(name, "") for name in ("HF_HUB_OFFLINE", "MIMICMOTION_OFFLINE")]
    return bool(constants.HF_HUB_OFFLINE) or any(
        value.strip().lower() in ("1", "true", "yes", "on") for value in switches
    )


def _unreachable() -> str | None:
    """Why the hub cannot be reached now, or None if it can: offline mode, or a quick TCP check instead of
    the hub client's retries, which take half a minute when there is no network (skipped behind a proxy)."""
    if is_offline():
        return "offline mode (HF_HUB_OFFLINE)"
    if any(os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    from huggingface_hub import constants

    url = urllib.parse.urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=5):
            return None
    except OSError as error:
        return f"cannot reach {url.hostname}: {error}"


def hub_download(fetch, what: str, before_download: Callable[[], None] | None = None):
    """`fetch(local_files_only)`: a huggingface_hub download call. The cache first, then the network.

    `before_download()` runs just before the network is used (see `check_download`).
    Raises WeightsUnavailable when `what` is neither cached nor downloadable now, with the reason.
    """
    try:
        return fetch(True)
    except Exception:  # not cached (or the cache is unreadable): try the network
        pass
    reason = _unreachable()
    if reason is None:
        if before_download is not None:
            before_download()
        try:
            return fetch(False)
        except Exception as error:  # hub and network errors come in many types; all mean "not here"
            text = str(error).strip()
            reason = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
    raise WeightsUnavailable(f"cannot get {what}: not in the Hugging Face cache, and {reason}", reason)


def check_download(repo_id: str, patterns: list[str]) -> None:
    """Before fetching the files of `repo_id` that match `patterns`: say how many and how large, and raise
    NotEnoughDiskSpace when the cache's disk has less space free.

    The sizes come from the hub (one request); files already in the cache are not counted. When the hub
    does not say, the download goes ahead and reports its own errors.
    """
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.utils import filter_repo_objects

    from mimicmotion.units import counted, format_size

    cache = Path(constants.HF_HUB_CACHE)
    try:
        info = HfApi().model_info(repo_id, files_metadata=True)
        listed = info.siblings or []
    except Exception as error:  # the download that follows meets the same problem and names it
        log.info("downloading from %s into %s (size unknown: %s)", repo_id, cache, type(error).__name__)
        return
    files = filter_repo_objects(listed, allow_patterns=patterns, key=lambda f: f.rfilename)
    missing = [f for f in files if not isinstance(try_to_load_from_cache(repo_id, f.rfilename), str)]
    if not missing:
        return
    size = sum(f.size or 0 for f in missing)
    count = counted(len(missing), "file")
    log.info("downloading %s, %s, from %s into %s", count, format_size(size), repo_id, cache)
    free = shutil.disk_usage(_existing_folder(cache)).free
    if size > free:
        shortage = (
            f"not enough disk space: {count} of {format_size(size)}, but {cache} has {format_size(free)} free"
        )
        raise NotEnoughDiskSpace(
            f"cannot download {repo_id}, {shortage}; free some space or set HF_HOME to a folder on a larger "
            "disk",
            shortage,
        )


def _existing_folder(path: Path) -> Path:
    """`path`, or its closest parent that exists (the cache folder is created by the first download)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def hub_file(repo_id: str, filename: str) -> Path:
    """A file of a Hugging Face repository, from the cache or downloaded (see `hub_download`)."""
    from huggingface_hub import hf_hub_download

    def fetch(local_files_only: bool) -> Path:
        return Path(hf_hub_download(repo_id, filename, local_files_only=local_files_only))

    return hub_download(fetch, f"{repo_id}/{filename}", lambda: check_download(repo_id, [filename]))


def base_file_patterns(with_unet_weights: bool) -> list[str]:
    """The files of an SVD repository that loading reads (configs, fp16 vae and image encoder)."""
    patterns = [
        "model_index.json",
        "scheduler/*.json",
        "feature_extractor/*.json",
        "unet/config.json",
        "vae/config.json",
        "vae/diffusion_pytorch_model.fp16.safetensors",
        "image_encoder/config.json",
        "image_encoder/model.fp16.safetensors",
    ]
    if with_unet_weights:
        patterns.append("unet/diffusion_pytorch_model.fp16.safetensors")
    return patterns


def _model_unavailable(missing: WeightsUnavailable) -> WeightsUnavailable:
    if isinstance(missing, NotEnoughDiskSpace):  # downloading elsewhere is no remedy for a full disk here
        return missing
    return WeightsUnavailable(
        f"{missing}. Either download them where there is internet (`mimicmotion download`, then copy the "
        "Hugging Face cache, ~/.cache/huggingface, here), or pass local paths (--base-model FOLDER in "
        "diffusers layout, --checkpoint FILE)",
        missing.reason,
    )


def resolve_base(base: str | os.PathLike, with_unet_weights: bool = False) -> Path:
    """A local folder holding the base model: `base` itself, or its hub snapshot (downloaded if needed)."""
    if Path(base).is_dir():
        return Path(base)
    if not is_hub_id(base):
        raise MimicMotionError(f"base model not found: {base} is neither a folder nor a hub id (owner/name)")
    patterns = base_file_patterns(with_unet_weights)
    components = ("vae", "image_encoder", *(("unet",) if with_unet_weights else ()))

    def complete(folder: Path) -> bool:
        """Every config and every component's weights (either variant): an interrupted download is not."""
        configs = [p for p in patterns if p.endswith(".json") and "*" not in p]
        return all((folder / name).is_file() for name in configs) and all(
            _weights_file(folder, name) is not None for name in components
        )

    folder = _snapshot(str(base), patterns, complete)
    # A repository without fp16 variants: fetch the full-precision files of those components.
    missing = [name for name in ("vae", "image_encoder") if _weights_file(folder, name) is None]
    if with_unet_weights and _weights_file(folder, "unet") is None:
        missing.append("unet")
    if missing:
        full = [f"{name}/{WEIGHT_NAMES[name]}.safetensors" for name in missing]
        folder = _snapshot(str(base), patterns + full, complete)
    return folder


def _snapshot(repo_id: str, patterns: list[str], complete: Callable[[Path], bool]) -> Path:
    """The repository's files matching `patterns`: the cached snapshot when `complete` accepts it, else
    downloaded (what is cached already is not fetched again)."""
    from huggingface_hub import snapshot_download

    def fetch(local_files_only: bool) -> Path:
        folder = Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=local_files_only))
        if local_files_only and not complete(folder):
            raise FileNotFoundError(f"{repo_id} is not (wholly) in the cache")
        return folder

    try:
        return hub_download(
            fetch,
            f"the base model {repo_id} ({', '.join(patterns)})",
            lambda: check_download(repo_id, patterns),
        )
    except WeightsUnavailable as missing:
        raise _model_unavailable(missing) from None


def resolve_checkpoint(checkpoint: str | os.PathLike) -> Path:
    """A local checkpoint file: `checkpoint` itself, or "owner/repo/file" from the hub."""
    path = Path(checkpoint).expanduser()
    if path.is_file():
        return path
    if not is_hub_id(checkpoint) or str(checkpoint).count("/") < 2:
        raise MimicMotionError(f"checkpoint not found: {checkpoint}")
    owner, name, filename = str(checkpoint).split("/", 2)
    try:
        return hub_file(f"{owner}/{name}", filename)
    except WeightsUnavailable as missing:
        raise _model_unavailable(missing) from None


def _weights_file(folder: Path, component: str) -> Path | None:
    """The component's weights, preferring the fp16 variant (what the released loader read)."""
    stem = folder / component / WEIGHT_NAMES[component]
    for candidate in (
        stem.with_name(stem.name + ".fp16.safetensors"),
        stem.with_name(stem.name + ".safetensors"),
    ):
        if candidate.is_file():
            return candidate
    return None


def variant_of(folder: Path, component: str) -> str | None:
    """ "fp16" if the component is stored as the fp16 variant, None for plain files."""
    file = _weights_file(folder, component)
    if file is None:
        raise MimicMotionError(
            f"no weights for {component} in {folder}: expected {component}/{WEIGHT_NAMES[component]}"
            "[.fp16].safetensors"
        )
    return "fp16" if file.name.endswith(".fp16.safetensors") else None


# ----------------------------------------------------------------------------- reading weights


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a `.safetensors` or torch-saved (`.pth`, `.pt`, `.bin`, `.ckpt`) file, on the CPU.

    Torch files are read with `weights_only=True` (no arbitrary objects are unpickled) and
    memory-mapped when possible, so a 3 GB checkpoint is not copied into memory before it is used.
    """
    path = Path(path)
    if not path.is_file():
        raise MimicMotionError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            # Memory-map files in the zip format (every torch.save since 1.6); older ones cannot be.
            mmap = zipfile.is_zipfile(path)
            with warnings.catch_warnings():
                # torch's note on a legacy file's pickle protocol says nothing to a user: the file is
                # read, or refused below with our own message
                warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError:  # torch's safe loader met an object that is not a tensor
        raise MimicMotionError(
            f"{path} holds Python objects besides tensors, which are never unpickled (loading them could "
            "run code): only files of plain tensors are accepted (.safetensors, or torch.save of tensors)"
        ) from None
    except Exception as error:  # corrupt or foreign files fail in format-specific ways
        # only the first line: torch's own messages go on to advise loading with safety off
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MimicMotionError(
            f"cannot read weights file {path}: {reason} (not a .safetensors file or a torch.save of tensors)"
        ) from None
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MimicMotionError(f"{path} is not a flat state dict of tensors")
    return dict(state)


def split_checkpoint(state: Mapping[str, torch.Tensor], source: str | os.PathLike) -> dict[str, dict]:
    """{"unet": {...}, "pose_net": {...}} with the prefixes removed; any other key is an error."""
    parts: dict[str, dict] = {prefix[:-1]: {} for prefix in CHECKPOINT_PREFIXES}
    foreign = []
    for key, tensor in state.items():
        prefix = next((p for p in CHECKPOINT_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            foreign.append(key)
        else:
            parts[prefix[:-1]][key[len(prefix) :]] = tensor
    if foreign:
        raise MimicMotionError(
            f"{source} is not a MimicMotion checkpoint: keys must start with unet. or pose_net., "
            f"found {_key_list(foreign)}"
        )
    for name, part in parts.items():
        if not part:
            raise MimicMotionError(f"{source} has no {name}.* weights; is it a MimicMotion checkpoint?")
    return parts


def _key_list(keys: list[str]) -> str:
    shown = ", ".join(sorted(keys)[:_SHOWN_KEYS])
    more = len(keys) - _SHOWN_KEYS
    return f"{len(keys)} key(s): {shown}" + (f" and {more} more" if more > 0 else "")


def check_state_dict(
    module: nn.Module, state: Mapping[str, torch.Tensor], what: str, optional: tuple[str, ...] = ()
) -> None:
    """Raise MimicMotionError unless `state` has exactly the module's keys with its shapes.

    Keys ending with one of the `optional` suffixes may be absent.
    """
    expected = module.state_dict(keep_vars=True)
    missing = [k for k in expected if k not in state and not k.endswith(optional)]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} {tuple(state[k].shape)} (model {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {_key_list(missing)}")
    if unexpected:
        problems.append(f"unexpected {_key_list(unexpected)}")
    if wrong:
        problems.append(f"wrong shape for {_key_list(wrong)}")
    if problems:
        raise MimicMotionError(f"{what} does not match the model architecture: " + "; ".join(problems))


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], what: str) -> nn.Module:
    """Strictly load `state` into `module` (which may live on the meta device) and return it."""
    check_state_dict(module, state, what)
    module.load_state_dict(state, strict=True, assign=True)
    return module


def check_loading_info(info: Mapping[str, list], what: str) -> None:
    """Turn a library loader's `output_loading_info` report into an error if anything did not match."""
    problems = []
    for field, label in (
        ("missing_keys", "missing"),
        ("unexpected_keys", "unexpected"),
        ("mismatched_keys", "wrong shape for"),
    ):
        keys = [str(k[0]) if isinstance(k, tuple) else str(k) for k in info.get(field, [])]
        if keys:
            problems.append(f"{label} {_key_list(keys)}")
    if info.get("error_msgs"):
        problems.append("; ".join(map(str, info["error_msgs"])))
    if problems:
        raise MimicMotionError(f"{what} does not match the model architecture: " + "; ".join(problems))


# ----------------------------------------------------------------------------- components


def load_components(
    base: str | os.PathLike = DEFAULT_BASE,
    checkpoint: str | os.PathLike | None = FROM_BASE,
    torch_dtype: torch.dtype = torch.float32,
) -> dict[str, object]:
    """Every component of the pipeline, loaded strictly and cast to `torch_dtype`.

    `checkpoint`:
    - FROM_BASE ("default"): a folder written by `MimicMotionPipeline.save_pretrained` (it has `pose_net/`)
      gives its own unet and PoseNet; any other base takes them from the released checkpoint;
    - a checkpoint file (local, or "owner/repo/file" on the hub): the unet is built from the base's config
      and takes all its weights (and PoseNet's) from it; the base's unet weights are not read;
    - None: the base's own (SVD) unet and a fresh PoseNet, the starting point for training.
    """
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        UNetSpatioTemporalConditionModel,
    )

    # The pipeline only reads the processor's normalisation constants; the PIL-based class needs no
    # torchvision (the default class falls back to it with a warning when torchvision is absent).
    from transformers import CLIPImageProcessorPil, CLIPVisionModelWithProjection

    from mimicmotion.models.geglu import use_in_place_geglu
    from mimicmotion.models.pose_net import PoseNet

    saved = checkpoint == FROM_BASE and (Path(base) / "pose_net").is_dir()
    if checkpoint == FROM_BASE and not saved:
        checkpoint = DEFAULT_CHECKPOINT
    folder = resolve_base(base, with_unet_weights=checkpoint is None or saved)
    for name in ("unet", "vae", "image_encoder", "scheduler", "feature_extractor"):
        if not (folder / name).is_dir():
            raise MimicMotionError(f"base model {folder} has no {name}/ folder (expected diffusers layout)")

    def library_load(cls, subfolder: str):
        what = f"{subfolder} weights in {folder}"
        model, info = _library_call(
            what,
            lambda: cls.from_pretrained(
                folder,
                subfolder=subfolder,
                variant=variant_of(folder, subfolder),
                torch_dtype=torch_dtype,
                output_loading_info=True,
            ),
        )
        check_loading_info(info, what)
        return model

    vae = library_load(AutoencoderKLTemporalDecoder, "vae")
    image_encoder = library_load(CLIPVisionModelWithProjection, "image_encoder")
    scheduler = _library_call(
        f"the scheduler config in {folder}",
        lambda: EulerDiscreteScheduler.from_pretrained(folder, subfolder="scheduler"),
    )
    feature_extractor = _library_call(
        f"the feature extractor config in {folder}",
        lambda: CLIPImageProcessorPil.from_pretrained(folder, subfolder="feature_extractor"),
    )

    if saved:
        unet = library_load(UNetSpatioTemporalConditionModel, "unet")
        pose_net = library_load(PoseNet, "pose_net")
    elif checkpoint is None:
        unet = library_load(UNetSpatioTemporalConditionModel, "unet")
        pose_net = cast(PoseNet(out_channels=unet.config.block_out_channels[0]), torch_dtype)
    else:
        path = resolve_checkpoint(checkpoint)
        parts = split_checkpoint(read_state_dict(path), path)
        from accelerate import init_empty_weights

        config = _library_call(
            f"the unet config in {folder}",
            lambda: UNetSpatioTemporalConditionModel.load_config(folder, subfolder="unet"),
        )
        with init_empty_weights():
            unet = UNetSpatioTemporalConditionModel.from_config(config)
        unet = load_into(unet, _cast_state(parts["unet"], torch_dtype), f"{path} (unet.*)")
        pose_net = PoseNet(out_channels=unet.config.block_out_channels[0])
        pose_net = load_into(pose_net, _cast_state(parts["pose_net"], torch_dtype), f"{path} (pose_net.*)")
    _check_time_embedding(unet, folder)
    use_in_place_geglu(unet)
    for model in (vae, image_encoder, unet, pose_net):
        model.eval()  # modules built from a config start in training mode; inference wants eval
    return {
        "vae": vae,
        "image_encoder": image_encoder,
        "unet": unet,
        "pose_net": pose_net,
        "scheduler": scheduler,
        "feature_extractor": feature_extractor,
    }


def _library_call(what: str, load):
    """Run a diffusers/transformers loader; its failures (missing or malformed files) become one message."""
    try:
        return load()
    except MimicMotionError:
        raise
    except Exception as error:  # these libraries raise OSError, ValueError, EnvironmentError, ...
        raise MimicMotionError(f"cannot load {what}: {error}") from None


def _cast_state(state: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {key: tensor.to(dtype) if tensor.is_floating_point() else tensor for key, tensor in state.items()}


def cast(module: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Change a model's dtype in place.

    Goes through `nn.Module.to` because diffusers' `ModelMixin.to` warns on every dtype change
    (even for models with no float32-only modules); the result is the same.
    """
    return nn.Module.to(module, dtype)


def _check_time_embedding(unet: nn.Module, folder: Path) -> None:
    # The sampler passes three added time ids (fps - 1, motion bucket, noise strength).
    expected = unet.add_embedding.linear_1.in_features
    if unet.config.addition_time_embed_dim * 3 != expected:
        raise MimicMotionError(
            f"the unet in {folder} expects {expected} added time-embedding inputs, not 3 x "
            f"{unet.config.addition_time_embed_dim}: it is not an SVD image-to-video unet"
        )
