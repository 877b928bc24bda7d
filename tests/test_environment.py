"""`mimicmotion env`: the facts of a bug report, read from this machine without the network."""

import socket
import sys

import numpy
import pytest
import torch
from helpers.hub_cache import cache_file

from mimicmotion import environment
from mimicmotion.cli import main
from mimicmotion.config import DEFAULT_BASE, DEFAULT_CHECKPOINT
from mimicmotion.environment import NOT_CACHED, NOT_INSTALLED, collect, package_version
from mimicmotion.pose.dwpose import DETECTOR_FILE, ENV_DIR, POSE_FILE, REPO_ID

CHECKPOINT_REPO, CHECKPOINT_FILE = DEFAULT_CHECKPOINT.rsplit("/", 1)
# The files of the real SVD repository that `animate` reads (fp16 weights, as the hub has them).
BASE_FILES = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "feature_extractor/preprocessor_config.json",
    "unet/config.json",
    "vae/config.json",
    "vae/diffusion_pytorch_model.fp16.safetensors",
    "image_encoder/config.json",
    "image_encoder/model.fp16.safetensors",
]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection attempt fails the test: the report must come from this machine alone."""

    def refuse(*args, **kwargs):
        raise AssertionError("mimicmotion env tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv(ENV_DIR, raising=False)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def weights_entry(report, start: str) -> str:
    (value,) = [value for name, value in report["weights"].items() if name.startswith(start)]
    return value


def test_versions_are_those_of_the_imported_modules():
    report = collect()
    assert report["torch"]["version"] == torch.__version__
    assert report["packages"]["numpy"] == numpy.__version__
    assert report["torch"]["CUDA available"] == ("yes" if torch.cuda.is_available() else "no")
    assert report["python"]["executable"] == sys.executable


def test_a_missing_optional_package_is_reported_not_raised(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # what `import` sees when it is not installed
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    report = collect()
    assert report["packages"]["mediapipe"] == NOT_INSTALLED
    assert report["packages"]["onnxruntime"] == NOT_INSTALLED  # no providers line either


def test_even_without_torch_the_rest_of_the_report_comes_out(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    report = collect()
    assert report["torch"] == {"version": NOT_INSTALLED}
    assert report["packages"]["numpy"] == numpy.__version__


def test_a_package_that_fails_to_import_says_why(tmp_path, monkeypatch):
    (tmp_path / "broken_package").mkdir()
    (tmp_path / "broken_package" / "__init__.py").write_text("raise RuntimeError('incompatible numpy')\n")
    (tmp_path / "needs_more").mkdir()
    (tmp_path / "needs_more" / "__init__.py").write_text("import no_such_dependency_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert package_version("broken_package").endswith("importing it fails: RuntimeError: incompatible numpy")
    # A dependency of the package missing is not the package missing.
    assert "importing it fails" in package_version("needs_more")
    assert "no_such_dependency_here" in package_version("needs_more")


def test_a_section_that_cannot_be_read_says_why(monkeypatch):
    def fail():
        raise OSError("cache folder unreadable")

    monkeypatch.setattr(environment, "weight_facts", fail)
    report = collect()
    assert report["weights"] == {"error": "could not be read: OSError: cache folder unreadable"}
    assert report["torch"]["version"] == torch.__version__


def test_nothing_cached_is_said_so(hub_cache):
    report = collect()
    assert weights_entry(report, "base") == NOT_CACHED
    assert weights_entry(report, "checkpoint") == NOT_CACHED
    assert weights_entry(report, f"dwpose {REPO_ID}/{DETECTOR_FILE}") == NOT_CACHED
    assert weights_entry(report, f"dwpose {REPO_ID}/{POSE_FILE}") == NOT_CACHED
    assert report["folders"]["Hugging Face hub cache"] == str(hub_cache)


def test_cached_weights_are_found_where_they_are(hub_cache):
    base_paths = [cache_file(hub_cache, DEFAULT_BASE, name, b"{}") for name in BASE_FILES]
    checkpoint = cache_file(hub_cache, CHECKPOINT_REPO, CHECKPOINT_FILE, b"x" * 3000)
    detector = cache_file(hub_cache, REPO_ID, DETECTOR_FILE, b"onnx")
    report = collect()

    base = weights_entry(report, f"base {DEFAULT_BASE}")
    assert base.startswith("complete (8 files")
    assert base.endswith(f"in {base_paths[0].parent}")  # the snapshot folder
    assert "vae/diffusion_pytorch_model.fp16.safetensors" in base
    assert weights_entry(report, "checkpoint") == f"{checkpoint} (3 KB)"  # 3000 bytes
    assert weights_entry(report, f"dwpose {REPO_ID}/{DETECTOR_FILE}") == f"{detector} (4 bytes)"
    assert weights_entry(report, f"dwpose {REPO_ID}/{POSE_FILE}") == NOT_CACHED


def test_a_partial_base_names_what_is_missing(hub_cache):
    # full-precision weights stand in for the fp16 variant, as loading accepts them
    plain = [name.replace(".fp16", "") for name in BASE_FILES if "vae/" not in name]
    for name in plain:
        cache_file(hub_cache, DEFAULT_BASE, name, b"{}")
    base = weights_entry(collect(), "base")
    missing = "vae/config.json, vae/diffusion_pytorch_model.fp16.safetensors"
    assert base.startswith(f"incomplete, missing {missing} (")
    assert "image_encoder/model.safetensors" in base


def test_a_dwpose_folder_is_looked_into_instead_of_the_cache(tmp_path, hub_cache, monkeypatch):
    folder = tmp_path / "dwpose"
    folder.mkdir()
    (folder / POSE_FILE).write_bytes(b"onnx")
    cache_file(hub_cache, REPO_ID, DETECTOR_FILE, b"onnx")  # not what counts when the folder is set
    monkeypatch.setenv(ENV_DIR, str(folder))
    report = collect()
    assert weights_entry(report, f"dwpose {POSE_FILE}") == f"{folder / POSE_FILE} (4 bytes)"
    assert weights_entry(report, f"dwpose {DETECTOR_FILE}") == "not found"


def test_the_pose_cache_folder_is_the_one_poses_go_to(tmp_path, monkeypatch):
    monkeypatch.setenv("MIMICMOTION_CACHE", str(tmp_path / "poses_here"))
    (tmp_path / "poses_here" / "poses").mkdir(parents=True)
    (tmp_path / "poses_here" / "poses" / "entry.npz").write_bytes(b"")
    folders = collect()["folders"]
    assert folders["pose cache ($MIMICMOTION_CACHE)"] == f"{tmp_path / 'poses_here'} (1 cached pose file)"


def test_the_command_prints_the_report_as_markdown(hub_cache, capsys):
    cache_file(hub_cache, CHECKPOINT_REPO, CHECKPOINT_FILE, b"x")
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "- **torch**" in out
    assert f"  - version: {torch.__version__}" in out
    assert f"  - numpy: {numpy.__version__}" in out
    assert f"  - checkpoint {DEFAULT_CHECKPOINT}: {hub_cache}" in out


def test_torch_with_mps_shows_the_fallback_setting(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: True)
    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    assert collect()["torch"]["PYTORCH_ENABLE_MPS_FALLBACK"] == "1"
    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK")
    assert collect()["torch"]["PYTORCH_ENABLE_MPS_FALLBACK"] == "not set"
