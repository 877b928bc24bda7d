import numpy as np
import pytest
from pose_testing import absent_sequence, standing_sequence

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import PoseSequence
from mimicmotion.pose.types import ALL_POINTS, absent_points


def with_others(seq: PoseSequence, count: int, seed: int = 1) -> PoseSequence:
    """`seq` with `count` other people per frame (each a shifted, jittered copy of a standing person)."""
    people = [standing_sequence(len(seq), seq.width, seq.height, 0.02, seed + k) for k in range(count)]
    seq.others = np.stack([person.points() for person in people], axis=1)
    return seq


def test_save_and_load_round_trip_with_exactly_the_documented_keys(tmp_path):
    seq = with_others(standing_sequence(5, 1080, 1920, jitter=0.02), 2)
    path = tmp_path / "poses.npz"
    seq.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(
            ["body", "hands", "face", "width", "height", "fps", "frame_indices", "others"]
        )
        assert all(data[key].dtype != object for key in data.files)
    loaded = PoseSequence.load(path)
    for name in ("body", "hands", "face", "frame_indices", "others"):
        assert np.array_equal(getattr(loaded, name), getattr(seq, name))
    assert loaded.body.dtype == np.float64  # exact pixels need float64 (see types.py)
    assert (loaded.width, loaded.height, loaded.fps) == (1080, 1920, 24.0)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


def test_save_to_a_name_without_npz_suffix_writes_that_exact_file(tmp_path):
    path = tmp_path / "poses.bin"
    standing_sequence(2).save(path)
    assert path.is_file() and PoseSequence.load(path).body.shape == (2, 18, 3)


def test_files_without_other_people_still_load(tmp_path):
    seq = standing_sequence(3)
    path = tmp_path / "old.npz"
    arrays = {"body": seq.body, "hands": seq.hands, "face": seq.face, "frame_indices": seq.frame_indices}
    np.savez(path, width=576, height=1024, fps=24.0, **{k: v.astype(np.float32) for k, v in arrays.items()})
    loaded = PoseSequence.load(path)
    assert loaded.others.shape == (3, 0, 128, 3) and loaded.people_count().tolist() == [1, 1, 1]
    assert np.allclose(loaded.body, seq.body, atol=1e-7)


def test_load_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    arrays = {key: np.zeros(1) for key in ("body", "hands", "face", "width", "height", "fps")}
    np.savez(path, frame_indices=np.array([{"a": 1}], dtype=object), **arrays)
    with pytest.raises(MimicMotionError, match="cannot read pose file"):
        PoseSequence.load(path)


def test_load_names_the_file_and_what_is_wrong(tmp_path):
    with pytest.raises(MimicMotionError, match="pose file not found"):
        PoseSequence.load(tmp_path / "missing.npz")
    partial = tmp_path / "partial.npz"
    np.savez(partial, body=np.zeros((1, 18, 3)))
    with pytest.raises(MimicMotionError, match="lacks hands, face"):
        PoseSequence.load(partial)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(MimicMotionError, match=r"text\.npz"):
        PoseSequence.load(text)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="hands"):
        PoseSequence(np.zeros((2, 18, 3)), np.zeros((2, 21, 3)), np.zeros((2, 68, 3)), 10, 10, 24, [0, 1])


def test_points_layout_round_trip_and_person_flag():
    seq = standing_sequence(3)
    seq.body[1, :, :2], seq.body[1, :, 2] = -1, 0
    points = seq.points()
    assert points.shape == (3, 128, 3)
    assert np.array_equal(points[:, 18:39], seq.hands[:, 0]) and np.array_equal(
        points[:, 39:60], seq.hands[:, 1]
    )
    assert np.array_equal(points[:, 60:], seq.face)
    assert np.array_equal(seq.with_points(points).body, seq.body)
    assert seq.has_person().tolist() == [True, False, True]


def test_empty_concatenate_select_and_sample_rate():
    empty = absent_sequence(4)
    assert not empty.has_person().any()
    assert np.all(empty.body[..., :2] == -1) and np.all(empty.body[..., 2] == 0)
    assert empty.sample_fps == 12.0  # frame indices 0, 2, 4, 6 of a 24 fps video
    still = PoseSequence.from_points(absent_points(1, ALL_POINTS), 576, 1024, fps=0.0, frame_indices=[-1])
    assert PoseSequence.concatenate([still, empty]).fps == 24.0  # a still image has no frame rate
    joined = PoseSequence.concatenate([standing_sequence(1), empty])
    assert len(joined) == 5 and joined.has_person().tolist() == [True, False, False, False, False]
    assert joined.select([0, 2]).frame_indices.tolist() == [0, 2]
    with pytest.raises(ValueError, match="different frame sizes"):
        PoseSequence.concatenate([standing_sequence(1, 576, 1024), standing_sequence(1, 1024, 576)])


def test_other_people_follow_select_concatenate_and_with_points():
    two = with_others(standing_sequence(3), 1)
    two.others[1] = (-1, -1, 0)  # nobody else in frame 1
    assert two.people_count().tolist() == [2, 1, 2]
    assert len(two.people(0)) == 2 and len(two.people(1)) == 1
    assert np.array_equal(two.people(0)[1], two.others[0, 0])
    assert np.array_equal(two.select([2, 0]).others, two.others[[2, 0]])
    joined = PoseSequence.concatenate([standing_sequence(2), two, absent_sequence(1)])
    assert joined.others.shape == (6, 1, 128, 3)  # padded with absent people
    assert joined.people_count().tolist() == [1, 1, 2, 1, 2, 0]
    assert np.array_equal(joined.others[2:5], two.others)
    kept = two.with_points(two.points())
    assert np.array_equal(kept.others, two.others)
    replaced = two.with_points(two.points(), others=np.zeros((3, 0, 128, 3)))
    assert replaced.people_count().tolist() == [1, 1, 1]


def test_a_point_is_absent_only_at_missing_coordinates_with_confidence_zero():
    from mimicmotion.pose.types import located

    points = np.array([[-1, -1, 0], [-1, -1, 0.5], [0.2, 0.3, 0], [0.2, 0.3, -0.4], [-1, 0.3, 0]])
    assert located(points).tolist() == [False, True, True, True, True]
