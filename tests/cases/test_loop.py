"""The issue's "done when": an inspector of 荣昌区 logs a problem at a plant in 内江; the transfer form is
printed; 内江's bureau signs for it, handles it, rectifies it; 荣昌 verifies; it is closed; both provincial
bureaus saw the copy and no other bureau saw anything."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.cases.models import Case, CaseEvent
from tests.cases.conftest import png_bytes
from tests.conftest import audit_actions, csrf_token


def post(client, url, data, **kw):  # type: ignore[no-untyped-def]
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")}, **kw)


def act(client, case_id, action, **fields):  # type: ignore[no-untyped-def]
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page)
    data = {"action": action, "version": version.group(1) if version else "", **fields}
    return post(client, f"/cases/{case_id}/transition", data)


def upload(client, case_id, kind, name="photo.png"):  # type: ignore[no-untyped-def]
    return post(
        client,
        f"/cases/{case_id}/evidence",
        {"kind": kind, "files": (io.BytesIO(png_bytes()), name)},
        content_type="multipart/form-data",
    )


def test_the_closed_loop_across_the_border(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    form = inspector.get("/cases/new")
    assert form.status_code == 200 and "登记问题线索" in form.get_data(as_text=True)
    created = post(inspector, "/cases/new", {
        "source_type": "industrial", "topic": "未落实应急减排措施", "source_name": "隆昌某陶瓷有限公司",
        "source_address": "隆昌市古湖街道", "place": "511083", "problem": "橙色预警期间窑炉未按一厂一策限产",
        "origin": "field_inspection", "latitude": "29.34", "longitude": "105.28",
        "photos": (io.BytesIO(png_bytes()), "现场.png"),
    }, content_type="multipart/form-data")  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)[:500]
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    page = inspector.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已发现" in page and "内江市生态环境局" in page  # offered as the bureau to transfer to
    number = session.get(Case, case_id).number
    assert number.startswith("XS-") and "-500153-" in number

    # Transfer with a transfer form, and print it.
    transfer = post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    assert transfer.status_code == 302
    tpage = inspector.get(transfer.headers["Location"]).get_data(as_text=True)
    form_no = re.search(r"(YJ-\d{4}-500153-\d{4})", tpage).group(1)
    pdf = inspector.get(re.search(r'href="(/cases/transfers/\d+\.pdf)"', tpage).group(1))
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
        for word in ("问题线索移交单", form_no, number, "隆昌某陶瓷有限公司", "移交单位（签章）", "接收单位（签章）"):
            assert word in text, word
    assert audit_actions("case_transfer.print")

    # 内江 sees it in its inbox, signs for it, handles it, orders rectification.
    nj = login_as(world.nj_staff, app.test_client())
    assert number in nj.get("/cases/inbox").get_data(as_text=True)
    assert act(nj, case_id, "receive").status_code == 302
    assert act(nj, case_id, "handle").status_code == 302
    refused = act(nj, case_id, "order", enforcement_action="责令限产", rectify_plan="窑炉按B级限产")
    assert refused.status_code == 400 and "请填写整改期限" in refused.get_data(as_text=True)
    deadline = (date.today() + timedelta(days=7)).isoformat()
    assert (
        act(
            nj,
            case_id,
            "order",
            enforcement_action="立案查处并责令改正",
            decision_number="内环罚〔2026〕12号",
            penalty_amount="50000",
            rectify_deadline=deadline,
            rectify_plan="窑炉按B级限产",
        ).status_code
        == 302
    )
    no_evidence = act(nj, case_id, "report")
    assert no_evidence.status_code == 400 and "整改材料" in no_evidence.get_data(as_text=True)
    assert upload(nj, case_id, "rectification").status_code == 302
    assert act(nj, case_id, "report", note="已限产并安装用电监控").status_code == 302
    # 内江 cannot verify its own rectification.
    assert act(nj, case_id, "verify", note="x").status_code == 403

    # 荣昌 verifies with evidence and closes.
    rc = login_as(world.rc_staff, app.test_client())
    assert number in rc.get("/cases/?view=verify").get_data(as_text=True)
    assert act(rc, case_id, "verify", note="x").status_code == 400  # verification evidence first
    assert upload(rc, case_id, "verification", "核查.png").status_code == 302
    assert act(rc, case_id, "verify", note="现场复核，已整改到位").status_code == 302
    assert act(rc, case_id, "close").status_code == 302
    closed = rc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已销号" in closed

    events = [
        e.action for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id))
    ]
    assert events == ["create", "transfer", "receive", "handle", "order", "report", "verify", "close"]
    assert {e.action for e in audit_actions("case.")} >= {"case.create", "case.transfer", "case.receive", "case.close"}

    # Both provincial bureaus saw the copy; nobody else saw anything.
    for user in (world.sc_staff, world.cq_staff):
        c = login_as(user, app.test_client())
        assert c.get(f"/cases/{case_id}").status_code == 200
        assert number in c.get("/cases/?view=all").get_data(as_text=True)
        assert act(c, case_id, "reopen", reason="x").status_code in (403, 409)
    for user in (world.zg_staff, world.yc_staff):
        c = login_as(user, app.test_client())
        assert c.get(f"/cases/{case_id}").status_code == 404
        assert number not in c.get("/cases/?view=all").get_data(as_text=True)
        assert c.get(re.search(r'href="(/cases/transfers/\d+\.pdf)"', tpage).group(1)).status_code == 404
        evidence_ids = re.findall(r"/cases/evidence/(\d+)", closed)
        assert evidence_ids and all(c.get(f"/cases/evidence/{i}").status_code == 404 for i in evidence_ids)


def test_return_and_reroute_and_reopen(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    created = post(
        inspector,
        "/cases/new",
        {"source_type": "dust", "topic": "道路扬尘", "source_name": "某工地", "place": "511083", "problem": "未洒水"},
    )
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    nj = login_as(world.nj_staff, app.test_client())
    no_reason = act(nj, case_id, "return")
    assert no_reason.status_code == 400 and "退回原因" in no_reason.get_data(as_text=True)
    assert act(nj, case_id, "return", reason="该工地位于自贡市荣县，请改移自贡").status_code == 302
    page = inspector.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已退回" in page and "请改移自贡" in page
    # 内江 no longer has it in its inbox.
    assert session.get(Case, case_id).responsible_bureau_id is None


def test_stale_form_gets_a_conflict_and_changes_nothing(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    created = post(
        inspector,
        "/cases/new",
        {"source_type": "area", "topic": "秸秆露天焚烧", "source_name": "某村", "place": "511083", "problem": "焚烧"},
    )
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    nj = login_as(world.nj_staff, app.test_client())
    version = session.get(Case, case_id).lock_version
    first = post(nj, f"/cases/{case_id}/transition", {"action": "receive", "version": version})
    second = post(nj, f"/cases/{case_id}/transition", {"action": "receive", "version": version})
    assert first.status_code == 302
    assert second.status_code == 409 and "已被他人处理" in second.get_data(as_text=True)
    assert len(audit_actions("case.receive")) == 1


def test_bad_uploads_are_refused_and_nothing_is_written(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    response = post(inspector, "/cases/new", {
        "source_type": "industrial", "topic": "超标排放", "source_name": "X", "place": "500153", "problem": "p",
        "photos": (io.BytesIO(b"<html><script>alert(1)</script>"), "photo.jpg"),
    }, content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 400
    assert "不是照片" in response.get_data(as_text=True)
    assert session.scalars(select(Case).where(Case.source_name == "X")).first() is None


@pytest.mark.parametrize("field,value,message", [
    ("source_name", "", "请填写污染源名称"), ("place", "999999", "请选择问题所在的区县"),
    ("inspected_at", "2999-01-01T10:00", "检查时间不能晚于现在"), ("latitude", "abc", "位置坐标不正确"),
])  # fmt: skip
def test_phone_form_names_the_field(app, world, login_as, field, value, message) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    data = {
        "source_type": "industrial",
        "topic": "超标排放",
        "source_name": "某厂",
        "place": "500153",
        "problem": "p",
        "longitude": "105",
        field: value,
    }
    response = post(inspector, "/cases/new", data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_complainant_is_masked_outside_the_handling_bureau(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.rc_staff, app.test_client())
    created = post(
        rc,
        "/cases/new",
        {
            "source_type": "area",
            "topic": "餐饮油烟直排",
            "source_name": "某餐馆",
            "place": "511083",
            "problem": "油烟直排",
            "origin": "complaint",
            "complainant_name": "张三丰",
            "complainant_phone": "13800000000",
        },
    )
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(rc, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    assert "张三丰" not in rc.get(f"/cases/{case_id}").get_data(as_text=True)
    nj = login_as(world.nj_staff, app.test_client())
    assert "张三丰" in nj.get(f"/cases/{case_id}").get_data(as_text=True)
    sc = login_as(world.sc_staff, app.test_client())
    html = sc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "张三丰" not in html and "13800000000" not in html and "张＊＊" in html
