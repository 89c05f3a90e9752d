"""Checks on an uploaded workbook before anything is parsed in full.

In order: size; extension; type by content (an .xlsx is a zip holding [Content_Types].xml and
xl/workbook.xml, an .xls is an OLE2 compound file) and that the two agree; for .xlsx the zip's own
metadata (entry count, declared uncompressed total, per-entry compression ratio, encryption) without
inflating anything; then the prolog of every XML part, read as a stream up to its root element, must hold
no <!DOCTYPE or <!ENTITY (entity-expansion bombs). Each refusal is an `ExcelRefused` with a Chinese message.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from app.core.errors import ServiceError

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXTENSIONS = {".xlsx": "xlsx", ".xls": "xls"}
XML_SUFFIXES = (".xml", ".rels", ".vml")
_ROOT_START = re.compile(rb"<[A-Za-z_:]")
_NOT_MARKUP = re.compile(rb"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[.*?\]\]>", re.S)  # comments, PIs, CDATA
_BAD_DECLARATIONS = (b"<!doctype", b"<!entity")
MB = 1024 * 1024


class ExcelRefused(ServiceError):
    """The file is refused before it is read; nothing has changed."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 60 * MB  # the file as uploaded (a 100,000-enterprise list is ~35 MB)
    max_entries: int = 2_000  # parts in the zip
    max_uncompressed: int = 1024 * MB  # sum of the parts' declared sizes
    max_ratio: float = 200.0  # declared size / compressed size of one part …
    ratio_floor: int = 1 * MB  # … checked for parts declaring more than this
    prolog_bytes: int = 64 * 1024  # how far into a part its root element must start

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        return cls(
            max_bytes=int(config.get("IMPORT_MAX_BYTES", cls.max_bytes)),
            max_entries=int(config.get("IMPORT_MAX_ZIP_ENTRIES", cls.max_entries)),
            max_uncompressed=int(config.get("IMPORT_MAX_UNCOMPRESSED", cls.max_uncompressed)),
            max_ratio=float(config.get("IMPORT_MAX_RATIO", cls.max_ratio)),
        )


def _mb(n: float) -> str:
    return f"{n / MB:.1f}"


def check(path: Path, filename: str, limits: Limits | None = None) -> str:
    """'xlsx' or 'xls' for an acceptable file; ExcelRefused otherwise."""
    limits = limits or Limits()
    size = path.stat().st_size
    if size == 0:
        raise ExcelRefused(_("文件为空，请选择填写好的 Excel 文件。"))
    if size > limits.max_bytes:
        raise ExcelRefused(
            _(
                "文件大小为 %(size)s MB，超过了 %(limit)s MB 的上限。",
                size=_mb(size),
                limit=_mb(limits.max_bytes),
            )
        )
    ext = Path(filename or "").suffix.lower()
    if ext not in EXTENSIONS:
        raise ExcelRefused(_("只接受 .xlsx 或 .xls 格式的 Excel 文件。"))
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(ZIP_MAGIC):
        found = "xlsx"
    elif head == OLE2_MAGIC:
        found = "xls"
    else:
        raise ExcelRefused(
            _("文件内容不是 Excel 工作簿（可能是其他类型的文件改了扩展名），请另存为 .xlsx 后重新上传。")
        )
    if found != EXTENSIONS[ext]:
        raise ExcelRefused(
            _(
                "文件扩展名为 %(ext)s，但内容是 .%(found)s 格式，请按实际格式命名后重新上传。",
                ext=ext,
                found=found,
            )
        )
    if found == "xlsx":
        _check_xlsx(path, limits)
    return found


def _check_xlsx(path: Path, limits: Limits) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ExcelRefused(_("文件已损坏，无法作为 .xlsx 工作簿打开。")) from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise ExcelRefused(_("文件包含 %(n)d 个部件，超过上限，疑似压缩炸弹，已拒绝。", n=len(entries)))
        names = {e.filename for e in entries}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise ExcelRefused(_("文件是压缩包但不是 Excel 工作簿（缺少工作簿结构），已拒绝。"))
        total = 0
        for e in entries:
            if e.flag_bits & 0x1:
                raise ExcelRefused(_("文件已加密，请取消密码保护后重新上传。"))
            total += e.file_size
            if e.file_size > limits.ratio_floor and (
                e.compress_size == 0 or e.file_size / e.compress_size > limits.max_ratio
            ):
                raise ExcelRefused(_("文件中的部件压缩比异常，疑似压缩炸弹，已拒绝。"))
        if total > limits.max_uncompressed:
            raise ExcelRefused(
                _(
                    "文件解压后将达 %(size)s MB，超过 %(limit)s MB 的上限，疑似压缩炸弹，已拒绝。",
                    size=_mb(total),
                    limit=_mb(limits.max_uncompressed),
                )
            )
        for e in entries:
            if e.filename.lower().endswith(XML_SUFFIXES):
                _check_prolog(archive, e, limits)


def _check_prolog(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, limits: Limits) -> None:
    """Read the part as a stream until its root element starts; refuse a DTD or entity declaration."""
    buf = b""
    try:
        with archive.open(entry) as stream:
            while len(buf) < limits.prolog_bytes:
                chunk = stream.read(8192)
                if not chunk:
                    break
                buf += chunk
                text = _as_utf8(buf)
                lowered = text.lower()
                if any(bad in lowered for bad in _BAD_DECLARATIONS):
                    raise ExcelRefused(
                        _(
                            "文件中的 XML 部件（%(part)s）含有 DOCTYPE 或实体声明，疑似 XML 实体炸弹，已拒绝。",
                            part=entry.filename,
                        )
                    )
                if _ROOT_START.search(_NOT_MARKUP.sub(b"", text)):
                    return
    except ExcelRefused:
        raise
    # zipfile raises NotImplementedError for a compression method it does not support: a refused file too
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
        raise ExcelRefused(_("文件已损坏，无法读取其中的部件（%(part)s）。", part=entry.filename)) from None
    if buf.strip() and len(buf) >= limits.prolog_bytes:
        raise ExcelRefused(_("文件中的 XML 部件（%(part)s）开头异常，已拒绝。", part=entry.filename))


def _as_utf8(buf: bytes) -> bytes:
    """XML parts may be UTF-16 (with a byte-order mark): look at them as UTF-8 for the markup checks."""
    if buf.startswith((b"\xff\xfe", b"\xfe\xff")):
        return buf.decode("utf-16", errors="ignore").encode("utf-8", errors="ignore")
    return buf
