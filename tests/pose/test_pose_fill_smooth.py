import math

import numpy as np
import pytest
from pose_testing import absent_sequence, standing_sequence

from mimicmotion.pose import PoseSequence, fill_gaps, smooth


def sequence_with_gaps() -> PoseSequence:
    seq = standing_sequence(7, jitter=0.03, seed=1)
    for t in (0, 3, 4, 6):  # no person in these frames
        seq.body[t], seq.hands[t], seq.face[t] = absent_sequence(1).body[0], absent_sequence(1).hands[0], -1
        seq.face[t, :, 2] = 0
    return seq


def test_gaps_between_detections_are_interpolated_with_lower_confidence():
    seq = sequence_with_gaps()
    filled, report = fill_gaps(seq, confidence_scale=0.5)
    assert (report.frames, report.with_person, report.filled) == (7, 3, 4)
    assert "3 of 7 frames" in report.summary() and "4 frames filled" in report.summary()
    # frames 3 and 4 lie 1/3 and 2/3 of the way from frame 2 to frame 5
    for t, w in ((3, 1 / 3), (4, 2 / 3)):
        expected_xy = (1 - w) * seq.body[2, :, :2] + w * seq.body[5, :, :2]
        expected_conf = ((1 - w) * seq.body[2, :, 2] + w * seq.body[5, :, 2]) * 0.5
        assert np.allclose(filled.body[t, :, :2], expected_xy, atol=1e-6)
        assert np.allclose(filled.body[t, :, 2], expected_conf, atol=1e-6)
    # before the first and after the last detection: held
    assert np.allclose(filled.body[0, :, :2], seq.body[1, :, :2])
    assert np.allclose(filled.face[6, :, 2], seq.face[5, :, 2] * 0.5)
    # detected frames are untouched
    assert np.array_equal(filled.body[[1, 2, 5]], seq.body[[1, 2, 5]])
    assert filled.has_person().all()


def test_points_absent_on_one_side_are_held_and_absent_on_both_stay_absent():
    seq = sequence_with_gaps()
    seq.hands[2, 0] = (-1, -1, 0)  # left hand missing before the gap
    seq.hands[2, 1] = (-1, -1, 0)
    seq.hands[5, 1] = (-1, -1, 0)  # right hand missing on both sides
    filled, _ = fill_gaps(seq)
    assert np.allclose(filled.hands[3, 0, :, :2], seq.hands[5, 0, :, :2])
    assert np.allclose(filled.hands[3, 0, :, 2], seq.hands[5, 0, :, 2] / 3 * 0.5)
    assert np.all(filled.hands[3, 1, :, 2] == 0) and np.all(filled.hands[3, 1, :, :2] == -1)


def test_nothing_to_fill_from_leaves_the_sequence_alone():
    empty = absent_sequence(3)
    filled, report = fill_gaps(empty)
    assert report.with_person == 0 and report.filled == 0 and not filled.has_person().any()


def one_euro_reference(values, times, min_cutoff, beta, d_cutoff):
    """Scalar one-euro filter, straight from Casiez et al. 2012."""

    def alpha(cutoff, dt):
        tau = 1 / (2 * math.pi * cutoff)
        return 1 / (1 + tau / dt)

    out, x_hat, dx_hat = [values[0]], values[0], 0.0
    for t in range(1, len(values)):
        dt = times[t] - times[t - 1]
        dx = (values[t] - x_hat) / dt
        dx_hat = dx_hat + alpha(d_cutoff, dt) * (dx - dx_hat)
        cutoff = min_cutoff + beta * abs(dx_hat)
        x_hat = x_hat + alpha(cutoff, dt) * (values[t] - x_hat)
        out.append(x_hat)
    return np.array(out)


def test_smoothing_follows_the_one_euro_filter_in_pixels():
    seq = standing_sequence(30, 1000, 500, seed=2)
    rng = np.random.default_rng(0)
    track = 0.5 + np.cumsum(rng.normal(0, 0.01, 30))  # the nose moves along x only
    seq.body[:, 0, 0], seq.body[:, 0, 1] = track, 0.3
    out = smooth(seq, min_cutoff=1.0, beta=0.0, derivative_cutoff=1.0)
    times = seq.frame_indices / seq.fps
    expected = one_euro_reference(track.astype(np.float32) * 1000.0, times, 1.0, 0.0, 1.0) / 1000
    assert np.allclose(out.body[:, 0, 0], expected, atol=1e-6)
    assert np.allclose(out.body[:, 0, 1], 0.3)
    assert np.array_equal(out.body[..., 2], seq.body[..., 2])  # confidences untouched


def test_smoothing_reduces_jitter_and_restarts_after_absence():
    seq = standing_sequence(40, jitter=0.01, seed=4)
    seq.body[20:23, 4] = (-1, -1, 0)  # the right wrist disappears for 3 frames
    out = smooth(seq)
    raw_jitter = np.std(np.diff(seq.body[:20, 0, 0]))
    assert np.std(np.diff(out.body[:20, 0, 0])) < raw_jitter / 2
    assert np.all(out.body[20:23, 4] == (-1, -1, 0))
    assert np.allclose(out.body[23, 4], seq.body[23, 4])  # comes back unfiltered
    with pytest.raises(ValueError):
        smooth(seq, min_cutoff=0)
