"""What a bug report needs to know about this installation: versions, devices, where the weights are.

`collect()` returns the facts as data (section -> name -> one line of text); `mimicmotion env` prints
them. Everything is read locally: packages are imported (a missing or broken one is reported, never
raised), the Hugging Face cache is looked into with huggingface_hub's cache-only lookup, and nothing
reaches the network, so the report works offline. It takes a few seconds, mostly importing torch and
diffusers: importing them (not just reading their version) is what shows the version clashes that break
an install.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from mimicmotion import __version__
from mimicmotion.devices import MPS_FALLBACK, mps_supports_bf16
from mimicmotion.units import format_size

NOT_INSTALLED = "not installed"
NOT_CACHED = "not in the cache"

Report = dict[str, dict[str, str]]

# The packages of a generation, by import name (the distribution name when it differs), in the order a
# reader looks for them. torch has its own section.
PACKAGES = (
    ("diffusers", None),
    ("transformers", None),
    ("accelerate", None),
    ("huggingface_hub", None),
    ("safetensors", None),
    ("numpy", None),
    ("av", "av"),
    ("cv2", None),
    ("onnxruntime", None),
    ("mediapipe", None),
    ("PIL", "pillow"),
)

# The files of the SVD base that `animate` reads (mimicmotion.loading.base_file_patterns, spelled out:
# the configs diffusers and transformers open, and each weights file with its full-precision alternative).
BASE_FILES = (
    ("model_index.json",),
    ("scheduler/scheduler_config.json",),
    ("feature_extractor/preprocessor_config.json",),
    ("unet/config.json",),
    ("vae/config.json",),
    ("vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors"),
    ("image_encoder/config.json",),
    ("image_encoder/model.fp16.safetensors", "image_encoder/model.safetensors"),
)
# Read only to train from SVD (`download --with-unet`); its absence is normal.
BASE_UNET_WEIGHTS = (
    "unet/diffusion_pytorch_model.fp16.safetensors",
    "unet/diffusion_pytorch_model.safetensors",
)


def collect() -> Report:
    """Every section of the report. A section that cannot be read says why instead of failing."""
    sections: dict[str, Callable[[], dict[str, str]]] = {
        "mimicmotion": mimicmotion_facts,
        "python": python_facts,
        "torch": torch_facts,
        "packages": package_facts,
        "weights": weight_facts,
        "folders": folder_facts,
    }
    report: Report = {}
    for title, gather in sections.items():
        try:
            report[title] = gather()
        except Exception as error:  # a report about a broken install must still come out
            report[title] = {"error": f"could not be read: {_problem(error)}"}
    return report


def mimicmotion_facts() -> dict[str, str]:
    return {"version": __version__, "location": str(Path(__file__).resolve().parent)}


def python_facts() -> dict[str, str]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
    }


# ------------------------------------------------------------------------------------------ torch


def torch_facts() -> dict[str, str]:
    torch, problem = _import("torch")
    if torch is None:
        return {"version": problem}
    facts = {
        "version": torch.__version__,
        "CUDA build": torch.version.cuda or "no",
        "ROCm build": getattr(torch.version, "hip", None) or "no",
        "MPS build": _yes_no(torch.backends.mps.is_built()),
    }
    # ROCm builds answer through torch.cuda too: "cuda" devices are AMD GPUs there.
    cuda = _guarded(torch.cuda.is_available)
    facts["CUDA available"] = _yes_no(cuda) if isinstance(cuda, bool) else cuda
    if cuda is True:
        if torch.version.cuda and torch.backends.cudnn.is_available():
            facts["cuDNN"] = str(torch.backends.cudnn.version())
        for index in range(torch.cuda.device_count()):
            facts[f"cuda:{index}"] = _guarded(lambda index=index: _cuda_device(torch, index))
    mps = _guarded(torch.backends.mps.is_available)
    facts["MPS available"] = _yes_no(mps) if isinstance(mps, bool) else mps
    if mps is True:
        facts["mps"] = _guarded(lambda: _mps_device(torch))
    if torch.backends.mps.is_built():
        facts[MPS_FALLBACK] = os.environ.get(MPS_FALLBACK, "not set")
    facts["CPU threads"] = str(torch.get_num_threads())
    return facts


def _cuda_device(torch: ModuleType, index: int) -> str:
    properties = torch.cuda.get_device_properties(index)
    return (
        f"{properties.name}, {format_size(properties.total_memory)}, compute capability "
        f"{properties.major}.{properties.minor}"
    )


def _mps_device(torch: ModuleType) -> str:
    parts = [f"macOS {platform.mac_ver()[0] or 'unknown'}"]
    name = getattr(torch.backends.mps, "get_name", None)  # newer torch only
    if name is not None:
        parts.insert(0, name())
    limit = getattr(torch.mps, "recommended_max_memory", None)  # torch >= 2.5
    if limit is not None:
        parts.append(f"recommended memory limit {format_size(limit())}")
    bf16 = "supported" if mps_supports_bf16() else "unsupported (needs macOS 14 or later)"
    parts.append(f"bf16 {bf16}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------- packages


def package_facts() -> dict[str, str]:
    return {name: package_version(name, distribution) + _details(name) for name, distribution in PACKAGES}


def package_version(name: str, distribution: str | None = None) -> str:
    """The version of the module `name` as imported, NOT_INSTALLED, or why its import fails."""
    module, problem = _import(name, distribution)
    if module is None:
        return problem
    version = getattr(module, "__version__", None)
    if version is None:
        version = _distribution_version(distribution or name) or "version unknown"
    return str(version)


def _details(name: str) -> str:
    """What a package's version alone does not say, " (...)", or "" when it is not importable."""
    module = sys.modules.get(name)
    if module is None:
        return ""
    try:
        if name == "av":
            return f" ({_ffmpeg(module)})"
        if name == "onnxruntime":
            return f" (providers: {', '.join(module.get_available_providers())})"
        if name == "cv2":
            # opencv-python and opencv-python-headless both install cv2; having both breaks it.
            sources = importlib.metadata.packages_distributions().get("cv2", [])
            return f" (from {', '.join(sorted(set(sources)))})" if sources else ""
    except Exception as error:  # an odd build: its version is still worth reporting
        return f" (details unavailable: {_problem(error)})"
    return ""


def _ffmpeg(av: ModuleType) -> str:
    libraries = getattr(av, "library_versions", {})
    shown = ", ".join(
        f"{name} {'.'.join(map(str, libraries[name]))}"
        for name in ("libavcodec", "libavformat", "libavutil", "libswscale")
        if name in libraries
    )
    version = getattr(av, "ffmpeg_version_info", None)  # PyAV >= 12
    return f"FFmpeg {version or 'version unknown'}" + (f": {shown}" if shown else "")


# ---------------------------------------------------------------------------------------- weights


def weight_facts() -> dict[str, str]:
    """Which weights are in the Hugging Face cache (or the DWPose folder), and where."""
    from mimicmotion.config import DEFAULT_BASE, DEFAULT_CHECKPOINT
    from mimicmotion.pose.dwpose import DETECTOR_FILE, ENV_DIR, POSE_FILE, REPO_ID

    owner, name, filename = DEFAULT_CHECKPOINT.split("/", 2)
    facts = {
        f"base {DEFAULT_BASE}": base_in_cache(DEFAULT_BASE),
        f"checkpoint {DEFAULT_CHECKPOINT}": _file_line(cached_file(f"{owner}/{name}", filename)),
    }
    folder = os.environ.get(ENV_DIR)
    for file in (DETECTOR_FILE, POSE_FILE):
        if folder:
            path = Path(folder) / file
            facts[f"dwpose {file} (${ENV_DIR})"] = _file_line(path if path.is_file() else None, "not found")
        else:
            facts[f"dwpose {REPO_ID}/{file}"] = _file_line(cached_file(REPO_ID, file))
    return facts


def cached_file(repo_id: str, filename: str) -> Path | None:
    """The file's path in the Hugging Face cache (the snapshot `main` points to), or None.

    huggingface_hub's cache-only lookup: it reads the cache folder and never the network."""
    from huggingface_hub import constants, try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, filename, cache_dir=constants.HF_HUB_CACHE)
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def base_in_cache(repo_id: str) -> str:
    """Whether the cache holds what `animate` reads of the SVD base: where, how much, what is missing."""
    present: list[Path] = []
    missing: list[str] = []
    for alternatives in BASE_FILES:
        found = _first_cached(repo_id, alternatives)
        if found is None:
            missing.append(alternatives[0])
        else:
            present.append(found)
    unet = _first_cached(repo_id, BASE_UNET_WEIGHTS)
    if not present:
        return NOT_CACHED
    snapshot = _snapshot_of(present[0])
    size = sum(path.stat().st_size for path in [*present, *([unet] if unet else [])])
    state = "complete" if not missing else f"incomplete, missing {', '.join(missing)}"
    names = ", ".join(_relative(path, snapshot) for path in present)
    unet_note = f"; unet weights {_relative(unet, snapshot)}" if unet else "; no unet weights (not needed)"
    return f"{state} ({len(present)} files, {format_size(size)}: {names}{unet_note}) in {snapshot}"


def _first_cached(repo_id: str, alternatives: Iterable[str]) -> Path | None:
    return next((path for name in alternatives if (path := cached_file(repo_id, name)) is not None), None)


def _snapshot_of(path: Path) -> Path:
    """The snapshot folder holding `path` (.../snapshots/<commit>)."""
    for parent in path.parents:
        if parent.parent.name == "snapshots":
            return parent
    return path.parent  # a layout huggingface_hub may change; the file's folder still says where


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return str(path)


def _file_line(path: Path | None, absent: str = NOT_CACHED) -> str:
    return absent if path is None else f"{path} ({format_size(path.stat().st_size)})"


# ---------------------------------------------------------------------------------------- folders


def folder_facts() -> dict[str, str]:
    from huggingface_hub import constants

    from mimicmotion.loading import is_offline
    from mimicmotion.pose.cache import cache_dir

    poses = cache_dir() / "poses"
    entries = list(poses.glob("*.npz")) if poses.is_dir() else []
    return {
        "Hugging Face home (HF_HOME)": constants.HF_HOME,
        "Hugging Face hub cache": constants.HF_HUB_CACHE,
        "offline mode (HF_HUB_OFFLINE / MIMICMOTION_OFFLINE)": _yes_no(is_offline()),
        "pose cache ($MIMICMOTION_CACHE)": f"{cache_dir()} ({len(entries)} cached pose file"
        f"{'s' * (len(entries) != 1)})",
    }


# ---------------------------------------------------------------------------------------- helpers


def _import(name: str, distribution: str | None = None) -> tuple[ModuleType | None, str]:
    """(the module, "") or (None, NOT_INSTALLED or why the import fails)."""
    try:
        return importlib.import_module(name), ""
    except ModuleNotFoundError as error:
        if error.name == name:
            return None, NOT_INSTALLED
        problem = _problem(error)  # a module the package itself needs is missing
    except Exception as error:  # broken installs fail with anything: ImportError, OSError, AttributeError
        problem = _problem(error)
    version = _distribution_version(distribution or name)
    return None, f"{version + ' ' if version else ''}installed, but importing it fails: {problem}"


def _distribution_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _guarded(read: Callable[[], Any]) -> Any:
    """`read()`, or the line saying why it failed (a driver problem must not stop the report)."""
    try:
        return read()
    except Exception as error:
        return f"error: {_problem(error)}"


def _problem(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"
