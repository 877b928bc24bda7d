"""DWPose backend: pre/post-processing on known numbers, and the whole chain on tiny ONNX models whose
outputs are chosen by the test (the real weights are 300 MB and not needed to check the arithmetic)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from mimicmotion.cli import main
from mimicmotion.errors import MimicMotionError
from mimicmotion.pose import choose_backend, get_backend, topdown
from mimicmotion.pose.backends import poses_to_sequence
from mimicmotion.pose.dwpose import DETECTOR_FILE, POSE_FILE, wholebody_to_points

pytest.importorskip("onnx")
from helpers.tiny_dwpose import (
    BINS_X,
    BINS_Y,
    IMAGE_H,
    IMAGE_W,
    RATIO,
    constant_model,
    save_tiny_dwpose,
    simcc_outputs,
    yolox_output,
)


@pytest.fixture
def tiny_dwpose(tmp_path):
    return save_tiny_dwpose(tmp_path)


def expected_keypoints(box=(300, 100, 500, 700)):
    """Keypoints in image pixels, by hand: box (300, 100, 500, 700) -> center (400, 400), size x1.25 =
    (250, 750), widened to the 288:384 aspect -> (562.5, 750); bin / 2 / input size * size + corner."""
    x0, y0, x1, y1 = box
    width, height = (x1 - x0) * 1.25, (y1 - y0) * 1.25
    width, height = max(width, height * 0.75), max(height, width / 0.75)
    center_x, center_y = (x0 + x1) / 2, (y0 + y1) / 2
    bins_x, bins_y = BINS_X.astype(np.float64), BINS_Y.astype(np.float64)
    bins_x[120] = bins_y[120] = -1  # no maximum above 0: the model gives bin -1
    x = bins_x / 2 / 288 * width + center_x - width / 2
    y = bins_y / 2 / 384 * height + center_y - height / 2
    return np.stack([x, y], axis=1)


def test_whole_chain_on_tiny_models(tiny_dwpose):
    backend = get_backend("dwpose", dwpose_dir=tiny_dwpose, device="cpu")
    image = np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8)
    seq = backend.detect_image(image)
    assert (seq.width, seq.height) == (IMAGE_W, IMAGE_H)
    # every person is kept, best score first (as released): the small one far away (0.95) is the main
    # person, the dancer (0.81) the other one
    assert seq.people_count().tolist() == [2] and seq.others.shape == (1, 1, 128, 3)
    small = expected_keypoints((900, 100, 930, 160)) / (IMAGE_W, IMAGE_H)
    assert np.allclose(seq.body[0, 0, :2], small[0], atol=1e-9)
    dancer = seq.others[0, 0]
    expected = expected_keypoints() / (IMAGE_W, IMAGE_H)
    body = dancer[:18]
    # OpenPose order from COCO: nose 0, r-shoulder 6, r-wrist 10, l-hip 11, r-eye 2, l-ear 3
    for openpose, coco in ((0, 0), (2, 6), (4, 10), (11, 11), (14, 2), (17, 3)):
        assert np.allclose(body[openpose, :2], expected[coco], atol=1e-9), openpose
    assert body[0, 2] == pytest.approx(1.3) and body[2, 2] == pytest.approx(0.6)
    # neck: mean of the shoulders (COCO 5, 6), confidence 1 since both are > 0.3
    assert np.allclose(body[1], [*(expected[5] + expected[6]) / 2, 1.0], atol=1e-9)
    assert np.allclose(dancer[60:, :2], expected[23:91], atol=1e-9)  # face
    assert np.allclose(dancer[18:39, :2], expected[91:112], atol=1e-9)  # left hand
    # a point without a maximum above 0 keeps the position of bin -1 and its raw score (not dropped)
    right_hand = dancer[39:60]
    assert np.allclose(right_hand[:, :2], expected[112:133], atol=1e-9)
    assert right_hand[120 - 112, 2] == -1.0


def test_nobody_found_means_the_whole_image_is_the_box(tmp_path):
    constant_model(tmp_path / DETECTOR_FILE, [1, 3, 640, 640], {"output": np.zeros((1, 8400, 85))})
    constant_model(tmp_path / POSE_FILE, [1, 3, 384, 288], simcc_outputs())
    backend = get_backend("dwpose", dwpose_dir=tmp_path, device="cpu")
    seq = backend.detect_image(np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8))
    assert seq.people_count().tolist() == [1]
    expected = expected_keypoints((0, 0, IMAGE_W, IMAGE_H)) / (IMAGE_W, IMAGE_H)
    assert np.allclose(seq.body[0, 0, :2], expected[0], atol=1e-9)
    assert np.allclose(seq.face[0, :, :2], expected[23:91], atol=1e-9)


def test_video_mode_gives_one_entry_per_frame(tiny_dwpose):
    backend = get_backend("dwpose", dwpose_dir=tiny_dwpose, device="cpu")
    frames = (np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8) for _ in range(3))
    people = list(backend.detect_frames(frames, video=True))
    seq = poses_to_sequence(people, IMAGE_W, IMAGE_H, fps=30.0, frame_indices=[0, 2, 4])
    assert len(seq) == 3 and seq.has_person().all() and seq.frame_indices.tolist() == [0, 2, 4]
    assert seq.people_count().tolist() == [2, 2, 2]


def test_persons_are_decoded_filtered_and_suppressed():
    boxes, scores = topdown.decode_persons(yolox_output(), RATIO)
    # the small person (0.95) and the dancer (0.81), best score first; the duplicate, the weak box and
    # the class-1 object are gone
    assert len(boxes) == 2 and scores.tolist() == pytest.approx([0.95, 0.81])
    assert np.allclose(boxes[0], [900, 100, 930, 160], atol=1e-3)
    assert np.allclose(boxes[1], [300, 100, 500, 700], atol=1e-3)
    assert boxes.dtype == np.float64  # float32 values, computed on in float64 as released


def test_suppression_counts_the_extra_pixel_of_each_box():
    # x from 0 to 10 and from 5 to 15: with the +1 convention (11-pixel sides, 6 shared) IoU = 66 / 176
    # = 0.375 <= 0.45, both kept. 0..10 and 4..14: plain areas give 60 / 140 = 0.43 and would keep both,
    # but the +1 convention gives 77 / 165 = 0.467 > 0.45: the second box goes
    first = [0, 0, 10, 10]
    boxes = np.array([first, [5, 0, 15, 10], first, [4, 0, 14, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.9, 0.8], np.float32)
    assert sorted(topdown.suppress(boxes[:2], scores[:2])) == [0, 1]
    assert topdown.suppress(boxes[2:], scores[2:]) == [0]


def test_letterbox_scales_to_fit_top_left_on_grey():
    image = np.full((IMAGE_H, IMAGE_W, 3), 200, np.uint8)
    tensor, ratio = topdown.letterbox(image)
    assert ratio == pytest.approx(RATIO) and tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32
    assert np.all(tensor[0, :, :512, :] == 200) and np.all(tensor[0, :, 512:, :] == 114)


def test_box_is_padded_and_fixed_to_the_model_aspect():
    center, scale = topdown.box_center_scale(np.array([0, 0, 100, 100]), (288, 384))
    assert np.allclose(center, [50, 50]) and np.allclose(scale, [125, 125 / 0.75])
    center, scale = topdown.box_center_scale(np.array([0, 0, 300, 100]), (288, 384))
    assert np.allclose(scale, [375, 500])


def test_affine_crop_puts_an_image_point_where_the_box_maps_it():
    image = np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8)
    image[450:452, 350:352] = 255  # a bright dot around (351, 451)
    center, scale = topdown.box_center_scale(np.array([300, 100, 500, 700]), (288, 384))
    crop = topdown.pose_input(image, center, scale, (288, 384))
    assert crop.shape == (1, 3, 384, 288)
    zoom = 288 / 562.5
    expected = ((351 - 400) * zoom + 144, (451 - 400) * zoom + 192)
    brightest = np.unravel_index(np.argmax(crop[0, 0]), crop.shape[2:])
    assert abs(brightest[1] - expected[0]) <= 1 and abs(brightest[0] - expected[1]) <= 1
    # ImageNet normalisation: black pixels become -mean / std
    assert crop[0, 0, 0, 0] == pytest.approx(-123.675 / 58.395, rel=1e-5)


def test_simcc_decoding():
    outputs = simcc_outputs()
    keypoints, scores = topdown.decode_simcc(outputs["simcc_x"], outputs["simcc_y"])
    assert np.allclose(keypoints[1:120], np.stack([BINS_X, BINS_Y], 1)[1:120] / 2.0)
    assert scores[5] == pytest.approx(0.6) and scores[0] == pytest.approx(1.3)
    assert np.all(keypoints[120] == -0.5) and scores[120] <= 0


def test_neck_needs_both_shoulders_for_its_score_and_keeps_its_position():
    keypoints = np.tile([[500.0, 400.0]], (133, 1))
    keypoints[5], keypoints[6] = (300.0, 200.0), (401.0, 100.0)
    scores = np.full(133, 0.9)
    scores[5] = 0.25
    points = wholebody_to_points(keypoints, scores, 1000, 800)
    # position: the shoulders' mean in pixels, then normalised; score 0 (not both > 0.3)
    assert points[1].tolist() == [350.5 / 1000, 150.0 / 800, 0.0]
    assert points[5].tolist() == [0.3, 0.25, 0.25]  # left shoulder: position and raw score kept


def test_missing_weights_in_a_folder_name_the_files(tmp_path):
    (tmp_path / DETECTOR_FILE).write_bytes(b"")
    with pytest.raises(MimicMotionError, match=POSE_FILE):
        get_backend("dwpose", dwpose_dir=tmp_path)


@pytest.fixture
def offline_empty_hub(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.delenv("MIMICMOTION_DWPOSE_DIR", raising=False)


def test_missing_weights_offline_say_how_to_get_them(offline_empty_hub):
    with pytest.raises(MimicMotionError) as error:
        get_backend("dwpose")
    message = str(error.value)
    for part in (DETECTOR_FILE, POSE_FILE, "yzd-v/DWPose", "online", "--dwpose-dir"):
        assert part in message
    assert "\n" not in message


def test_missing_weights_through_the_cli(offline_empty_hub, tmp_path, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    out = tmp_path / "p.npz"
    code = main(["pose", "--driving", str(video), "--out", str(out), "--pose-backend", "dwpose"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and DETECTOR_FILE in err


# -------------------------------------------------------------------------------------- the auto choice


def test_auto_takes_dwpose_when_its_files_are_at_hand(tiny_dwpose, monkeypatch):
    assert choose_backend("auto", tiny_dwpose)[0] == "dwpose"
    monkeypatch.setenv("MIMICMOTION_DWPOSE_DIR", str(tiny_dwpose))
    name, line = choose_backend("auto")
    assert name == "dwpose" and "dwpose" in line
    assert get_backend("auto").name == "dwpose"


def test_auto_takes_dwpose_from_the_hugging_face_cache(offline_empty_hub, tiny_dwpose):
    from helpers.hub_cache import cache_file
    from huggingface_hub import constants

    for name in (DETECTOR_FILE, POSE_FILE):
        cache_file(Path(constants.HF_HUB_CACHE), "yzd-v/DWPose", name, (tiny_dwpose / name).read_bytes())
    assert choose_backend("auto")[0] == "dwpose"
    backend = get_backend("auto", device="cpu")
    assert backend.name == "dwpose" and backend.pose_path.parent.parent.parent.name == "models--yzd-v--DWPose"
    assert len(backend.detect_image(np.zeros((IMAGE_H, IMAGE_W, 3), np.uint8))) == 1


def test_auto_falls_back_to_mediapipe_and_says_why(offline_empty_hub):
    pytest.importorskip("mediapipe")
    name, line = choose_backend("auto")
    assert name == "mediapipe"
    assert "DWPose" in line and "mimicmotion download" in line and "offline" in line
    assert "\n" not in line


def test_auto_without_any_detector_says_what_to_install_or_download(offline_empty_hub, monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "mediapipe" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(MimicMotionError) as error:
        choose_backend("auto")
    assert "mimicmotion download" in str(error.value) and "mimicmotion[mediapipe]" in str(error.value)


def test_named_detectors_are_taken_as_named(tiny_dwpose):
    assert choose_backend("mediapipe", tiny_dwpose)[0] == "mediapipe"
    assert choose_backend("dwpose", tiny_dwpose)[0] == "dwpose"
    with pytest.raises(MimicMotionError, match="unknown pose backend"):
        choose_backend("openpose")
