"""Photos of checks and reports, stored as the cases' evidence is: the same content sniffing, size and pixel
limits and file names (app/cases/services/evidence.py, app/core/images.py), under UPLOAD_DIR/response."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.cases.services.evidence import MAX_FILES, save_upload
from app.core.errors import ServiceError
from app.response.models import ResponseMeasure, ResponsePhoto, ResponseReport


def storage_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"]) / "response"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_of(photo: ResponsePhoto) -> Path:
    return storage_dir() / photo.stored_name


def store(session: Session, stream: BinaryIO, filename: str, user_id: int, *,
          measure: ResponseMeasure | None = None, report: ResponseReport | None = None) -> ResponsePhoto:  # fmt: skip
    """Check and store one upload; a refusal names the file and writes nothing."""
    saved = save_upload(stream, filename, storage_dir(), "photos")
    owner: Any = measure if measure is not None else report
    row = ResponsePhoto(
        measure_id=measure.id if measure else None, report_id=report.id if report else None,
        jurisdiction_id=owner.jurisdiction_id, filename=saved.shown, stored_name=saved.stored,
        content_type=saved.kind.content_type, size=saved.size, sha256=saved.sha256, uploaded_by_id=user_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def uploads(files: Sequence[Any]) -> list[Any]:
    """The files of a form or request that carry something, at most MAX_FILES."""
    found = [f for f in files if getattr(f, "filename", "")]
    if len(found) > MAX_FILES:
        raise ServiceError(_("一次最多上传 %(n)d 个文件。", n=MAX_FILES), field="photos")
    return found


def store_all(session: Session, files: Sequence[Any], user_id: int, **owner: Any) -> list[ResponsePhoto]:
    """All the uploads or, on a refusal, none (the stored files are removed again)."""
    stored: list[ResponsePhoto] = []
    try:
        for f in files:
            stored.append(store(session, f.stream, f.filename, user_id, **owner))
    except ServiceError:
        discard(stored)
        raise
    return stored


def discard(rows: Sequence[ResponsePhoto]) -> None:
    for row in rows:
        (storage_dir() / row.stored_name).unlink(missing_ok=True)
