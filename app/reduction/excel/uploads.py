"""An uploaded workbook, kept outside the web root (UPLOAD_DIR/imports, a random name, its sha256 and owner
in a JSON file beside it) after the safety checks; its validated snapshot lies beside it (excel/snapshot.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from app.core.errors import NotFound, ServiceError
from app.core.names import clean_name
from app.reduction.excel import safety

TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
KEEP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Upload:
    token: str
    path: Path
    filename: str
    sha256: str
    kind: str
    size: int
    user_id: int
    year: int


def _dir(upload_dir: str | Path) -> Path:
    d = Path(upload_dir) / "imports"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def _clean(d: Path) -> None:
    limit = time.time() - KEEP_SECONDS
    for p in d.iterdir():
        try:
            if p.stat().st_mtime < limit:
                p.unlink()
        except OSError:
            pass


def store(stream: Any, filename: str, upload_dir: str | Path, user_id: int, year: int, limits: safety.Limits) -> Upload:
    """Copy an upload to a random name (stopping at the size limit), check it, remember its sha256."""
    d = _dir(upload_dir)
    _clean(d)
    token = secrets.token_urlsafe(24)
    ext = Path(filename or "").suffix.lower()
    tmp = d / f"{token}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with tmp.open("wb") as out:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > limits.max_bytes:
                    break
                digest.update(chunk)
                out.write(chunk)
        if size > limits.max_bytes:
            raise safety.ExcelRefused(
                _("文件大小超过了 %(limit)s MB 的上限。", limit=f"{limits.max_bytes / safety.MB:.1f}")
            )
        kind = safety.check(tmp, filename, limits)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    path = d / f"{token}{ext}"
    tmp.rename(path)
    upload = Upload(token, path, clean_name(filename), digest.hexdigest(), kind, size, user_id, year)
    meta = {
        "filename": upload.filename,
        "sha256": upload.sha256,
        "kind": kind,
        "size": size,
        "user_id": user_id,
        "year": year,
        "ext": ext,
    }
    (d / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return upload


def load_upload(upload_dir: str | Path, token: str, user_id: int) -> Upload:
    """The stored upload of this user; NotFound for an unknown token or another user's file."""
    if not TOKEN.match(token or ""):
        raise NotFound(_("找不到该导入文件，请重新上传。"))
    d = _dir(upload_dir)
    try:
        meta = json.loads((d / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound(_("找不到该导入文件（可能已过期），请重新上传。")) from None
    if meta.get("user_id") != user_id:
        raise NotFound(_("找不到该导入文件，请重新上传。"))
    path = d / f"{token}{meta['ext']}"
    if not path.exists():
        raise NotFound(_("找不到该导入文件（可能已过期），请重新上传。"))
    return Upload(token, path, meta["filename"], meta["sha256"], meta["kind"], meta["size"], user_id, meta["year"])


def verify(upload: Upload) -> None:
    digest = hashlib.sha256()
    with upload.path.open("rb") as f:
        while chunk := f.read(4 * 1024 * 1024):
            digest.update(chunk)
    if not hmac.compare_digest(digest.hexdigest(), upload.sha256):
        raise ServiceError(_("导入文件在预览后被改动，请重新上传。"))


def discard(upload: Upload) -> None:
    for p in (upload.path, snapshot_path(upload), upload.path.with_suffix(".json")):
        p.unlink(missing_ok=True)


def snapshot_path(upload: Upload) -> Path:
    return upload.path.with_suffix(".snapshot")
