"""Sampling with tiny random weights loaded through the real loading path.

Same-seed parity with the released pipeline is checked against the released code itself in
tests/oracle/test_sampler_oracle.py; these tests cover what it cannot (fewer frames than a window,
guidance <= 1, the other fusions, the input forms) and the pipeline's own behaviour.
"""

import numpy as np
import PIL.Image
import pytest
import torch
from helpers.tiny_models import save_tiny_weights

from mimicmotion import MimicMotionPipeline
from mimicmotion.errors import MimicMotionError

H, W = 32, 48


def inputs(num_frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, H, W, generator=g), torch.rand(num_frames, 3, H, W, generator=g) * 2 - 1


def run(pipe, image, pose, seed=0, **kwargs):
    kwargs = {"tile_size": 4, "tile_overlap": 2, "num_inference_steps": 2, **kwargs}
    return pipe(image, pose, generator=torch.Generator().manual_seed(seed), **kwargs)


def test_same_seed_same_frames_other_seed_other_frames(tiny_pipe):
    image, pose = inputs(6)
    a, b, c = (run(tiny_pipe, image, pose, seed=s).frames for s in (1, 1, 2))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-3


@pytest.mark.parametrize("num_frames", [1, 2, 3])
def test_fewer_frames_than_one_window(tiny_pipe, num_frames):
    image, pose = inputs(num_frames)
    out = run(tiny_pipe, image, pose, tile_size=72, tile_overlap=6)
    assert out.frames.shape == (1, num_frames, 3, H, W)
    assert out.windows == [list(range(num_frames))]
    assert torch.isfinite(out.frames).all()


def test_output_types_agree(tiny_pipe):
    image, pose = inputs(5)
    pt = run(tiny_pipe, image, pose, output_type="pt").frames
    assert pt.shape == (1, 5, 3, H, W) and pt.min() >= 0 and pt.max() <= 1
    np_frames = run(tiny_pipe, image, pose, output_type="np").frames
    assert isinstance(np_frames, np.ndarray) and np_frames.shape == (1, 5, H, W, 3)
    assert np.allclose(np_frames, pt.permute(0, 1, 3, 4, 2).numpy())
    pil = run(tiny_pipe, image, pose, output_type="pil").frames
    assert len(pil) == 1 and len(pil[0]) == 5 and pil[0][0].size == (W, H)
    # uint8 by truncation, as released: floor(255 x), not the nearest level
    assert np.array_equal(np.asarray(pil[0][2]), np.floor(np_frames[0, 2] * np.float32(255)).astype(np.uint8))
    latents = run(tiny_pipe, image, pose, output_type="latent").frames
    assert latents.shape == (1, 5, 4, H // 8, W // 8)
    decoded = torch.cat(list(tiny_pipe.decode_latents(latents)))
    assert torch.allclose(decoded, pt[0], atol=1e-6)


def test_decoding_iterator_yields_chunks_in_order(tiny_pipe):
    image, pose = inputs(11)
    latents = run(tiny_pipe, image, pose, output_type="latent").frames
    chunks = list(tiny_pipe.decode_latents(latents, chunk_size=4))
    assert [c.shape[0] for c in chunks] == [4, 4, 3]
    # the temporal decoder sees each chunk as one clip: decoding frames 4..7 alone gives chunk 2
    alone = next(tiny_pipe.decode_latents(latents[:, 4:8], chunk_size=4))
    assert torch.allclose(alone, chunks[1], atol=1e-6)


def test_reference_image_may_be_pil_uint8_or_tensor(tiny_pipe):
    _, pose = inputs(4)
    array = (np.random.default_rng(0).random((H, W, 3)) * 255).astype(np.uint8)
    forms = (PIL.Image.fromarray(array), array, torch.from_numpy(array).permute(2, 0, 1))
    outs = [run(tiny_pipe, img, pose).frames for img in forms]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[1], outs[2])
    # uint8 pictures go through the released [-1, 1] round trip, which truncates: a float tensor of
    # the round-tripped pixels gives the same frames, one of the raw pixels does not
    tripped = ((torch.from_numpy(array).float() / 127.5 - 1 + 1.0) * 127.5).to(torch.uint8)
    assert (tripped.int() - torch.from_numpy(array).int()).min() == -1  # some pixels lose one level
    # laid out channels-last as diffusers' image processor leaves uint8 pictures: the layout decides how
    # the convolutions round, the values are what is compared here
    as_float = torch.from_numpy(tripped.numpy()[None].transpose(0, 3, 1, 2) / np.float32(255))
    assert torch.allclose(run(tiny_pipe, as_float, pose).frames, outs[0], atol=1e-5)
    raw = torch.from_numpy(array).permute(2, 0, 1).float() / 255
    assert not torch.allclose(run(tiny_pipe, raw, pose).frames, outs[0], atol=1e-5)


def test_uint8_pose_pictures_equal_their_values_in_minus_one_to_one(tiny_pipe):
    image, _ = inputs(5)
    pictures = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (5, 3, H, W), dtype=np.uint8))
    as_uint8 = run(tiny_pipe, image, pictures).frames
    as_float = run(tiny_pipe, image, pictures.float() / 127.5 - 1).frames
    assert torch.equal(as_uint8, as_float)


def test_no_guidance_runs_one_conditional_pass_per_window(tiny_pipe):
    image, pose = inputs(7)
    calls = []
    hook = tiny_pipe.unet.register_forward_pre_hook(lambda m, args: calls.append(1))
    try:
        out = run(tiny_pipe, image, pose, min_guidance_scale=1.0, max_guidance_scale=1.0)
        unguided = len(calls)
        calls.clear()
        run(tiny_pipe, image, pose)
    finally:
        hook.remove()
    windows, steps = len(out.windows), 2
    assert unguided == windows * steps
    assert len(calls) == 2 * windows * steps
    assert torch.isfinite(out.frames).all()


def test_guidance_scale_one_equals_the_conditional_prediction(tiny_pipe):
    """With min=max=1 guidance changes nothing, so the unguided pass gives the same frames."""
    image, pose = inputs(6)
    unguided = run(tiny_pipe, image, pose, min_guidance_scale=1.0, max_guidance_scale=1.0).frames
    guided_by_one = run(tiny_pipe, image, pose, min_guidance_scale=1.0, max_guidance_scale=1.0 + 1e-7).frames
    assert torch.allclose(unguided, guided_by_one, atol=1e-4)


def test_fusions_differ_only_where_windows_overlap(tiny_pipe):
    image, pose = inputs(10)
    outs = {
        f: run(tiny_pipe, image, pose, fusion=f, output_type="latent", num_inference_steps=1).frames
        for f in ("official", "progressive", "average")
    }
    windows = run(tiny_pipe, image, pose, output_type="latent", num_inference_steps=1).windows
    only_in_one = [f for f in range(1, 10) if sum(f in w for w in windows) == 1]
    assert only_in_one
    # after one step a frame seen by one window is the same whatever the fusion, up to the rounding of
    # weight x prediction / weight (float32, 1e-7), which the single Euler step from sigma 700 to 0
    # (x0 = x + (x0 - x)) multiplies by about 700
    for f in only_in_one:
        assert torch.allclose(outs["official"][:, f], outs["progressive"][:, f], atol=2e-4)
        assert torch.allclose(outs["official"][:, f], outs["average"][:, f], atol=2e-4)
    assert (outs["official"] - outs["progressive"]).abs().max() > 1e-6


def test_pose_path_matters_only_with_a_trained_posenet(tmp_path):
    image, pose_a = inputs(5, seed=0)
    _, pose_b = inputs(5, seed=1)
    pose_b[0] = pose_a[0]
    for trained in (True, False):
        base, checkpoint = save_tiny_weights(tmp_path / str(trained), trained_pose_net=trained)
        pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=checkpoint)
        pipe.set_progress_bar_config(disable=True)
        a, b = (run(pipe, image, p).frames for p in (pose_a, pose_b))
        if trained:
            assert (a - b).abs().max() > 1e-3
        else:
            assert torch.equal(a, b)


def test_bad_inputs_are_refused_with_clear_errors(tiny_pipe):
    image, pose = inputs(4)
    with pytest.raises(MimicMotionError, match="multiple of 16"):
        run(tiny_pipe, torch.rand(1, 3, 24, W), torch.zeros(4, 3, 24, W))
    with pytest.raises(MimicMotionError, match="reference image"):
        run(tiny_pipe, torch.rand(1, 3, 16, 16), pose)
    with pytest.raises(MimicMotionError, match="pose_frames"):
        run(tiny_pipe, image, pose[:, :2])
    with pytest.raises(MimicMotionError, match="output_type"):
        run(tiny_pipe, image, pose, output_type="gif")
    with pytest.raises(MimicMotionError, match="fusion"):
        run(tiny_pipe, image, pose, fusion="max")
    with pytest.raises(MimicMotionError, match="tile_overlap"):
        run(tiny_pipe, image, torch.zeros(9, 3, H, W), tile_overlap=4)


class LazyPoseFrames:
    """Pose frames produced on demand, indexed like a tensor (what a disk-backed store offers)."""

    def __init__(self, frames):
        self.frames, self.shape, self.requests = frames, frames.shape, []

    def __len__(self):
        return self.frames.shape[0]

    def __getitem__(self, index):
        self.requests.append(list(index))
        return self.frames[index]


def test_pose_frames_may_be_any_tensor_like_source(tiny_pipe):
    image, pose = inputs(7)
    lazy = LazyPoseFrames(pose)
    assert torch.equal(run(tiny_pipe, image, lazy).frames, run(tiny_pipe, image, pose).frames)
    assert all(len(r) <= 4 for r in lazy.requests)  # only one window is ever requested at once
