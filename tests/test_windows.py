"""Window layout and fusion weights (pure functions) and the fusion they produce in the sampler."""

import itertools
from collections import Counter

import pytest
import torch
from diffusers import EulerDiscreteScheduler
from helpers.tiny_models import SVD_SCHEDULER

from mimicmotion.errors import MimicMotionError
from mimicmotion.sampling import denoise
from mimicmotion.windows import fuse, fusion_weights, plan_windows, triangular_weights


def frame_coverage(windows):
    """How many windows contain each frame."""
    return Counter(frame for window in windows for frame in window)


# Hand-worked layouts: starts 0, N - C, 2(N - C), ... while start <= F - N; one more window ending at F - 1
# when the last regular one stops short.
HAND_WORKED = [
    # F, N, C, windows
    (13, 8, 3, [[0, *range(1, 8)], [0, *range(6, 13)]]),
    (20, 8, 2, [[0, *range(1, 8)], [0, *range(7, 14)], [0, *range(13, 20)]]),
    (22, 8, 2, [[0, *range(1, 8)], [0, *range(7, 14)], [0, *range(13, 20)], [0, *range(15, 22)]]),
    (100, 72, 6, [list(range(72)), [0, *range(29, 100)]]),
    (6, 3, 2, [[0, 1, 2], [0, 2, 3], [0, 3, 4], [0, 4, 5]]),
]


@pytest.mark.parametrize("num_frames,n,c,expected", HAND_WORKED)
def test_layout_of_hand_worked_cases(num_frames, n, c, expected):
    assert plan_windows(num_frames, n, c) == expected


@pytest.mark.parametrize("n,c", [(72, 6), (16, 4), (5, 2), (4, 1), (3, 2)])
def test_layout_invariants(n, c):
    for f in range(n, 3 * n + 5):
        windows = plan_windows(f, n, c)
        assert all(len(w) == n and w[0] == 0 and w[1:] == sorted(w[1:]) for w in windows)
        assert sorted(set(itertools.chain(*windows))) == list(range(f))  # every frame, none twice a window
        regular = [w for w in windows if (w[1] - 1) % (n - c) == 0]
        assert regular[0][1] == 1
        for a, b in itertools.pairwise(regular):  # adjacent windows share frame 0 and C - 1 driving frames
            assert len(set(a) & set(b)) == c
        assert windows[-1][-1] == f - 1


def test_short_sequences_are_one_window():
    assert plan_windows(1, 72, 6) == [[0]]
    assert plan_windows(5, 72, 6) == [[0, 1, 2, 3, 4]]
    assert plan_windows(72, 72, 6) == [list(range(72))]


def test_last_window_may_overlap_more_than_c():
    windows = plan_windows(20, 8, 2)  # starts 0, 6, 12 -> [.., 13..19] reaches 19; F=21 needs one more
    assert windows[-1][-1] == 19
    windows = plan_windows(22, 8, 2)
    assert windows[-1] == [0, *range(15, 22)]
    shared = set(windows[-1][1:]) & set(windows[-2][1:])
    assert len(shared) > 2 - 1


@pytest.mark.parametrize("n,c", [(8, 0), (8, 5), (72, 37), (72, 72)])
def test_overlaps_that_skip_frames_or_triple_share_are_refused(n, c):
    with pytest.raises(MimicMotionError, match="tile_overlap"):
        plan_windows(100, n, c)


def test_largest_allowed_overlap_shares_frames_between_pairs_only():
    for n in range(2, 20):
        c = (n + 1) // 2
        windows = plan_windows(4 * n, n, c)
        regular = [w for w in windows if (w[1] - 1) % (n - c) == 0]
        assert max(frame_coverage(regular)[f] for f in range(1, 4 * n)) <= 2


def test_bad_sizes_are_refused():
    with pytest.raises(MimicMotionError):
        plan_windows(0, 8, 2)
    with pytest.raises(MimicMotionError):
        plan_windows(10, 1, 1)
    with pytest.raises(MimicMotionError, match="unknown fusion"):
        fusion_weights([[0, 1]], "median")


def test_official_weights_are_the_released_triangle():
    assert triangular_weights(4).tolist() == [0.25, 0.75, 0.75, 0.25]
    assert triangular_weights(5).tolist() == pytest.approx([0.2, 0.6, 1.0, 0.6, 0.2])
    assert triangular_weights(1).tolist() == [1.0]
    for n in (2, 16, 72):
        weights = triangular_weights(n)
        assert torch.allclose(weights, weights.flip(0)) and weights.max() <= 1 and weights.min() > 0


def test_official_weights_round_like_the_released_fp16_run():
    """Each operation rounded to fp16 as the released fp16 run computed it (numpy's own half precision
    arithmetic as the reference), which is not the fp32 triangle rounded once."""
    import numpy as np

    for n in (7, 72):
        ramp = (np.arange(n, dtype=np.float16) + np.float16(0.5)) * np.float16(2.0) / np.float16(n)
        expected = torch.from_numpy(np.minimum(ramp, np.float16(2.0) - ramp))
        half = triangular_weights(n, torch.float16)
        assert half.dtype == torch.float16 and torch.equal(half, expected)
    assert not torch.equal(triangular_weights(72, torch.float16), triangular_weights(72).half())


def test_progressive_weights_of_a_hand_worked_pair():
    # F = 7, N = 5, C = 3: [0, 1, 2, 3, 4] and [0, 3, 4, 5, 6] share driving frames 3 and 4 (c = 2,
    # lambda = 1/3): frame 3 takes 1/3 from the later window, frame 4 takes 2/3
    windows = plan_windows(7, 5, 3)
    assert windows == [[0, 1, 2, 3, 4], [0, 3, 4, 5, 6]]
    earlier, later = fusion_weights(windows, "progressive", torch.float64)
    assert earlier.tolist() == pytest.approx([1, 1, 1, 2 / 3, 1 / 3])
    assert later.tolist() == pytest.approx([1, 1 / 3, 2 / 3, 1, 1])


def test_progressive_weights_where_the_extra_last_window_reaches_a_third_window():
    # F = 8 adds [0, 4, 5, 6, 7], which shares 4, 5, 6 with the second window (c = 3, lambda = 1/4), and
    # frame 4 with the first: each pair's ramp multiplies into the windows' weights
    windows = plan_windows(8, 5, 3)
    assert windows == [[0, 1, 2, 3, 4], [0, 3, 4, 5, 6], [0, 4, 5, 6, 7]]
    first, second, third = fusion_weights(windows, "progressive", torch.float64)
    assert first.tolist() == pytest.approx([1, 1, 1, 2 / 3, 1 / 3])
    assert second.tolist() == pytest.approx([1, 1 / 3, 2 / 3 * 3 / 4, 1 / 2, 1 / 4])
    assert third.tolist() == pytest.approx([1, 1 / 4, 1 / 2, 3 / 4, 1])


def fused_window_ids(windows, fusion, num_frames):
    """Fuse a fake prediction that is the window's own number everywhere."""
    weights = fusion_weights(windows, fusion)
    like = torch.zeros(1, num_frames, 1)
    number = {tuple(window): i for i, window in enumerate(windows)}

    def predict(frames):
        return torch.full((1, len(frames), 1), float(number[tuple(frames)]))

    return fuse(predict, windows, weights, like)[0, :, 0]


def test_fuse_progressive_and_average_on_a_fake_prediction():
    num_frames, n, c = 40, 12, 5
    windows = plan_windows(num_frames, n, c)
    assert max(frame_coverage(windows)[f] for f in range(1, num_frames)) == 2
    progressive = fused_window_ids(windows, "progressive", num_frames)
    average = fused_window_ids(windows, "average", num_frames)
    for i, (a, b) in enumerate(itertools.pairwise(windows)):
        shared = sorted(set(a[1:]) & set(b[1:]))
        for k, frame in enumerate(shared, start=1):
            # paper: k-th shared frame = k/(c+1) of the later window + the rest from the earlier
            lam = 1 / (len(shared) + 1)
            assert progressive[frame].item() == pytest.approx((1 - k * lam) * i + k * lam * (i + 1))
            assert average[frame].item() == pytest.approx(i + 0.5)  # flat mean
    # the reference frame is the mean over all windows, and single-window frames are untouched
    assert progressive[0].item() == pytest.approx(sum(range(len(windows))) / len(windows))
    assert progressive[1].item() == 0.0


@pytest.mark.parametrize("num_frames,n,c", [(50, 9, 3), (30, 10, 4), (139, 72, 6), (44, 16, 8)])
def test_fused_weights_of_every_frame_sum_to_one(num_frames, n, c):
    """Every fusion is a convex blend: fusing a prediction of ones gives ones, whatever the coverage."""
    windows = plan_windows(num_frames, n, c)
    for fusion in ("official", "progressive", "average"):
        weights = fusion_weights(windows, fusion, torch.float64)
        like = torch.zeros(1, num_frames, dtype=torch.float64)
        ones = fuse(lambda frames: torch.ones(1, len(frames), dtype=torch.float64), windows, weights, like)
        assert torch.allclose(ones, torch.ones_like(like))


def test_progressive_weights_of_two_windows_sum_to_one_before_normalising():
    windows = plan_windows(50, 9, 3)
    assert max(frame_coverage(windows)[f] for f in range(1, 50)) == 2
    weights = fusion_weights(windows, "progressive", torch.float64)
    total = torch.zeros(50, dtype=torch.float64)
    for w, idx in zip(weights, windows, strict=True):
        total[idx[1:]] += w[1:]
    assert torch.allclose(total[1:], torch.ones(49, dtype=torch.float64))


def paper_ramp_of_window_ids(windows, num_frames):
    """Window numbers blended frame by frame with Algorithm 1's ramp (at most two windows a frame)."""
    ids = []
    for frame in range(num_frames):
        owners = [i for i, window in enumerate(windows) if frame in window]
        if frame == 0:
            ids.append(sum(owners) / len(owners))
        elif len(owners) == 1:
            ids.append(float(owners[0]))
        else:
            earlier, later = owners
            shared = sorted(set(windows[earlier][1:]) & set(windows[later][1:]))
            k, lam = shared.index(frame) + 1, 1 / (len(shared) + 1)
            ids.append((1 - k * lam) * earlier + k * lam * later)
    return ids


def test_denoise_loop_with_a_fake_denoiser_fuses_then_guides_then_steps():
    """A fake denoiser returning (window id) as conditional and 0 as unconditional prediction.

    With guidance g the fused prediction is g * (fused window ids); the Euler v-prediction step is
    linear in it, so one step from x gives x + (denoised(pred) - x) * dt / sigma, computed here by
    the scheduler itself on the expected prediction.
    """
    scheduler = EulerDiscreteScheduler(**SVD_SCHEDULER)
    num_frames, n, c = 23, 8, 3
    windows = plan_windows(num_frames, n, c)
    assert max(frame_coverage(windows)[f] for f in range(1, num_frames)) == 2
    weights = fusion_weights(windows, "progressive")
    latents = torch.randn(1, num_frames, 2, 1, 1, generator=torch.Generator().manual_seed(0))
    window_of = {tuple(w): i for i, w in enumerate(windows)}
    calls = []

    def denoiser(x, t, frames):
        calls.append(tuple(frames))
        cond = torch.full_like(x, float(window_of[tuple(frames)]))
        return torch.cat([torch.zeros_like(x), cond])

    guidance = torch.linspace(1.5, 3.0, num_frames)
    scheduler.set_timesteps(1)
    out = denoise(latents, scheduler, windows, weights, denoiser, guidance)
    assert calls == [tuple(w) for w in windows]

    ids = torch.tensor(paper_ramp_of_window_ids(windows, num_frames))
    expected_pred = (guidance * ids).view(1, -1, 1, 1, 1).expand_as(latents)
    reference = EulerDiscreteScheduler(**SVD_SCHEDULER)
    reference.set_timesteps(1)
    expected = reference.step(expected_pred, reference.timesteps[0], latents).prev_sample
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("num_frames,n,c", [(30, 10, 4), (139, 72, 6), (44, 16, 8), (13, 4, 2)])
def test_progressive_hands_over_monotonically_even_where_three_windows_meet(num_frames, n, c):
    windows = plan_windows(num_frames, n, c)
    fused = fused_window_ids(windows, "progressive", num_frames)[1:]
    assert torch.all(fused[1:] >= fused[:-1] - 1e-12)
    assert fused[0].item() == 0.0 and fused[-1].item() == len(windows) - 1
