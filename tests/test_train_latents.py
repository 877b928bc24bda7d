"""The latent cache: training from the frames' cached VAE posteriors computes what training from the frames
computes, the cache is written once per VAE and training size, another VAE never reads it, and a cache
that no longer matches its video is written again."""

import json
import os

import pytest
import torch
from helpers.tiny_models import save_tiny_base
from helpers.training import given_poses, tiny_settings, write_test_video

from mimicmotion.errors import MimicMotionError
from mimicmotion.train.config import load_config
from mimicmotion.train.dataset import ClipDataset, load_prepared
from mimicmotion.train.latents import build_cache, cache_file, read_cached

pytestmark = pytest.mark.slow  # tiny models, but training runs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Three videos with given poses (no detector needed): a portrait and a landscape one (cropped
    otherwise), and one at 50 fps, whose pose entries are every other frame (entry k = frame 2k)."""
    from mimicmotion.train.prepare import prepare_data

    folder = tmp_path_factory.mktemp("latents")
    videos = folder / "videos"
    videos.mkdir()
    for name, frames, width, height, fps in (("tall", 12, 48, 64, 10), ("wide", 10, 64, 48, 10),
                                             ("fast", 24, 48, 64, 50)):  # fmt: skip
        write_test_video(videos / f"{name}.mp4", frames, width, height, fps=fps)
        given_poses(frames, width, height, seed=frames, fps=fps).save(videos / f"{name}.npz")
    assert len(prepare_data(videos, folder / "data", workers=1, progress=False).prepared) == 3
    strided = [v for v in load_prepared(folder / "data") if v.fps == 50]
    assert strided and strided[0].pose_frames == 12  # the frames the cache must map entries to
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
    indices = range(9)  # three epochs: every video thrice
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


def mtimes(files) -> list[int]:
    return [f.stat().st_mtime_ns for f in files]


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
    written = mtimes(files)
    assert build_cache(videos, pipe.vae, 64, 32, progress=False) == fingerprint
    assert mtimes(files) == written  # read again, not rewritten

    with torch.no_grad():
        next(pipe.vae.parameters()).add_(1e-3)  # another VAE: its own files, the first ones untouched
    other = build_cache(videos, pipe.vae, 64, 32, progress=False)
    assert other != fingerprint
    assert all(cache_file(v, 64, 32, other).is_file() for v in videos)
    assert mtimes(files) == written
    bigger = build_cache(videos, pipe.vae, 128, 64, progress=False)
    assert bigger == other and all(cache_file(v, 128, 64, other).is_file() for v in videos)


def test_processes_share_out_the_cache_and_a_stale_file_is_written_again(data, base, tmp_path):
    import shutil

    from mimicmotion.pipeline import MimicMotionPipeline

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    pipe = MimicMotionPipeline.from_pretrained(base, checkpoint=None)
    videos = load_prepared(copy)
    shutil.rmtree(videos[0].folder / "latents", ignore_errors=True)
    # process 1 of 2 writes every other video still to do; process 0 the rest
    fingerprint = build_cache(videos, pipe.vae, 64, 32, progress=False, rank=1, world=2)
    files = [cache_file(v, 64, 32, fingerprint) for v in videos]
    done_by_1 = [f.is_file() for f in files]
    build_cache(videos, pipe.vae, 64, 32, progress=False, rank=0, world=2)
    assert all(f.is_file() for f in files) and 0 < sum(done_by_1) < len(files)

    written = mtimes(files)
    files[0].write_bytes(b"not a cache")  # unreadable: written again
    changed = videos[1].video.stat().st_mtime_ns + 10**9
    os.utime(videos[1].video, ns=(changed, changed))  # its video changed since: written again
    build_cache(videos, pipe.vae, 64, 32, progress=False)
    now = mtimes(files)
    assert now[0] != written[0] and now[1] != written[1] and now[2:] == written[2:]
    assert read_cached(files[0], [0, 1])[0].shape == (2, 4, 8, 4)

    files[0].unlink()
    with pytest.raises(MimicMotionError, match="cannot read latent cache"):
        read_cached(files[0], [0])


def refuse_to_encode(*args):
    raise AssertionError("the step encoded the clip's frames")


def test_training_from_the_cache_follows_training_from_frames(data, base, tmp_path, monkeypatch):
    """Two runs alike but for cache_latents log the same losses; the cached one never encodes clip frames."""
    import mimicmotion.train.step
    from mimicmotion.train.loop import train

    logged = {}
    for cached in (False, True):
        if cached:  # the step must take the cached posteriors (the cache itself is written before)
            monkeypatch.setattr(mimicmotion.train.step, "frame_posteriors", refuse_to_encode)
        run = tmp_path / f"cached-{cached}"
        train(load_config(None, tiny_settings(data, run, base, max_steps=3, cache_latents=cached)))
        lines = (run / "metrics.jsonl").read_text().splitlines()
        logged[cached] = torch.tensor([json.loads(line)["loss"] for line in lines])
    torch.testing.assert_close(logged[True], logged[False], rtol=1e-4, atol=1e-6)
