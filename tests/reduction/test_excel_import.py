"""Excel import: every kind of problem named by sheet, row and column; all or nothing; re-import changes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import User
from app.auth.roles import Role
from app.core.errors import ServiceError
from app.places.models import Jurisdiction
from app.reduction.domain import uscc
from app.reduction.excel import cells, exporter, lookups, records, safety, uploads
from app.reduction.excel import snapshot as excel_snapshot
from app.reduction.excel import template as t
from app.reduction.excel.reader import Issue
from app.reduction.excel.records import ENT_FIELDS, Bundle
from app.reduction.models import (
    ControlFacility,
    Enterprise,
    ListState,
    Measure,
    Meter,
    ProcessUnit,
    ReductionList,
)
from app.reduction.services import import_writer, imports
from tests.conftest import csrf_token

# --- helpers shared by the Excel tests ------------------------------------------------------------------


def place_id(session: Any, code: str) -> int:
    return session.scalar(select(Jurisdiction.id).where(Jurisdiction.code == code))


def enterprise(i: int, jid: int, *, units: int = 2, region: str = "500153", **fields: Any) -> Bundle:
    """A valid enterprise (key, grade B) with `units` lines and a growing limit per level on each."""
    values = dict(records.DEFAULTS)
    values.update(
        uscc=uscc.generate(7000 + i, region=region),
        name=f"测试企业{i}有限公司",
        address=f"工业园{i}号",
        category="key",
        grade="B",
        industry="cement_clinker",
        industry_code="3011",
        graded_on="2024-05-01",
        so2=1.5,
        nox=2.5,
        pm=0.5,
        vocs=0.25,
        truck_visits_per_day=12,
        machinery={"china_3": 2},
        truck_emissions={"nox": 0.4},
        machinery_emissions={"china_3": {"nox": 0.3, "pm": 0.05}},
        contact_name="张三",
        contact_phone="13812345678",
        jurisdiction_id=jid,
    )
    values.update(fields)
    b = Bundle(0, tuple(values[f] for f in ENT_FIELDS))
    share = round(1 / max(units, 1), 4)
    b.units = [
        (f"L{k}", f"{k}号生产线", share, share, share, share, 1000.0, 1200.0, 900.0, "吨", k == 1, False)
        for k in range(1, units + 1)
    ]
    b.measures = [
        (lv, f"L{k}", "limit", pct, "power_meter", None, None, "")
        for k in range(1, units + 1)
        for lv, pct in (("yellow", 20.0), ("orange", 30.0), ("red", 50.0))
    ]
    b.measures += [
        ("orange", None, "truck_ban", None, "gate_records", None, None, ""),
        ("red", None, "truck_ban", None, "gate_records", None, None, ""),
    ]
    return b


def write_file(path: Path, bundles: list[Bundle], session: Any, root: str = "500153") -> Path:
    root_place = session.scalars(select(Jurisdiction).where(Jurisdiction.code == root)).one()
    exporter.write(
        path,
        bundles,
        county_label=exporter.county_labels(session, root_place),
        industry_label=lookups.industry_labels(),
    )
    return path


def column(header: str, group: str | None = None) -> str:
    """The template's column letter of a header (within a level group for the level blocks)."""
    for i, c in enumerate(t.MAIN_COLUMNS):
        if c.header == header and (group is None or c.group == group):
            return t.column_letter(i)
    raise KeyError(header)


def edit(path: Path, changes: dict[str, Any], sheet: str = t.MAIN_SHEET) -> Path:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    for ref, value in changes.items():
        ws[ref] = value
    wb.save(path)
    return path


def district_user(
    make_bureau: Callable[..., Any],
    make_user: Callable[..., Any],
    code: str = "500153",
    name: str = "dist",
    role: Role = Role.district_staff,
) -> User:
    return make_user(name, bureau=make_bureau(code), roles=(role,))


def stored(app: Any, session: Any, user: User, path: Path, year: int = 2026) -> uploads.Upload:
    with path.open("rb") as f:
        return uploads.store(f, path.name, app.config["UPLOAD_DIR"], user.id, year, safety.Limits())


def preview(app: Any, session: Any, user: User, path: Path, year: int = 2026) -> imports.Preview:
    with app.test_request_context():
        u = session.get(User, user.id)
        return imports.preview(session, u, stored(app, session, user, path, year), app.config)


def commit(app: Any, session: Any, user: User, path: Path, year: int = 2026) -> imports.Preview:
    with app.test_request_context():
        u = session.get(User, user.id)
        result = imports.commit(session, u, stored(app, session, user, path, year), app.config)
        session.commit()
        return result


def content(session: Any, year: int = 2026) -> dict[str, int]:
    session.expire_all()
    ids = (
        select(Enterprise.id)
        .join(ReductionList, ReductionList.id == Enterprise.list_id)
        .where(ReductionList.year == year)
    )
    return {
        "enterprises": session.scalar(select(func.count()).select_from(Enterprise).where(Enterprise.id.in_(ids))),
        "units": session.scalar(
            select(func.count()).select_from(ProcessUnit).where(ProcessUnit.enterprise_id.in_(ids))
        ),
        "measures": session.scalar(select(func.count()).select_from(Measure).where(Measure.enterprise_id.in_(ids))),
        "facilities": session.scalar(
            select(func.count()).select_from(ControlFacility).where(ControlFacility.enterprise_id.in_(ids))
        ),
        "meters": session.scalar(select(func.count()).select_from(Meter).where(Meter.enterprise_id.in_(ids))),
    }


def audit(session: Any, prefix: str) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.seq))
    )


def find(issues: list[Issue], sheet: str, row: int | None, col: str | None, text: str) -> Issue:
    for i in issues:
        if i.sheet == sheet and i.row == row and i.column == col and text in i.message:
            return i
    listing = "\n".join(f"{i.where}: {i.message}" for i in issues)
    raise AssertionError(f"no problem at {sheet} row {row} column {col} containing {text!r}; found:\n{listing}")


# --- tests ----------------------------------------------------------------------------------------------


def test_good_file_previews_counts_then_commits_everything_with_one_audit_entry(
    app, session, make_bureau, make_user, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    bundles = [enterprise(i, jid) for i in range(3)]
    bundles[0].facilities = [("F1", "SCR脱硝", "脱硝", "氮氧化物", "L1")]
    bundles[0].meters = [
        ("M1", "production", "L1", None),
        ("M2", "control", None, "F1"),
        ("M3", "total", None, None),
    ]
    path = write_file(tmp_path / "list.xlsx", bundles, session)

    p = preview(app, session, user, path)
    assert not p.errors, [i.where + i.message for i in p.errors]
    assert p.counts == {
        "enterprises": 3,
        "refused": 0,
        "new": 3,
        "changed": 0,
        "unchanged": 0,
        "removed": 0,
        "units": 6,
        "measures": 24,
        "facilities": 1,
        "meters": 3,
    }
    assert content(session)["enterprises"] == 0, "a preview changes nothing"

    result = commit(app, session, user, path)
    assert result.counts["new"] == 3
    assert content(session) == {"enterprises": 3, "units": 6, "measures": 24, "facilities": 1, "meters": 3}
    e = session.scalars(select(Enterprise).where(Enterprise.uscc == bundles[0].ent[0])).one()
    assert (e.name, e.category, e.grade, e.industry, e.jurisdiction_id) == (
        "测试企业0有限公司",
        "key",
        "B",
        "cement_clinker",
        jid,
    )
    assert e.machinery == {"china_3": 2} and e.machinery_emissions == {"china_3": {"nox": 0.3, "pm": 0.05}}
    assert e.truck_emissions == {"nox": 0.4} and str(e.graded_on) == "2024-05-01"
    assert {(m.level, m.kind, m.percent) for m in e.measures if m.process_unit_id is None} == {
        ("orange", "truck_ban", None),
        ("red", "truck_ban", None),
    }
    meter = session.scalars(select(Meter).where(Meter.number == "M2")).one()
    assert meter.control_facility_id == session.scalars(select(ControlFacility.id)).one()
    entries = audit(session, "reduction_list.import")
    assert [x.action for x in entries] == ["reduction_list.import"]
    assert entries[0].detail["sha256"] == result.upload.sha256 and entries[0].detail["new"] == 3


def test_importing_the_same_file_again_changes_nothing(app, session, make_bureau, make_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    path = write_file(tmp_path / "list.xlsx", [enterprise(i, jid) for i in range(4)], session)
    commit(app, session, user, path)
    before = {e.uscc: e.id for e in session.scalars(select(Enterprise))}
    measure_ids = set(session.scalars(select(Measure.id)))

    again = preview(app, session, user, path)
    assert (
        again.counts["unchanged"],
        again.counts["new"],
        again.counts["changed"],
        again.counts["removed"],
    ) == (4, 0, 0, 0)
    commit(app, session, user, path)
    assert {e.uscc: e.id for e in session.scalars(select(Enterprise))} == before
    assert set(session.scalars(select(Measure.id))) == measure_ids, "no row rewritten"
    assert [x.action for x in audit(session, "reduction_list.import")] == [
        "reduction_list.import",
        "reduction_list.import_nochange",
    ]


def test_reimport_replaces_content_changed_and_removed_enterprises(
    app, session, make_bureau, make_user, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    first = [enterprise(i, jid) for i in range(3)]
    commit(app, session, user, write_file(tmp_path / "a.xlsx", first, session))
    kept_id = session.scalar(select(Enterprise.id).where(Enterprise.uscc == first[0].ent[0]))
    changed = enterprise(0, jid, units=1, name="改名后的企业")
    second = [changed, first[1], enterprise(9, jid)]
    p = preview(app, session, user, write_file(tmp_path / "b.xlsx", second, session))
    assert (p.counts["new"], p.counts["changed"], p.counts["unchanged"], p.counts["removed"]) == (1, 1, 1, 1)
    assert p.removed == [(first[2].ent[0], "测试企业2有限公司")]
    commit(app, session, user, tmp_path / "b.xlsx")
    e = session.get(Enterprise, kept_id)
    assert e.name == "改名后的企业" and [u.code for u in e.units] == ["L1"], "matched by credit code, children replaced"
    assert len(e.measures) == 5
    assert session.scalar(select(Enterprise.id).where(Enterprise.uscc == first[2].ent[0])) is None
    assert content(session)["enterprises"] == 3


def _broken_file(session: Any, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    jid = place_id(session, "500153")
    bundles = [enterprise(i, jid) for i in range(6)]
    bundles[5].facilities = [("F1", "除尘", "除尘", "颗粒物", "L1")]
    path = write_file(tmp_path / "broken.xlsx", bundles, session)
    # Rows: enterprise i occupies rows 3 + 3i (L1), 4 + 3i (L2), 5 + 3i (全厂).
    y, o, r = (t.LEVEL_GROUPS[lv] for lv in t.LEVEL_GROUPS)
    cols = {
        "uscc": column("统一社会信用代码"),
        "category": column("企业类别"),
        "so2": column("二氧化硫（吨/年）"),
        "county": column("所在区县"),
        "share_so2": column("二氧化硫占比"),
        "name": column("企业名称"),
        "red_kind": column("措施", r),
        "red_pct": column("比例（%）", r),
        "orange_ver": column("核查方式", o),
        "yellow_kind": column("措施", y),
        "yellow_ver": column("核查方式", y),
        "unit_name": column("工序名称"),
        "address": column("详细地址"),
        "grade": column("绩效分级"),
    }
    c = cols
    edit(
        path,
        {
            f"{c['uscc']}3": bundles[0].ent[0][:-1] + ("0" if bundles[0].ent[0][-1] != "0" else "1"),  # check digit
            f"{c['category']}6": "大型企业",  # not in the vocabulary
            f"{c['so2']}9": "很多",  # not a number
            f"{c['county']}12": "东兴区",  # outside the district's jurisdiction
            f"{c['share_so2']}16": 0.8,  # L2 of enterprise 4: 0.5 + 0.8 > 1
            f"{c['red_kind']}6": "限产",
            f"{c['red_pct']}6": 10,  # red L1 of enterprise 1: 10 % < orange 30 %
            # a truck ban (全厂 row of enterprise 2) cannot be proved by a power meter
            f"{c['orange_ver']}11": "用电监控",
            f"{c['yellow_kind']}4": "限产",  # keeps 限产 20 but…
            f"{c['address']}4": "另一个地址",  # a continuation row contradicting its enterprise's first row
            f"{c['unit_name']}7": None,  # unit name missing (enterprise 1, L2)
        },
    )
    edit(path, {f"{c['red_pct']}19": None})  # enterprise 5 L2 red: 限产 without a percentage
    edit(path, {"A2": "不存在的企业代码"}, sheet=t.FACILITY_SHEET)
    return path, cols


def test_preview_names_sheet_row_and_column_of_every_kind_of_problem(
    app, session, make_bureau, make_user, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    path, c = _broken_file(session, tmp_path)
    p = preview(app, session, user, path)
    s = t.MAIN_SHEET
    found = [
        find(p.issues, s, 3, c["uscc"], "第18位校验码"),
        find(p.issues, s, 6, c["category"], "不是可选值"),
        find(p.issues, s, 9, c["so2"], "不是数字"),
        find(p.issues, s, 12, c["county"], "不在本清单的辖区内"),
        find(p.issues, s, 15, c["share_so2"], "合计"),
        find(p.issues, s, 6, c["red_kind"], "红色预警"),
        find(p.issues, s, 11, c["orange_ver"], "无法用用电监控核查"),  # worded as the editor words it
        find(p.issues, s, 4, c["address"], "与本企业首行（第 3 行）不一致"),
        find(p.issues, s, 7, c["unit_name"], "请填写工序名称"),
        find(p.issues, s, 19, c["red_pct"], "百分比"),
        find(p.issues, t.FACILITY_SHEET, 2, "A", "没有这家企业"),
    ]
    assert all(i.error for i in found)
    assert found[0].header == "统一社会信用代码" and found[5].header == "措施"
    # in row order, the rule engine's refusals among the rows' own problems
    main_rows = [i.row for i in p.issues if i.sheet == s]
    assert main_rows == sorted(main_rows)
    assert not p.can_commit
    with pytest.raises(ServiceError, match="错误"):
        commit(app, session, user, path)
    assert content(session) == {"enterprises": 0, "units": 0, "measures": 0, "facilities": 0, "meters": 0}


def test_header_problems_and_warnings(app, session, make_bureau, make_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    no_grade = enterprise(1, jid, grade=None)
    path = write_file(tmp_path / "w.xlsx", [no_grade], session)
    last = t.column_letter(len(t.MAIN_COLUMNS))
    edit(path, {f"{last}2": "自定义列"})
    p = preview(app, session, user, path)
    assert not p.errors and p.can_commit
    find(p.issues, t.MAIN_SHEET, 2, last, "无法识别的列")
    grade = find(p.issues, t.MAIN_SHEET, 3, column("绩效分级"), "重点企业必须有绩效分级")
    assert not grade.error, "a classification problem is a warning"

    missing = edit(write_file(tmp_path / "m.xlsx", [no_grade], session), {f"{column('企业名称')}2": "名称"})
    p = preview(app, session, user, missing)
    find(p.issues, t.MAIN_SHEET, 2, None, "缺少必填列“企业名称”")
    assert p.errors


def test_merged_enterprise_cells_and_several_measures_per_unit_and_level(
    app, session, make_bureau, make_user, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A hand-made file: enterprise cells merged down over its rows, a second yellow measure on L1 in a
    continuation row, whole-plant measures, labels and enum values mixed."""
    import xlsxwriter

    user = district_user(make_bureau, make_user)
    code = uscc.generate(42, region="500153")
    path = tmp_path / "merged.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet(t.MAIN_SHEET)
    groups: list[str] = []
    for i, c in enumerate(t.MAIN_COLUMNS):
        if c.group not in groups:
            groups.append(c.group)
            ws.write(0, i, c.group)
        ws.write(1, i, c.header)
    col = {(c.group, c.header): i for i, c in enumerate(t.MAIN_COLUMNS)}
    e = t.G_ENTERPRISE
    for header, value in (
        ("统一社会信用代码", code),
        ("企业名称", "合并单元格企业"),
        ("企业类别", "key"),
        ("绩效分级", "B级"),
        ("所在区县", "500153"),
        ("二氧化硫（吨/年）", 3),
    ):
        ws.merge_range(2, col[(e, header)], 4, col[(e, header)], value)
    y, o, r = t.LEVEL_GROUPS.values()
    rows = [
        {
            "工序编码": "L1",
            "工序名称": "窑",
            "二氧化硫占比": "60%",
            (y, "措施"): "限产",
            (y, "比例（%）"): 20,
            (y, "核查方式"): "DCS",
            (o, "措施"): "stop",
            (o, "核查方式"): "power_meter",
            (r, "措施"): "停产",
            (r, "核查方式"): "用电监控",
        },
        {"工序编码": "L1", (y, "措施"): "停止露天作业", (y, "核查方式"): "视频监控"},
        {
            "工序编码": "全厂",
            (y, "措施"): "停用国Ⅳ及以下重型货车",
            (y, "核查方式"): "门禁",
            (o, "措施"): "停用国四及以下重型货车",
            (o, "核查方式"): "门禁记录",
            (r, "措施"): "停用非道路移动机械",
            (r, "非道路机械排放阶段"): "国3",
            (r, "核查方式"): "video",
        },
        {"工序编码": "全厂", (r, "措施"): "truck_ban", (r, "核查方式"): "门禁记录"},
    ]
    for k, row in enumerate(rows):
        for key, value in row.items():
            c = col[key] if isinstance(key, tuple) else col[(t.G_UNIT, key)]
            ws.write(2 + k, c, value)
    wb.close()

    p = preview(app, session, user, path)
    assert not p.errors, [i.where + i.message for i in p.errors]
    assert p.counts["units"] == 1 and p.counts["measures"] == 8
    commit(app, session, user, path)
    ent = session.scalars(select(Enterprise).where(Enterprise.uscc == code)).one()
    unit = ent.units[0]
    assert unit.share_so2 == 0.6
    got = sorted((m.level.value, m.kind.value, m.process_unit_id == unit.id) for m in ent.measures)
    assert got == sorted(
        [
            ("yellow", "limit", True),
            ("yellow", "outdoor_work_ban", True),
            ("orange", "stop", True),
            ("red", "stop", True),
            ("yellow", "truck_ban", False),
            ("orange", "truck_ban", False),
            ("red", "offroad_ban", False),
            ("red", "truck_ban", False),
        ]
    )
    assert any(m.kind == "offroad_ban" and m.max_stage == "china_3" for m in ent.measures)


def test_city_list_resolves_counties_by_name_within_its_subtree(app, session, make_bureau, make_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = make_user("njcity", bureau=make_bureau("511000"), roles=(Role.city_staff,))
    inside = place_id(session, "511002")
    bundles = [
        enterprise(1, inside, region="511000"),
        enterprise(2, place_id(session, "511011"), region="511000"),
    ]
    path = write_file(tmp_path / "city.xlsx", bundles, session, root="511000")
    assert openpyxl.load_workbook(path)[t.MAIN_SHEET][f"{column('所在区县')}3"].value == "市中区"
    p = preview(app, session, user, path)
    assert not p.errors
    edit(path, {f"{column('所在区县')}6": "荣昌区"})
    p = preview(app, session, user, path)
    find(p.issues, t.MAIN_SHEET, 6, column("所在区县"), "不在本清单的辖区内")


def test_commit_is_all_or_nothing_when_writing_fails(
    app, session, make_bureau, make_user, login_as, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    path = write_file(tmp_path / "ok.xlsx", [enterprise(i, jid) for i in range(3)], session)
    client = login_as(user)
    with path.open("rb") as f:
        r = client.post(
            "/lists/import",
            data={"csrf_token": csrf_token(client, "/lists/import"), "year": "2026", "file": (f, "ok.xlsx")},
            content_type="multipart/form-data",
        )
    assert r.status_code == 302
    token = r.headers["Location"].split("token=")[1]
    original = import_writer.Writer.insert

    def failing(self, table, columns, rows):  # type: ignore[no-untyped-def]
        if table == "measure":
            raise RuntimeError("disk full")
        return original(self, table, columns, rows)

    monkeypatch.setattr(import_writer.Writer, "insert", failing)
    r = client.post("/lists/import/commit", data={"csrf_token": csrf_token(client, "/lists/import"), "token": token})
    assert r.status_code == 500
    assert content(session) == {"enterprises": 0, "units": 0, "measures": 0, "facilities": 0, "meters": 0}
    assert session.scalar(select(func.count()).select_from(ReductionList)) == 0, "not even the list was created"
    monkeypatch.setattr(import_writer.Writer, "insert", original)
    r = client.post("/lists/import/commit", data={"csrf_token": csrf_token(client, "/lists/import"), "token": token})
    assert r.status_code == 302
    assert content(session)["enterprises"] == 3


def test_web_flow_upload_preview_fix_commit(app, session, make_bureau, make_user, login_as, tmp_path) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    good = write_file(tmp_path / "good.xlsx", [enterprise(i, jid) for i in range(2)], session)
    bad = edit(
        write_file(tmp_path / "bad.xlsx", [enterprise(i, jid) for i in range(2)], session),
        {f"{column('企业类别')}3": "大型企业"},
    )
    client = login_as(user)
    page = client.get("/lists/import?year=2026").get_data(as_text=True)
    assert "下载导入模板" in page and "将新建 2026 年清单" in page

    def upload(path: Path) -> Any:
        with path.open("rb") as f:
            return client.post(
                "/lists/import",
                data={
                    "csrf_token": csrf_token(client, "/lists/import"),
                    "year": "2026",
                    "file": (f, path.name),
                },
                content_type="multipart/form-data",
            )

    r = upload(bad)
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "应急减排清单" in html and f"{column('企业类别')} 企业类别" in html and "不是可选值" in html
    assert 'data-testid="commit"' not in html
    token = r.headers["Location"].split("token=")[1]
    csv = client.get(f"/lists/import/problems.csv?token={token}").get_data(as_text=True)
    assert "不是可选值" in csv
    refused = client.post(
        "/lists/import/commit", data={"csrf_token": csrf_token(client, "/lists/import"), "token": token}
    )
    assert refused.status_code == 400 and content(session)["enterprises"] == 0

    r = upload(good)
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="commit"' in html and "文件检查通过" in html
    token = r.headers["Location"].split("token=")[1]
    done = client.post("/lists/import/commit", data={"csrf_token": csrf_token(client, "/lists/import"), "token": token})
    assert done.status_code == 302
    assert "导入完成：新增 2 家" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert content(session)["enterprises"] == 2
    assert not list(Path(app.config["UPLOAD_DIR"], "imports").glob(f"{token}*")), "the upload is removed after commit"


def test_permissions_tokens_and_list_state(app, session, make_bureau, make_user, login_as, tmp_path) -> None:  # type: ignore[no-untyped-def]
    owner = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    path = write_file(tmp_path / "p.xlsx", [enterprise(1, jid)], session)
    inspector = make_user("insp", bureau=make_bureau("500153"), roles=(Role.inspector,))
    client = login_as(inspector)
    assert client.get("/lists/import").status_code == 403
    with path.open("rb") as f:
        r = client.post(
            "/lists/import",
            data={"csrf_token": csrf_token(client, "/"), "file": (f, "p.xlsx")},
            content_type="multipart/form-data",
        )
    assert r.status_code == 403

    upload = stored(app, session, owner, path)
    other = login_as(district_user(make_bureau, make_user, name="other_staff"))
    assert other.get(f"/lists/import/preview?token={upload.token}").status_code == 404, "another user's upload"
    assert other.get("/lists/import/preview?token=../../etc/passwd").status_code == 404

    commit(app, session, owner, path)
    lst = session.scalars(select(ReductionList)).one()
    lst.state, lst.submitted_at = ListState.submitted, lst.created_at
    session.commit()
    p = preview(app, session, owner, path)
    assert p.blocked and "已报送" in p.blocked and not p.can_commit
    with pytest.raises(ServiceError):
        commit(app, session, owner, path)


# --- the preview's snapshot: the commit takes what the preview validated, and only while it is valid -----


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every time the importer reads a workbook in full."""
    from app.reduction.excel import reader

    reads: list[Path] = []
    original = reader.read

    def counted(path: Path) -> Any:
        reads.append(path)
        return original(path)

    monkeypatch.setattr(reader, "read", counted)
    return reads


def _preview_upload(app: Any, session: Any, user: User, upload: uploads.Upload) -> imports.Preview:
    with app.test_request_context():
        return imports.preview(session, session.get(User, user.id), upload, app.config)


def _commit_upload(app: Any, session: Any, user: User, upload: uploads.Upload) -> imports.Preview:
    with app.test_request_context():
        result = imports.commit(session, session.get(User, user.id), upload, app.config)
        session.commit()
        return result


@pytest.mark.parametrize("reuse", [True, False])
def test_commit_takes_the_records_the_preview_validated(
    app, session, make_bureau, make_user, tmp_path, monkeypatch, reuse
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "IMPORT_REUSE_VALIDATION", reuse)
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    path = write_file(tmp_path / "list.xlsx", [enterprise(i, jid) for i in range(3)], session)
    reads = _counting_reads(monkeypatch)
    scans: list[Path] = []
    original = safety.checked
    monkeypatch.setattr(safety, "checked", lambda path, *a: scans.append(path) or original(path, *a))
    upload = stored(app, session, user, path)

    assert _preview_upload(app, session, user, upload).counts["new"] == 3
    assert _preview_upload(app, session, user, upload).counts["new"] == 3, "the page shown again"
    result = _commit_upload(app, session, user, upload)

    assert result.counts["new"] == 3 and content(session)["measures"] == 24
    assert len(reads) == (1 if reuse else 3), "with reuse the file is read once, by the first preview"
    # the safety checks: at the upload, before each read; not again for the snapshot of the same bytes
    assert len(scans) == (2 if reuse else 4)


def test_a_stale_or_foreign_snapshot_is_not_used(app, session, make_bureau, make_user, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    path = write_file(tmp_path / "list.xlsx", [enterprise(i, jid) for i in range(2)], session)
    reads = _counting_reads(monkeypatch)

    tampered = stored(app, session, user, path)
    _preview_upload(app, session, user, tampered)
    snapshot = tampered.path.with_suffix(".snapshot")
    raw = bytearray(snapshot.read_bytes())
    raw[-1] ^= 1
    snapshot.write_bytes(bytes(raw))
    assert _preview_upload(app, session, user, tampered).counts["new"] == 2
    assert len(reads) == 2, "a snapshot that fails its signature is read again from the file"

    # the rule library changed (a deployment) between preview and commit: validated again
    monkeypatch.setattr(excel_snapshot, "_rule_checksums", lambda: (("rules.toml", "another version"),))
    assert _commit_upload(app, session, user, tampered).counts["new"] == 2
    assert len(reads) == 3
    assert content(session)["enterprises"] == 2


def test_a_limit_lowered_or_a_file_changed_after_the_preview_refuses_the_commit_even_with_a_snapshot(
    app, session, make_bureau, make_user, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    path = write_file(tmp_path / "list.xlsx", [enterprise(i, jid) for i in range(2)], session)
    upload = stored(app, session, user, path)
    assert _preview_upload(app, session, user, upload).can_commit
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 1024)  # the limit was lowered since
    with pytest.raises(safety.ExcelRefused, match="超过了"):
        _commit_upload(app, session, user, upload)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ReductionList)) == 0

    monkeypatch.undo()
    upload.path.write_bytes(upload.path.read_bytes() + b"\0")  # the file changed after its preview
    with pytest.raises(ServiceError, match="预览后被改动"):
        _commit_upload(app, session, user, upload)


def test_a_change_to_the_list_after_the_preview_is_seen_by_the_commit(
    app, session, make_bureau, make_user, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from app.reduction.domain.vocabulary import AlertLevel
    from app.reduction.services import policies

    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    bundles = [enterprise(i, jid) for i in range(3)]
    first = write_file(tmp_path / "first.xlsx", bundles, session)
    commit(app, session, user, first)
    reads = _counting_reads(monkeypatch)

    # 1. the same file again, previewed as unchanged; then someone edits a policy of the list
    again = stored(app, session, user, first)
    assert _preview_upload(app, session, user, again).counts["unchanged"] == 3
    with app.test_request_context():
        e = session.scalars(select(Enterprise).where(Enterprise.uscc == bundles[0].ent[0])).one()
        rows = [policies.MeasureInput("limit", "power_meter", unit_code=f"L{k}", percent=10) for k in (1, 2)]
        policies.save_level(session, e, AlertLevel.yellow, rows, session.get(User, user.id))
        session.commit()
    result = _commit_upload(app, session, user, again)
    assert (result.counts["changed"], result.counts["unchanged"]) == (1, 2), "compared with the list as it is now"
    session.expire_all()
    e = session.scalars(select(Enterprise).where(Enterprise.uscc == bundles[0].ent[0])).one()
    assert sorted(m.percent for m in e.measures if m.level == "yellow") == [20.0, 20.0], "the file's content"
    assert len(reads) == 1, "the records still came from the preview"

    # 2. a file adding an enterprise is previewed; another import removes one before it is committed
    more = stored(app, session, user, write_file(tmp_path / "more.xlsx", [*bundles, enterprise(3, jid)], session))
    assert _preview_upload(app, session, user, more).counts["new"] == 1
    commit(app, session, user, write_file(tmp_path / "fewer.xlsx", bundles[:2], session))
    result = _commit_upload(app, session, user, more)
    assert (result.counts["new"], result.counts["unchanged"]) == (2, 2)
    assert content(session)["enterprises"] == 4, "the file's four enterprises, not the preview's plan"


def test_number_share_integer_and_date_cells_taken_or_refused_as_before(app) -> None:  # type: ignore[no-untyped-def]
    """The converters' fast paths (a float in range, ISO date text) give what the general rules give."""
    main = {c.key: c for c in (*t.ENTERPRISE_COLUMNS, *t.UNIT_COLUMNS)}
    so2, lat = cells.converter(main["so2"]), cells.converter(main["latitude"])
    days, share = cells.converter(main["operating_days"]), cells.converter(main["share_so2"])
    with app.test_request_context():
        assert (so2(12.5), so2(0.0), so2(3), so2("1,234.5")) == (12.5, 0.0, 3.0, 1234.5)
        assert (lat(-90.0), lat(29.4), days(365.0), days("300"), share(0.3), share("30%")) == (
            -90.0, 29.4, 365, 300, 0.3, 0.3,
        )  # fmt: skip
        for conv, cell, why in [
            (so2, -0.5, "不能小于 0"),
            (so2, float("nan"), "不是数字"),
            (so2, float("inf"), "不是数字"),
            (lat, 90.5, "应在 -90 到 90 之间"),
            (days, 200.5, "应为整数"),
            (days, 400.0, "应在 1 到 366 之间"),
            (share, 1.5, "占比应在 0 到 1 之间"),
        ]:
            with pytest.raises(cells.Bad, match=why):
                conv(cell)
        assert [cells.a_date(v) for v in ("2024-05-01", "2024-5-1", "2024/05/01", "20240501", 45413.0)] == [
            "2024-05-01"
        ] * 5
        for bad in ("2024-02-30", "2024-13-01", "明年"):
            with pytest.raises(cells.Bad, match="不是有效日期"):
                cells.a_date(bad)


def _grade_a(b: Bundle) -> None:
    b.ent = tuple("A" if f == "grade" else v for f, v in zip(ENT_FIELDS, b.ent, strict=True))


def _regraded(b: Bundle) -> None:
    b.ent = tuple("2025-01-02" if f == "graded_on" else v for f, v in zip(ENT_FIELDS, b.ent, strict=True))


def _more_machines(b: Bundle) -> None:
    b.ent = tuple({"china_3": 3} if f == "machinery" else v for f, v in zip(ENT_FIELDS, b.ent, strict=True))


def _unit_outdoor(b: Bundle) -> None:
    b.units[1] = (*b.units[1][:10], True, False)


def _stricter_red(b: Bundle) -> None:
    b.measures = [(*m[:3], 60.0, *m[4:]) if m[0] == "red" and m[1] == "L1" else m for m in b.measures]


def _meter_moved(b: Bundle) -> None:
    b.meters = [("M1", "production", "L2", None)]


@pytest.mark.parametrize("change", [_grade_a, _regraded, _more_machines, _unit_outdoor, _stricter_red, _meter_moved])
def test_a_reimport_finds_exactly_the_enterprise_that_changed(
    app, session, make_bureau, make_user, tmp_path, change
) -> None:  # type: ignore[no-untyped-def]
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")

    def bundles() -> list[Bundle]:
        out = [enterprise(i, jid) for i in range(3)]
        for b in out:
            b.meters = [("M1", "production", "L1", None)]
        return out

    commit(app, session, user, write_file(tmp_path / "first.xlsx", bundles(), session))
    same = preview(app, session, user, write_file(tmp_path / "same.xlsx", bundles(), session))
    assert (same.counts["unchanged"], same.counts["changed"]) == (3, 0)
    edited = bundles()
    change(edited[1])
    p = preview(app, session, user, write_file(tmp_path / "edited.xlsx", edited, session))
    assert not p.errors, [i.where + i.message for i in p.errors]
    assert (p.counts["unchanged"], p.counts["changed"], p.counts["new"], p.counts["removed"]) == (2, 1, 0, 0)
