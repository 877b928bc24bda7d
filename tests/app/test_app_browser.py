"""`mimicmotion app` driven through its page in a real Chromium (Debian's, through chromium-driver), on tiny
random weights: uploads, pose preview, generation, history across a restart, the limits, a photo without
a person, cancel. Each state is saved as a screenshot in test-artifacts/app/ (ignored by git)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mimicmotion.video import probe_video

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
missing = [
    what
    for what, there in (
        ("Gradio (pip install 'mimicmotion[app]')", importlib.util.find_spec("gradio")),
        ("Selenium (pip install selenium)", importlib.util.find_spec("selenium")),
        ("chromium (apt-get install chromium)", CHROMIUM),
        ("chromium-driver (apt-get install chromium-driver)", CHROMEDRIVER),
    )
    if not there
]
# CI's first step sets MIMICMOTION_REQUIRE_BROWSER: there a missing piece fails the tests instead.
REQUIRED = bool(os.environ.get("MIMICMOTION_REQUIRE_BROWSER"))
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(missing) and not REQUIRED, reason=f"the browser tests need {', '.join(missing)}"),
    pytest.mark.usefixtures("mediapipe"),  # the poses are detected with the offline detector
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "app"
START_TIMEOUT = 90  # seconds; the app serves in under 15 s on a 2-core CPU (printed by the test below)
JOB_TIMEOUT = 180
# a small job for the tiny weights: 128 x 192 pictures, one step, 4 frames in one window
SMALL = {"resolution": 128, "steps": 1, "tile-size": 8, "tile-overlap": 2, "max-frames": 4}


class App:
    """`mimicmotion app` in a subprocess, on tiny weights and its own output folder."""

    def __init__(self, weights, outputs: Path, cache: Path, *extra: str) -> None:
        base, checkpoint = weights
        command = [sys.executable, "-m", "mimicmotion", "app", "--base-model", str(base), "--checkpoint",
                   str(checkpoint), "--device", "cpu", "--outputs", str(outputs), *extra]  # fmt: skip
        env = {**os.environ, "MIMICMOTION_CACHE": str(cache), "PYTHONUNBUFFERED": "1"}
        self.outputs = outputs
        self.log = outputs.parent / f"app-{time.time_ns()}.log"
        self.started = time.monotonic()
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        self.url = self._wait_for_address()
        self.start_seconds = time.monotonic() - self.started

    def _wait_for_address(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if line.startswith("mimicmotion app: serving on "):
                    return line.split()[4]
            if self.process.poll() is not None:
                pytest.fail(f"the app ended with code {self.process.returncode}:\n{self.log.read_text()}")
            time.sleep(0.1)
        pytest.fail(f"the app did not serve within {START_TIMEOUT} s:\n{self.log.read_text()}")

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module", autouse=True)
def everything_there():
    if missing:
        pytest.fail(
            f"the browser tests must run here (MIMICMOTION_REQUIRE_BROWSER) but need {', '.join(missing)}"
        )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="module")
def app(tiny_weights, workspace):
    started = App(tiny_weights, workspace / "outputs", workspace / "cache")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,2400",
                     "--autoplay-policy=no-user-gesture-required", "--mute-audio"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


# ------------------------------------------------------------------------------------------ the page


def shoot(driver, name: str) -> None:
    """A screenshot of the whole page (the window is as tall as the page) in test-artifacts/app/."""
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1280, max(1200, min(height + 100, 6000)))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait_for(what, timeout: float, message: str, driver=None, app=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.2)
    details = (driver.find_element("tag name", "body").text if driver else "") + (app.output() if app else "")
    pytest.fail(f"{message} within {timeout} s\n{details}")


def text(driver, element_id: str) -> str:
    """The text of a component: a Markdown's own text, without the progress shown over it."""
    found = driver.find_elements("id", element_id)
    if not found:  # not rendered yet
        return ""
    element = found[0]
    own = element.find_elements("css selector", "[data-testid=markdown]")
    return (own[0] if own else element).text.strip()


def open_page(driver, app) -> None:
    driver.get(app.url)
    wait_for(lambda: driver.find_elements("css selector", "#generate"), 60, "the page did not load", driver)


def upload(driver, element_id: str, path: Path) -> None:
    # The page renders its components one after another: the input may come after #generate.
    selector = f"#{element_id} input[type=file]"
    found = wait_for(lambda: driver.find_elements("css selector", selector), 30, f"no {selector}", driver)
    found[0].send_keys(str(path))


def set_options(driver, values: dict) -> None:
    """Type values into the Advanced section's fields (opening it first)."""
    from selenium.webdriver.common.keys import Keys

    def shown():
        return [e for e in driver.find_elements("css selector", "#option-steps input") if e.is_displayed()]

    if not shown():  # a closed section's fields are not on the page
        driver.find_element("css selector", "#advanced .label-wrap").click()
        wait_for(shown, 10, "the Advanced section did not open", driver)
    for name, value in values.items():
        field = driver.find_element("css selector", f"#option-{name} input")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(str(value), Keys.TAB)


def status_after(driver, button: str, app, timeout: float = JOB_TIMEOUT) -> str:
    """Click `button` and wait for the status box to say something new."""
    before = text(driver, "status")
    driver.find_element("id", button).click()
    return wait_for(
        lambda: (now := text(driver, "status")) != before and now,
        timeout,
        f"{button}: no answer",
        driver,
        app,
    )


def video_state(driver, element_id: str) -> dict:
    """Load and play the <video> of a component; its duration, and whether its time moved."""
    video = wait_for(lambda: driver.find_elements("css selector", f"#{element_id} video"), 30,
                     f"no video in #{element_id}", driver)[0]  # fmt: skip
    wait_for(lambda: driver.execute_script("return arguments[0].readyState >= 2", video), 30,
             f"the video of #{element_id} did not load", driver)  # fmt: skip
    driver.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    wait_for(lambda: driver.execute_script("return arguments[0].currentTime > 0", video), 30,
             f"the video of #{element_id} does not play", driver)  # fmt: skip
    return driver.execute_script(
        "const v = arguments[0]; return {duration: v.duration, width: v.videoWidth, height: v.videoHeight,"
        " error: v.error && v.error.code, src: v.currentSrc}",
        video,
    )


def jobs(outputs: Path) -> list[str]:
    return sorted(p.name for p in outputs.iterdir() if not p.name.startswith("."))


# ------------------------------------------------------------------------------------------- tests


def test_the_app_starts_and_serves_its_page(app, browser):
    print(f"\nmimicmotion app served its page {app.start_seconds:.1f} s after it was started")
    open_page(browser, app)
    assert browser.title == "MimicMotion"
    assert "Preview poses" in browser.find_element("tag name", "body").text
    assert "127.0.0.1" in app.url
    shoot(browser, "1-main")


def test_the_shipped_example_animates_from_its_pose_file(app, browser):
    open_page(browser, app)
    browser.find_element("xpath", "//*[normalize-space(text())='dance.npz']").click()
    wait_for(lambda: text(browser, "photo-info") == "reference.jpg: 288 x 512 pixels", 30,
             "no example photo", browser)  # fmt: skip
    described = "dance.npz: 576 x 1024 pixels, 24 poses, 2.40 s at 10 fps"
    wait_for(lambda: text(browser, "driving-info") == described, 30, "no description of the poses", browser)
    set_options(browser, SMALL)
    browser.find_element("css selector", "#advanced .label-wrap").click()
    assert status_after(browser, "preview", app) == "Poses of 4 frames: check the fit, then generate."
    done = status_after(browser, "generate", app)
    assert done.startswith("Done: 4 frames"), done
    record = json.loads((app.outputs / jobs(app.outputs)[-1] / "job.json").read_text())
    assert (record["photo"], record["video"], record["frames"]) == ("reference.jpg", "dance.npz", 4)
    result = video_state(browser, "result")
    assert result["error"] is None and (result["width"], result["height"]) == (128, 192)
    # the example's job, shown whole, the first in the history: the picture of the app in the README
    # (docs/app.png)
    shoot(browser, "9-example-generated")


def test_a_photo_without_a_person_and_weights_that_do_not_load_are_messages_in_the_page(
    tiny_weights, browser, shared_data, workspace, tmp_path
):
    flat = tmp_path / "wall.png"
    Image.fromarray(np.full((640, 480, 3), (200, 180, 150), dtype=np.uint8)).save(flat)
    missing_base = workspace / "no-such-base"
    broken = App((missing_base, tiny_weights[1]), workspace / "outputs-broken", workspace / "cache")
    try:
        open_page(browser, broken)
        upload(browser, "photo", flat)
        upload(browser, "driving", shared_data / "dance_576x1024_19f.gif")
        wait_for(lambda: text(browser, "driving-info"), 30, "no video description", browser)
        set_options(browser, SMALL)
        assert status_after(browser, "preview", broken) == "⚠️ no person found in the reference image"
        assert (
            status_after(browser, "generate", broken) == "⚠️ no person found in the reference image wall.png"
        )
        shoot(browser, "8-no-person")
        # with a person, the generation gets as far as loading the model, which fails: said in the page
        upload(browser, "photo", shared_data / "ref_demo1.jpg")
        wait_for(lambda: text(browser, "photo-info").startswith("ref_demo1.jpg"), 30, "no photo", browser)
        said = status_after(browser, "generate", broken)
        assert said.startswith("⚠️ ") and str(missing_base) in said and "\n" not in said, said
        assert "Traceback" not in browser.find_element("tag name", "body").text
        assert jobs(broken.outputs) == []
        shoot(browser, "8-weights-do-not-load")
    finally:
        broken.stop()


def test_cancel_stops_the_job_and_leaves_no_file(app, browser, shared_data):
    open_page(browser, app)
    upload(browser, "photo", shared_data / "ref_demo1.jpg")
    upload(browser, "driving", shared_data / "dance_576x1024_19f.gif")
    wait_for(lambda: text(browser, "driving-info"), 30, "no video description", browser)
    # long enough to be cancelled while denoising: 10 frames in 2 windows, 40 steps
    set_options(browser, {**SMALL, "steps": 40, "max-frames": ""})
    before = sorted(p.name for p in app.outputs.rglob("*") if ".previews" not in p.parts)
    browser.find_element("id", "generate").click()
    wait_for(lambda: "denoising" in browser.find_element("tag name", "body").text, JOB_TIMEOUT,
             "the denoising did not start", browser, app)  # fmt: skip
    shoot(browser, "9-running")
    assert status_after(browser, "cancel", app, 30) == (
        "Cancelled: the job stops after the current window; nothing of it is kept."
    )
    gone = "the cancelled job's folder is still there"
    wait_for(lambda: not list(app.outputs.glob(".running-*")), 60, gone, browser, app)
    assert sorted(p.name for p in app.outputs.rglob("*") if ".previews" not in p.parts) == before
    assert not list(app.outputs.rglob("*.partial.mp4"))
    assert "job cancelled: nothing was kept" in app.output()
    shoot(browser, "10-cancelled")


def test_upload_preview_generate_and_the_job_in_the_history(
    app, browser, shared_data, tiny_weights, workspace
):
    open_page(browser, app)
    upload(browser, "photo", shared_data / "ref_demo1.jpg")
    upload(browser, "driving", shared_data / "dance_576x1024_19f.gif")
    wait_for(lambda: text(browser, "photo-info"), 30, "no photo description", browser)
    wait_for(lambda: text(browser, "driving-info"), 30, "no video description", browser)
    assert text(browser, "photo-info") == "ref_demo1.jpg: 1080 x 1920 pixels"
    assert (
        text(browser, "driving-info")
        == "dance_576x1024_19f.gif: 576 x 1024 pixels, 19 frames, 1.90 s at 10 fps"
    )
    set_options(browser, SMALL)
    shoot(browser, "2-inputs")
    browser.find_element("css selector", "#advanced .label-wrap").click()  # closed: the values stay

    # the pose preview: the reference with its skeleton, and the retargeted poses as a video
    assert status_after(browser, "preview", app) == "Poses of 4 frames: check the fit, then generate."
    wait_for(
        lambda: browser.find_elements("css selector", "#skeleton img"), 30, "no skeleton picture", browser
    )
    poses = video_state(browser, "pose-video")
    assert (poses["width"], poses["height"]) == (128, 192)
    assert poses["duration"] == pytest.approx(4 / 5, abs=0.05)  # 4 frames at 10 fps / stride 2
    shoot(browser, "3-pose-preview")

    # the generation
    earlier = jobs(app.outputs)
    done = status_after(browser, "generate", app)
    assert done.startswith("Done: 4 frames"), done
    (job_id,) = set(jobs(app.outputs)) - set(earlier)
    assert job_id in done
    folder = app.outputs / job_id
    record = json.loads((folder / "job.json").read_text())
    assert (record["frames"], record["settings"]["steps"], record["settings"]["max_frames"]) == (4, 1, 4)
    assert record["photo"] == "ref_demo1.jpg" and record["video"] == "dance_576x1024_19f.gif"
    assert probe_video(folder / "result.mp4").num_frames == 4
    assert probe_video(folder / "side_by_side.mp4").width == 3 * 128
    result = video_state(browser, "result")
    assert result["error"] is None and (result["width"], result["height"]) == (128, 192)
    assert result["duration"] == pytest.approx(record["frames"] / record["fps"], abs=0.05)
    assert video_state(browser, "side-by-side")["width"] == 3 * 128
    wait_for(lambda: browser.find_elements("css selector", "#strip img"), 30, "no window strip", browser)
    links = [a.get_attribute("href") for a in browser.find_elements("css selector", "#downloads a")]
    assert {Path(link).name for link in links if link} == {"result.mp4", "side_by_side.mp4", "windows.png",
                                                           "job.json"}  # fmt: skip
    assert job_id in text(browser, "history")
    shoot(browser, "4-generated")

    # the history, read back by a new app on the same folder
    again = App(tiny_weights, app.outputs, workspace / "cache", "--max-seconds", "1", "--max-upload-mb", "3")
    try:
        open_page(browser, again)
        wait_for(lambda: job_id in text(browser, "history"), 30, "the job is not in the history", browser)
        # a past job, chosen in the history, is shown again with its files and settings
        browser.find_element("css selector", "#job input").click()
        offered = lambda: [o for o in browser.find_elements("css selector", "#job li") if o.text == job_id]  # noqa: E731
        wait_for(offered, 10, "the job is not offered", browser)[0].click()
        assert video_state(browser, "result")["duration"] == pytest.approx(result["duration"], abs=0.01)
        wait_for(lambda: '"max_frames": 4' in text(browser, "record"), 30, "no settings of the job", browser)
        shoot(browser, "5-history-after-restart")
        # its limits: files of at most 3 MB (the GIF has 3.8), videos of at most 1 s (the mp4 lasts longer)
        upload(browser, "driving", shared_data / "dance_576x1024_19f.gif")
        body = lambda: browser.find_element("tag name", "body").text  # noqa: E731
        wait_for(
            lambda: "exceed the maximum allowed size of 3" in body(), 30, "no message on the size", browser
        )
        shoot(browser, "6-upload-too-large")
        upload(browser, "driving", shared_data / "dance_1080x1920_24fps.mp4")
        refused = wait_for(lambda: text(browser, "driving-info"), 30, "no video description", browser)
        assert "this app takes videos of at most 1 s (--max-seconds): cut it shorter first" in refused
        shoot(browser, "7-video-too-long")
        # the example shipped with the package, picked from the examples
        browser.find_element("xpath", "//*[normalize-space(text())='dance.npz']").click()
        wait_for(
            lambda: text(browser, "photo-info").startswith("reference.jpg: "), 30, "no example photo", browser
        )
        # its pose file read, and longer than this app's --max-seconds 1
        wait_for(lambda: "the driving poses last 2.4 s" in text(browser, "driving-info"), 30,
                 "the example's poses were not read", browser)  # fmt: skip
    finally:
        again.stop()
