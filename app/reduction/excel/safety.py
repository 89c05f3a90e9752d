"""Checks on an uploaded workbook before anything is parsed in full.

In order: size; extension; type by content (an .xlsx is a zip holding [Content_Types].xml and
xl/workbook.xml, an .xls is an OLE2 compound file) and that the two agree; for .xlsx the zip's own
metadata (entry count, declared uncompressed total, per-entry compression ratio, encryption) without
inflating anything; then the start of every part, whatever its name, decoded in every encoding a reader could
take it in, must hold no <!DOCTYPE or <!ENTITY (entity-expansion bombs); then how far every sheet reaches
(rows, columns, the rectangle from A1 to the farthest cell, per sheet and per workbook, the number of sheets and
of shared strings; limits in template.py), streamed over every XML part for .xlsx and over the BIFF records of
the workbook stream for .xls. Each refusal is an `ExcelRefused` with a Chinese message naming the sheet or part.

`checked()` is the one entry point (`check()` returns its kind); `reader.read` opens only what it returned for
the file as it is now, so every read of a stored upload goes through the same checks.
"""

from __future__ import annotations

import codecs
import contextlib
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from xml.parsers import expat

from flask_babel import gettext as _

from app.core.errors import ServiceError
from app.reduction.excel import template as t

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
EXTENSIONS = {".xlsx": "xlsx", ".xls": "xls"}
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
    # how far a sheet may reach (template.py): rows, columns, the rectangle from A1 to the farthest cell
    max_rows: int = t.MAX_ROWS
    max_columns: int = t.MAX_COLUMNS
    max_sheet_cells: int = t.MAX_SHEET_CELLS
    max_book_cells: int = t.MAX_BOOK_CELLS
    max_sheets: int = t.MAX_SHEETS
    max_strings: int = t.MAX_SHARED_STRINGS

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        return cls(
            max_bytes=int(config.get("IMPORT_MAX_BYTES", cls.max_bytes)),
            max_entries=int(config.get("IMPORT_MAX_ZIP_ENTRIES", cls.max_entries)),
            max_uncompressed=int(config.get("IMPORT_MAX_UNCOMPRESSED", cls.max_uncompressed)),
            max_ratio=float(config.get("IMPORT_MAX_RATIO", cls.max_ratio)),
            max_rows=int(config.get("IMPORT_MAX_ROWS", cls.max_rows)),
            max_columns=int(config.get("IMPORT_MAX_COLUMNS", cls.max_columns)),
            max_sheet_cells=int(config.get("IMPORT_MAX_SHEET_CELLS", cls.max_sheet_cells)),
            max_book_cells=int(config.get("IMPORT_MAX_BOOK_CELLS", cls.max_book_cells)),
        )


def _mb(n: float) -> str:
    return f"{n / MB:.1f}"


@dataclass(frozen=True)
class Checked:
    """A file that passed `checked()`: what the reader opens (it checks again if the file changed since)."""

    path: Path
    kind: str  # xlsx or xls
    stamp: tuple[int, int, int]

    @property
    def current(self) -> bool:
        return _stamp(self.path) == self.stamp


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def check(path: Path, filename: str, limits: Limits | None = None) -> str:
    """'xlsx' or 'xls' for an acceptable file; ExcelRefused otherwise."""
    return checked(path, filename, limits).kind


def checked(path: Path, filename: str, limits: Limits | None = None) -> Checked:
    """Every check, in order (see the module's docstring); the one way to a `Checked` file."""
    limits = limits or Limits()
    stamp = _stamp(path)
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
    else:
        _check_xls(path, limits)
    return Checked(path, found, stamp)


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
        xml_parts = []
        for e in entries:  # every part, whatever its name
            encoding, root = _check_prolog(archive, e, limits)
            if root is not None:
                xml_parts.append((e, encoding, root))
        _check_extent(archive, xml_parts, limits)


# --- DOCTYPE / ENTITY: every part, whatever its name or encoding ------------------------------------------

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_DECLARED = re.compile(r"""<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
_BAD_TEXT = re.compile(r"<!\s*(?:doctype|entity)", re.I)
_ROOT_TEXT = re.compile(r"<[^\W\d]|<_|<:")
_NOT_MARKUP_TEXT = re.compile(r"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[.*?\]\]>", re.S)


def _by_nulls(head: bytes) -> str | None:
    """UTF-16/32 without a byte-order mark, from where the zero bytes of an ASCII prolog fall."""
    n = len(head) - len(head) % 4
    if n < 4:
        return None
    zero = [all(b == 0 for b in head[k:n:4]) for k in range(4)]
    if zero[0] and zero[1] and zero[2] and not zero[3]:
        return "utf-32-be"
    if zero[1] and zero[2] and zero[3] and not zero[0]:
        return "utf-32-le"
    if zero[0] and zero[2] and not (zero[1] and zero[3]):
        return "utf-16-be"
    if zero[1] and zero[3] and not (zero[0] and zero[2]):
        return "utf-16-le"
    return None


def encoding_of(head: bytes) -> str:
    """The encoding an XML parser would read a part in: its byte-order mark, else the pattern of zero bytes of
    a UTF-16/32 prolog, else the encoding its declaration names, else UTF-8. ExcelRefused for a declared
    encoding that does not exist."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if found := _by_nulls(head[:256]):
        return found
    declared = _DECLARED.match(head[:512].decode("latin-1").lstrip())
    if declared:
        try:
            return codecs.lookup(declared.group(1)).name
        except LookupError:
            raise ExcelRefused(
                _("文件中的 XML 部件声明了无法识别的编码（%(encoding)s），已拒绝。", encoding=declared.group(1))
            ) from None
    return "utf-8"


def _readings(head: bytes, primary: str) -> Iterator[str]:
    """The part's beginning as every reader might see it: in its own encoding first, then in each other
    encoding it could be taken for (so no choice of encoding hides a declaration)."""
    yield _decode(head, primary)
    candidates = ["utf-8"]
    if b"\x00" in head:
        candidates += ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
    if (declared := _DECLARED.search(head[:512].decode("latin-1"))) is not None:
        with contextlib.suppress(LookupError):
            candidates.append(codecs.lookup(declared.group(1)).name)
    for name in candidates:
        if name != primary:
            yield _decode(head, name)


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding, errors="ignore")
    except LookupError:  # pragma: no cover - encodings come from codecs.lookup or the fixed list
        return data.decode("latin-1")


def _check_prolog(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, limits: Limits) -> tuple[str, str | None]:
    """Read the start of a part, whatever its name; refuse a DTD or entity declaration in any encoding it
    could be read in. The part's encoding and, for an XML part, the name of its root element."""
    try:
        with archive.open(entry) as stream:
            head = stream.read(limits.prolog_bytes)
    # zipfile raises NotImplementedError for a compression method it does not support: a refused file too
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
        raise ExcelRefused(_("文件已损坏，无法读取其中的部件（%(part)s）。", part=entry.filename)) from None
    encoding = encoding_of(head)
    for text in _readings(head, encoding):
        if _BAD_TEXT.search(text):  # before the root or not, in a comment or not: no part needs one
            raise ExcelRefused(
                _(
                    "文件中的 XML 部件（%(part)s）含有 DOCTYPE 或实体声明，疑似 XML 实体炸弹，已拒绝。",
                    part=entry.filename,
                )
            )
    text = _decode(head, encoding).lstrip("\ufeff \t\r\n")
    if not text.startswith("<"):
        return encoding, None  # not XML (a picture, a binary part): no reader takes it for markup
    rest = _NOT_MARKUP_TEXT.sub("", text)
    root = _ROOT_TEXT.search(rest)
    if root is None:
        if len(head) >= limits.prolog_bytes:
            raise ExcelRefused(_("文件中的 XML 部件（%(part)s）开头异常，已拒绝。", part=entry.filename))
        return encoding, None
    name = re.match(r"[^\s/>]*", rest[root.start() + 1 :])
    return encoding, (name.group(0).rsplit(":", 1)[-1] if name else None)


# --- how far each sheet reaches, before anything is read in full --------------------------------------------
#
# calamine holds a sheet as the rectangle from its first to its farthest cell (and `to_python` pads it from
# A1), so one cell at XFD1048576 costs 17 billion cells. Every XML part of the zip is streamed once (whatever
# the relationships say is a sheet, so no part escapes by being wired differently) and the farthest row and
# column any `<row>`/`<c>` names are bounded, together with `<dimension>`, `<mergeCell>` and `spans`.
#
# The fast path works on windows of the part cut after a `>` (so no tag is split) with regular expressions
# that match only what needs a closer look: a cell reference beyond the rows seen so far or beyond the sheet's
# template width, a `spans` beyond the column limit. A `<c>`/`<row>` written any other way than `<c r="…"` /
# `<row r="…"` (no `r`, another attribute first, a namespace prefix, other quotes or spacing) sends the part to
# the exact path: a streaming expat parser that follows the rules of the format (a cell without `r` is the next
# column, a row without `r` the next row).

_WINDOW = 1024 * 1024
_MAX_TAG = 16 * 1024 * 1024  # no `>` for this long: not a worksheet anyone wrote
_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")
_ODD_CELL = re.compile(rb'<c(?! r=")[\s/>]')  # three expressions with a literal start: far faster than one
_ODD_ROW = re.compile(rb'<row(?! r=")[\s/>]')
_PREFIXED = re.compile(rb":(?:c|row)[\s/>]")
_ROW_R = re.compile(rb'<row r="([0-9]{1,9})"')
_DIMENSION = re.compile(rb"<(?:[\w.-]+:)?dimension\b[^>]*>")
_MERGE = re.compile(rb"<(?:[\w.-]+:)?mergeCell\b[^>]*>")
_REF_ATTR = re.compile(rb"""\bref\s*=\s*["']([^"']*)["']""")
_SST_ITEM = re.compile(rb"<(?:[\w.-]+:)?si[\s/>]")
_SST_COUNT = re.compile(rb"""<(?:[\w.-]+:)?sst\b[^>]*>""")
_COUNT_ATTR = re.compile(rb"""\b(?:count|uniqueCount)\s*=\s*["']([^"']*)["']""")
_SHEET_WIDTH = {
    t.MAIN_SHEET: len(t.MAIN_COLUMNS),
    t.FACILITY_SHEET: len(t.FACILITY_COLUMNS),
    t.METER_SHEET: len(t.METER_COLUMNS),
}


def _up_to(n: int) -> str:
    """A regular expression for the decimal numbers 1…n (no leading zeros)."""
    s = str(n)
    k = len(s)
    alts = [f"[1-9][0-9]{{0,{k - 2}}}"] if k > 1 else []
    for i, ch in enumerate(s):
        d, low = int(ch), 1 if i == 0 else 0
        if d > low:
            alts.append(s[:i] + f"[{low}-{d - 1}]" + (f"[0-9]{{{k - i - 1}}}" if k - i - 1 else ""))
    alts.append(s)
    return "(?:" + "|".join(alts) + ")"


def _letters_up_to(n: int) -> str:
    """A regular expression for the column letters A…(the n-th column)."""
    last = t.column_letter(n - 1)
    if len(last) == 1:
        return f"[A-{last}]"
    first, second = last
    alts = ["[A-Z]"]
    if first > "A":
        alts.append(f"[A-{chr(ord(first) - 1)}][A-Z]")
    alts.append(f"{first}[A-{second}]")
    return "(?:" + "|".join(alts) + ")"


@cache
def _beyond(rows: int, width: int) -> re.Pattern[bytes]:
    """`r="…"` whose value is not a row number ≤ rows or a cell reference within `width` columns and `rows`."""
    return re.compile(rf'r="(?!(?:{_letters_up_to(width)})?{_up_to(rows)}")'.encode())


@cache
def _wide_spans(width: int) -> re.Pattern[bytes]:
    return re.compile(rf'spans="(?![0-9]{{1,7}}:{_up_to(width)}")'.encode())


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


@dataclass
class _Extent:
    """What one part reaches: the farthest row and column, as far as calamine would lay the cells out."""

    sheet: str  # the sheet's name (or the part's, for a part no sheet names)
    width: int  # the template's columns for this sheet: the fast path looks closer only beyond them
    limits: Limits
    rows: int = 0
    columns: int = 0
    cells: bool = False  # any cell reference at all

    def row(self, n: int) -> None:
        if n > self.limits.max_rows:
            raise ExcelRefused(
                _(
                    "工作表“%(sheet)s”的内容延伸到第 %(row)s 行，超过上限 %(limit)s 行，已拒绝。"
                    "请删除多余的行后重新上传。",
                    sheet=self.sheet,
                    row=f"{n:,}",
                    limit=f"{self.limits.max_rows:,}",
                )
            )
        self.rows = max(self.rows, n)

    def column(self, n: int) -> None:
        if n > self.limits.max_columns:
            raise ExcelRefused(
                _(
                    "工作表“%(sheet)s”的内容延伸到第 %(column)s 列（%(letter)s 列），超过上限 %(limit)d 列"
                    "（到 %(last)s 列），已拒绝。请删除多余的列后重新上传。",
                    sheet=self.sheet,
                    column=f"{n:,}",
                    letter=t.column_letter(n - 1),
                    limit=self.limits.max_columns,
                    last=t.column_letter(self.limits.max_columns - 1),
                )
            )
        self.columns = max(self.columns, n)

    def ref(self, value: str, what: str = "") -> tuple[int, int]:
        """A cell reference (A1) or a bare row number; ExcelRefused beyond the limits or malformed."""
        m = _REF.fullmatch(value)
        if m is None and value.isascii() and value.isdigit() and len(value) <= 9:
            n = int(value)
            if n == 0:
                self.bad(value, what)
            self.row(n)
            return 0, n
        if m is None or int(m.group(2)) == 0:
            self.bad(value, what)
        col, row = _column_number(m.group(1)), int(m.group(2))
        self.row(row)
        self.column(col)
        self.cells = True
        return col, row

    def area(self, value: str, what: str) -> None:
        """A range `A1:B2` (a merged cell, the declared dimension): both corners within the limits."""
        for corner in value.split(":", 1):
            if corner:
                self.ref(corner.replace("$", ""), what)

    def bad(self, value: str, what: str) -> None:
        raise ExcelRefused(
            _(
                "工作表“%(sheet)s”中的%(what)s“%(value)s”无效，已拒绝。",
                sheet=self.sheet,
                what=what or _("单元格引用"),
                value=value[:40],
            )
        )

    @property
    def size(self) -> int:
        """Cells of the rectangle from A1 to the farthest cell (columns the fast path did not look at count
        as the full template width)."""
        if not self.cells:
            return 0
        return self.rows * self.columns


def _utf8_stream(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, encoding: str) -> Iterator[bytes]:
    """The part in UTF-8, as it is inflated (a part in another encoding is decoded and re-encoded)."""
    utf8 = codecs.lookup(encoding).name in ("utf-8", "ascii")
    decoder = None if utf8 else codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(_WINDOW):
                yield chunk if decoder is None else decoder.decode(chunk).encode("utf-8")
            if decoder is not None:
                yield decoder.decode(b"", final=True).encode("utf-8")
    except UnicodeDecodeError:
        raise ExcelRefused(_("文件中的 XML 部件（%(part)s）编码错误，已拒绝。", part=entry.filename)) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError):
        raise ExcelRefused(_("文件已损坏，无法读取其中的部件（%(part)s）。", part=entry.filename)) from None


def _windows(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The stream cut just after a `>`: no tag spans two windows."""
    carry = b""
    for chunk in chunks:
        buf = carry + chunk
        cut = buf.rfind(b">") + 1
        if cut == 0:
            if len(buf) > _MAX_TAG:
                raise ExcelRefused(_("文件中的 XML 部件结构异常，已拒绝。"))
            carry = buf
            continue
        carry = buf[cut:]
        yield buf[:cut]
    if carry:
        yield carry


def _in_tag(window: bytes, at: int) -> bool:
    return window.rfind(b"<", 0, at) > window.rfind(b">", 0, at)


class _Odd(Exception):
    """The part writes cells or rows in a way the fast path does not follow: take the exact path."""


def _scan_fast(windows: Iterator[bytes], extent: _Extent, strings: list[int] | None) -> None:
    seen = 0  # the farthest row element so far
    for w in windows:
        if _ODD_CELL.search(w) or _ODD_ROW.search(w):
            raise _Odd
        for m in _PREFIXED.finditer(w):
            if _in_tag(w, m.start()):
                raise _Odd
        rows = _ROW_R.findall(w)
        if rows:
            seen = max(seen, *map(int, rows))
            extent.row(seen)
            # the cells between are not looked at one by one: count them as the template's full width
            extent.cells = True
            extent.columns = max(extent.columns, min(extent.width, extent.limits.max_columns))
        for m in _beyond(max(seen, 1), extent.width).finditer(w):
            at = m.start()
            if (at and w[at - 1] in _NAME_CHARS) or not _in_tag(w, at):
                continue  # another attribute ending in r (header="0.3"), or text
            end = w.find(b'"', m.end())
            value = w[m.end() : end] if end >= 0 else w[m.end() : m.end() + 40]
            extent.ref(value.decode("utf-8", "replace"))
        for m in _wide_spans(extent.limits.max_columns).finditer(w):
            if _in_tag(w, m.start()):
                end = w.find(b'"', m.end())
                extent.bad(w[m.end() : end if end >= 0 else m.end() + 40].decode("utf-8", "replace"), _("行的列跨度"))
        _scan_ranges(w, extent)
        if strings is not None:
            _count_strings(w, strings)


def _scan_ranges(w: bytes, extent: _Extent) -> None:
    if b"dimension" in w:
        for tag in _DIMENSION.findall(w):
            if (ref := _REF_ATTR.search(tag)) is not None:
                _Extent(extent.sheet, extent.width, extent.limits).area(
                    ref.group(1).decode("utf-8", "replace"), _("声明的范围")
                )
    if b"mergeCell" in w:
        for tag in _MERGE.findall(w):
            if (ref := _REF_ATTR.search(tag)) is not None:
                extent.area(ref.group(1).decode("utf-8", "replace"), _("合并单元格"))


def _count_strings(w: bytes, strings: list[int]) -> None:
    strings[0] += len(_SST_ITEM.findall(w))
    for tag in _SST_COUNT.findall(w):
        for value in _COUNT_ATTR.findall(tag):
            if value.isdigit():
                strings[1] = max(strings[1], int(value))


def _scan_exact(chunks: Iterator[bytes], extent: _Extent, strings: list[int], part: str) -> None:
    """The part through expat, start tags only, nothing kept: the farthest row and column as the format lays
    cells out."""
    state = {"row": 0, "col": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        local = name.rsplit(" ", 1)[-1]
        if local == "row":
            r = attrs.get("r")
            state["row"] = extent.ref(r.strip())[1] if r is not None else state["row"] + 1
            extent.row(max(state["row"], 1))
            state["col"] = 0
            if (spans := attrs.get("spans")) is not None:
                for part_ in spans.split():
                    high = part_.rsplit(":", 1)[-1]
                    if not high.isdigit() or int(high) > extent.limits.max_columns:
                        extent.bad(spans, _("行的列跨度"))
        elif local == "c":
            r = attrs.get("r")
            if r is not None:
                state["col"] = extent.ref(r.strip())[0]
            else:
                state["col"] += 1
                extent.row(max(state["row"], 1))
                extent.column(state["col"])
                extent.cells = True
        elif local == "dimension" and "ref" in attrs:
            _Extent(extent.sheet, extent.width, extent.limits).area(attrs["ref"], _("声明的范围"))
        elif local == "mergeCell" and "ref" in attrs:
            extent.area(attrs["ref"], _("合并单元格"))
        elif local == "si":
            strings[0] += 1
        elif local == "sst":
            for key in ("count", "uniqueCount"):
                if attrs.get(key, "").isdigit():
                    strings[1] = max(strings[1], int(attrs[key]))

    def refuse(*_args: Any) -> None:
        raise ExcelRefused(
            _("文件中的 XML 部件（%(part)s）含有 DOCTYPE 或实体声明，疑似 XML 实体炸弹，已拒绝。", part=part)
        )

    parser = expat.ParserCreate(encoding="utf-8", namespace_separator=" ")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        first = True
        for chunk in chunks:
            if first:
                chunk = re.sub(rb'^(\xef\xbb\xbf)?(<\?xml[^>]*?)\sencoding\s*=\s*["\'][^"\']*["\']', rb"\2", chunk)
                first = False
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError:
        raise ExcelRefused(_("文件中的 XML 部件（%(part)s）格式错误，已拒绝。", part=part)) from None


def _sheet_parts(archive: zipfile.ZipFile, names: set[str]) -> tuple[list[str], dict[str, str]]:
    """The workbook's sheet names in order, and the part each one's relationship points to."""
    sheets: list[tuple[str, str]] = []
    targets: dict[str, str] = {}

    def on_sheet(name: str, attrs: dict[str, str]) -> None:
        if name.rsplit(" ", 1)[-1] == "sheet":
            rid = next((v for k, v in attrs.items() if k.rsplit(" ", 1)[-1] == "id" and k != "sheetId"), "")
            sheets.append((attrs.get("name", ""), rid))

    def on_rel(name: str, attrs: dict[str, str]) -> None:
        if name.rsplit(" ", 1)[-1] == "Relationship" and "Id" in attrs:
            target = attrs.get("Target", "").replace("\\", "/")
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)
            targets[attrs["Id"]] = path

    for part, handler in (("xl/workbook.xml", on_sheet), ("xl/_rels/workbook.xml.rels", on_rel)):
        if part not in names:
            continue
        if archive.getinfo(part).file_size > 16 * MB:
            raise ExcelRefused(_("文件中的部件（%(part)s）过大，已拒绝。", part=part))
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = handler
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        try:
            parser.Parse(archive.read(part), True)
        except expat.ExpatError:
            raise ExcelRefused(_("文件中的 XML 部件（%(part)s）格式错误，已拒绝。", part=part)) from None
    by_part = {targets[rid]: name for name, rid in sheets if rid in targets}
    return [name for name, _rid in sheets], by_part


def _check_extent(archive: zipfile.ZipFile, parts: list[tuple[zipfile.ZipInfo, str, str]], limits: Limits) -> None:
    names = {e.filename for e in archive.infolist()}
    sheets, by_part = _sheet_parts(archive, names)
    if len(sheets) > limits.max_sheets:
        raise ExcelRefused(
            _("工作簿有 %(n)d 个工作表，超过上限 %(limit)d 个，已拒绝。", n=len(sheets), limit=limits.max_sheets)
        )
    total = 0
    strings = [0, 0]  # <si> items seen, the largest count an <sst> declares
    for entry, encoding, root in parts:
        sheet = by_part.get(entry.filename, entry.filename)
        extent = _Extent(sheet, _SHEET_WIDTH.get(sheet, len(t.MAIN_COLUMNS)), limits)
        before = list(strings)
        try:  # the streams are closed at once, refused or not (each holds the zip's file open)
            with contextlib.closing(_utf8_stream(archive, entry, encoding)) as stream:
                _scan_fast(_windows(stream), extent, strings if root == "sst" else None)
        except _Odd:
            extent = _Extent(sheet, extent.width, limits)
            strings[:] = before
            with contextlib.closing(_utf8_stream(archive, entry, encoding)) as stream:
                _scan_exact(stream, extent, strings, entry.filename)
        total = _add_sheet_cells(extent, total, limits)
        if max(strings) > limits.max_strings:
            raise ExcelRefused(
                _(
                    "文件的共享文本表有 %(n)s 项，超过上限 %(limit)s 项，已拒绝。",
                    n=f"{max(strings):,}",
                    limit=f"{limits.max_strings:,}",
                )
            )


# --- .xls: the BIFF records of the workbook stream --------------------------------------------------------
#
# calamine reads every sheet of an .xls when it opens the file, so the workbook stream is walked first (one
# pass over its records, nothing kept) and the same limits apply: every cell record's row and column,
# MULRK/MULBLANK's last column, DIMENSIONS, MERGEDCELLS, the SST's counts, the number of sheets.

_BIFF_CELLS = frozenset({0x0006, 0x00FD, 0x0203, 0x0204, 0x0205, 0x027E, 0x0201, 0x00D6, 0x0406})
_BIFF_MUL = frozenset({0x00BD, 0x00BE})
_BIFF_BOF, _BIFF_EOF, _BIFF_SHEET, _BIFF_ROW = 0x0809, 0x000A, 0x0085, 0x0208
_BIFF_DIMENSIONS, _BIFF_MERGED, _BIFF_SST = 0x0200, 0x00E5, 0x00FC


def _check_xls(path: Path, limits: Limits) -> None:
    import olefile  # only for .xls

    try:
        with olefile.OleFileIO(str(path)) as ole:
            stream = next((n for n in ("Workbook", "Book") if ole.exists(n)), None)
            if stream is None:
                raise ExcelRefused(
                    _("文件内容不是 Excel 工作簿（可能是其他类型的文件改了扩展名），请另存为 .xlsx 后重新上传。")
                )
            if ole.get_size(stream) > limits.max_uncompressed:
                raise ExcelRefused(_("文件中的部件（%(part)s）过大，已拒绝。", part=stream))
            data = ole.openstream(stream).read()
    except ExcelRefused:
        raise
    except Exception:  # olefile raises plain errors on a malformed compound file
        raise ExcelRefused(_("文件已损坏或不是有效的 Excel 工作簿，无法读取。")) from None
    _scan_biff(data, limits)


def _scan_biff(data: bytes, limits: Limits) -> None:
    """The globals up to their EOF (sheet names and where each sheet starts, the SST), then each sheet from where
    its BOUNDSHEET says it starts, as calamine reads it, up to the EOF that closes it (charts inside nest)."""
    unpack = struct.unpack_from
    sheets: list[tuple[int, str]] = []
    pos, n = 0, len(data)
    while pos + 4 <= n:
        rtype, rlen = unpack("<HH", data, pos)
        body, pos = pos + 4, pos + 4 + rlen
        if rtype == _BIFF_EOF or pos > n:
            break
        if rtype == _BIFF_SHEET and rlen >= 8:
            cch, flags = data[body + 6], data[body + 7]
            raw = data[body + 8 : body + 8 + cch * (2 if flags & 1 else 1)]
            sheets.append((unpack("<I", data, body)[0], raw.decode("utf-16-le" if flags & 1 else "latin-1", "replace")))
            if len(sheets) > limits.max_sheets:
                raise ExcelRefused(
                    _(
                        "工作簿有 %(n)d 个工作表，超过上限 %(limit)d 个，已拒绝。",
                        n=len(sheets),
                        limit=limits.max_sheets,
                    )
                )
        elif rtype == _BIFF_SST and rlen >= 8:
            count = max(unpack("<II", data, body))
            if count > limits.max_strings:
                raise ExcelRefused(
                    _(
                        "文件的共享文本表有 %(n)s 项，超过上限 %(limit)s 项，已拒绝。",
                        n=f"{count:,}",
                        limit=f"{limits.max_strings:,}",
                    )
                )
    total = 0
    for start, name in sheets:
        extent = _Extent(name, _SHEET_WIDTH.get(name, len(t.MAIN_COLUMNS)), limits)
        _scan_biff_sheet(data, start, extent)
        total = _add_sheet_cells(extent, total, limits)


def _scan_biff_sheet(data: bytes, pos: int, extent: _Extent) -> None:
    unpack = struct.unpack_from
    n, depth = len(data), 0
    while pos + 4 <= n:
        rtype, rlen = unpack("<HH", data, pos)
        body, pos = pos + 4, pos + 4 + rlen
        if pos > n:
            return
        if rtype in _BIFF_CELLS and rlen >= 4:
            row, col = unpack("<HH", data, body)
            extent.row(row + 1)
            extent.column(col + 1)
            extent.cells = True
        elif rtype in _BIFF_MUL and rlen >= 6:
            row, first = unpack("<HH", data, body)
            (last,) = unpack("<H", data, body + rlen - 2)
            extent.row(row + 1)
            extent.column(max(first, last) + 1)
            extent.cells = True
        elif rtype == _BIFF_ROW and rlen >= 2:
            extent.row(unpack("<H", data, body)[0] + 1)
        elif rtype == _BIFF_DIMENSIONS and rlen >= 10:
            declared = _Extent(extent.sheet, extent.width, extent.limits)
            if rlen >= 14:  # BIFF8: rows as 32 bits
                rows, cols = unpack("<I", data, body + 4)[0], unpack("<H", data, body + 10)[0]
            else:
                rows, cols = unpack("<H", data, body + 2)[0], unpack("<H", data, body + 6)[0]
            declared.row(rows)
            declared.column(cols)
        elif rtype == _BIFF_MERGED and rlen >= 2:
            (count,) = unpack("<H", data, body)
            for k in range(min(count, (rlen - 2) // 8)):
                _r1, r2, _c1, c2 = unpack("<HHHH", data, body + 2 + 8 * k)
                extent.row(r2 + 1)
                extent.column(c2 + 1)
        elif rtype == _BIFF_BOF:
            depth += 1
        elif rtype == _BIFF_EOF:
            depth -= 1
            if depth <= 0:
                return


def _add_sheet_cells(extent: _Extent, total: int, limits: Limits) -> int:
    """The workbook's running cell count with this sheet added; refuses a sheet or a book past its limit."""
    if extent.size > limits.max_sheet_cells:
        raise ExcelRefused(
            _(
                "工作表“%(sheet)s”从 A1 到最远的单元格共 %(cells)s 个单元格（%(rows)s 行 × %(columns)s 列），"
                "超过上限 %(limit)s 个，已拒绝。请删除多余的行列后重新上传。",
                sheet=extent.sheet,
                cells=f"{extent.size:,}",
                rows=f"{extent.rows:,}",
                columns=f"{extent.columns:,}",
                limit=f"{limits.max_sheet_cells:,}",
            )
        )
    total += extent.size
    if total > limits.max_book_cells:
        raise ExcelRefused(
            _(
                "工作簿各工作表合计超过 %(limit)s 个单元格（从 A1 到各表最远的单元格），已拒绝。",
                limit=f"{limits.max_book_cells:,}",
            )
        )
    return total
