"""Batch generation: the cases of a config file, shared among processes, resumable, reported.

`mimicmotion animate --config jobs.yaml` runs every case; under `accelerate launch` each process takes its
share of the cases (`PartialState.split_between_processes`), on its own GPU, loading the model once. A
case whose video exists beside a record of the same settings (`OUT.settings.json`, written once the video
is complete) is skipped, so a batch killed halfway resumes where it stopped; a case that fails is reported
and the others go on. The main process then writes `jobs-report.json` (case, status, seconds, output,
error) into the output folder and prints a summary. Videos are written atomically: a killed case leaves no
partial file.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mimicmotion.config import AnimateSettings
from mimicmotion.errors import MimicMotionError
from mimicmotion.video import atomic_output, remove_partial_outputs

log = logging.getLogger("mimicmotion")

REPORT_NAME = "jobs-report.json"
# Settings that do not change a case's video: a finished case is the same case whatever they say.
NOT_RECORDED = ("quiet", "resume")


@dataclasses.dataclass(frozen=True)
class JobResult:
    case: int  # 1-based, in the config file's order
    status: str  # "done", "skipped" (finished by an earlier run) or "failed"
    seconds: float
    output: str
    error: str | None = None


def settings_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}.settings.json")


def settings_record(s: AnimateSettings) -> dict[str, Any]:
    """What a finished case's video was made with, as JSON values."""
    record = {}
    for f in dataclasses.fields(s):
        if f.name in NOT_RECORDED:
            continue
        value = getattr(s, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, (int, float, bool, type(None))):
            value = str(value)
        record[f.name] = value
    return record


def finished(s: AnimateSettings) -> bool:
    """The case's video exists and was made with these settings."""
    record = settings_path(s.out)
    if not Path(s.out).is_file() or not record.is_file():
        return False
    try:
        return json.loads(record.read_text(encoding="utf-8")) == settings_record(s)
    except (OSError, ValueError):
        return False


def run_job(
    number: int, s: AnimateSettings, run: Callable[[AnimateSettings], Any], record: bool = True
) -> JobResult:
    """One case: skipped when finished, else `run(s)`, its failure caught and reported; once it is done,
    the record of its settings written beside the video (unless `record` is False: a process that helped
    sample the video but did not write it)."""
    if finished(s):
        log.info("case %d: %s is done already (same settings); skipped", number, s.out)
        return JobResult(number, "skipped", 0.0, str(s.out))
    if record:
        remove_partial_outputs(s.out)  # what an earlier, killed run of this case was writing
    start = time.perf_counter()
    try:
        run(s)
    except MimicMotionError as error:
        return _failed(number, s, start, str(error))
    except Exception as error:  # a bug or a device failure: reported with its place, the others go on
        log.debug("%s", traceback.format_exc())
        return _failed(number, s, start, f"{type(error).__name__}: {error}")
    if record:
        with atomic_output(settings_path(s.out)) as temp:
            temp.write_text(json.dumps(settings_record(s), indent=1) + "\n", encoding="utf-8")
    return JobResult(number, "done", time.perf_counter() - start, str(s.out))


def _failed(number: int, s: AnimateSettings, start: float, message: str) -> JobResult:
    log.warning("case %d (%s) failed: %s", number, s.out, message)
    return JobResult(number, "failed", time.perf_counter() - start, str(s.out), message)


def run_jobs(
    cases: list[AnimateSettings], run: Callable[[AnimateSettings], Any], report: Path
) -> list[JobResult]:
    """Every case, this process's share of them when several were launched; on the main process, the
    report of all of them written to `report`, and returned (other processes return their own)."""
    from accelerate.utils import gather_object

    from mimicmotion.parallel import process_state

    state = process_state()
    numbered = list(enumerate(cases, start=1))
    with state.split_between_processes(numbered) as mine:
        results = [run_job(number, case, run) for number, case in mine]
    if state.num_processes > 1:
        results = sorted(gather_object(results), key=lambda result: result.case)
    if state.is_main_process:
        write_report(report, results)
    return results


def write_report(path: Path, results: list[JobResult]) -> Path:
    document = {"cases": [dataclasses.asdict(result) for result in results]}
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


def summary(results: list[JobResult]) -> str:
    done, skipped, failed = (sum(r.status == kind for r in results) for kind in ("done", "skipped", "failed"))
    lines = [f"{len(results)} cases: {done} done, {skipped} skipped, {failed} failed"]
    lines += [f"  case {r.case} ({r.output}): {r.error}" for r in results if r.status == "failed"]
    return "\n".join(lines)
