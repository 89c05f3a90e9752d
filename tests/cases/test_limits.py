"""Time limits per state, set by the plan of the case's area or by the bureau (issue 4, deadlines): validated
when the plan file is loaded, applied bureau > plan > default, and shown on the case page with their source."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app.auth.models import Bureau
from app.cases import limits
from app.cases.limits import BUREAU, DEFAULT, PLAN, Limit
from app.cases.models import Case
from app.cases.vocabulary import CaseState, EvidenceKind, label
from app.db import utcnow
from app.plans.models import Plan
from tests.cases.test_loop import act, post

ROOT = Path(__file__).resolve().parents[2] / "inventories"
CHUANYU = "川渝地区秋冬季重污染天气应急联动工作方案"


def test_a_limits_table_is_checked_key_by_key() -> None:
    assert limits.check({"handling": 48, "received": 12}) == ({"handling": 48, "received": 12}, [])
    good, problems = limits.check(
        {"closed": 5, "rectifying": 24, "handling": 0, "received": 1.5, "verified": True, "transferred": 6}
    )
    assert good == {"transferred": 6}
    assert problems == [
        "case_limits.closed is not a state with a time limit "
        "(states: discovered, returned, transferred, received, handling, verified)",
        "case_limits.rectifying is due at the rectification deadline of its order "
        "(states: discovered, returned, transferred, received, handling, verified)",
        "case_limits.handling must be whole hours from 1 to 8760, not 0",
        "case_limits.received must be whole hours from 1 to 8760, not 1.5",
        "case_limits.verified must be whole hours from 1 to 8760, not True",
    ]
    assert limits.check(["handling"])[1] == ["case_limits must be a table of state = hours"]


def test_the_bureau_wins_over_the_plan_which_wins_over_the_default_state_by_state() -> None:
    got = limits.applicable([("川渝方案", {"handling": 48, "received": 12})], ("内江市生态环境局", {"handling": 36}))
    assert got[CaseState.handling] == Limit(36, BUREAU, "内江市生态环境局")
    assert got[CaseState.received] == Limit(12, PLAN, "川渝方案")
    assert got[CaseState.transferred] == Limit(24, DEFAULT)
    assert got[CaseState.verified] == Limit(72, DEFAULT)
    assert CaseState.rectifying not in got and CaseState.closed not in got


def test_of_several_plans_the_shortest_limit_applies_and_a_bad_stored_setting_is_skipped() -> None:
    got = limits.applicable(
        [("甲方案", {"handling": 48, "received": 30}), ("乙方案", {"handling": 60, "received": 6})],
        ("某局", {"handling": "soon", "closed": 1}),
    )
    assert got[CaseState.handling] == Limit(48, PLAN, "甲方案")
    assert got[CaseState.received] == Limit(6, PLAN, "乙方案")


def test_a_state_and_a_kind_of_evidence_of_the_same_value_keep_their_own_labels() -> None:
    assert label(CaseState.handling) == "处置中" and label(EvidenceKind.handling) == "处置材料"


def plans_root(tmp_path: Path, table: str) -> Path:
    root = tmp_path / "inv"
    shutil.copytree(ROOT, root)
    toml = root / "plans" / "chuanyu.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[case_limits]\n" + table, encoding="utf-8")
    return root


def test_plan_limits_load_idempotently_and_a_bad_one_names_file_and_key(runner, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = plans_root(tmp_path, "transferred = 6\nreceived = 12\nhandling = 48\n")
    loaded = runner.invoke(args=["inventories", "load", "--root", str(root)])
    assert loaded.exit_code == 0, loaded.output
    plan = session.scalars(select(Plan).where(Plan.code == "chuanyu")).one()
    assert plan.case_limits == {"transferred": 6, "received": 12, "handling": 48}
    again = runner.invoke(args=["inventories", "load", "--root", str(root)])
    assert again.exit_code == 0 and "nothing changed" in again.output

    bad = plans_root(tmp_path / "bad", "handling = 0\nclosing = 3\n")
    refused = runner.invoke(args=["inventories", "load", "--root", str(bad)])
    assert refused.exit_code != 0
    assert "plans/chuanyu.toml: case_limits.handling must be whole hours from 1 to 8760, not 0" in refused.output
    assert "plans/chuanyu.toml: case_limits.closing is not a state with a time limit" in refused.output
    assert "nothing was loaded" in refused.output
    session.expire_all()
    assert session.scalars(select(Plan).where(Plan.code == "chuanyu")).one().case_limits["handling"] == 48


def due_in_hours(session, case_id: int) -> float:  # type: ignore[no-untyped-def]
    session.expire_all()
    due: datetime = session.get(Case, case_id).due_at
    return (due - utcnow()) / timedelta(hours=1)


def test_deadlines_follow_the_plan_of_the_area_and_the_bureau_and_the_case_page_says_why(  # type: ignore[no-untyped-def]
    app, world, login_as, runner, session, tmp_path
) -> None:
    root = plans_root(tmp_path, "transferred = 6\nreceived = 12\nhandling = 48\n")
    assert runner.invoke(args=["inventories", "load", "--root", str(root)]).exit_code == 0
    session.get(Bureau, world.neijiang.id).case_limits = {"received": 2}
    session.commit()

    # 荣昌 (Chongqing) logs a problem in 隆昌, a county of 内江: the 川渝 plan covers it through 内江.
    inspector = login_as(world.inspector, app.test_client())
    created = post(inspector, "/cases/new", {
        "source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某砖厂", "place": "511083",
        "problem": "烟气超标", "origin": "field_inspection",
    })  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)[:300]
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert 23.9 < due_in_hours(session, case_id) <= 24  # no plan or bureau sets "discovered"
    assert (
        post(
            inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"}
        ).status_code
        == 302
    )
    assert 5.9 < due_in_hours(session, case_id) <= 6  # the plan

    nj = login_as(world.nj_staff, app.test_client())
    assert act(nj, case_id, "receive").status_code == 302
    assert 1.9 < due_in_hours(session, case_id) <= 2  # 内江's own setting wins over the plan's 12 hours
    page = nj.get(f"/cases/{case_id}").get_data(as_text=True)
    table = re.search(r'<table data-testid="case-limits">.*?</table>', page, re.S).group(0)
    rows = {}
    for row in table.split("<tr")[2:]:  # after the header row
        state, hours, source = (
            re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        )
        rows[re.sub(r"\s+", "", state)] = (hours, source)
    assert rows["已签收当前"] == ("2 小时", "单位设置：内江市生态环境局")
    assert rows["已移交"] == ("6 小时", f"方案：{CHUANYU}")
    assert rows["处置中"] == ("48 小时", f"方案：{CHUANYU}")
    assert rows["已核查"] == ("72 小时", "系统默认")
    assert rows["整改中"][0] == "整改期限"

    assert act(nj, case_id, "handle").status_code == 302
    assert 47.9 < due_in_hours(session, case_id) <= 48
    # The discovering bureau reads the page with the same limits, 内江's setting included.
    rc_page = login_as(world.rc_staff, app.test_client()).get(f"/cases/{case_id}").get_data(as_text=True)
    assert "单位设置：内江市生态环境局" in rc_page and f"方案：{CHUANYU}" in rc_page
