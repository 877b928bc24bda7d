"""Loading the base model and checkpoints from the real on-disk formats, strictly."""

import pickle
import shutil
import socket
import warnings
from types import SimpleNamespace

import pytest
import torch
from helpers.hub_cache import cache_file
from helpers.tiny_models import checkpoint_state, save_checkpoint, save_tiny_base, tiny_pose_net, tiny_unet

from mimicmotion import MimicMotionPipeline
from mimicmotion.errors import MimicMotionError
from mimicmotion.loading import (
    NotEnoughDiskSpace,
    WeightsUnavailable,
    check_download,
    hub_file,
    is_offline,
    read_state_dict,
    resolve_base,
    resolve_checkpoint,
)


@pytest.fixture(scope="module")
def state():
    return checkpoint_state(tiny_unet(seed=1), tiny_pose_net(seed=2))


def loaded_equals(pipe, state):
    for key, tensor in state.items():
        module, name = key.split(".", 1)
        if not torch.equal(getattr(pipe, module).state_dict()[name].float(), tensor.float()):
            return False
    return True


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_checkpoint_formats_load_every_tensor(tiny_weights, state, tmp_path, suffix):
    base, _ = tiny_weights
    path = save_checkpoint(tmp_path / f"ckpt{suffix}", state)
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=path)
    assert loaded_equals(pipe, state)


def test_base_with_fp16_variant_files_only(tmp_path, state):
    base = save_tiny_base(tmp_path / "base16", fp16_variant=True)
    assert not list(base.glob("vae/*model.safetensors")) and list(base.glob("vae/*.fp16.safetensors"))
    ckpt = save_checkpoint(tmp_path / "c.pth", state)
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=ckpt)
    assert pipe.vae.dtype == torch.float32  # fp16 files, upcast to the requested dtype
    from safetensors.torch import load_file

    stored = load_file(base / "vae" / "diffusion_pytorch_model.fp16.safetensors")
    key = next(iter(stored))
    assert torch.equal(pipe.vae.state_dict()[key], stored[key].float())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_loading(tiny_weights, dtype):
    base, ckpt = tiny_weights
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=ckpt, torch_dtype=dtype)
    assert {pipe.unet.dtype, pipe.vae.dtype, pipe.image_encoder.dtype, pipe.pose_net.dtype} == {dtype}


def test_without_checkpoint_the_base_unet_and_a_fresh_posenet(tiny_weights):
    base, _ = tiny_weights
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=None)
    saved = tiny_unet(seed=0).state_dict()  # save_tiny_base wrote the unet of seed 0
    assert all(torch.equal(pipe.unet.state_dict()[k], v) for k, v in saved.items())
    assert torch.count_nonzero(pipe.pose_net.final_proj.weight) == 0


def test_missing_and_unexpected_keys_are_named(tiny_weights, state, tmp_path):
    base, _ = tiny_weights
    broken = dict(state)
    del broken["unet.conv_in.weight"]
    del broken["pose_net.final_proj.bias"]
    broken["unet.extra_block.weight"] = torch.zeros(1)
    path = save_checkpoint(tmp_path / "broken.pth", broken)
    with pytest.raises(MimicMotionError) as error:
        MimicMotionPipeline.from_pretrained(base, checkpoint=path)
    message = str(error.value)
    assert "conv_in.weight" in message and "extra_block.weight" in message and str(path) in message
    assert "missing" in message and "unexpected" in message


def test_wrong_shapes_are_named(tiny_weights, state, tmp_path):
    base, _ = tiny_weights
    broken = dict(state)
    broken["pose_net.final_proj.weight"] = torch.zeros(320, 128, 1, 1)  # full-size PoseNet for a tiny unet
    path = save_checkpoint(tmp_path / "shape.safetensors", broken)
    with pytest.raises(MimicMotionError, match=r"wrong shape for .*final_proj\.weight"):
        MimicMotionPipeline.from_pretrained(base, checkpoint=path)


def test_foreign_prefixes_are_refused(tiny_weights, state, tmp_path):
    base, _ = tiny_weights
    renamed = {k.replace("unet.", "model.diffusion_model.", 1): v for k, v in state.items()}
    path = save_checkpoint(tmp_path / "sd.pth", renamed)
    with pytest.raises(MimicMotionError, match="not a MimicMotion checkpoint"):
        MimicMotionPipeline.from_pretrained(base, checkpoint=path)


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_objects_are_never_unpickled(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"unet.x": Payload()}, f)
    with (
        warnings.catch_warnings(record=True) as caught,
        pytest.raises(MimicMotionError, match="never unpickled") as refused,
    ):
        warnings.simplefilter("always")
        read_state_dict(path)
    assert caught == []  # no library warning besides our message
    assert "must never run" not in capsys.readouterr().out
    # one line, and no advice to turn safe loading off
    assert "\n" not in str(refused.value) and "weights_only" not in str(refused.value)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(MimicMotionError, match="cannot read weights file"):
        read_state_dict(bad)
    with pytest.raises(MimicMotionError, match="checkpoint not found"):
        resolve_checkpoint(tmp_path / "nothing.pth")
    with pytest.raises(MimicMotionError, match="weights file not found"):
        read_state_dict(tmp_path / "nothing.pth")


def test_base_folder_with_a_missing_component(tiny_weights, tmp_path):
    base, ckpt = tiny_weights
    copy = shutil.copytree(base, tmp_path / "base")
    shutil.rmtree(copy / "image_encoder")
    with pytest.raises(MimicMotionError, match="image_encoder"):
        MimicMotionPipeline.from_pretrained(copy, checkpoint=ckpt)


def test_base_weights_that_do_not_match_their_config(tiny_weights, tmp_path):
    base, ckpt = tiny_weights
    copy = shutil.copytree(base, tmp_path / "base")
    from safetensors.torch import load_file, save_file

    weights = copy / "vae" / "diffusion_pytorch_model.safetensors"
    tensors = load_file(weights)
    tensors.pop(next(k for k in tensors if k.startswith("decoder.")))
    save_file(tensors, weights)
    with pytest.raises(MimicMotionError, match="vae"):
        MimicMotionPipeline.from_pretrained(copy, checkpoint=ckpt)


def test_hub_references_offline_give_one_message_with_both_remedies(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_cache"))
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    for call in (
        lambda: resolve_base("stabilityai/stable-video-diffusion-img2vid-xt-1-1"),
        lambda: resolve_checkpoint("tencent/MimicMotion/MimicMotion_1-1.pth"),
    ):
        with pytest.raises(MimicMotionError) as error:
            call()
        message = str(error.value)
        assert "mimicmotion download" in message and "--base-model" in message
    with pytest.raises(MimicMotionError, match="neither a folder nor a hub id"):
        resolve_base(tmp_path / "no_such_folder")


def test_legacy_torch_save_format_is_read_too(tiny_weights, state, tmp_path):
    base, _ = tiny_weights
    path = tmp_path / "legacy.pth"
    torch.save(state, path, _use_new_zipfile_serialization=False)
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=path)
    assert loaded_equals(pipe, state)


@pytest.mark.parametrize("config", ["scheduler/scheduler_config.json", "unet/config.json",
                                    "feature_extractor/preprocessor_config.json"])  # fmt: skip
def test_missing_config_files_are_named(tiny_weights, tmp_path, config):
    base, ckpt = tiny_weights
    copy = shutil.copytree(base, tmp_path / "base")
    (copy / config).unlink()
    with pytest.raises(MimicMotionError, match=config.split("/")[0].replace("_", " ")):
        MimicMotionPipeline.from_pretrained(copy, checkpoint=ckpt)


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_hub_files_come_from_the_cache_without_the_network(empty_hub_cache, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    cached = cache_file(empty_hub_cache, "owner/repo", "weights.onnx", b"tiny")
    assert hub_file("owner/repo", "weights.onnx").read_bytes() == b"tiny"
    assert hub_file("owner/repo", "weights.onnx").resolve() == cached.resolve()


def test_missing_hub_files_say_why_offline_or_unreachable(empty_hub_cache, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailable) as error:
        hub_file("owner/repo", "weights.onnx")
    assert error.value.reason == "offline mode (HF_HUB_OFFLINE)"
    assert "owner/repo/weights.onnx" in str(error.value)

    # online, but the hub does not answer: a quick connection check instead of half a minute of retries
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    for name in ("HF_HUB_OFFLINE", "MIMICMOTION_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(WeightsUnavailable) as error:
        hub_file("owner/repo", "weights.onnx")
    assert error.value.reason.startswith("cannot reach") and "network is unreachable" in error.value.reason


def test_mimicmotion_offline_switch_turns_downloads_off(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("MIMICMOTION_OFFLINE", "0")
    assert not is_offline()
    monkeypatch.setenv("MIMICMOTION_OFFLINE", "1")
    assert is_offline()


def test_save_pretrained_then_from_pretrained_round_trips(tiny_weights, tmp_path):
    base, checkpoint = tiny_weights
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=checkpoint)
    pipe.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "pose_net").is_dir()
    again = MimicMotionPipeline.from_pretrained(tmp_path / "saved")  # no checkpoint: the folder's own
    for name in ("unet", "pose_net", "vae", "image_encoder"):
        mine, theirs = getattr(pipe, name).state_dict(), getattr(again, name).state_dict()
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[key], theirs[key]) for key in mine), name
    # an explicit checkpoint still wins over the folder's own weights
    other = checkpoint_state(tiny_unet(seed=5), tiny_pose_net(seed=6))
    explicit = MimicMotionPipeline.from_pretrained(
        tmp_path / "saved", checkpoint=save_checkpoint(tmp_path / "other.pth", other)
    )
    assert loaded_equals(explicit, other)


def test_a_plain_base_without_checkpoint_means_the_released_one(tiny_weights, monkeypatch):
    import mimicmotion.loading as loading

    base, _ = tiny_weights
    asked = []

    def fake_resolve(checkpoint):
        asked.append(checkpoint)
        raise MimicMotionError("stop here")

    monkeypatch.setattr(loading, "resolve_checkpoint", fake_resolve)
    with pytest.raises(MimicMotionError, match="stop here"):
        MimicMotionPipeline.from_pretrained(base)
    assert asked == ["tencent/MimicMotion/MimicMotion_1-1.pth"]


# ------------------------------------------------------------------------------- download size


@pytest.fixture
def online_hub(empty_hub_cache, monkeypatch):
    """A hub that answers (faked): its file list with sizes, and downloads that write into the cache."""
    import huggingface_hub
    from huggingface_hub.hf_api import RepoSibling

    from mimicmotion import loading

    monkeypatch.setattr(loading, "_unreachable", lambda: None)
    listing = [RepoSibling("weights.onnx", size=2_500_000_000), RepoSibling("README.md", size=4_000),
               RepoSibling("other.bin", size=9 * 10**9)]  # fmt: skip
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, repo_id, **kw: SimpleNamespace(
        siblings=listing))  # fmt: skip
    downloads = []

    def download(repo_id, filename, local_files_only=False):
        path = empty_hub_cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / ("0" * 40) / filename
        if local_files_only:
            if not path.is_file():
                raise FileNotFoundError(filename)
            return str(path)
        downloads.append(filename)
        return str(cache_file(empty_hub_cache, repo_id, filename, b"weights"))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    return downloads


def test_a_download_says_its_size_and_where_it_goes(online_hub, empty_hub_cache, caplog):
    with caplog.at_level("INFO", logger="mimicmotion"):
        assert hub_file("owner/repo", "weights.onnx").read_bytes() == b"weights"
    assert online_hub == ["weights.onnx"]
    assert f"downloading 1 file, 2.5 GB, from owner/repo into {empty_hub_cache}" in caplog.messages
    caplog.clear()
    with caplog.at_level("INFO", logger="mimicmotion"):
        hub_file("owner/repo", "weights.onnx")  # now in the cache: nothing to say, nothing fetched
    assert online_hub == ["weights.onnx"] and caplog.messages == []


def test_files_in_the_cache_are_not_counted(online_hub, empty_hub_cache, caplog):
    cache_file(empty_hub_cache, "owner/repo", "README.md", b"cached")
    with caplog.at_level("INFO", logger="mimicmotion"):
        check_download("owner/repo", ["*.onnx", "*.md"])
    assert caplog.messages == [f"downloading 1 file, 2.5 GB, from owner/repo into {empty_hub_cache}"]


def test_a_download_that_does_not_fit_stops_before_it_starts(online_hub, empty_hub_cache, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=1_200_000_000))
    with pytest.raises(NotEnoughDiskSpace) as error:
        hub_file("owner/repo", "weights.onnx")
    message = str(error.value)
    assert "1 file of 2.5 GB" in message and f"{empty_hub_cache} has 1.2 GB free" in message
    assert "HF_HOME" in message and online_hub == []


def test_download_command_on_a_full_disk_is_one_line(online_hub, empty_hub_cache, monkeypatch, capsys):
    from mimicmotion.cli import main

    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=0))
    code = main(["download", "--no-dwpose", "--checkpoint", "owner/repo/weights.onnx", "--base-model",
                 str(empty_hub_cache.parent)])  # fmt: skip
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not enough disk space" in error and "HF_HOME" in error
    assert online_hub == [] and not empty_hub_cache.exists()


def test_the_auto_detector_falls_back_when_dwpose_does_not_fit(online_hub, monkeypatch):
    import huggingface_hub
    from huggingface_hub.hf_api import RepoSibling

    from mimicmotion.pose.backends import choose_backend

    monkeypatch.delenv("MIMICMOTION_DWPOSE_DIR", raising=False)
    listing = [RepoSibling("yolox_l.onnx", size=217_000_000),
               RepoSibling("dw-ll_ucoco_384.onnx", size=134_000_000)]  # fmt: skip
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", lambda self, repo_id, **kw: SimpleNamespace(
        siblings=listing))  # fmt: skip
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=100_000_000))
    pytest.importorskip("mediapipe")
    name, why = choose_backend("auto")
    assert name == "mediapipe" and "not enough disk space: 1 file of 217 MB" in why and online_hub == []


def test_a_partly_downloaded_base_is_not_taken_for_a_whole_one(empty_hub_cache, monkeypatch):
    import huggingface_hub.constants

    from mimicmotion.loading import base_file_patterns

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    repo = "someone/svd"
    for name in base_file_patterns(False):
        if name.endswith(".json") and "*" not in name:
            cache_file(empty_hub_cache, repo, name, b"{}")
    cache_file(empty_hub_cache, repo, "scheduler/scheduler_config.json", b"{}")
    cache_file(empty_hub_cache, repo, "feature_extractor/preprocessor_config.json", b"{}")
    cache_file(empty_hub_cache, repo, "image_encoder/model.fp16.safetensors", b"weights")
    # the VAE's weights never arrived: the cache does not hold the base, and offline that is the message
    with pytest.raises(WeightsUnavailable, match="not in the Hugging Face cache"):
        resolve_base(repo)
    cache_file(empty_hub_cache, repo, "vae/diffusion_pytorch_model.safetensors", b"weights")
    assert (resolve_base(repo) / "vae" / "diffusion_pytorch_model.safetensors").is_file()
