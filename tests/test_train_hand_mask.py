"""Hand region enhancement: reliable hands get a padded box of weight 10 at latent resolution."""

import numpy as np
import pytest

from mimicmotion.train.hand_mask import hand_boxes, hand_weight_maps, weight_map


def square_hand(x0, y0, x1, y1, confidence=0.9):
    """21 keypoints spread over the rectangle [x0, x1] x [y0, y1] (corners included)."""
    xs = np.linspace(x0, x1, 21)
    ys = np.concatenate([[y0], np.linspace(y0, y1, 19), [y1]])
    hand = np.stack([xs, ys, np.full(21, confidence)], axis=1)
    hand[1], hand[2] = [x1, y0, confidence], [x0, y1, confidence]  # make sure all four corners are reached
    return hand.astype(np.float32)


def test_confident_hand_gets_a_box_of_weight_10_and_the_rest_stays_1():
    # Latent grid 8 x 4 (e.g. a 64 x 32 frame): cell (i, j) covers x in [j/4, (j+1)/4), y in [i/8, (i+1)/8).
    hand = square_hand(0.30, 0.40, 0.70, 0.60)
    boxes = hand_boxes(hand[None], threshold=0.5, padding=0.0)
    np.testing.assert_allclose(boxes[0], [0.30, 0.40, 0.70, 0.60], atol=1e-6)

    weights = weight_map(boxes, height=8, width=4, weight=10.0)
    # Columns touched: x 0.30..0.70 -> cells 1 (0.25-0.5) and 2 (0.5-0.75); rows: y 0.40..0.60 -> 3, 4.
    expected = np.ones((8, 4), np.float32)
    expected[3:5, 1:3] = 10.0
    np.testing.assert_array_equal(weights, expected)


def test_one_weak_keypoint_means_no_box():
    hand = square_hand(0.30, 0.40, 0.70, 0.60)
    hand[7, 2] = 0.2  # one of 21 below the threshold
    boxes = hand_boxes(hand[None], threshold=0.5, padding=0.1)
    assert np.isnan(boxes).all()
    np.testing.assert_array_equal(weight_map(boxes, 8, 4, 10.0), np.ones((8, 4), np.float32))


def test_threshold_is_strict_and_absent_hands_have_no_box():
    at_threshold = square_hand(0.1, 0.1, 0.2, 0.2, confidence=0.5)
    absent = np.zeros((21, 3), np.float32)
    absent[:, :2] = -1.0
    boxes = hand_boxes(np.stack([at_threshold, absent]), threshold=0.5, padding=0.0)
    assert np.isnan(boxes).all()  # "exceed" the threshold: equal is not enough


def test_padding_is_the_same_number_of_pixels_in_x_and_y():
    # A 100 x 200 (w x h) frame; the hand spans 20 px wide and 40 px high: longer side 40 px.
    width, height = 100, 200
    hand = square_hand(40 / width, 80 / height, 60 / width, 120 / height)
    box = hand_boxes(hand[None], threshold=0.3, padding=0.25, aspect=width / height)[0]
    pixels = box * [width, height, width, height]
    np.testing.assert_allclose(pixels, [40 - 10, 80 - 10, 60 + 10, 120 + 10], atol=1e-4)


def test_boxes_leaving_the_frame_are_clipped():
    box = np.array([[-0.2, 0.9, 0.3, 1.4]])
    weights = weight_map(box, height=4, width=4, weight=5.0)
    expected = np.ones((4, 4), np.float32)
    expected[3, 0:2] = 5.0
    np.testing.assert_array_equal(weights, expected)


def test_maps_per_frame_and_both_hands():
    left = square_hand(0.05, 0.05, 0.20, 0.20)
    right = square_hand(0.80, 0.80, 0.95, 0.95)
    weak_right = right.copy()
    weak_right[0, 2] = 0.0
    hands = np.stack([np.stack([left, right]), np.stack([left, weak_right])])  # (T=2, 2, 21, 3)
    maps = hand_weight_maps(hands, 10, 10, threshold=0.3, padding=0.0, weight=10.0, aspect=1.0)
    assert maps.shape == (2, 10, 10)
    assert maps[0, 0, 0] == 10.0 and maps[0, 9, 9] == 10.0
    assert maps[1, 0, 0] == 10.0 and maps[1, 9, 9] == 1.0
    # Outside the boxes every weight is 1.
    assert (maps[:, 4:7, 4:7] == 1.0).all()


def test_rejects_wrong_shapes():
    with pytest.raises(ValueError):
        hand_boxes(np.zeros((2, 20, 3)), 0.3, 0.1)
