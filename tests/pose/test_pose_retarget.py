import numpy as np
import pytest
from pose_testing import STANDING, absent_sequence, standing_sequence

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import fit_linear, retarget

LIMBS = [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
         (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)]  # fmt: skip
FIT_POINTS = [0, 1, 2, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]

# Landscape driving video, portrait reference: x and y scale differently in normalised units.
DRV_W, DRV_H = 1920, 1080
REF_W, REF_H = 576, 1024


def reference_pose():
    ref = standing_sequence(1, REF_W, REF_H, seed=7)
    ref.body[0, :, 2] = 0.9
    ref.body[0, 13, 2] = 0.2  # left ankle unclear: not used by the fit, its bone keeps the linear scale
    ref.body[0, 8, :2] += (0.0, 0.04)  # a longer right thigh than the driving dancer's
    return ref


def dancing_poses(count=6, seed=0):
    """Random upright driving poses built bone by bone in driving pixels: every direction is known."""
    rng = np.random.default_rng(seed)
    seq = absent_sequence(count, DRV_W, DRV_H)
    upright = STANDING * (REF_W, REF_H)
    for t in range(count):
        px = np.zeros((18, 2))
        px[1] = (rng.uniform(800, 1100), rng.uniform(250, 400))
        for parent, child in LIMBS:
            bone = upright[child] - upright[parent]
            angle = np.arctan2(bone[1], bone[0]) + rng.uniform(-1.0, 1.0)  # up to ~60 degrees off
            px[child] = px[parent] + rng.uniform(0.5, 1.5) * np.hypot(*bone) * np.array(
                [np.cos(angle), np.sin(angle)]
            )
        seq.body[t, :, :2] = px / (DRV_W, DRV_H)
        seq.body[t, :, 2] = rng.uniform(0.4, 1.0, 18)
        for side, wrist in ((0, 7), (1, 4)):
            seq.hands[t, side, :, :2] = (px[wrist] + rng.normal(0, 20, (21, 2))) / (DRV_W, DRV_H)
            seq.hands[t, side, :, 2] = rng.uniform(0.3, 1, 21)
        seq.face[t, :, :2] = (px[0] + rng.normal(0, 15, (68, 2))) / (DRV_W, DRV_H)
        seq.face[t, :, 2] = 1.0
    return seq


def hand_fit(driving, reference, frames=None):
    """The released least squares, written out: slope = cov / var over all (driving y, reference y),
    over the given frames (default: those with a person)."""
    ids = [i for i in FIT_POINTS if reference.body[0, i, 2] > 0.3]
    frames = driving.body[driving.has_person() if frames is None else frames][:, ids]
    y_drv = frames[..., 1].ravel()
    y_ref = np.tile(reference.body[0, ids, 1].astype(np.float64), len(frames))
    ay = np.sum((y_drv - y_drv.mean()) * (y_ref - y_ref.mean())) / np.sum((y_drv - y_drv.mean()) ** 2)
    by = y_ref.mean() - ay * y_drv.mean()
    ax = ay / ((DRV_H / DRV_W) / (REF_H / REF_W))
    x_ref = np.tile(reference.body[0, ids, 0].astype(np.float64), len(frames))
    bx = np.mean(x_ref - ax * frames[..., 0].ravel())
    return ax, bx, ay, by


def test_linear_reproduces_the_hand_computed_least_squares_fit():
    driving, reference = dancing_poses(), reference_pose()
    driving.body[2], driving.hands[2], driving.face[2] = -1, -1, -1  # a frame without anyone
    driving.body[2, :, 2] = driving.hands[2, ..., 2] = driving.face[2, :, 2] = 0
    ax, bx, ay, by = hand_fit(driving, reference)
    fit = fit_linear(driving, reference)
    assert np.allclose([fit.ax, fit.bx, fit.ay, fit.by], [ax, bx, ay, by], rtol=1e-6, atol=1e-9)

    moved = retarget(driving, reference, "linear")
    assert (moved.width, moved.height, len(moved)) == (REF_W, REF_H, len(driving))
    for name in ("body", "hands", "face"):
        before, after = getattr(driving, name), getattr(moved, name)
        present = before[..., 2] > 0
        assert np.allclose(after[..., 0][present], ax * before[..., 0][present] + bx, atol=1e-5)
        assert np.allclose(after[..., 1][present], ay * before[..., 1][present] + by, atol=1e-5)
        assert np.array_equal(after[..., 2], before[..., 2])
        assert np.all(after[..., :2][~present] == -1)


def test_none_keeps_normalised_coordinates_and_takes_the_reference_size():
    driving = dancing_poses(2)
    moved = retarget(driving, reference_pose(), "none")
    assert np.array_equal(moved.points(), driving.points())
    assert (moved.width, moved.height) == (REF_W, REF_H)


def test_limbs_gives_reference_bone_lengths_and_driving_directions():
    driving, reference = dancing_poses(), reference_pose()
    moved = retarget(driving, reference, "limbs")
    ax, bx, ay, by = hand_fit(driving, reference)
    scale = ay * REF_H / DRV_H  # pixels per driving pixel of the linear fit
    drv_px = driving.body[..., :2].astype(np.float64) * (DRV_W, DRV_H)
    out_px = moved.body[..., :2].astype(np.float64) * (REF_W, REF_H)
    ref_px = reference.body[0, :, :2].astype(np.float64) * (REF_W, REF_H)
    clear = reference.body[0, :, 2] > 0.3
    for parent, child in LIMBS:
        drv_bone = drv_px[:, child] - drv_px[:, parent]
        out_bone = out_px[:, child] - out_px[:, parent]
        out_length = np.linalg.norm(out_bone, axis=1)
        if clear[parent] and clear[child]:
            expected = np.linalg.norm(ref_px[child] - ref_px[parent])
        else:
            expected = scale * np.linalg.norm(drv_bone, axis=1)
        assert np.allclose(out_length, expected, rtol=0.02), (parent, child)
        cosine = np.sum(out_bone * drv_bone, axis=1) / (out_length * np.linalg.norm(drv_bone, axis=1))
        assert np.all(cosine > 0.9999), (parent, child)
    # the neck is placed by the linear fit
    neck = driving.body[:, 1, :2].astype(np.float64)
    assert np.allclose(
        moved.body[:, 1, :2], np.stack([ax * neck[:, 0] + bx, ay * neck[:, 1] + by], 1), atol=1e-5
    )


def test_limbs_hands_and_face_follow_their_anchor_at_the_linear_scale():
    driving, reference = dancing_poses(seed=5), reference_pose()
    moved = retarget(driving, reference, "limbs")
    scale = fit_linear(driving, reference).ay * REF_H / DRV_H
    drv = lambda a: a[..., :2].astype(np.float64) * (DRV_W, DRV_H)  # noqa: E731
    out = lambda a: a[..., :2].astype(np.float64) * (REF_W, REF_H)  # noqa: E731
    for side, wrist in ((0, 7), (1, 4)):
        drv_offsets = drv(driving.hands[:, side]) - drv(driving.body[:, wrist])[:, None]
        out_offsets = out(moved.hands[:, side]) - out(moved.body[:, wrist])[:, None]
        assert np.allclose(out_offsets, scale * drv_offsets, atol=1e-2)
    drv_face = drv(driving.face) - drv(driving.body[:, 0])[:, None]
    out_face = out(moved.face) - out(moved.body[:, 0])[:, None]
    assert np.allclose(out_face, scale * drv_face, atol=1e-2)


def test_limbs_on_real_proportions_stays_near_the_linear_result():
    # driving = the reference figure itself in a landscape frame: limbs and linear nearly agree
    reference = standing_sequence(1, REF_W, REF_H, seed=1)
    reference.body[0, :, 2] = 1.0
    driving = absent_sequence(3, DRV_W, DRV_H)
    for t in range(3):
        px = (STANDING * (REF_W, REF_H)) * 0.8 + (600 + 20 * t, 50)
        driving.body[t, :, :2], driving.body[t, :, 2] = px / (DRV_W, DRV_H), 1.0
    linear = retarget(driving, reference, "linear").body[..., :2] * (REF_W, REF_H)
    limbs = retarget(driving, reference, "limbs").body[..., :2] * (REF_W, REF_H)
    assert np.abs(linear - limbs).max() < 1.0  # pixels


def test_retarget_errors_are_clear():
    driving = dancing_poses(2)
    with pytest.raises(MimicMotionError, match="unknown retarget mode 'affine'"):
        retarget(driving, reference_pose(), "affine")
    faint = reference_pose()
    faint.body[0, :, 2] = 0.1
    with pytest.raises(MimicMotionError, match="fewer than 2 body keypoints"):
        retarget(driving, faint, "linear")


def test_the_fit_uses_detected_frames_only_and_gaps_are_filled_after_it():
    from mimicmotion.pose import reference_first

    driving = dancing_poses(count=5, seed=3)
    driving.body[2] = 0.0  # no person in frame 2
    driving.body[2, :, :2] = -1.0
    driving.hands[2, ..., 2] = 0.0
    driving.face[2, :, 2] = 0.0
    reference = reference_pose()
    out = reference_first(reference, driving, "linear")
    assert len(out) == 6 and np.allclose(out.body[0], reference.body[0])
    ax, bx, ay, by = hand_fit(driving, reference)  # over frames 0, 1, 3, 4
    for t in (0, 1, 3, 4):
        expected = driving.body[t, :, :2] * (ax, ay) + (bx, by)
        assert np.allclose(out.body[t + 1, :, :2], expected, atol=1e-5)
    # the empty frame lies halfway between its neighbours, with a lower confidence
    assert np.allclose(out.body[3, :, :2], (out.body[2, :, :2] + out.body[4, :, :2]) / 2, atol=1e-5)
    assert np.all(out.body[3, :, 2] < np.maximum(out.body[2, :, 2], out.body[4, :, 2]))


def crowd(driving, frames):
    """`driving` with a second, far-off person in `frames` (a bystander the fit must ignore)."""
    others = np.full((len(driving), 1, 128, 3), -1.0)
    others[..., 2] = 0
    bystander = dancing_poses(len(driving), seed=11).points() * (0.3, 0.5, 1.0) + (0.65, 0.1, 0.0)
    others[frames, 0] = bystander[frames]
    driving.others = others
    return driving


def test_the_fit_uses_frames_with_exactly_one_person_and_moves_everyone():
    driving, reference = crowd(dancing_poses(), [1, 3]), reference_pose()
    alone = np.array([True, False, True, False, True, True])
    ax, bx, ay, by = hand_fit(driving, reference, alone)
    fit = fit_linear(driving, reference)
    assert np.allclose([fit.ax, fit.bx, fit.ay, fit.by], [ax, bx, ay, by], rtol=1e-9, atol=1e-12)
    assert not np.allclose([fit.ay, fit.by], hand_fit(driving, reference)[2:], rtol=1e-3)  # it matters

    for mode in ("linear", "limbs"):  # the other people get the linear fit in both modes
        moved = retarget(driving, reference, mode)
        before, after = driving.others[[1, 3], 0], moved.others[[1, 3], 0]
        assert np.allclose(after[..., 0], before[..., 0] * ax + bx, atol=1e-12)
        assert np.allclose(after[..., 1], before[..., 1] * ay + by, atol=1e-12)
        assert np.array_equal(after[..., 2], before[..., 2])
        assert np.all(moved.others[[0, 2, 4, 5]] == (-1, -1, 0))  # absent padding stays absent


def test_points_without_a_positive_score_take_part_and_move():
    # DWPose points always have a position; a score <= 0 is no reason to leave them out (released)
    driving, reference = dancing_poses(), reference_pose()
    driving.body[:, 9, 2] = -0.2  # right knee: a position, a negative score
    driving.hands[2, 0, :, 2] = 0.0
    ax, bx, ay, by = hand_fit(driving, reference)
    fit = fit_linear(driving, reference)
    assert np.allclose([fit.ax, fit.bx, fit.ay, fit.by], [ax, bx, ay, by], rtol=1e-9, atol=1e-12)
    moved = retarget(driving, reference, "linear")
    assert np.allclose(moved.body[:, 9, 1], driving.body[:, 9, 1] * ay + by, atol=1e-12)
    assert np.allclose(moved.hands[2, 0, :, 0], driving.hands[2, 0, :, 0] * ax + bx, atol=1e-12)


def test_without_any_lone_person_the_main_people_are_fitted():
    # the released code stops when no frame has exactly one person; we fit the main person instead
    driving, reference = crowd(dancing_poses(), list(range(6))), reference_pose()
    fit = fit_linear(driving, reference)
    assert np.allclose([fit.ax, fit.bx, fit.ay, fit.by], hand_fit(driving, reference), rtol=1e-9)
