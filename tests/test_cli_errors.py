"""Bad input to every command: one line naming the problem, exit code 2, no traceback, nothing left behind.

(`animate`'s own cases, which need weights, are the table in test_animate.py.) Each case: the arguments
(made from a scratch folder `d` and the shared media `s`), the phrase the error must contain, and whether
the command reaches the pose detector first (those cases need MediaPipe).
"""

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from mimicmotion.cli import main


def garbage(d: Path, name: str) -> str:
    (d / name).write_bytes(b"\x00\x01 this is not media" * 10)
    return str(d / name)


def text(d: Path, name: str, content: str) -> str:
    (d / name).write_text(content)
    return str(d / name)


def sound_only(d: Path) -> str:
    """An .m4a file: a container with sound and no picture."""
    path = d / "voice.m4a"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return str(path)


def too_wide(d: Path) -> str:
    """A video 8200 pixels wide (and 16 high: cheap to write), wider than any camera records."""
    path = d / "wide.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 8200, 16, "yuv420p"
        container.mux(
            stream.encode(av.VideoFrame.from_ndarray(np.zeros((16, 8200, 3), np.uint8), format="rgb24"))
        )
        container.mux(stream.encode(None))
    return str(path)


def pose_on_gif(d: Path, s: Path, *more: str) -> list[str]:
    """`mimicmotion pose` on the shared GIF into the scratch folder, with `more` options."""
    return ["pose", "--driving", str(s / GIF), "--out", str(d / "p.npz"), *more]


def small_photo(d: Path) -> str:
    Image.fromarray(np.full((64, 48, 3), 128, np.uint8)).save(d / "small.png")
    return str(d / "small.png")


GIF = "dance_576x1024_19f.gif"


# case: (arguments(d, s), phrase, needs the pose detector)
def compare_args(scratch: Path, shared: Path, vary: str) -> list[str]:
    """`mimicmotion compare` on the shared media, varying `vary`."""
    return ["compare", "--vary", vary, "--ref", str(shared / "ref_demo1.jpg"), "--driving", str(shared / GIF),
            "--out", str(scratch / "cmp")]  # fmt: skip


CASES = {
    # pose
    "pose: missing video": (
        lambda d, s: ["pose", "--driving", str(d / "none.mp4"), "--out", str(d / "p.npz")],
        "video not found",
        True,
    ),
    "pose: unreadable video": (
        lambda d, s: ["pose", "--driving", garbage(d, "bad.mp4"), "--out", str(d / "p.npz")],
        "cannot read video",
        True,
    ),
    "pose: video without pictures": (
        lambda d, s: ["pose", "--driving", sound_only(d), "--out", str(d / "p.npz")],
        "no video stream",
        True,
    ),
    "pose: output not .npz": (
        lambda d, s: ["pose", "--driving", str(s / GIF), "--out", str(d / "p.txt")],
        "must be a .npz file",
        False,
    ),
    "pose: render not .mp4": (
        lambda d, s: pose_on_gif(d, s, "--render", str(d / "r.avi")),
        "must be a .mp4 file",
        False,
    ),
    "pose: absurd frame size": (
        lambda d, s: ["pose", "--driving", too_wide(d), "--out", str(d / "p.npz")],
        "more than 8192 pixels on a side",
        True,
    ),
    "pose: stride": (
        lambda d, s: pose_on_gif(d, s, "--stride", "0"),
        "--stride must be at least 1",
        False,
    ),
    "pose: stride not a number": (
        lambda d, s: pose_on_gif(d, s, "--stride", "two"),
        "--stride must be an integer",
        False,
    ),
    "pose: resolution": (
        lambda d, s: pose_on_gif(d, s, "--resolution", "100"),
        "multiple of 64",
        False,
    ),
    "pose: max frames": (
        lambda d, s: pose_on_gif(d, s, "--max-frames", "0"),
        "--max-frames must be at least 1",
        False,
    ),
    "pose: missing reference": (
        lambda d, s: pose_on_gif(d, s, "--ref", str(d / "no.jpg")),
        "image not found",
        True,
    ),
    "pose: output folder": (
        lambda d, s: ["pose", "--driving", str(s / GIF), "--out", str(d / "x" / "p.npz")],
        "output folder does not exist",
        False,
    ),
    "pose: style": (
        lambda d, s: pose_on_gif(d, s, "--pose-style", "neon"),
        "--pose-style must be one of",
        False,
    ),
    "pose: backend": (
        lambda d, s: pose_on_gif(d, s, "--pose-backend", "openpose"),
        "--pose-backend must be one of",
        False,
    ),
    # prepare-data
    "prepare-data: missing folder": (
        lambda d, s: ["prepare-data", "--videos", str(d / "none"), "--out", str(d / "o")],
        "video folder not found",
        False,
    ),
    "prepare-data: backend": (
        lambda d, s: [
            "prepare-data",
            "--videos",
            str(s),
            "--out",
            str(d / "o"),
            "--pose-backend",
            "openpose",
        ],
        "--pose-backend must be one of",
        False,
    ),
    # train
    "train: missing config": (
        lambda d, s: ["train", "--config", str(d / "none.yaml")],
        "config file not found",
        False,
    ),
    "train: malformed config": (
        lambda d, s: ["train", "--config", text(d, "bad.yaml", "x: [1,\n")],
        "line 2, column 1",
        False,
    ),
    "train: unknown setting": (
        lambda d, s: ["train", "--config", text(d, "odd.yaml", "data: x\nbogus_key: 3\n")],
        "unknown setting 'bogus_key'",
        False,
    ),
    "train: missing data": (
        lambda d, s: ["train", "--data", str(d / "none"), "--run-dir", str(d / "run")],
        "prepared data not found",
        False,
    ),
    # export
    "export: missing run": (
        lambda d, s: ["export", str(d / "none"), "--out", str(d / "x.safetensors")],
        "run not found",
        False,
    ),
    "export: output type": (
        lambda d, s: ["export", str(d), "--out", str(d / "x.bin")],
        "must end in .safetensors or .pth",
        False,
    ),
    # evaluate
    "evaluate: missing prediction": (
        lambda d, s: ["evaluate", "--pred", str(d / "none.mp4"), "--gt", str(s / GIF)],
        "prediction not found",
        False,
    ),
    "evaluate: missing ground truth": (
        lambda d, s: ["evaluate", "--pred", str(s / GIF), "--gt", str(d / "no.mp4")],
        "ground truth not found",
        False,
    ),
    "evaluate: metric": (
        lambda d, s: ["evaluate", "--pred", str(s / GIF), "--gt", str(s / GIF), "--metrics", "bogus"],
        "--metrics must be one of",
        False,
    ),
    # plot
    "plot: missing video": (
        lambda d, s: ["plot", "yt-slice", str(d / "none.mp4"), "--x", "1", "--out", str(d / "s.png")],
        "video not found",
        False,
    ),
    "plot: unreadable video": (
        lambda d, s: ["plot", "frame-diff", garbage(d, "bad.mp4"), "--out", str(d / "f.png")],
        "cannot read video",
        False,
    ),
    "plot: column outside": (
        lambda d, s: ["plot", "yt-slice", str(s / GIF), "--x", "100000", "--out", str(d / "s.png")],
        "outside the frame width",
        False,
    ),
    "plot: output type": (
        lambda d, s: ["plot", "yt-slice", str(s / GIF), "--x", "1", "--out", str(d / "s.txt")],
        "must end in .png",
        False,
    ),
    # compare-fusion
    "compare-fusion: missing reference": (
        lambda d, s: [
            "compare-fusion",
            "--ref",
            str(d / "no.jpg"),
            "--driving",
            str(s / GIF),
            "--out",
            str(d / "cmp"),
        ],
        "image not found",
        False,
    ),
    # compare
    "compare: bad vary": (
        lambda d, s: compare_args(d, s, "pose-strenght=0,1"),
        "did you mean 'pose_strength'",
        False,
    ),
    "compare: a variant out of range": (
        lambda d, s: compare_args(d, s, "cfg-until=0.5,3"),
        "cfg-until must be a number from 0 to 1",
        False,
    ),
    # download
    "download: missing base folder": (
        lambda d, s: ["download", "--base-model", str(d / "svd")],
        "base model not found",
        False,
    ),
    # the command line itself
    "unknown command": (lambda d, s: ["dance"], "invalid choice: 'dance'", False),
    "unknown option": (
        lambda d, s: pose_on_gif(d, s, "--speed", "2"),
        "unrecognized arguments: --speed",
        False,
    ),
    "animate: malformed config": (
        lambda d, s: [
            "animate",
            "--config",
            text(d, "bad.yaml", "test_case: [a,\n"),
            "--out",
            str(d / "outs"),
        ],
        "cannot read config",
        False,
    ),
    "animate: fps": (
        lambda d, s: [
            "animate",
            "--ref",
            small_photo(d),
            "--driving",
            str(s / GIF),
            "--out",
            str(d / "o.mp4"),
            "--fps",
            "nan",
        ],
        "fps must be a positive number",
        False,
    ),
    "animate: output type": (
        lambda d, s: [
            "animate",
            "--ref",
            small_photo(d),
            "--driving",
            str(s / GIF),
            "--out",
            str(d / "o.avi"),
        ],
        "the output must be an .mp4 file (H.264) or an .mkv file (lossless FFV1), got",
        False,
    ),
}


def run(args: list[str]) -> int:
    """The exit code `mimicmotion ARGS` gives (argparse's own errors exit from inside `main`)."""
    try:
        return main(args)
    except SystemExit as exit:
        return int(exit.code)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_line_and_exit_code_2(case, tmp_path, shared_data, capsys, request):
    make_args, phrase, needs_detector = CASES[case]
    if needs_detector:
        request.getfixturevalue("mediapipe")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    args = make_args(scratch, shared_data)
    before = set(scratch.rglob("*"))
    code = run([*args, "--pose-backend", "mediapipe"] if needs_detector else args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and phrase in errors[0], err
    assert "Traceback" not in err
    assert set(scratch.rglob("*")) == before  # nothing written, not even a folder


def test_an_image_too_large_to_be_a_photo_is_refused(tmp_path, shared_data, capsys, monkeypatch):
    # the limit is lowered rather than a 180-megapixel bomb written: the photo (1080 x 1920) now exceeds it
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000 * 1000)
    code = main(
        [
            "compare-fusion",
            "--ref",
            str(shared_data / "ref_demo1.jpg"),
            "--driving",
            str(shared_data / GIF),
            "--out",
            str(tmp_path / "cmp"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "decompression bomb" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "cmp").exists()


def test_there_are_at_least_40_bad_input_cases_over_all_commands(tmp_path):
    from test_animate import ERRORS

    assert len(CASES) + len(ERRORS) >= 40
    commands = {args(tmp_path, tmp_path)[0] for args, _, _ in CASES.values()}
    assert {
        "pose",
        "prepare-data",
        "train",
        "export",
        "evaluate",
        "plot",
        "compare-fusion",
        "compare",
        "download",
    } <= commands


@pytest.mark.usefixtures("mediapipe")
def test_a_full_disk_is_one_message_and_no_partial_output(tmp_path, shared_data, capsys, monkeypatch):
    """The disk fills up while the pose video is written (ENOSPC injected after two frames)."""
    import errno

    from mimicmotion.video import VideoWriter

    write = VideoWriter.write

    def write_until_full(self, frame):
        if self.frames_written == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        write(self, frame)

    monkeypatch.setattr(VideoWriter, "write", write_until_full)
    out, render = tmp_path / "poses.npz", tmp_path / "poses.mp4"
    code = run(["pose", "--driving", str(shared_data / GIF), "--out", str(out), "--render", str(render),
                "--pose-backend", "mediapipe", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no space left on the disk" in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # neither output, nor a hidden partial file
