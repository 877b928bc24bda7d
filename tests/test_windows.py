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


def released_layout(num_frames, n, c):
    """The released rule, enumerated naively."""
    windows, start = [], 0
    while start <= num_frames - n:
        windows.append([0] + [start + k for k in range(1, n)])
        start += n - c
    if windows[-1][-1] < num_frames - 1:
        windows.append([0, *list(range(num_frames - n + 1, num_frames))])
    return windows


@pytest.mark.parametrize("n,c", [(72, 6), (16, 4), (5, 2), (4, 1), (3, 2)])
@pytest.mark.parametrize("num_frames", [None, 0, 1, 2, 7])
def test_layout_matches_released_rule_and_covers_every_frame(n, c, num_frames):
    # F from N to several windows, including lengths that force the extra last window.
    for f in range(n, 3 * n + 5) if num_frames is None else [n + num_frames]:
        windows = plan_windows(f, n, c)
        assert windows == released_layout(f, n, c)
        assert all(len(w) == n and w[0] == 0 for w in windows)
        assert sorted(set(itertools.chain(*windows))) == list(range(f))


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
        windows = released_layout(4 * n, n, c)
        regular = windows if windows[-1][1] - windows[-2][1] == n - c else windows[:-1]
        for frame in range(1, 4 * n):
            assert sum(frame in w for w in regular) <= 2
        assert plan_windows(4 * n, n, c) == windows


def test_bad_sizes_are_refused():
    with pytest.raises(MimicMotionError):
        plan_windows(0, 8, 2)
    with pytest.raises(MimicMotionError):
        plan_windows(10, 1, 1)
    with pytest.raises(MimicMotionError, match="unknown fusion"):
        fusion_weights([[0, 1]], "median")


def test_official_weights_are_the_released_triangle():
    for n in (1, 2, 5, 16, 72):
        expected = [min((p + 0.5) * 2 / n, 2 - (p + 0.5) * 2 / n) for p in range(n)]
        assert triangular_weights(n).tolist() == pytest.approx(expected, rel=1e-5)  # float32


def test_progressive_weights_ramp_k_over_c_plus_one_within_each_pair():
    windows = plan_windows(30, 10, 4)  # windows share frame 0 and 3 driving frames; the last more
    coverage = frame_coverage(windows)
    weights = fusion_weights(windows, "progressive")
    for a, b in itertools.pairwise(windows):
        shared = sorted(set(a[1:]) & set(b[1:]))
        c = len(shared)
        for k, frame in enumerate(shared, start=1):
            if coverage[frame] > 2:  # the extra last window reaches into a third window
                continue
            wa = weights[windows.index(a)][a.index(frame)].item()
            wb = weights[windows.index(b)][b.index(frame)].item()
            assert wb == pytest.approx(k / (c + 1))
            assert wa == pytest.approx(1 - k / (c + 1))
    # frames owned by one window only keep weight 1
    assert weights[0][1].item() == 1.0


def fused_window_ids(windows, fusion, num_frames):
    """Fuse a fake prediction that is the window's own number everywhere."""
    weights = fusion_weights(windows, fusion)
    like = torch.zeros(1, num_frames, 1)
    return fuse(lambda i, frames: torch.full((1, len(frames), 1), float(i)), windows, weights, like)[0, :, 0]


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


def test_fusion_weights_sum_to_one_where_two_windows_meet():
    windows = plan_windows(50, 9, 3)
    assert max(frame_coverage(windows)[f] for f in range(1, 50)) == 2
    weights = fusion_weights(windows, "progressive")
    total = torch.zeros(50, dtype=torch.float64)
    for w, idx in zip(weights, windows, strict=False):
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
