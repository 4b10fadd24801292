"""What other scenarios use of the jobs scenario: hand a big upload to a background job.

The data page keeps its synchronous path for ordinary files and calls `ingest_upload_as_job`
for files over `BIG_UPLOAD_BYTES`, so a liaison's browser does not wait minutes for a
response; the page then shows the job's progress.
"""

from __future__ import annotations

from typing import IO, Any

from sqlalchemy.orm import Session

from jingxin.core import audit
from jingxin.core.jobs import service as jobs
from jingxin.core.jobs.models import Job
from jingxin.core.jobs.uploads import save_upload

BIG_UPLOAD_BYTES = 20 * 1024 * 1024


def ingest_upload_as_job(
    app_state: Any, db: Session, user: Any, actor: audit.Actor, source: str, stream: IO[bytes], file_name: str
) -> Job:
    """Keep the uploaded file and start an `ingest` job for it in the user's name and scope.
    Raises `JobRefused` (source outside the scope, unknown) or `UploadError` (empty, too big)."""
    upload, _ = save_upload(app_state.settings, stream, file_name)
    job, _ = jobs.submit(
        db,
        "ingest",
        {"files": [{"source": source, "upload": upload, "file_name": file_name}]},
        owner_name=user.username,
        owner_id=user.id,
        role=user.role_enum,
        scope=user.scope,
    )
    audit.record(
        db, actor, audit.Action.UPLOAD, "job", job.id, {"files": [f"{source}:{file_name}"]}, commit=True
    )
    app_state.jobs.enqueue(job.id)
    return job
