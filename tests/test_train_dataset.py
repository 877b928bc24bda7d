"""Training samples: clip choice, crop geometry, frames, pose pictures and hand weights of a real video."""

import numpy as np
import pytest
import torch
from helpers.training import GIF, prepare_gif

from mimicmotion.pose import render_pose
from mimicmotion.pose.reference import CoverCrop, prepare_reference
from mimicmotion.train.config import TrainConfig
from mimicmotion.train.dataset import (
    ClipDataset,
    MicroBatches,
    load_prepared,
    plan_clip,
    video_order,
)
from mimicmotion.train.frames import read_frames
from mimicmotion.video import iter_frames


@pytest.fixture(scope="module")
def data(tmp_path_factory, shared_data, mediapipe):
    return prepare_gif(shared_data, tmp_path_factory.mktemp("prepared"))


def config(data, **values):
    defaults = dict(data=str(data), height=64, width=32, num_frames=4, max_frame_interval=3, seed=3)
    return TrainConfig(**(defaults | values)).validate()


def test_clips_take_equally_spaced_frames_and_an_independent_reference():
    intervals, references = set(), set()
    for seed in range(300):
        plan = plan_clip(np.random.default_rng(seed), length=19, num_frames=4, min_interval=1, max_interval=8)
        steps = np.diff(plan.frames)
        assert (steps == plan.interval).all() and 1 <= plan.interval <= 6  # (19 - 1) // 3 = 6 fits
        assert plan.frames[0] >= 0 and plan.frames[-1] < 19
        intervals.add(plan.interval)
        references.add(plan.reference)
    assert intervals == set(range(1, 7))
    assert references == set(range(19))  # anywhere in the video, not tied to the clip
    with pytest.raises(ValueError):
        plan_clip(np.random.default_rng(0), length=5, num_frames=4, min_interval=2, max_interval=3)


def test_every_epoch_is_a_permutation_and_processes_share_out_samples():
    orders = [video_order(1, epoch, 10) for epoch in range(3)]
    assert all(sorted(order) == list(range(10)) for order in orders)
    assert not np.array_equal(orders[0], orders[1])

    streams = [iter(MicroBatches(start=5, batch_size=2, world=3, rank=r)) for r in range(3)]
    taken = [index for _ in range(4) for stream in streams for index in next(stream)]
    assert sorted(taken) == list(range(5 * 3 * 2, 9 * 3 * 2))  # no gaps, no sample twice


def test_crop_moves_keypoints_with_the_pixels():
    rng = np.random.default_rng(0)
    for src_h, src_w, height, width in [(1920, 1080, 1024, 576), (300, 500, 64, 32), (200, 120, 48, 64)]:
        crop = CoverCrop.fit(src_h, src_w, height, width)
        # A bright square in an otherwise black frame, around a random point inside the kept region.
        x = rng.uniform(0.4, 0.6) * src_w
        y = rng.uniform(0.4, 0.6) * src_h
        frame = np.zeros((src_h, src_w, 3), np.uint8)
        r = max(src_h, src_w) // 20
        frame[int(y) - r : int(y) + r, int(x) - r : int(x) + r] = 255
        image = crop.image(frame)
        assert image.shape == (height, width, 3)
        rows, cols = np.nonzero(image[..., 0] > 127)
        moved = crop.points(np.array([[x / src_w, y / src_h, 1.0], [-1.0, -1.0, 0.0]], np.float32))
        assert moved[0, 0] * width == pytest.approx(cols.mean() + 0.5, abs=1.0)
        assert moved[0, 1] * height == pytest.approx(rows.mean() + 0.5, abs=1.0)
        assert (moved[1, :2] == -1.0).all()  # absent points stay absent


def test_seeking_reads_the_same_frames_as_decoding_from_the_start(data, shared_data):
    (video,) = load_prepared(data)
    everything = [frame for _, frame in iter_frames(shared_data / GIF)]
    wanted = [18, 2, 3, 9]
    frames = read_frames(video, wanted)
    for index in wanted:
        np.testing.assert_array_equal(frames[index], everything[index])


def test_a_sample_holds_the_clip_its_poses_and_hand_weights(data, shared_data):
    # Large enough for the pose picture's thin lines to survive the renderer's downscaling.
    height, width = 512, 320  # the size resolution 320 gives for this portrait video
    cfg = config(data, height=height, width=width)
    dataset = ClipDataset(load_prepared(data), cfg)
    sample = dataset[5]
    assert sample["frames"].shape == (4, 3, height, width) and sample["frames"].dtype == torch.uint8
    assert sample["pose"].shape == (4, 3, height, width) and sample["pose"].dtype == torch.uint8
    assert sample["reference"].shape == (3, height, width)
    assert sample["hand_weights"].shape == (4, height // 8, width // 8)
    assert set(np.unique(sample["hand_weights"].numpy())) <= {1.0, 10.0}

    # The frames are the planned source frames, cropped: recompute them independently.
    from mimicmotion.train.dataset import sample_rng

    plan = plan_clip(sample_rng(cfg.seed, 5), 19, 4, cfg.min_frame_interval, cfg.max_frame_interval)
    everything = [frame for _, frame in iter_frames(shared_data / GIF)]
    crop = CoverCrop.fit(1024, 576, height, width)
    expected = np.stack([crop.image(everything[i], antialias=True) for i in plan.frames])  # targets
    np.testing.assert_array_equal(sample["frames"].permute(0, 2, 3, 1).numpy(), expected)
    # the reference is exactly what inference prepares from that frame at resolution 320
    np.testing.assert_array_equal(
        sample["reference"].permute(1, 2, 0).numpy(), prepare_reference(everything[plan.reference], 320)
    )
    assert sample["fps"] == pytest.approx(10.0 / plan.interval)

    # Pose pictures are drawn where the person is: the (cropped) neck keypoint is lit.
    from mimicmotion.pose import PoseSequence

    poses = PoseSequence.load(dataset.videos[0].folder / "pose.npz")
    checked = 0
    for k, t in enumerate(plan.frames):
        neck = crop.points(poses.body[t, 1:2])[0]
        x, y = int(neck[0] * width), int(neck[1] * height)
        if poses.body[t, 1, 2] > 0.3 and 0 <= x < width and 0 <= y < height:
            assert sample["pose"][k, :, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].max() > 0
            checked += 1
    assert checked > 0

    # ... and the pose pictures are the inference renderer's pictures of those keypoints in the crop
    chosen = poses.select(plan.frames)
    cropped = chosen.with_points(
        crop.points(chosen.points()), width=width, height=height, others=crop.points(chosen.others)
    )
    pictures = np.stack([render_pose(cropped, k, height, width, cfg.render_style) for k in range(4)])
    np.testing.assert_array_equal(sample["pose"].permute(0, 2, 3, 1).numpy(), pictures)

    # Same sample index, same sample; another index, another clip.
    again = dataset[5]
    for key in ("frames", "pose", "reference", "hand_weights"):
        assert torch.equal(sample[key], again[key])
    assert not torch.equal(sample["frames"], dataset[6]["frames"]) or not torch.equal(
        sample["reference"], dataset[6]["reference"]
    )


def test_hand_weights_follow_the_reliable_hands(data):
    cfg = config(data, hand_weight=10.0, hand_threshold=0.3)
    dataset = ClipDataset(load_prepared(data), cfg)
    from mimicmotion.pose import PoseSequence
    from mimicmotion.train.dataset import sample_rng

    poses = PoseSequence.load(dataset.videos[0].folder / "pose.npz")
    seen_hand = False
    for index in range(6):
        sample = dataset[index]
        plan = plan_clip(sample_rng(cfg.seed, index), 19, 4, cfg.min_frame_interval, cfg.max_frame_interval)
        for k, t in enumerate(plan.frames):
            reliable = (poses.hands[t, :, :, 2] > 0.3).all(axis=1).any()
            weighted = bool((sample["hand_weights"][k] == 10.0).any())
            # every reliable hand inside the crop gives weight; no reliable hand, no weight
            assert weighted <= reliable
            seen_hand |= weighted
    assert seen_hand
