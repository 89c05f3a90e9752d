"""Evidence files: checked by content (images and PDF only), size-limited, stored outside the web root under
random names with a SHA-256 checksum, read back only through the scoped Evidence row."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.cases.models import Case, CaseTransfer, Evidence
from app.cases.vocabulary import EvidenceKind
from app.core.errors import ServiceError

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 20
CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extension: str


def sniff(head: bytes) -> FileKind | None:
    """The file's real type from its first bytes; None for anything but the images and PDF we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return FileKind("image/jpeg", ".jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileKind("image/png", ".png")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind("image/webp", ".webp")
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return FileKind("image/heic", ".heic")
    if head.startswith(b"%PDF-"):
        return FileKind("application/pdf", ".pdf")
    return None


def clean_filename(name: str) -> str:
    """A display name without paths or control characters (the stored name is random anyway)."""
    name = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    name = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "", name).strip(" .")
    return name[:200] or "file"


def storage_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"]) / "evidence"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_of(evidence: Evidence) -> Path:
    return storage_dir() / evidence.stored_name


def store(
    session: Session, stream: BinaryIO, filename: str, kind: EvidenceKind, user_id: int, *,
    case: Case | None = None, transfer: CaseTransfer | None = None,
) -> Evidence:  # fmt: skip
    """Check and store one upload; raise ServiceError naming the file when it is refused."""
    shown = clean_filename(filename or "")
    head = stream.read(32)
    kind_of_file = sniff(head)
    if kind_of_file is None:
        raise ServiceError(_("文件“%(f)s”不是照片（JPEG、PNG、WebP、HEIC）或 PDF，已拒收。", f=shown), field="evidence")
    target = storage_dir()
    stored = secrets.token_hex(16) + kind_of_file.extension
    digest = hashlib.sha256(head)
    size = len(head)
    tmp = target / (stored + ".part")
    try:
        with tmp.open("xb") as out:
            out.write(head)
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise ServiceError(
                        _("文件“%(f)s”超过 %(mb)d MB，已拒收。", f=shown, mb=MAX_FILE_BYTES // 1024 // 1024),
                        field="evidence",
                    )
                digest.update(chunk)
                out.write(chunk)
        tmp.rename(target / stored)
    finally:
        tmp.unlink(missing_ok=True)
    owner = case if case is not None else transfer
    assert owner is not None
    row = Evidence(
        case_id=case.id if case else None, transfer_id=transfer.id if transfer else None,
        jurisdiction_id=owner.jurisdiction_id, kind=kind, filename=shown, stored_name=stored,
        content_type=kind_of_file.content_type, size=size, sha256=digest.hexdigest(), uploaded_by_id=user_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def discard_files(rows: list[Evidence]) -> None:
    """Remove stored files whose rows were rolled back (the database and the disk stay in step)."""
    for row in rows:
        (storage_dir() / row.stored_name).unlink(missing_ok=True)
