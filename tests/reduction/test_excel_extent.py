"""Workbooks of every shape that would make calamine lay out a huge sheet are refused before it opens them
(issue 10, point 1), and the DOCTYPE/ENTITY check sees every part in every encoding (point 8)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from app.reduction.excel import reader, safety, uploads
from app.reduction.excel import template as t
from app.reduction.excel.safety import ExcelRefused, Limits
from tests.conftest import csrf_token
from tests.reduction.test_excel_import import district_user, enterprise, place_id, write_file
from tests.reduction.xlsx_shapes import DECL, NS, cells, sheet_xml, workbook

MAIN = t.MAIN_SHEET
ROOT = Path(__file__).resolve().parents[2]


def refused(path: Path, limits: Limits | None = None) -> str:
    with pytest.raises(ExcelRefused) as e:
        safety.check(path, path.name, limits)
    return e.value.message


@pytest.fixture
def no_calamine(monkeypatch):  # type: ignore[no-untyped-def]
    """Fail the test if anything reaches calamine."""

    def opened(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("calamine was called")

    monkeypatch.setattr(reader.pc.CalamineWorkbook, "from_path", opened)


def test_the_reported_file_is_refused_before_calamine(app, tmp_path, no_calamine) -> None:  # type: ignore[no-untyped-def]
    """1.5 KB, one cell at A1 and one at XFD1048576: calamine would allocate 512 GiB."""
    far = workbook(tmp_path / "far.xlsx", {MAIN: sheet_xml(cells("A1", "XFD1048576"), "A1:XFD1048576")})
    assert far.stat().st_size < 2000
    message = refused(far)
    assert "工作表“应急减排清单”" in message and "1,048,576 行" in message and "超过上限 500,002 行" in message
    with pytest.raises(ExcelRefused, match="1,048,576 行"):
        reader.read(far)  # the reader checks a path itself before opening it


@pytest.mark.parametrize(
    ("refs", "dimension", "expected"),
    [
        (("A1", "BK1048576"), "A1:BK1048576", "1,048,576 行"),  # 2.6 GB and 5.7 s in the hostile test
        (("A1", "BK1048576"), None, "1,048,576 行"),  # no <dimension>
        (("A1", "BK1048576"), "A1", "1,048,576 行"),  # a <dimension> that lies
        (("A1", "A500003"), "A1", "500,003 行"),  # just past the row limit
        (("A1", "XFD3"), "A1", "XFD 列"),  # far to the right on a short sheet
        (("A1", "DW3"), "A1", "第 127 列（DW 列），超过上限 126 列（到 DV 列）"),  # just past the column limit
        (("A1", "AAAA3"), "A1", "无效"),  # four letters: not a cell of any Excel
        (("A1", "A0"), "A1", "无效"),
        (("A1", "A99999999999"), "A1", "无效"),
    ],
)
def test_a_far_cell_is_refused_naming_the_sheet(app, tmp_path, no_calamine, refs, dimension, expected) -> None:  # type: ignore[no-untyped-def]
    path = workbook(tmp_path / "far.xlsx", {MAIN: sheet_xml(cells(*refs), dimension)})
    message = refused(path)
    assert "工作表“应急减排清单”" in message and expected in message, message


def test_the_rectangle_from_a1_is_bounded_per_sheet_and_per_workbook(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # within the row and the column limits, but 400,000 rows × 63 columns is past the cells of a sheet:
    # the far cell hides in row 1 (a row element says nothing of it)
    hidden = '<row r="1"><c r="A1"><v>1</v></c><c r="BK400000"><v>1</v></c></row>'
    message = refused(workbook(tmp_path / "rect.xlsx", {MAIN: sheet_xml(hidden)}))
    assert "工作表“应急减排清单”从 A1 到最远的单元格共 25,200,000 个单元格" in message
    assert "超过上限 19,000,000 个" in message
    small = Limits(max_sheet_cells=2000, max_book_cells=1500)
    # 800 and 500 cells (sheets the template knows are measured to their farthest column)
    ok = {t.FACILITY_SHEET: sheet_xml(cells("A1", "J80")), t.METER_SHEET: sheet_xml(cells("A1", "J50"))}
    assert safety.check(workbook(tmp_path / "ok.xlsx", ok), "ok.xlsx", small) == "xlsx"
    over = {**ok, "c": sheet_xml(cells("A1", "J30"))}  # another sheet counts as the main sheet's width
    assert "工作簿各工作表合计超过 1,500 个单元格" in refused(workbook(tmp_path / "book.xlsx", over), small)
    one = workbook(tmp_path / "one.xlsx", {t.FACILITY_SHEET: sheet_xml(cells("J201"))})
    assert "工作表“治污设施”从 A1 到最远的单元格共 2,010 个单元格" in refused(one, small)


def test_many_rows_and_many_sheets(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = "".join(f'<row r="{i}"><c r="A{i}"><v>{i}</v></c></row>' for i in range(1, 152))
    message = refused(workbook(tmp_path / "rows.xlsx", {MAIN: sheet_xml(rows)}), Limits(max_rows=150))
    assert "第 151 行，超过上限 150 行" in message
    sheets = {f"表{i}": sheet_xml(cells("A1")) for i in range(t.MAX_SHEETS + 1)}
    assert "工作簿有 33 个工作表，超过上限 32 个" in refused(workbook(tmp_path / "sheets.xlsx", sheets))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the fast path's shape broken in every way a writer may: each goes through the exact parser
        ('<row r="3">' + "<c><v>1</v></c>" * 130 + "</row>", "第 127 列"),  # cells without r: the next column
        ("<row>" * 3 + "</row>" * 0 + '<c r="A1"/>' + "</row>", "格式错误"),  # not well-formed
        ("<row/>" * 151, "第 151 行"),  # rows without r: the next row
        ('<row r="3"><c t="n" r="XFD3"><v>1</v></c></row>', "XFD 列"),  # r not first
        ("<row r='3'><c r='XFD3'><v>1</v></c></row>", "XFD 列"),  # other quotes
        ('<row r="3"><c  r = "XFD3"><v>1</v></c></row>', "XFD 列"),  # other spacing
        ('<row r="3"><c\tr="A1048576"><v>1</v></c></row>', "1,048,576 行"),
        ('<x:row r="3" xmlns:x="urn:x"><x:c r="XFD3"><x:v>1</x:v></x:c></x:row>', "XFD 列"),  # a prefix
        ('<row r="3" spans="1:16384"><c r="A3"><v>1</v></c></row>', "行的列跨度“1:16384”"),
        ("<row r='3' spans='1:16384'><c r='A3'><v>1</v></c></row>", "行的列跨度"),
    ],
)
def test_every_way_of_writing_a_cell_is_bounded(app, tmp_path, no_calamine, body, expected) -> None:  # type: ignore[no-untyped-def]
    path = workbook(tmp_path / "odd.xlsx", {MAIN: sheet_xml(body)})
    message = refused(path, Limits(max_rows=150))
    assert expected in message, message


def test_declared_ranges_and_merged_cells_are_bounded(app, tmp_path, no_calamine) -> None:  # type: ignore[no-untyped-def]
    huge_dimension = workbook(tmp_path / "dim.xlsx", {MAIN: sheet_xml(cells("A1", "B2"), "A1:XFD1048576")})
    assert "声明的范围" in refused(huge_dimension) or "1,048,576 行" in refused(huge_dimension)
    merged = sheet_xml(cells("A1"), extra='<mergeCells count="1"><mergeCell ref="A1:XFD1048576"/></mergeCells>')
    assert "1,048,576 行" in refused(workbook(tmp_path / "merge.xlsx", {MAIN: merged}))
    wide_merge = sheet_xml(cells("A1"), extra='<mergeCells count="1"><mergeCell ref="A1:ZZ5"/></mergeCells>')
    assert "ZZ 列" in refused(workbook(tmp_path / "merge2.xlsx", {MAIN: wide_merge}))


def test_a_shared_strings_bomb_is_refused(app, tmp_path, no_calamine) -> None:  # type: ignore[no-untyped-def]
    sst = f'{DECL}<sst {NS} count="2000" uniqueCount="2000">' + "<si><t>x</t></si>" * 2000 + "</sst>"
    path = workbook(tmp_path / "sst.xlsx", {MAIN: sheet_xml(cells("A1"))}, {"xl/sharedStrings.xml": sst})
    assert "共享文本表有 2,000 项，超过上限 1,000 项" in refused(path, Limits(max_strings=1000))
    liar = f'{DECL}<sst {NS} count="4000000000" uniqueCount="4000000000"><si><t>x</t></si></sst>'
    path = workbook(tmp_path / "sst2.xlsx", {MAIN: sheet_xml(cells("A1"))}, {"xl/sharedStrings.xml": liar})
    assert "共享文本表有 4,000,000,000 项" in refused(path)


def test_no_part_escapes_the_scan(app, tmp_path, no_calamine) -> None:  # type: ignore[no-untyped-def]
    # the sheet under a name that is no worksheet's: the message still names the sheet
    moved = workbook(tmp_path / "moved.xlsx", {MAIN: sheet_xml(cells("A1", "XFD5"))}, targets={MAIN: "data/blob.bin"})
    assert "工作表“应急减排清单”" in refused(moved)
    absolute = workbook(tmp_path / "abs.xlsx", {MAIN: sheet_xml(cells("XFD5"))}, targets={MAIN: "/xl/other.xml"})
    assert "工作表“应急减排清单”" in refused(absolute)
    # a part that no relationship names
    orphan = workbook(
        tmp_path / "orphan.xlsx", {MAIN: sheet_xml(cells("A1"))}, {"xl/worksheets/hidden": sheet_xml(cells("XFD5"))}
    )
    assert "xl/worksheets/hidden" in refused(orphan)
    # a sheet in UTF-16 (with and without a byte-order mark) and in UTF-32
    for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        xml = sheet_xml(cells("A1", "XFD5")).replace("UTF-8", encoding.upper()).encode(encoding)
        message = refused(workbook(tmp_path / f"{encoding}.xlsx", {MAIN: xml}))
        assert "XFD 列" in message, (encoding, message)
        odd = sheet_xml('<row r="3"><c t="n" r="XFD3"><v>1</v></c></row>')  # the exact path, decoded
        message = refused(
            workbook(tmp_path / f"odd-{encoding}.xlsx", {MAIN: odd.replace("UTF-8", encoding.upper()).encode(encoding)})
        )
        assert "XFD 列" in message, (encoding, message)


def test_real_workbooks_pass(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_file(tmp_path / "list.xlsx", [enterprise(i, place_id(session, "500153")) for i in range(30)], session)
    checked = safety.checked(path, "list.xlsx")
    assert checked.kind == "xlsx"
    book = reader.read(checked)
    assert book.main is not None and len(book.main.rows) >= 60
    assert not [i for i in book.issues if i.error]
    # a sheet with the user's own columns up to the limit, written by openpyxl
    import openpyxl

    wb = openpyxl.load_workbook(path)
    wb[MAIN].cell(row=3, column=t.MAX_COLUMNS, value="备注")
    wb.save(path)
    assert safety.check(path, "list.xlsx") == "xlsx"


def test_a_worker_survives_every_shape(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """reader.read of each file in a process limited to 1 GiB of address space: refused, never killed."""
    shapes = {
        "xfd": sheet_xml(cells("A1", "XFD1048576"), "A1:XFD1048576"),
        "bk": sheet_xml(cells("A1", "BK1048576"), None),
        "row1": sheet_xml('<row r="1"><c r="A1"><v>1</v></c><c r="BK400000"><v>1</v></c></row>'),
        "nor": sheet_xml("<row>" + "<c><v>1</v></c>" * 20_000 + "</row>"),
    }
    files = [str(workbook(tmp_path / f"{k}.xlsx", {MAIN: v})) for k, v in shapes.items()]
    script = textwrap.dedent(
        """
        import json, resource, sys
        from pathlib import Path
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from app import create_app
        from app.reduction.excel import reader
        from app.reduction.excel.safety import ExcelRefused
        out = []
        with create_app({"TESTING": True}).test_request_context():
            for f in json.loads(sys.argv[1]):
                try:
                    reader.read(Path(f))
                    out.append("read")
                except ExcelRefused as e:
                    out.append(e.message)
        print(json.dumps(out, ensure_ascii=False))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(files)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    messages = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(messages) == 4 and all("工作表“应急减排清单”" in m and "超过上限" in m for m in messages), messages


def test_a_stored_upload_is_checked_again_at_preview_and_commit(
    app, session, make_bureau, make_user, login_as, tmp_path, no_calamine
) -> None:  # type: ignore[no-untyped-def]
    """An upload kept from before the limits (or under looser ones) is refused at every read, calamine unseen."""
    user = district_user(make_bureau, make_user)
    far = workbook(tmp_path / "far.xlsx", {MAIN: sheet_xml(cells("A1", "XFD1048576"))})
    loose = Limits(max_rows=2 << 20, max_columns=1 << 14, max_sheet_cells=1 << 40, max_book_cells=1 << 40)

    def kept() -> str:  # stored under limits that let it through, as main did
        with far.open("rb") as f:
            return uploads.store(f, "far.xlsx", app.config["UPLOAD_DIR"], user.id, 2026, loose).token

    client = login_as(user)
    r = client.get(f"/lists/import/preview?token={kept()}")
    assert r.status_code == 400
    assert "工作表“应急减排清单”的内容延伸到第 1,048,576 行" in r.get_data(as_text=True)
    r = client.get(f"/lists/import/problems.csv?token={kept()}")
    assert r.status_code == 400 and "1,048,576 行" in r.get_data(as_text=True)
    r = client.post(
        "/lists/import/commit",
        data={"csrf_token": csrf_token(client, "/lists/import"), "token": kept()},
    )
    assert r.status_code == 400 and "1,048,576 行" in r.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200


def test_the_upload_form_refuses_with_the_message(app, session, make_bureau, make_user, login_as, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    client = login_as(user)
    far = workbook(tmp_path / "far.xlsx", {MAIN: sheet_xml(cells("A1", "XFD1048576"))})
    imports = Path(app.config["UPLOAD_DIR"], "imports")
    before = set(imports.glob("*")) if imports.exists() else set()
    r = client.post(
        "/lists/import",
        data={
            "csrf_token": csrf_token(client, "/lists/import"),
            "year": "2026",
            "file": (io.BytesIO(far.read_bytes()), "far.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 400 and "1,048,576 行" in r.get_data(as_text=True)
    assert (set(imports.glob("*")) if imports.exists() else set()) == before


# --- point 8: DOCTYPE / ENTITY in every part, every encoding ------------------------------------------------

BOMB = '<?xml version="1.0" encoding="{enc}"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><x>&a;</x>'


def bomb_in(tmp_path: Path, part: str, data: bytes) -> Path:
    return workbook(tmp_path / "bomb.xlsx", {MAIN: sheet_xml(cells("A1"))}, {part: data})


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [
        ("utf-16-le", "UTF-16"),  # no byte-order mark
        ("utf-16-be", "UTF-16"),
        ("utf-32-le", "UTF-32"),
        ("utf-32-be", "UTF-32"),
        ("utf-32", "UTF-32"),  # with its mark
        ("utf-16", "UTF-16"),
        ("utf-8-sig", "UTF-8"),
        ("utf-7", "UTF-7"),  # the declaration names it: < is +ADw-
        ("cp1252", "windows-1252"),
    ],
)
def test_a_doctype_is_found_in_any_encoding(app, tmp_path, encoding, declared) -> None:  # type: ignore[no-untyped-def]
    data = BOMB.format(enc=declared).encode(encoding)
    if encoding == "utf-7":
        data = b'<?xml version="1.0" encoding="UTF-7"?>+ADwAIQ-DOCTYPE x+AD4APA-x/+AD4-'
        assert b"DOCTYPE" in data and b"<!DOCTYPE" not in data
    message = refused(bomb_in(tmp_path, "xl/styles.xml", data))
    assert "xl/styles.xml" in message and "实体炸弹" in message


@pytest.mark.parametrize("part", ["xl/styles", "xl/worksheets/sheet9.bin", "customXml/item1", "docProps/app.XML.txt"])
def test_a_doctype_is_found_in_a_part_of_any_name(app, tmp_path, part) -> None:  # type: ignore[no-untyped-def]
    data = BOMB.format(enc="UTF-16").encode("utf-16-le")
    assert "实体炸弹" in refused(bomb_in(tmp_path, part, data))
    assert "实体炸弹" in refused(bomb_in(tmp_path, part, BOMB.format(enc="UTF-8").encode()))


def test_an_unknown_declared_encoding_is_refused(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = b'<?xml version="1.0" encoding="x-no-such"?><x/>'
    assert "无法识别的编码（x-no-such）" in refused(bomb_in(tmp_path, "xl/styles.xml", data))


def test_binary_parts_are_not_refused(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300
    path = workbook(tmp_path / "pic.xlsx", {MAIN: sheet_xml(cells("A1"))}, {"xl/media/image1.png": png})
    assert safety.check(path, "pic.xlsx") == "xlsx"
    with zipfile.ZipFile(path) as z:
        assert "xl/media/image1.png" in z.namelist()


# --- .xls: calamine reads every sheet when it opens the file ------------------------------------------------


def xls(path: Path, sheets: dict[str, list[tuple[int, int]]]) -> Path:
    xlwt = pytest.importorskip("xlwt", reason="xlwt writes the .xls fixtures")
    book = xlwt.Workbook()
    for name, cells_ in sheets.items():
        ws = book.add_sheet(name)
        for row, col in cells_:
            ws.write(row, col, 1)
    book.save(str(path))
    return path


def test_xls_sheets_are_bounded_before_calamine(app, tmp_path, no_calamine) -> None:  # type: ignore[no-untyped-def]
    far = xls(tmp_path / "far.xls", {MAIN: [(0, 0), (65535, 255)]})  # IV65536: BIFF8's farthest cell
    assert "工作表“应急减排清单”的内容延伸到第 256 列（IV 列）" in refused(far)
    # 65,536 rows × 126 columns is within a sheet's limits; three of them are past the workbook's
    tall = {f"表{i}": [(0, 0), (65535, 125)] for i in range(3)}
    assert "工作簿各工作表合计超过" in refused(xls(tmp_path / "tall.xls", tall))
    assert "第 151 行" in refused(xls(tmp_path / "rows.xls", {MAIN: [(150, 0)]}), Limits(max_rows=150))
    many = {f"表{i}": [(0, 0)] for i in range(t.MAX_SHEETS + 1)}
    assert "33 个工作表" in refused(xls(tmp_path / "many.xls", many))
    ok = xls(tmp_path / "ok.xls", {MAIN: [(0, 0), (300, 62)], t.FACILITY_SHEET: [(10, 5)]})
    assert safety.check(ok, "ok.xls") == "xls"
