"""Frame differences, boundary transitions and boundary flicker on synthetic sequences."""

import json
import math

import numpy as np
import pytest
from helpers.eval_media import uniform_frames

from mimicmotion.errors import MimicMotionError
from mimicmotion.eval.temporal import boundary_flicker, frame_differences, temporal_summary
from mimicmotion.windows import (
    load_window_layout,
    make_window_layout,
    save_window_layout,
    window_layout_path,
)

# Two windows of 5 generated frames sharing frame 0 (the reference) and frame 4:
# generated 1-3 -> {0}, 4 -> {0, 1}, 5-7 -> {1}. The video drops frame 0, so video frame v is
# generated frame v + 1, and the coverage changes at video transitions 2 -> 3 and 3 -> 4.
WINDOWS = [[0, 1, 2, 3, 4], [0, 4, 5, 6, 7]]
BOUNDARY = [False, False, True, True, False, False]


def test_frame_differences_of_flat_frames_are_the_level_steps():
    levels = [10, 13, 13, 250, 0]
    differences = frame_differences(uniform_frames(levels))
    np.testing.assert_allclose(differences, [3, 0, 237, 250])  # no uint8 wrap-around


def test_frame_differences_average_pixels_and_channels():
    a = np.zeros((2, 2, 3), dtype=np.uint8)
    b = a.copy()
    b[0, 0, 0] = 12  # one of 12 values changes by 12
    assert frame_differences([a, b])[0] == pytest.approx(1.0)


def test_boundary_transitions_follow_the_window_coverage(tmp_path):
    path = save_window_layout(tmp_path / "clip.windows.json", WINDOWS, num_frames=8)
    layout = load_window_layout(path)
    assert layout.num_video_frames == 7
    assert layout.boundary_transitions().tolist() == BOUNDARY
    assert layout.boundary_transitions(4).tolist() == BOUNDARY[:3]  # a prefix of the video


def test_boundary_transitions_without_a_dropped_reference(tmp_path):
    # Video frame v is generated frame v: the coverage {0} of frames 1-3 now starts at v = 0,
    # where generated frame 0 lies in both windows.
    path = save_window_layout(tmp_path / "x.windows.json", WINDOWS, num_frames=8, dropped_first_frame=False)
    expected = [True, False, False, True, True, False, False]
    assert load_window_layout(path).boundary_transitions().tolist() == expected


def test_boundaries_of_the_released_sampler_layout():
    # F = 40 generated frames, windows of N = 16 with overlap C = 6 (released sampler): starts 0, 10,
    # 20, then a last window [0, 25..39]. Coverage changes after generated frames 10, 15, 20, 24,
    # 25 and 35; video frame v is generated frame v + 1.
    windows = [[0, *range(1, 16)], [0, *range(11, 26)], [0, *range(21, 36)], [0, *range(25, 40)]]
    layout = make_window_layout(windows, 40)
    assert np.flatnonzero(layout.boundary_transitions()).tolist() == [9, 14, 19, 23, 24, 34]


def test_boundary_flicker_is_the_ratio_of_boundary_to_interior_differences(tmp_path):
    inside, jump = 2.0, 7.0
    steps = [jump if at_boundary else inside for at_boundary in BOUNDARY]
    frames = uniform_frames(np.concatenate([[50], 50 + np.cumsum(steps)]))
    layout = load_window_layout(save_window_layout(tmp_path / "v.windows.json", WINDOWS, 8))
    differences = frame_differences(frames)
    summary = temporal_summary(differences, layout.boundary_transitions(len(frames)))
    assert summary.boundary_flicker == pytest.approx(jump / inside)
    assert summary.num_boundary == 2
    assert summary.boundary_mean == pytest.approx(jump) and summary.interior_mean == pytest.approx(inside)
    assert summary.mean_difference == pytest.approx(np.mean(steps))


def test_flicker_edge_cases():
    differences = np.array([1.0, 0.0, 0.0])
    assert math.isnan(boundary_flicker(differences, np.zeros(3, bool)))  # no boundary at all
    assert boundary_flicker(differences, np.array([True, False, False])) == math.inf
    assert math.isnan(boundary_flicker(np.zeros(3), np.array([True, False, False])))


def test_layout_roundtrip_keeps_extra_facts_and_accepts_numpy_indices(tmp_path):
    windows = [np.arange(5), [np.int64(0), *np.arange(4, 8)]]
    extra = {"fusion": "progressive"}
    path = save_window_layout(tmp_path / "a.windows.json", windows, np.int64(8), extra=extra)
    document = json.loads(path.read_text())
    assert document["windows"] == WINDOWS and document["num_frames"] == 8
    assert document["dropped_first_frame"] is True and document["format"] == "mimicmotion.windows"
    layout = load_window_layout(path)
    assert layout.windows == tuple(tuple(w) for w in WINDOWS)
    assert layout.extra == {"fusion": "progressive"}


def test_layout_path_sits_beside_the_video(tmp_path):
    assert window_layout_path(tmp_path / "out" / "dance.mp4") == tmp_path / "out" / "dance.windows.json"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"num_frames": 8}, "needs 'num_frames' and 'windows'"),
        ({"num_frames": 8, "windows": [[0, 1, 9]]}, "outside 0..7"),
        ({"num_frames": 8, "windows": [[0, 1.5]]}, "lists of frame indices"),
        ({"num_frames": 8, "windows": []}, "at least one non-empty window"),
        ({"num_frames": 8, "windows": [[0, 1]], "version": 99}, "version"),
        ([1, 2, 3], "is not a window layout"),
    ],
)
def test_bad_layouts_are_refused_with_a_message(tmp_path, document, message):
    path = tmp_path / "bad.windows.json"
    path.write_text(json.dumps(document))
    with pytest.raises(MimicMotionError, match=message):
        load_window_layout(path)


def test_a_layout_shorter_than_the_video_is_refused(tmp_path):
    layout = load_window_layout(save_window_layout(tmp_path / "s.windows.json", WINDOWS, 8))
    with pytest.raises(MimicMotionError, match="belongs to another video"):
        layout.boundary_transitions(9)
