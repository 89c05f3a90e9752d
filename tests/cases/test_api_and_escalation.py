"""Cases over the JSON API, overdue lists and step-by-step escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.cases.models import Case
from app.db import utcnow
from tests.conftest import audit_actions


def token_for(runner, username: str) -> str:  # type: ignore[no-untyped-def]
    result = runner.invoke(args=["users", "token", username, "--name", "test"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_api_create_transfer_receive(app, world, runner) -> None:  # type: ignore[no-untyped-def]
    api = app.test_client()
    insp = {"Authorization": f"Bearer {token_for(runner, 'rc_insp')}"}
    bad = api.post("/api/v1/cases", json={"source_type": "industrial", "topic": "超标排放", "place": "511083"},
                   headers=insp)  # fmt: skip
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "source_name"
    created = api.post("/api/v1/cases", headers=insp, json={
        "source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某砖厂", "place": "511083",
        "problem": "烟气超标",
    })  # fmt: skip
    assert created.status_code == 201, created.get_json()
    case = created.get_json()
    assert case["state"] == "discovered" and case["number"].startswith("XS-")
    moved = api.post(f"/api/v1/cases/{case['id']}/transitions", headers=insp,
                     json={"action": "transfer", "to_bureau_id": world.neijiang.id})  # fmt: skip
    assert moved.status_code == 200 and moved.get_json()["state"] == "transferred"
    nj = {"Authorization": f"Bearer {token_for(runner, 'nj_st')}"}
    inbox = api.get("/api/v1/cases?view=inbox", headers=nj).get_json()
    assert [c["number"] for c in inbox["cases"]] == [case["number"]]
    version = moved.get_json()["version"]
    ok = api.post(f"/api/v1/cases/{case['id']}/transitions", headers=nj, json={"action": "receive", "version": version})
    assert ok.status_code == 200 and ok.get_json()["state"] == "received"
    again = api.post(
        f"/api/v1/cases/{case['id']}/transitions", headers=nj, json={"action": "receive", "version": version}
    )
    assert again.status_code == 409 and again.is_json
    zg = {"Authorization": f"Bearer {token_for(runner, 'zg_st')}"}
    assert api.get(f"/api/v1/cases/{case['id']}", headers=zg).status_code == 404
    assert api.get("/api/v1/cases", headers=zg).get_json()["cases"] == []


def test_overdue_cases_escalate_step_by_step(app, world, login_as, runner, session) -> None:  # type: ignore[no-untyped-def]
    from tests.cases.test_loop import post

    inspector = login_as(world.inspector, app.test_client())
    created = post(
        inspector,
        "/cases/new",
        {
            "source_type": "mobile",
            "topic": "柴油货车冒黑烟",
            "source_name": "某物流",
            "place": "511083",
            "problem": "冒黑烟",
        },
    )
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    # 内江 did not sign within the time limit.
    session.execute(update(Case).where(Case.id == case_id).values(due_at=utcnow() - timedelta(hours=1)))
    session.commit()
    nj = login_as(world.nj_staff, app.test_client())
    assert session.get(Case, case_id).number in nj.get("/cases/overdue").get_data(as_text=True)
    steps = []
    for _ in range(5):
        session.execute(update(Case).where(Case.id == case_id).values(due_at=utcnow() - timedelta(hours=1)))
        session.commit()
        out = runner.invoke(args=["cases", "escalate"])
        assert out.exit_code == 0, out.output
        session.expire_all()
        steps.append(session.get(Case, case_id).escalation)
    assert [s.value if s else None for s in steps] == ["warning", "exposure", "supervised", "summons", "summons"]
    assert len([e for e in audit_actions("case.escalate") if e.object_id == str(case_id)]) == 4
    # The province supervises by hand only overdue cases; signing for the case ends the escalation.
    sc = login_as(world.sc_staff, app.test_client())
    assert post(sc, f"/cases/{case_id}/escalate", {}).status_code == 409  # already at summons
    from tests.cases.test_loop import act

    assert act(nj, case_id, "receive").status_code == 302
    assert session.get(Case, case_id, populate_existing=True).escalation is None


def test_the_overdue_list_shows_each_case_escaped_with_its_badges(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    from tests.cases.test_loop import post

    inspector = login_as(world.inspector, app.test_client())
    fields = {"source_type": "mobile", "topic": "柴油货车冒黑烟", "place": "511083", "problem": "冒黑烟"}
    created = post(inspector, "/cases/new", {**fields, "source_name": '<b>某物流&"车队"</b>'})
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    session.execute(update(Case).where(Case.id == case_id).values(due_at=utcnow() - timedelta(hours=1)))
    session.commit()
    page = login_as(world.nj_staff, app.test_client()).get("/cases/overdue").get_data(as_text=True)
    table = page.split('data-testid="case-table"', 1)[1].split("</table>", 1)[0]
    row = next(r for r in table.split("<tr>") if f'href="/cases/{case_id}"' in r)
    assert "<b>" not in row and "&lt;b&gt;某物流&amp;&#34;车队&#34;&lt;/b&gt;" in row
    assert "<td>移动源 · 柴油货车冒黑烟</td>" in row and '<span class="badge">已移交</span>' in row
    assert '<span class="badge bad">超期</span>' in row and world.neijiang.name in row


def test_board_and_figures(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    from tests.cases.test_loop import post

    inspector = login_as(world.inspector, app.test_client())
    for name in ("甲厂", "乙厂"):
        post(
            inspector,
            "/cases/new",
            {
                "source_type": "industrial",
                "topic": "超标排放",
                "source_name": name,
                "place": "500153",
                "problem": "p",
                "staff": "3",
                "round_label": "第一轮",
            },
        )
    board = inspector.get("/cases/board").get_data(as_text=True)
    assert "已发现" in board and "甲厂" in board
    figures = inspector.get("/cases/figures").get_data(as_text=True)
    assert "重庆市荣昌区生态环境局" in figures
    # districts, rounds, staff, inspections, enterprises, key enterprises, key industries, found, transferred
    cells = "".join(f'<td class="num">{n}</td>' for n in (1, 1, 6, 2, 2, 0, 0, 2, 0))
    assert cells in figures.replace("\n", "")


@pytest.mark.parametrize(
    ("case_id", "to_bureau", "message"),
    [("own", "99999999999999999999999", "请选择接收单位"), ("99999999999999999999", "nj", "请选择要移交的线索")],
)
def test_the_transfer_screen_refuses_ids_beyond_their_range(app, world, login_as, case_id, to_bureau, message) -> None:  # type: ignore[no-untyped-def]
    from tests.cases.test_loop import post

    inspector = login_as(world.inspector, app.test_client())
    fields = {"source_type": "mobile", "topic": "柴油货车冒黑烟", "place": "511083", "problem": "冒黑烟"}
    created = post(inspector, "/cases/new", {**fields, "source_name": "某物流"})
    own = created.headers["Location"].rsplit("/", 1)[1]
    form = {
        "case_id": own if case_id == "own" else case_id,
        "to_bureau": world.neijiang.id if to_bureau == "nj" else to_bureau,
        "confirm": "1",
    }
    answer = post(inspector, "/cases/transfers", form)
    assert answer.status_code in (400, 404, 422), answer.status_code
    assert message in answer.get_data(as_text=True)


def test_a_stepped_up_case_stays_on_the_overdue_list_until_it_moves(app, world, login_as, runner, session) -> None:  # type: ignore[no-untyped-def]
    from tests.cases.test_loop import act, post

    inspector = login_as(world.inspector, app.test_client())
    fields = {"source_type": "mobile", "topic": "柴油货车冒黑烟", "source_name": "某物流", "place": "511083"}
    created = post(inspector, "/cases/new", {**fields, "problem": "冒黑烟"})
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    session.execute(update(Case).where(Case.id == case_id).values(due_at=utcnow() - timedelta(hours=1)))
    session.commit()
    assert runner.invoke(args=["cases", "escalate"]).exit_code == 0
    session.expire_all()
    case = session.get(Case, case_id)
    # The warning moved the time limit on to the next step, yet the case is still late in its state.
    assert case.escalation.value == "warning" and case.due_at > utcnow()
    nj = login_as(world.nj_staff, app.test_client())
    page = nj.get("/cases/overdue").get_data(as_text=True)
    assert case.number in page
    assert "超期线索" in nj.get("/").get_data(as_text=True)
    # The next run does not step it again before that next period has run out.
    assert runner.invoke(args=["cases", "escalate"]).exit_code == 0
    session.expire_all()
    assert session.get(Case, case_id).escalation.value == "warning"
    # Signing for it ends the escalation: it leaves the overdue list.
    assert act(nj, case_id, "receive").status_code == 302
    assert case.number not in nj.get("/cases/overdue").get_data(as_text=True)
