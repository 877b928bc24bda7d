"""The page: Gradio components wired to `work`, `jobs` and `media`.

Every handler answers with a message in the page's status box rather than an exception: a
MimicMotionError is its own one line; anything else is logged with its traceback on the server's
console and shown as one line.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from mimicmotion.app.form import (
    CHECKBOX,
    DROPDOWN,
    NUMBER,
    FormField,
    form_fields,
    form_values,
    settings_json,
)
from mimicmotion.app.jobs import HISTORY_COLUMNS, Job, JobStore
from mimicmotion.app.media import (
    MOTION_SUFFIXES,
    Limits,
    check_source,
    describe_motion,
    describe_photo,
    example_media,
)
from mimicmotion.app.work import Cancelled, Generated, generate, preview_poses
from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError

log = logging.getLogger("mimicmotion")
MAX_EXAMPLES = 12
HEIGHT = 360  # pixels of each picture and video in the page


@dataclass
class AppState:
    """What every session of the app shares."""

    store: JobStore
    limits: Limits
    model: dict[str, Any]  # the AnimateSettings fields given to `mimicmotion app` (weights, device, ...)
    examples: list[Path]
    load: Callable[[AnimateSettings], Any]  # the pipeline, loaded at the first generation
    device: threading.Lock = field(default_factory=threading.Lock)  # one generation at a time
    running: dict[str, threading.Event] = field(default_factory=dict)  # session -> its job's cancel flag

    def sources(self) -> list[Path]:
        """The folders the page may read files from: uploads, examples, outputs."""
        from gradio.utils import get_upload_folder

        return [Path(get_upload_folder()), *self.examples, self.store.root]


def message(error: BaseException) -> str:
    """One line for the status box."""
    if isinstance(error, MimicMotionError):
        return f"⚠️ {error}"
    log.exception("unexpected error in the app")  # the traceback goes to the console, not to the page
    return f"⚠️ unexpected error ({type(error).__name__}): {str(error).splitlines()[0] if str(error) else ''}"


def build(app: AppState) -> gr.Blocks:
    fields = form_fields()
    with gr.Blocks(title="MimicMotion") as page:
        gr.Markdown(
            "# MimicMotion\nA photo of a person and a dance video in, a video of that person dancing out. "
            "Check the poses first (**Preview poses**), then **Generate**."
        )
        with gr.Row():
            with gr.Column():
                photo = gr.Image(
                    type="filepath",
                    label="Photo of a person",
                    sources=["upload"],
                    height=HEIGHT,
                    elem_id="photo",
                )
                photo_info = gr.Markdown(elem_id="photo-info")
            with gr.Column():
                driving = gr.File(
                    label="Driving video (mp4, mov, webm, mkv, gif) or pose file (npz)",
                    file_types=list(MOTION_SUFFIXES),
                    type="filepath",
                    elem_id="driving",
                )
                driving_info = gr.Markdown(elem_id="driving-info")
        pairs = _example_pairs(app.examples)
        if pairs:
            gr.Examples(pairs, inputs=[photo, driving], label="Examples")
        with gr.Accordion("Advanced", open=False, elem_id="advanced"):
            widgets = []
            for row in (fields[i : i + 3] for i in range(0, len(fields), 3)):  # three a row
                with gr.Row():
                    widgets += [_widget(f) for f in row]
        with gr.Row():
            preview_button = gr.Button("Preview poses", elem_id="preview")
            generate_button = gr.Button("Generate", variant="primary", elem_id="generate")
            cancel_button = gr.Button("Cancel", variant="stop", elem_id="cancel")
        status = gr.Markdown(elem_id="status")
        with gr.Row():
            skeleton = gr.Image(
                label="Reference with its skeleton", interactive=False, height=HEIGHT, elem_id="skeleton"
            )
            poses = gr.Video(label="Retargeted poses", interactive=False, height=HEIGHT, elem_id="pose-video")
        with gr.Row():
            result = gr.Video(label="Result", interactive=False, height=HEIGHT, elem_id="result")
            side_by_side = gr.Video(
                label="Reference | pose | result", interactive=False, height=HEIGHT, elem_id="side-by-side"
            )
        strip = gr.Image(
            label="Window layout: Y-T slice, window boundaries marked red below",
            interactive=False,
            elem_id="strip",
        )
        downloads = gr.File(
            label="Files of the job", file_count="multiple", interactive=False, elem_id="downloads"
        )
        with gr.Accordion("History", open=True, elem_id="history-panel"):
            history = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False, elem_id="history")
            with gr.Row():
                chosen = gr.Dropdown(label="Show a past job", choices=[], elem_id="job")
                refresh = gr.Button("Refresh", elem_id="refresh")
            record = gr.Code(
                label="Settings of the job", language="json", interactive=False, elem_id="record"
            )

        photo.change(lambda path: _describe(app, path, describe_photo), photo, photo_info, queue=False)
        driving.change(
            lambda path: _describe(app, path, lambda p: describe_motion(p, app.limits)),
            driving,
            driving_info,
            queue=False,
        )

        # Handlers take their inputs as one dict (inputs given as a set): Gradio passes the request and the
        # progress tracker only to positional parameters, which cannot follow a variable number of values.
        form = {photo, driving, *widgets}

        def chosen_settings(data: dict) -> AnimateSettings:
            return _settings(app, fields, data[photo], data[driving], [data[w] for w in widgets])

        def run_preview(data: dict, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
            try:
                settings = chosen_settings(data)
                progress(0, desc="poses")
                shown = preview_poses(settings, app.store.preview_folder())
            except Exception as error:
                return None, None, message(error)
            return (
                str(shown.skeleton),
                str(shown.poses),
                f"Poses of {shown.frames} frames: check the fit, then generate.",
            )

        preview_button.click(run_preview, form, [skeleton, poses, status], concurrency_id="poses")

        def run_generation(data: dict, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
            cancel = threading.Event()
            started = time.monotonic()
            session = request.session_hash if request is not None else ""
            app.running[session] = cancel
            try:
                settings = chosen_settings(data)
                with app.device, app.store.running() as folder:
                    if cancel.is_set():
                        raise Cancelled

                    def report(stage: str, done: int, total: int, note: str) -> None:
                        text = f"{stage} {note}".strip()
                        progress(
                            (done, total) if total else None,
                            desc=text,
                            unit="windows" if stage == "denoising" else "frames",
                        )

                    made = generate(settings, folder, app.load, report, cancel)
                    job = app.store.finish(
                        folder,
                        _record(settings, data[photo], data[driving], made, time.monotonic() - started),
                    )
            except Cancelled:
                log.info("job cancelled: nothing was kept")
                return (None, None, None, None, "Cancelled: nothing was kept.", *_history(app))
            except Exception as error:
                return (None, None, None, None, message(error), *_history(app))
            finally:
                app.running.pop(session, None)
            done = f"Done: {job.record['frames']} frames in {job.record['seconds']} s, saved as job {job.id}."
            return (*_job_media(job), done, *_history(app))

        generation = generate_button.click(
            run_generation,
            form,
            [result, side_by_side, strip, downloads, status, history, chosen],
            concurrency_limit=1,
            concurrency_id="device",
        )

        def request_cancel(request: gr.Request):
            cancel = app.running.get(request.session_hash if request is not None else "")
            if cancel is None:
                return "Nothing of yours is running (a job of yours waiting in line, if any, left the line)."
            cancel.set()
            return "Cancelled: the job stops after the current window; nothing of it is kept."

        # Gradio takes a waiting job out of the queue; the running one stops at its next window.
        cancel_button.click(request_cancel, None, status, cancels=[generation], queue=False)

        def show(job_id):
            if not job_id:
                return None, None, None, None, ""
            try:
                job = app.store.job(job_id)
            except Exception as error:
                return None, None, None, None, message(error)
            return (*_job_media(job), json.dumps(job.record, indent=2))

        chosen.change(show, chosen, [result, side_by_side, strip, downloads, record], queue=False)
        refresh.click(lambda: _history(app), None, [history, chosen], queue=False)
        page.load(lambda: _history(app), None, [history, chosen], queue=False)
    return page


def _widget(f: FormField) -> gr.components.Component:
    common = {"label": f.label, "info": f.help, "elem_id": f"option-{f.name.replace('_', '-')}"}
    if f.widget == CHECKBOX:
        return gr.Checkbox(value=f.value, **common)
    if f.widget == DROPDOWN:
        return gr.Dropdown(choices=list(f.choices), value=f.value, **common)
    if f.widget == NUMBER:
        return gr.Number(value=f.value, precision=0 if f.integer else None, **common)
    return gr.Textbox(value=f.value, max_lines=1, placeholder="not set" if f.optional else None, **common)


def _describe(app: AppState, path: str | None, describe: Callable[[str], str]) -> str:
    if not path:
        return ""
    try:
        check_source(path, app.sources())
        return describe(path)
    except Exception as error:
        return message(error)


def _settings(
    app: AppState, fields: Sequence[FormField], photo: str | None, video: str | None, values: Sequence[Any]
) -> AnimateSettings:
    if not photo or not video:
        raise MimicMotionError("give a photo of a person and a driving video (or a pose file) first")
    roots = app.sources()
    check_source(photo, roots)
    check_source(video, roots)
    describe_motion(video, app.limits)  # unreadable or too long: said before anything runs
    chosen = form_values(fields, values)
    return AnimateSettings(**{**chosen, **app.model, "ref": Path(photo), "driving": Path(video)})


def _record(
    settings: AnimateSettings, photo: str, video: str, made: Generated, seconds: float
) -> dict[str, Any]:
    return {
        "photo": Path(photo).name,
        "video": Path(video).name,
        "frames": made.frames,
        "fps": made.fps,
        "seconds": round(seconds, 1),
        "settings": {**settings_json(settings), "ref": Path(photo).name, "driving": Path(video).name},
    }


def _job_media(job: Job) -> tuple[Any, ...]:
    return str(job.result), str(job.side_by_side), str(job.strip), [str(p) for p in job.files()]


def _history(app: AppState) -> tuple[Any, Any]:
    jobs = app.store.history()
    rows = [job.summary() for job in jobs] or None
    return gr.update(value=rows), gr.update(choices=[job.id for job in jobs])


def _example_pairs(folders: Sequence[Path]) -> list[list[str]]:
    photos, videos = example_media(folders)
    return [[str(p), str(v)] for p, v in itertools.islice(itertools.product(photos, videos), MAX_EXAMPLES)]
