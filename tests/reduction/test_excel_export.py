"""Export: the import layout, re-importing to the same list, no cell that can become a formula, audited."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from sqlalchemy import select, update

from app.auth.roles import Role
from app.core.masking import mask_phone
from app.reduction.excel import parsing, reader, records
from app.reduction.excel import template as t
from app.reduction.models import Enterprise, ReductionList
from tests.reduction.test_excel_import import (
    audit,
    column,
    commit,
    content,
    district_user,
    enterprise,
    place_id,
    preview,
    write_file,
)
from tests.test_masking import LENGTHS, number

FORMULAS = ('=HYPERLINK("http://evil.example","点我")', "+1+1", "-2+3", "@SUM(A1:A2)", "＝1+1")


def _seed(app, session, make_bureau, make_user, tmp_path):  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    bundles = [enterprise(i, jid) for i in range(3)]
    bundles[0] = enterprise(0, jid, name=FORMULAS[0], notes=FORMULAS[1], address=FORMULAS[2], contact_name=FORMULAS[3])
    bundles[0].measures[0] = (*bundles[0].measures[0][:7], FORMULAS[4])
    bundles[1].facilities = [("F1", "=CMD()", "除尘", "颗粒物", "L1")]
    bundles[1].meters = [
        ("M1", "production", "L1", None),
        ("M2", "control", None, "F1"),
        ("-3", "total", None, None),
    ]
    commit(app, session, user, write_file(tmp_path / "in.xlsx", bundles, session))
    return user, bundles


def _download(client, list_id: int) -> bytes:  # type: ignore[no-untyped-def]
    r = client.get(f"/lists/export.xlsx?list_id={list_id}")
    assert r.status_code == 200, r.status_code
    assert r.mimetype.endswith("spreadsheetml.sheet")
    return r.get_data()


def test_export_reimports_to_the_same_list(app, session, make_bureau, make_user, login_as, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user, bundles = _seed(app, session, make_bureau, make_user, tmp_path)
    lst = session.scalars(select(ReductionList)).one()
    data = _download(login_as(user), lst.id)
    path = tmp_path / "export.xlsx"
    path.write_bytes(data)

    places = records.Places(place_id(session, "500153"), True, {"荣昌区": place_id(session, "500153")})
    from app.reduction.excel.lookups import industries

    with app.test_request_context():
        parsed = parsing.parse(reader.read(path), places, industries())
    assert not parsed.issues, [i.where + i.message for i in parsed.issues]
    by_code = {b.ent[0]: b for b in parsed.bundles}
    for original in bundles:
        got = by_code[original.ent[0]]
        assert got.ent == original.ent
        assert sorted(got.units) == sorted(original.units)
        assert sorted(map(repr, got.measures)) == sorted(map(repr, original.measures))
        assert got.facilities == original.facilities and sorted(got.meters) == sorted(original.meters)

    before = content(session)
    again = preview(app, session, user, path)
    assert (
        again.counts["unchanged"],
        again.counts["new"],
        again.counts["changed"],
        again.counts["removed"],
    ) == (3, 0, 0, 0)
    commit(app, session, user, path)
    assert content(session) == before
    assert audit(session, "reduction_list.import")[-1].action == "reduction_list.import_nochange"
    exported = audit(session, "reduction_list.export")
    assert (
        len(exported) == 1 and exported[0].detail["enterprises"] == 3 and exported[0].detail["phones_masked"] is False
    )


def test_formula_looking_text_stays_text(app, session, make_bureau, make_user, login_as, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user, _bundles = _seed(app, session, make_bureau, make_user, tmp_path)
    lst = session.scalars(select(ReductionList)).one()
    wb = openpyxl.load_workbook(io.BytesIO(_download(login_as(user), lst.id)))
    ws = wb[t.MAIN_SHEET]
    cells = {ws[f"{column(h)}3"] for h in ("企业名称", "备注", "详细地址", "联系人")}
    cells.add(ws[f"{column('措施说明', t.LEVEL_GROUPS[next(iter(t.LEVEL_GROUPS))])}3"])
    for cell in cells:
        assert cell.data_type == "s", (cell.coordinate, cell.data_type)
        assert cell.value in FORMULAS
        assert cell.quotePrefix, f"{cell.coordinate} keeps text when edited"
    fac = wb[t.FACILITY_SHEET]["C2"]
    assert (fac.value, fac.data_type, fac.quotePrefix) == ("=CMD()", "s", True)
    meter = next(c for c in wb[t.METER_SHEET]["B"] if c.value == "-3")
    assert meter.data_type == "s"
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"


def test_export_masks_phones_outside_the_owning_bureau_and_is_scoped(
    app, session, make_bureau, make_user, login_as, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    _seed(app, session, make_bureau, make_user, tmp_path)
    lst = session.scalars(select(ReductionList)).one()
    city = make_user("cq_prov", bureau=make_bureau("500000"), roles=(Role.province_staff,))
    wb = openpyxl.load_workbook(io.BytesIO(_download(login_as(city), lst.id)))
    assert wb[t.MAIN_SHEET][f"{column('联系电话')}3"].value == "138****5678"
    assert audit(session, "reduction_list.export")[-1].detail["phones_masked"] is True
    stranger = make_user("nj_city", bureau=make_bureau("511000"), roles=(Role.city_staff,))
    c = login_as(stranger)
    assert c.get(f"/lists/export.xlsx?list_id={lst.id}").status_code == 404
    assert c.get("/lists/export.xlsx").status_code == 400
    client = login_as(city)
    for n in LENGTHS:  # every length, through the export itself
        session.execute(update(Enterprise).values(contact_phone=number(n)))
        session.commit()
        wb = openpyxl.load_workbook(io.BytesIO(_download(client, lst.id)))
        assert (wb[t.MAIN_SHEET][f"{column('联系电话')}3"].value or "") == mask_phone(number(n)), n


def test_template_has_two_header_rows_with_merged_groups(
    app, session, make_bureau, make_user, login_as, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    client = login_as(district_user(make_bureau, make_user))
    r = client.get("/lists/import/template.xlsx")
    assert r.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(r.get_data()))
    assert wb.sheetnames == [t.MAIN_SHEET, t.FACILITY_SHEET, t.METER_SHEET, t.HELP_SHEET]
    ws = wb[t.MAIN_SHEET]
    merged = {str(m) for m in ws.merged_cells.ranges}
    groups = [ws.cell(1, m.min_col).value for m in sorted(ws.merged_cells.ranges, key=lambda m: m.min_col)]
    assert groups == list(t.GROUPS)
    assert f"A1:{t.column_letter(len(t.ENTERPRISE_COLUMNS) - 1)}1" in merged
    assert [c.value for c in ws[2]] == [c.header for c in t.MAIN_COLUMNS]
    assert ws.max_row == 2
    help_text = " ".join(str(c.value) for row in wb[t.HELP_SHEET].iter_rows() for c in row if c.value)
    assert "全厂" in help_text and "停产" in help_text and "水泥熟料" in help_text
    path = tmp_path / "template.xlsx"
    path.write_bytes(r.get_data())
    p = preview(app, session, district_user(make_bureau, make_user, name="t2"), Path(path))
    assert any("没有企业数据" in i.message for i in p.errors)
