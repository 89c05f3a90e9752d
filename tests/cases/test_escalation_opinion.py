"""Escalation by hand records the supervision opinion (督办意见) and its reason after a confirmation; the board
marks the level along with overdue (issue 12.2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from app.cases.models import Case, CaseEvent
from app.cases.vocabulary import Escalation
from app.db import utcnow
from tests.conftest import audit_actions, csrf_token


def post(client: Any, url: str, data: dict[str, Any]) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")})


def overdue_case(app: Any, world: Any, login_as: Any, session: Any) -> int:
    rc = login_as(world.inspector, app.test_client())
    created = post(rc, "/cases/new", {"source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某厂",
                                      "place": "511083", "problem": "烟气超标"})  # fmt: skip
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    post(rc, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    session.execute(update(Case).where(Case.id == case_id).values(due_at=utcnow() - timedelta(hours=1)))
    session.commit()
    return case_id


def test_the_province_steps_up_with_its_opinion_after_confirming(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    case_id = overdue_case(app, world, login_as, session)
    sc = login_as(world.sc_staff, app.test_client())
    page = sc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="form-escalate"' in page and "督办意见" in page and "下一级：警示" in page

    missing = post(sc, f"/cases/{case_id}/escalate", {"reason": "超期未签收"})
    assert missing.status_code == 400
    form = missing.get_data(as_text=True).split('id="form-escalate"', 1)[1].split("</form>", 1)[0]
    assert "请填写督办意见" in form and 'value="超期未签收"' in form

    asked = post(sc, f"/cases/{case_id}/escalate", {"opinion": "请内江市局立即签收并组织核查", "reason": "超期未签收"})
    assert asked.status_code == 200
    form = asked.get_data(as_text=True).split('id="form-escalate"', 1)[1].split("</form>", 1)[0]
    assert 'data-testid="confirm-escalation"' in form and "请确认" in form
    assert 'name="confirm" value="1"' in form and "请内江市局立即签收并组织核查</textarea>" in form
    assert session.get(Case, case_id, populate_existing=True).escalation is None  # not yet

    done = post(sc, f"/cases/{case_id}/escalate",
                {"opinion": "请内江市局立即签收并组织核查", "reason": "超期未签收", "confirm": "1"})  # fmt: skip
    assert done.status_code == 302
    case = session.get(Case, case_id, populate_existing=True)
    assert case.escalation is Escalation.warning
    event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "escalate")).one()
    assert event.data["opinion"] == "请内江市局立即签收并组织核查" and event.data["reason"] == "超期未签收"
    page = sc.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "请内江市局立即签收并组织核查（超期未签收）" in page
    entry = [e for e in audit_actions("case.escalate") if e.object_id == str(case_id)][-1]
    assert entry.after["opinion"] == "请内江市局立即签收并组织核查"

    # The board marks the level next to overdue.
    board = sc.get("/cases/board").get_data(as_text=True)
    card = board.split(f'href="/cases/{case_id}"', 1)[1].split("</p>", 1)[0]
    assert 'data-testid="overdue"' in card and 'data-testid="escalation">警示<' in card
