"""Evidence files: checked by content (images and PDF only), size-limited, stored outside the web root under
random names with a SHA-256 checksum, read back only through the scoped Evidence row."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from app.cases.models import Case, CaseTransfer, Evidence
from app.cases.vocabulary import EvidenceKind
from app.core.errors import ServiceError
from app.core.images import MAX_PIXELS, ImageRefused, make_print_copy, pixel_size
from app.core.names import clean_name, with_extension

MAX_FILE_BYTES = 10 * 1024 * 1024
PRINTED = ("image/jpeg", "image/png")  # the evidence photos a transfer form prints (as print copies)
MAX_FILES = 20
CHUNK = 64 * 1024


@dataclass(frozen=True)
class FileKind:
    content_type: str
    extension: str
    also: tuple[str, ...] = ()  # other extensions a file of this type is usually named with


KINDS = {
    k.content_type: k
    for k in (
        FileKind("image/jpeg", ".jpg", (".jpeg", ".jpe", ".jfif")), FileKind("image/png", ".png"),
        FileKind("image/webp", ".webp"), FileKind("image/heic", ".heic", (".heif",)),
        FileKind("application/pdf", ".pdf"),
    )
}  # fmt: skip


def sniff(head: bytes) -> FileKind | None:
    """The file's real type from its first bytes; None for anything but the images and PDF we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return KINDS["image/jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return KINDS["image/png"]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return KINDS["image/webp"]
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return KINDS["image/heic"]
    if head.startswith(b"%PDF-"):
        return KINDS["application/pdf"]
    return None


def shown_name(filename: str | None, kind: FileKind) -> str:
    """The name an upload is stored, shown and sent under: the uploader's, cleaned (app.core.names), with the
    extension of the type its bytes are (`jpeg_as.html` of a JPEG is `jpeg_as.jpg`)."""
    return with_extension(clean_name(filename), kind.extension, also=kind.also)


def download_name(evidence: Evidence) -> str:
    """The name a download is sent under (Content-Disposition): cleaned again and with the sniffed type's
    extension, for rows stored before names were cleaned too."""
    kind = KINDS.get(evidence.content_type)
    name = clean_name(evidence.filename)
    return shown_name(name, kind) if kind is not None else name


def storage_dir() -> Path:
    path = Path(current_app.config["UPLOAD_DIR"]) / "evidence"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_of(evidence: Evidence) -> Path:
    return storage_dir() / evidence.stored_name


def print_path_of(stored_name: str) -> Path:
    """Where the print copy of a stored file lives (made at upload; app.core.images.make_print_copy)."""
    return storage_dir() / "print" / (Path(stored_name).stem + ".jpg")


def print_copy(evidence: Evidence) -> Path | None:
    """The copy of an evidence photo a form prints (at most PRINT_MAX_SIDE px), made now for a photo stored
    before print copies were; None when there is none to print (not a JPEG or PNG, missing, unreadable, or
    past MAX_PIXELS). The original is never printed."""
    if evidence.content_type not in PRINTED:
        return None
    copy = print_path_of(evidence.stored_name)
    if copy.exists():
        return copy
    original = path_of(evidence)
    if original.exists() and make_print_copy(original, copy):
        return copy
    return None


def check_pixels(path: Path, kind: FileKind, shown: str, field: str = "evidence") -> None:
    """Refuse an image whose header declares more than MAX_PIXELS, or none that can be read; only the header
    is read, never the pixels."""
    try:
        pixel_size(path, kind.content_type)
    except ImageRefused as exc:
        if exc.too_big:
            w, h = exc.size or (0, 0)
            size = _("为 %(w)d×%(h)d 像素，", w=w, h=h) if exc.size else ""
            raise ServiceError(
                _("照片“%(f)s”%(size)s超过 %(mp)d 百万像素的上限，已拒收。请缩小后再上传。",
                  f=shown, size=size, mp=MAX_PIXELS // 1_000_000),
                field=field,
            ) from None  # fmt: skip
        raise ServiceError(_("照片“%(f)s”已损坏或无法识别，已拒收。", f=shown), field=field) from None


@dataclass(frozen=True)
class SavedFile:
    """An upload checked and written under its random stored name."""

    shown: str  # the cleaned name with the extension of what the bytes are
    stored: str
    kind: FileKind
    size: int
    sha256: str


def save_upload(stream: BinaryIO, filename: str, target: Path, field: str) -> SavedFile:
    """Check one upload (its kind sniffed from the bytes, its size, an image's pixels) while writing it under
    `target`; a refusal names the file and the form field, and leaves no file behind. Cases' evidence and the
    response's photos are both stored by it."""
    shown = clean_name(filename)
    head = stream.read(32)
    kind = sniff(head)
    if kind is None:
        raise ServiceError(_("文件“%(f)s”不是照片（JPEG、PNG、WebP、HEIC）或 PDF，已拒收。", f=shown), field=field)
    shown = shown_name(shown, kind)
    stored = secrets.token_hex(16) + kind.extension
    digest, size = hashlib.sha256(head), len(head)
    tmp = target / (stored + ".part")
    try:
        with tmp.open("xb") as out:
            out.write(head)
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise ServiceError(
                        _("文件“%(f)s”超过 %(mb)d MB，已拒收。", f=shown, mb=MAX_FILE_BYTES // 1024 // 1024),
                        field=field,
                    )
                digest.update(chunk)
                out.write(chunk)
        if kind.content_type.startswith("image/"):
            check_pixels(tmp, kind, shown, field)
        tmp.rename(target / stored)
    finally:
        tmp.unlink(missing_ok=True)
    return SavedFile(shown, stored, kind, size, digest.hexdigest())


def store(
    session: Session, stream: BinaryIO, filename: str, kind: EvidenceKind, user_id: int, *,
    case: Case | None = None, transfer: CaseTransfer | None = None,
) -> Evidence:  # fmt: skip
    """Check and store one upload; raise ServiceError naming the file when it is refused."""
    target = storage_dir()
    saved = save_upload(stream, filename, target, "evidence")
    if saved.kind.content_type in PRINTED:
        # a failure only leaves the photo off the form
        make_print_copy(target / saved.stored, print_path_of(saved.stored))
    owner = case if case is not None else transfer
    assert owner is not None
    row = Evidence(
        case_id=case.id if case else None, transfer_id=transfer.id if transfer else None,
        jurisdiction_id=owner.jurisdiction_id, kind=kind, filename=saved.shown, stored_name=saved.stored,
        content_type=saved.kind.content_type, size=saved.size, sha256=saved.sha256, uploaded_by_id=user_id,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def discard_files(rows: list[Evidence]) -> None:
    """Remove stored files whose rows were rolled back (the database and the disk stay in step)."""
    for row in rows:
        (storage_dir() / row.stored_name).unlink(missing_ok=True)
        print_path_of(row.stored_name).unlink(missing_ok=True)
