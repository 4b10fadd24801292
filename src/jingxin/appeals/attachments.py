"""Attachments of appeals (诉求附件): checked, then stored safely by content hash.

The guards are the same kind as the data uploads' (`jingxin.web.limits`): a size limit per file
and per appeal, an allow-list of kinds, and the file's first bytes must match its extension
(a renamed executable is refused). The stored name is the SHA-256 of the content, never the
user's file name, so a name cannot reach outside the folder; the original name is kept in the
database only for display (cleaned of paths and control characters).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jingxin.appeals.config import Attachments

# The first bytes each allowed kind starts with (docx and xlsx are zip containers).
MAGIC: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
}
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class AttachmentError(ValueError):
    """A file that is refused; the message says which file, why, and what is allowed."""


@dataclass(frozen=True)
class Checked:
    filename: str
    kind: str
    content: bytes
    sha256: str


def clean_name(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:200] or "附件"


def check(files: list[tuple[str, bytes]], limits: Attachments) -> list[Checked]:
    """Check every file before any is stored (all or nothing)."""
    if len(files) > limits.max_files:
        raise AttachmentError(f"附件最多{limits.max_files}个（本次{len(files)}个）")
    out = []
    for raw_name, content in files:
        name = clean_name(raw_name)
        kind = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        if kind not in limits.kinds:
            raise AttachmentError(f"附件“{name}”的类型不允许；允许：{'、'.join(limits.kinds)}")
        if len(content) > limits.max_file_bytes:
            raise AttachmentError(
                f"附件“{name}”为{len(content) / 1048576:.1f} MB，超过每个{limits.max_file_mb:g} MB的上限"
            )
        if not content:
            raise AttachmentError(f"附件“{name}”是空文件")
        if not content.startswith(MAGIC.get(kind, (b"",))):
            raise AttachmentError(f"附件“{name}”的内容与扩展名 .{kind} 不符，请上传真实的{kind}文件")
        out.append(Checked(name, kind, content, hashlib.sha256(content).hexdigest()))
    return out


def path_for(store: Path, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise AttachmentError("附件编号无效")
    return store / sha256[:2] / sha256


def save(store: Path, checked: Checked) -> Path:
    """Write the file under its hash (atomically; an existing copy is kept)."""
    target = path_for(store, checked.sha256)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(checked.content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
