"""The app's output folder: one folder per finished job, and the history read back from it.

A job is written into a hidden folder (`.running-<id>`) and renamed to `<id>` only when every file is
there, so the history (and a restart of the app) never sees a half-written job, and a cancelled or
failed job leaves nothing: its hidden folder is removed. Each job folder holds:

    result.mp4              the generated video
    result.windows.json     its window layout (`mimicmotion.windows`)
    side_by_side.mp4        reference | pose | result
    windows.png             the Y-T slice across window boundaries
    job.json                the settings, the inputs' names, the frame count and the time it took
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimicmotion.errors import MimicMotionError
from mimicmotion.video import make_folder

RESULT = "result.mp4"
SIDE_BY_SIDE = "side_by_side.mp4"
STRIP = "windows.png"
RECORD = "job.json"
RUNNING = ".running-"
PREVIEWS = ".previews"


@dataclass(frozen=True)
class Job:
    """A finished job in the output folder."""

    folder: Path
    record: dict[str, Any]

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def result(self) -> Path:
        return self.folder / RESULT

    @property
    def side_by_side(self) -> Path:
        return self.folder / SIDE_BY_SIDE

    @property
    def strip(self) -> Path:
        return self.folder / STRIP

    def files(self) -> list[Path]:
        """The job's files that exist, for download."""
        return [p for p in (self.result, self.side_by_side, self.strip, self.folder / RECORD) if p.is_file()]

    def summary(self) -> list[Any]:
        """One row of the history table."""
        r, s = self.record, self.record.get("settings", {})
        return [
            self.id,
            r.get("finished", ""),
            r.get("photo", ""),
            r.get("video", ""),
            r.get("frames", ""),
            s.get("resolution", ""),
            s.get("steps", ""),
            r.get("seconds", ""),
        ]


HISTORY_COLUMNS = ["job", "finished", "photo", "video", "frames", "resolution", "steps", "seconds"]


class JobStore:
    """The output folder (`--outputs`)."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = make_folder(root).resolve()

    def clean(self) -> None:
        """Remove what an app that was killed left behind: unfinished jobs and pose previews."""
        for leftover in self.root.glob(f"{RUNNING}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        shutil.rmtree(self.root / PREVIEWS, ignore_errors=True)

    def preview_folder(self) -> Path:
        """A new folder for one pose preview (inside the output folder, from which the page may read)."""
        return make_folder(self.root / PREVIEWS / _new_id())

    @contextlib.contextmanager
    def running(self) -> Iterator[Path]:
        """A hidden folder for a new job; removed if the block fails or is cancelled. The caller ends a
        successful block with `finish`."""
        folder = self.root / f"{RUNNING}{_new_id()}"
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # finished jobs have been renamed away

    def finish(self, folder: Path, record: dict[str, Any]) -> Job:
        """Write the record into the running job's folder and give it its final name."""
        record = {**record, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        (folder / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        final = self.root / folder.name.removeprefix(RUNNING)
        os.replace(folder, final)
        return Job(final, record)

    def history(self) -> list[Job]:
        """The finished jobs, newest first (their folder names start with the time they were started)."""
        jobs = []
        for folder in sorted(self.root.iterdir(), reverse=True):
            record = folder / RECORD
            if folder.name.startswith(".") or not record.is_file():
                continue
            try:
                jobs.append(Job(folder, json.loads(record.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue  # a record edited by hand into something else: not a job of ours any more
        return jobs

    def job(self, job_id: str) -> Job:
        for job in self.history():
            if job.id == job_id:
                return job
        raise MimicMotionError(f"no job {job_id!r} in {self.root}")


def _new_id() -> str:
    # sortable by time, unique without a lock (two sessions may start jobs in the same second)
    return time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
