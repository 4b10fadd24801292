"""Files uploaded for a job (作业附件): kept under `$JINGXIN_HOME/job-uploads/<id>/<name>` until
the job that reads them has succeeded, so a job run again after its process died reads the
same bytes.

An upload is named by a random 128-bit id that only its uploader is told; a job's parameters
name the upload and the file, and `upload_path` refuses anything that would leave the folder.
"""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import IO

from jingxin.core.settings import Settings

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class UploadError(ValueError):
    """A refused upload; the message is Chinese."""


def uploads_root(settings: Settings) -> Path:
    return (settings.home / "job-uploads").resolve()


def check_name(file_name: str) -> str:
    """`file_name` itself, when it is a plain file name (no folder, no way out of one)."""
    if (
        not file_name
        or "/" in file_name
        or "\\" in file_name
        or file_name in (".", "..")
        or "\x00" in file_name
    ):
        raise UploadError(f"文件名 {file_name!r} 不可用")
    return file_name


def save_upload(
    settings: Settings, stream: IO[bytes], file_name: str, limit: int = MAX_UPLOAD_BYTES
) -> tuple[str, int]:
    """Copy `stream` into a new upload folder; returns (upload id, size in bytes)."""
    check_name(file_name)
    upload = secrets.token_hex(16)
    folder = uploads_root(settings) / upload
    folder.mkdir(parents=True, mode=0o700)
    size = 0
    try:
        with (folder / file_name).open("wb") as out:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise UploadError(f"文件超过 {limit // (1024 * 1024)} MB，请拆分后分批提交。")
                out.write(chunk)
        if size == 0:
            raise UploadError("上传的文件是空文件。")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return upload, size


def upload_path(settings: Settings, upload: str, file_name: str) -> Path:
    if not UPLOAD_ID.match(upload or ""):
        raise UploadError("附件编号不正确")
    path = uploads_root(settings) / upload / check_name(file_name)
    if not path.is_file():
        raise UploadError(f"附件 {file_name} 已不存在（作业完成后附件即删除），请重新上传")
    return path


def remove_upload(settings: Settings, upload: str) -> None:
    if UPLOAD_ID.match(upload or ""):
        shutil.rmtree(uploads_root(settings) / upload, ignore_errors=True)
