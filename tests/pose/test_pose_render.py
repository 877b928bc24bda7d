import colorsys

import cv2
import numpy as np
import pytest
from pose_testing import absent_sequence, literal_render, standing_sequence

from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import PoseRenderer, render_pose

# At 2160 x 3840 the drawing canvas is the picture itself (scale 1): pixels can be checked exactly.
H1, W1 = 2160, 3840
NECK, R_SHOULDER = 1, 2


def one_limb(conf_neck: float, conf_shoulder: float):
    """Only the neck -> right-shoulder limb (limb 0, colour (0, 0, 255)), horizontal, 384 px long."""
    seq = absent_sequence(1, W1, H1)
    seq.body[0, NECK] = (0.5, 0.5, conf_neck)  # pixel (1920, 1080)
    seq.body[0, R_SHOULDER] = (0.6, 0.5, conf_shoulder)  # pixel (2304, 1080)
    return seq


def test_limb_colour_is_scaled_by_both_confidences_then_dimmed():
    picture = render_pose(one_limb(0.5, 0.8), 0, H1, W1)
    # limb colour (0, 0, 255) x (0.5 x 0.8) = (0, 0, 102), then the canvas x 0.6 -> 61
    assert tuple(picture[1080, 2112]) == (0, 0, 61)
    assert tuple(picture[1080, 1940]) == (0, 0, 61)
    # half-width 4 px around the limb's axis, black beyond
    assert tuple(picture[1083, 2112]) == (0, 0, 61)
    assert tuple(picture[1086, 2112]) == (0, 0, 0)
    assert tuple(picture[1080, 2312]) == (0, 0, 0)


def test_joints_are_drawn_after_dimming_with_their_own_colour():
    picture = render_pose(one_limb(0.5, 0.8), 0, H1, W1)
    # neck: colour 1 (0, 85, 255) x 0.5, not dimmed; right shoulder: colour 2 (0, 170, 255) x 0.8
    assert tuple(picture[1080, 1920]) == (0, 42, 127)
    assert tuple(picture[1080, 2304]) == (0, 136, 204)
    # radius 4
    assert tuple(picture[1084, 1920]) == (0, 42, 127)
    assert tuple(picture[1080, 1914]) == (0, 0, 0)


def test_released_cutoff_skips_unclear_body_parts():
    picture = render_pose(one_limb(0.25, 0.9), 0, H1, W1)
    assert tuple(picture[1080, 2112]) == (0, 0, 0)  # limb skipped: one end < 0.3
    assert tuple(picture[1080, 1920]) == (0, 0, 0)  # joint skipped: not > 0.3
    # the clear joint stays: (0, 170, 255) x 0.9, truncated
    assert tuple(picture[1080, 2304]) == (0, 153, 229)


def test_confidence_style_has_no_cutoff():
    picture = render_pose(one_limb(0.25, 0.9), 0, H1, W1, style="confidence")
    assert tuple(picture[1080, 2112]) == (0, 0, int(int(255 * 0.25 * 0.9) * 0.6))
    assert tuple(picture[1080, 1920]) == (0, 21, 63)  # (0, 85, 255) x 0.25


def test_threshold_style_drops_unclear_parts_and_draws_the_rest_at_full_brightness():
    dropped = render_pose(one_limb(0.25, 0.9), 0, H1, W1, style="threshold")
    assert tuple(dropped[1080, 2112]) == (0, 0, 0)
    assert tuple(dropped[1080, 2304]) == (0, 170, 255)
    kept = render_pose(one_limb(0.5, 0.8), 0, H1, W1, style="threshold", threshold=0.4)
    assert tuple(kept[1080, 2112]) == (0, 0, 153)  # 255 x 0.6
    assert tuple(kept[1080, 1920]) == (0, 85, 255)


def test_confidences_above_one_saturate_each_channel_as_opencv_does():
    # not clipped (the released drawing multiplies colours by raw DWPose scores): each channel of
    # int(colour x confidence) beyond 255 is stored as 255, so a channel below 255 still grows
    picture = render_pose(one_limb(1.7, 1.2), 0, H1, W1)
    assert tuple(picture[1080, 2112]) == (0, 0, 153)  # limb: 255 x 2.04 -> 255, then x 0.6
    assert tuple(picture[1080, 1920]) == (0, 144, 255)  # neck: (0, 85, 255) x 1.7 = (0, 144, 433)
    assert tuple(picture[1080, 2304]) == (0, 204, 255)  # shoulder: (0, 170, 255) x 1.2 = (0, 204, 306)


def test_hand_and_face_points_without_a_positive_score_are_drawn_as_released():
    seq = absent_sequence(1, W1, H1)
    hand = seq.hands[0, 0]
    hand[0] = (0.5, 0.5, -0.5)  # wrist, pixel (1920, 1080)
    hand[1] = (0.55, 0.5, -0.8)  # thumb base, pixel (2112, 1080)
    hand[2] = (0.6, 0.5, 2.0)  # pixel (2304, 1080)
    seq.face[0, 0] = (0.25, 0.25, 0.6)  # pixel (960, 540): a grey circle of radius 3
    seq.face[0, 1] = (0.25, 543.5 / 2160, -0.3)  # pixel (960, 543): black, drawn over part of it
    picture = render_pose(seq, 0, H1, W1)
    # edge 0 between two negative scores: int(-0.5 x -0.8 x 255) = 102, a visible blue line
    assert tuple(picture[1080, 2016]) == (0, 0, 102)
    # edge 1 (HSV 0.05 -> (1, 0.3, 0), R and B swapped) x int(-0.8 x 2 x 255) = -408: black
    assert tuple(picture[1080, 2200]) == (0, 0, 0)
    # the points: black circles for negative scores, (255 x 2 -> 255, 0, 0) for the other
    assert tuple(picture[1080, 1920]) == (0, 0, 0) and tuple(picture[1080, 2112]) == (0, 0, 0)
    assert tuple(picture[1080, 2304]) == (255, 0, 0)
    assert tuple(picture[538, 960]) == (153, 153, 153) and tuple(picture[541, 960]) == (0, 0, 0)


def two_people():
    """The main person: a limb and joints; another person whose limb crosses it and is drawn after it."""
    seq = one_limb(0.5, 0.8)
    other = np.full((1, 1, 128, 3), -1.0)
    other[..., 2] = 0
    other[0, 0, NECK] = (0.55, 0.45, 0.9)  # pixel (2112, 972)
    other[0, 0, R_SHOULDER] = (0.55, 0.55, 0.9)  # pixel (2112, 1188): a vertical limb 0
    other[0, 0, 18] = (0.1, 0.1, 0.7)  # left wrist, pixel (384, 216)
    seq.others = other
    return seq


def test_every_person_is_drawn_in_the_released_order():
    picture = render_pose(two_people(), 0, H1, W1)
    # limb 0 of the other person is drawn after limb 0 of the main one: where they cross, its colour
    # int(255 x 0.81) = 206, x 0.6 = 123
    assert tuple(picture[1080, 2112]) == (0, 0, 123)
    assert tuple(picture[1080, 2000]) == (0, 0, 61)  # the main person's limb elsewhere
    assert tuple(picture[972, 2112]) == (0, 76, 229)  # the other's neck joint: (0, 85, 255) x 0.9
    assert tuple(picture[216, 384]) == (178, 0, 0)  # its left-hand wrist: 255 x 0.7


def hand_sequence(wrist_x: float):
    seq = absent_sequence(1, W1, H1)
    hand = seq.hands[0, 0]
    hand[0] = (wrist_x, 0.5, 0.8)  # wrist
    hand[1] = (0.55, 0.5, 0.5)  # thumb base, pixel (2112, 1080)
    return seq


def test_hand_edge_and_point_colours():
    picture = render_pose(hand_sequence(0.5), 0, H1, W1)
    # edge 0 (wrist -> thumb): HSV(0, 1, 1) = red, R and B swapped -> blue, x 255 x 0.8 x 0.5
    r, g, b = colorsys.hsv_to_rgb(0.0, 1, 1)
    assert tuple(picture[1080, 2016]) == (round(b * 102), round(g * 102), round(r * 102)) == (0, 0, 102)
    # points: (255 x conf, 0, 0), radius 4
    assert tuple(picture[1080, 1920]) == (204, 0, 0)
    assert tuple(picture[1083, 2112]) == (127, 0, 0)


def test_hand_point_left_of_the_canvas_is_skipped_with_its_edges():
    picture = render_pose(hand_sequence(0.0), 0, H1, W1)  # wrist at pixel x = 0 < 1
    assert tuple(picture[1080, 2016]) == (0, 0, 0)
    assert picture[:, :8].max() == 0
    assert tuple(picture[1080, 2112]) == (127, 0, 0)


def test_face_points_are_grey_circles_of_radius_3():
    seq = absent_sequence(1, W1, H1)
    seq.face[0, 10] = (0.25, 0.25, 0.6)  # pixel (960, 540)
    picture = render_pose(seq, 0, H1, W1)
    assert tuple(picture[540, 960]) == (153, 153, 153)
    assert tuple(picture[543, 960]) == (153, 153, 153)
    assert tuple(picture[545, 960]) == (0, 0, 0)
    assert picture.sum() == picture[530:551, 950:971].sum()


def test_picture_is_drawn_at_2160_scale_then_resized_bilinearly():
    seq = standing_sequence(1, 576, 1024, seed=3)
    small = render_pose(seq, 0, 1024, 576)
    big = render_pose(seq, 0, 3840, 2160)  # the canvas of a 1024 x 576 picture, unresized
    assert small.shape == (1024, 576, 3) and small.dtype == np.uint8
    assert np.array_equal(small, cv2.resize(big, (576, 1024), interpolation=cv2.INTER_LINEAR))
    # the neck joint lands where its normalised coordinates say
    x, y = seq.body[0, NECK, :2]
    assert small[int(y * 1024) - 1 : int(y * 1024) + 2, int(x * 576) - 1 : int(x * 576) + 2].max() > 0


@pytest.mark.parametrize(("height", "width"), [(1024, 576), (576, 1024), (896, 512), (601, 333)])
def test_renderer_matches_the_literal_drawing_over_a_sequence(height, width):
    seq = standing_sequence(8, width, height, jitter=0.05, seed=height)
    second = standing_sequence(8, width, height, jitter=0.05, seed=height + 1)
    others = np.concatenate([second.points()[:, None], np.full((8, 1, 128, 3), -1.0)], axis=1)
    others[:, 0, :, 0] += 0.2  # a second person beside the first, overlapping it
    others[:, 1, :, 2] = 0  # absent padding
    others[[0, 3]] = (-1, -1, 0)  # frames with nobody else
    others[1, 1] = others[1, 0] * (0.5, 1.0, 1.0)  # a third person in frame 1
    seq.others = others
    seq.body[2, :, 2] = np.linspace(-0.4, 1.9, 18)  # cut-offs, saturation
    seq.hands[2, 0, :, 2] = np.linspace(-1.0, 1.5, 21)  # negative and large hand scores
    seq.face[2, :, 2] = np.linspace(-0.5, 1.5, 68)
    seq.body[3, 4] = (-1, -1, 0)  # an absent wrist
    seq.hands[4, 1] = (-1, -1, 0)  # an absent hand
    seq.face[5, :30, 0] = 0.0001  # face points left of the canvas
    seq.body[6, :, 0] += 0.45  # across the right edge
    seq.hands[6, :, :, 1] -= 0.5  # across the top edge
    seq.body[7, :, :2] = seq.body[7, :, :2] * 0.1 + 0.9  # squeezed into the bottom-right corner
    renderer = PoseRenderer(height, width)  # one renderer for all frames: its canvas is reused
    for index in [0, 1, 2, 3, 4, 5, 6, 7, 0]:
        assert np.array_equal(renderer.render(seq, index), literal_render(seq, index, height, width)), index


def test_unknown_style_is_a_clear_error():
    with pytest.raises(MimicMotionError, match="unknown render style 'neon'"):
        render_pose(absent_sequence(1), 0, 64, 64, style="neon")
