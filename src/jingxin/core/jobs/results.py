"""Files a job produces (作业结果文件): kept under `$JINGXIN_HOME/job-results/<job id>/<name>`,
listed on the job's page `/jobs/{id}` and downloaded from there by the job's owner (and admins),
each download audited. `jobs.cleanup` removes them with the job.

A kind writes a result file through `ctx.result_path(name)`; it should write to a temporary name
and rename (as `evaluation.notice.write_zip` does), so a job run again after its process died
never leaves half a file to download.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from jingxin.core.jobs.uploads import UploadError, check_name
from jingxin.core.settings import Settings


def results_root(settings: Settings) -> Path:
    return (settings.home / "job-results").resolve()


def result_dir(settings: Settings, job_id: int) -> Path:
    return results_root(settings) / str(int(job_id))


def new_result_path(settings: Settings, job_id: int, file_name: str) -> Path:
    """Where a running job writes the result file `file_name` (its folder is created)."""
    folder = result_dir(settings, job_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / check_name(file_name)


def result_files(settings: Settings, job_id: int) -> list[tuple[str, int]]:
    """The finished result files of a job: (name, size in bytes), by name."""
    folder = result_dir(settings, job_id)
    if not folder.is_dir():
        return []
    return sorted(
        (p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file() and not p.name.endswith(".part")
    )


def result_file(settings: Settings, job_id: int, file_name: str) -> Path | None:
    """A finished result file of a job, or None (a name that would leave the folder included)."""
    try:
        name = check_name(file_name)
    except UploadError:
        return None
    if name.endswith(".part"):
        return None
    path = result_dir(settings, job_id) / name
    return path if path.is_file() else None


def remove_results(settings: Settings, job_id: int) -> None:
    shutil.rmtree(result_dir(settings, job_id), ignore_errors=True)
