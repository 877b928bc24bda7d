"""The latent cache: training from the frames' cached VAE posteriors computes what training from the frames
computes, the cache is written once per VAE and training size, and another VAE never reads it."""

import json

import pytest
import torch
from helpers.tiny_models import save_tiny_base
from helpers.training import given_poses, tiny_settings, write_test_video

from mimicmotion.train.config import load_config
from mimicmotion.train.dataset import ClipDataset, load_prepared
from mimicmotion.train.latents import build_cache, cache_file

pytestmark = pytest.mark.slow  # tiny models, but training runs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Two videos with given poses (no detector needed): one portrait, one landscape (cropped otherwise)."""
    from mimicmotion.train.prepare import prepare_data

    folder = tmp_path_factory.mktemp("latents")
    videos = folder / "videos"
    videos.mkdir()
    for name, frames, width, height in (("tall", 12, 48, 64), ("wide", 10, 64, 48)):
        write_test_video(videos / f"{name}.mp4", frames, width, height)
        given_poses(frames, width, height, seed=frames).save(videos / f"{name}.npz")
    assert len(prepare_data(videos, folder / "data", workers=1, progress=False).prepared) == 2
    return folder / "data"


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return save_tiny_base(tmp_path_factory.mktemp("tiny") / "base")


def losses(pipe, data, base, latent_cache):
    """Per-clip losses of samples 0-5, their noise drawn as training draws it."""
    from mimicmotion.train.model import MimicMotionModel
    from mimicmotion.train.objective import sample_noise, stack_noise
    from mimicmotion.train.step import clip_losses

    c = load_config(None, tiny_settings(data, "unused", base, uncond_prob=0.0))
    dataset = ClipDataset(load_prepared(data), c, latent_cache=latent_cache)
    indices = range(6)
    batch = torch.utils.data.default_collate([dataset[i] for i in indices])
    assert ("frames" in batch) == (latent_cache is None)
    noise = stack_noise(
        [
            sample_noise(c.seed, i, (4, 4, 8, 4), (3, 64, 32), c.p_mean, c.p_std, (0.0, 0.1), 0.0)
            for i in indices
        ],
        torch.device("cpu"),
    )
    with torch.no_grad():
        return clip_losses(MimicMotionModel(pipe.unet, pipe.pose_net), pipe, batch, noise, 7, 127)[0]


def test_cached_posteriors_give_the_losses_the_frames_give(data, base):
    from mimicmotion.pipeline import MimicMotionPipeline

    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=None)
    fingerprint = build_cache(load_prepared(data), pipe.vae, 64, 32, progress=False)
    from_frames = losses(pipe, data, base, None)
    from_cache = losses(pipe, data, base, fingerprint)
    print("losses from frames", from_frames.tolist(), "from the cache", from_cache.tolist())
    assert from_frames.std() > 0.01 * from_frames.mean()  # the clips differ: a wrong clip would show
    torch.testing.assert_close(from_cache, from_frames, rtol=1e-4, atol=1e-6)


def test_the_cache_is_written_once_per_vae_and_size(data, base):
    from mimicmotion.pipeline import MimicMotionPipeline

    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=None)
    videos = load_prepared(data)
    fingerprint = build_cache(videos, pipe.vae, 64, 32, progress=False)
    files = [cache_file(v, 64, 32, fingerprint) for v in videos]
    written = [f.stat().st_mtime_ns for f in files]
    assert build_cache(videos, pipe.vae, 64, 32, progress=False) == fingerprint
    assert [f.stat().st_mtime_ns for f in files] == written  # read again, not rewritten

    with torch.no_grad():
        next(pipe.vae.parameters()).add_(1e-3)  # another VAE: its own files, the first ones untouched
    other = build_cache(videos, pipe.vae, 64, 32, progress=False)
    assert other != fingerprint
    assert all(cache_file(v, 64, 32, other).is_file() for v in videos)
    assert [f.stat().st_mtime_ns for f in files] == written
    bigger = build_cache(videos, pipe.vae, 128, 64, progress=False)
    assert bigger == other and all(cache_file(v, 128, 64, other).is_file() for v in videos)


def test_training_from_the_cache_follows_training_from_frames(data, base, tmp_path):
    """Two runs alike but for cache_latents log the same losses; the cached one wrote its cache."""
    from mimicmotion.pipeline import MimicMotionPipeline
    from mimicmotion.train.latents import vae_fingerprint
    from mimicmotion.train.loop import train

    logged = {}
    for cached in (False, True):
        run = tmp_path / f"cached-{cached}"
        train(load_config(None, tiny_settings(data, run, base, max_steps=3, cache_latents=cached)))
        lines = (run / "metrics.jsonl").read_text().splitlines()
        logged[cached] = torch.tensor([json.loads(line)["loss"] for line in lines])
    torch.testing.assert_close(logged[True], logged[False], rtol=1e-4, atol=1e-6)
    fingerprint = vae_fingerprint(MimicMotionPipeline.from_pretrained(base, checkpoint=None).vae)
    assert all(cache_file(v, 64, 32, fingerprint).is_file() for v in load_prepared(data))
