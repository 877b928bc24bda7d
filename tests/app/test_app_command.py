"""`mimicmotion app` on the command line, and the generation behind its buttons with tiny weights."""

import importlib.util
import threading

import pytest

from mimicmotion.cli import build_parser, main


def test_without_gradio_the_app_says_how_to_install_it_in_one_line(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gradio" else real(name, *a)
    )
    assert main(["app"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "mimicmotion app: error: the app needs Gradio, which is not installed: "
        "pip install 'mimicmotion[app]'\n"
    )


def _helps(command):
    parser = build_parser([command])
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return {a.option_strings[0]: a.help for a in sub.choices[command]._actions if a.option_strings}


def test_the_model_options_are_those_of_animate_with_the_same_help():
    app, animate = _helps("app"), _helps("animate")
    model = (
        "--base-model",
        "--checkpoint",
        "--device",
        "--dtype",
        "--offload",
        "--forward-chunking",
        "--compile",
    )
    for flag in (*model, "--tf32", "--dwpose-dir"):
        assert app[flag] == animate[flag]
    assert {
        "--host",
        "--port",
        "--share",
        "--outputs",
        "--examples",
        "--max-upload-mb",
        "--max-seconds",
    } <= set(app)
    assert "--steps" not in app  # the generation options are in the page


@pytest.mark.parametrize(
    "args", [["--max-seconds", "0"], ["--examples", "no/such/folder"], ["--device", "tpu"]]
)
def test_bad_app_options_are_one_line_before_anything_starts(args, capsys):
    pytest.importorskip("gradio", reason="the app's options are checked once Gradio is known to be there")
    assert main(["app", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mimicmotion app: error: ") and err.count("\n") == 1


@pytest.mark.usefixtures("mediapipe")
@pytest.mark.slow
def test_cancel_stops_the_generation_after_a_window_and_leaves_nothing(shared_data, tiny_weights, tmp_path):
    from mimicmotion.animate import shared_loader
    from mimicmotion.app.jobs import JobStore
    from mimicmotion.app.work import Cancelled, generate
    from mimicmotion.config import AnimateSettings

    base, checkpoint = tiny_weights
    settings = AnimateSettings(
        ref=shared_data / "ref_demo1.jpg", driving=shared_data / "dance_576x1024_19f.gif",
        base_model=str(base), checkpoint=str(checkpoint), resolution=128, steps=3, tile_size=8,
        tile_overlap=2, quiet=True,
    )  # fmt: skip
    cancel = threading.Event()
    seen = []

    def report(stage, done, total, note):
        seen.append((stage, done, total))
        if stage == "denoising" and done == 1:
            cancel.set()  # as the cancel button does, while the first window's prediction is reported

    store = JobStore(tmp_path / "outputs")
    with pytest.raises(Cancelled), store.running() as folder:
        generate(settings, folder, shared_loader(), report, cancel)
    denoised = [done for stage, done, _ in seen if stage == "denoising"]
    assert denoised == [0, 1]  # stopped at the next window: 10 frames make 2 windows, x 3 steps
    assert [total for stage, _, total in seen if stage == "denoising"] == [6, 6]
    assert list((tmp_path / "outputs").iterdir()) == []


def test_serving_beyond_this_machine_is_warned_about_and_a_free_port_is_found():
    from mimicmotion.app.server import exposure_warning, free_port

    assert exposure_warning("127.0.0.1") is None and exposure_warning("localhost") is None
    assert "whoever can reach this machine's port can use its GPU" in exposure_warning("0.0.0.0")
    assert 0 < free_port("127.0.0.1") < 65536
