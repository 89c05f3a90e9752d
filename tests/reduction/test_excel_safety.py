"""Files refused before anything is parsed in full, each with a Chinese message, changing nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.reduction.excel import reader, safety, uploads
from app.reduction.excel.safety import ExcelRefused, Limits
from app.reduction.models import Enterprise
from tests.conftest import csrf_token
from tests.reduction.test_excel_import import district_user, enterprise, place_id, preview, write_file

BOMB_DTD = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;">]>\n'


def good_xlsx(session, tmp_path: Path, name: str = "good.xlsx") -> Path:  # type: ignore[no-untyped-def]
    return write_file(tmp_path / name, [enterprise(1, place_id(session, "500153"))], session)


def rewrite(
    src: Path,
    dst: Path,
    replace: dict[str, bytes] | None = None,
    extra: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for item in zin.infolist():
            data = (replace or {}).get(item.filename, zin.read(item.filename))
            zout.writestr(item.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dst


def refused(path: Path, name: str | None = None, limits: Limits | None = None) -> str:
    with pytest.raises(ExcelRefused) as e:
        safety.check(path, name or path.name, limits)
    return e.value.message


def test_accepts_a_real_workbook(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert safety.check(good_xlsx(session, tmp_path), "清单.XLSX") == "xlsx"


def test_oversize_empty_wrong_type_and_mismatched_extension(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = good_xlsx(session, tmp_path)
    assert "超过了 0.0 MB 的上限" in refused(good, limits=Limits(max_bytes=1000))
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert "文件为空" in refused(empty)
    png = tmp_path / "picture.xlsx"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    assert "不是 Excel 工作簿" in refused(png)
    assert "只接受 .xlsx 或 .xls" in refused(good, name="list.csv")
    assert "内容是 .xlsx 格式" in refused(good, name="list.xls")
    ole = tmp_path / "old.xlsx"
    ole.write_bytes(safety.OLE2_MAGIC + b"\0" * 600)
    assert "内容是 .xls 格式" in refused(ole)
    plain_zip = tmp_path / "notes.xlsx"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("notes.txt", "hello")
    assert "不是 Excel 工作簿" in refused(plain_zip)


def test_zip_bombs_are_refused_from_metadata(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = good_xlsx(session, tmp_path)
    ratio = rewrite(good, tmp_path / "ratio.xlsx", extra={"xl/media/zeros.bin": b"\0" * (20 * 1024 * 1024)})
    assert ratio.stat().st_size < 200_000
    assert "压缩比异常" in refused(ratio)
    many = rewrite(good, tmp_path / "many.xlsx", extra={f"xl/x{i}.txt": b"x" for i in range(2100)})
    assert "部件" in refused(many) and "压缩炸弹" in refused(many)
    assert "解压后将达" in refused(good, limits=Limits(max_uncompressed=10_000))


def test_xml_entity_bombs_are_refused_without_expanding(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = good_xlsx(session, tmp_path)
    with zipfile.ZipFile(good) as z:
        workbook_xml = z.read("xl/workbook.xml")
        sheet = z.read("xl/worksheets/sheet1.xml")
    body = workbook_xml.split(b"?>", 1)[1]
    bomb = rewrite(good, tmp_path / "bomb.xlsx", replace={"xl/workbook.xml": BOMB_DTD + body})
    assert "XML 实体炸弹" in refused(bomb) and "xl/workbook.xml" in refused(bomb)
    # hidden behind a comment that mentions an element, and padding past the first read
    sneaky = (
        b'<?xml version="1.0"?><!-- <row> -->' + b" " * 20_000 + BOMB_DTD.split(b"\n", 1)[1] + sheet.split(b"?>", 1)[1]
    )
    hidden = rewrite(good, tmp_path / "hidden.xlsx", replace={"xl/worksheets/sheet1.xml": sneaky})
    assert "实体炸弹" in refused(hidden)
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x/>').encode("utf-16")
    assert "实体炸弹" in refused(rewrite(good, tmp_path / "u16.xlsx", replace={"xl/styles.xml": utf16}))


def test_corrupt_files_are_refused(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = good_xlsx(session, tmp_path)
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[:2000])
    assert "已损坏" in refused(truncated)
    garbled = tmp_path / "garbled.xlsx"
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + 20
    data[start : start + 200] = b"\xff" * 200
    garbled.write_bytes(bytes(data))
    with pytest.raises(ExcelRefused, match="损坏"):
        safety.check(garbled, "garbled.xlsx")
        reader.read(garbled)
    fake_xls = tmp_path / "fake.xls"
    fake_xls.write_bytes(safety.OLE2_MAGIC + b"\x01" * 3000)
    assert "已损坏" in refused(fake_xls), "an OLE2 header alone: its workbook stream cannot be found"
    with pytest.raises(ExcelRefused, match=r"损坏|密码"):
        reader.read(fake_xls)


def test_xls_is_accepted_and_read(app, session, make_bureau, make_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real .xls (BIFF8 in OLE2) written with xlwt from an exported .xlsx goes through the same import."""
    xlwt = pytest.importorskip("xlwt", reason="xlwt writes the .xls fixture (pip install xlwt)")
    import openpyxl

    user = district_user(make_bureau, make_user)
    src = openpyxl.load_workbook(good_xlsx(session, tmp_path))
    book = xlwt.Workbook(encoding="utf-8")
    for ws in src.worksheets:
        out = book.add_sheet(ws.title)
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    out.write(cell.row - 1, cell.column - 1, cell.value)
    path = tmp_path / "list.xls"
    book.save(str(path))
    assert path.read_bytes()[:8] == safety.OLE2_MAGIC
    assert safety.check(path, "list.xls") == "xls"
    p = preview(app, session, user, path)
    assert not p.errors, [i.where + i.message for i in p.errors]
    assert (p.counts["enterprises"], p.counts["units"], p.counts["measures"]) == (1, 2, 8)


def test_refused_upload_shows_chinese_message_and_keeps_nothing(
    app, session, make_bureau, make_user, login_as, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    good = good_xlsx(session, tmp_path)
    bomb = rewrite(good, tmp_path / "bomb.xlsx", extra={"xl/media/zeros.bin": b"\0" * (20 * 1024 * 1024)})
    client = login_as(user)
    imports = Path(app.config["UPLOAD_DIR"], "imports")
    before = set(imports.glob("*")) if imports.exists() else set()
    for data, name, text in (
        (bomb.read_bytes(), "bomb.xlsx", "疑似压缩炸弹"),
        (b"a,b\n1,2\n", "list.xlsx", "不是 Excel 工作簿"),
        (good.read_bytes()[:3000], "cut.xlsx", "已损坏"),
    ):
        r = client.post(
            "/lists/import",
            data={
                "csrf_token": csrf_token(client, "/lists/import"),
                "year": "2026",
                "file": (io.BytesIO(data), name),
            },
            content_type="multipart/form-data",
        )
        assert r.status_code == 400
        assert text in r.get_data(as_text=True)
    assert set(imports.glob("*")) == before, "refused files are not kept"
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 0
    app.config["IMPORT_MAX_BYTES"] = 1000
    try:
        r = client.post(
            "/lists/import",
            data={
                "csrf_token": csrf_token(client, "/lists/import"),
                "year": "2026",
                "file": (io.BytesIO(good.read_bytes()), "big.xlsx"),
            },
            content_type="multipart/form-data",
        )
    finally:
        del app.config["IMPORT_MAX_BYTES"]
    assert r.status_code == 400 and "上限" in r.get_data(as_text=True)
    assert uploads.KEEP_SECONDS > 0
