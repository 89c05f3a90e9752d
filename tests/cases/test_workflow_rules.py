"""The closed loop's rules hold for every way in: a transfer moves each case through the one transition
function, the state's CHECK constraints refuse rows the workflow could never make, and a case's timeline,
evidence and inspections are written only by those who may write the case."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import IntegrityError

from app.auth.models import User
from app.auth.services import scope_for
from app.cases.models import Case, CaseEvent, Evidence, Inspection
from app.cases.services import records, workflow
from app.cases.vocabulary import CaseState, EvidenceKind
from app.core.scoping import ScopeViolation, set_scope
from app.db import utcnow
from tests.cases.conftest import png_bytes
from tests.cases.test_loop import act, post, upload
from tests.conftest import audit_actions


def _new_case(client, place="511083", name="某工地"):  # type: ignore[no-untyped-def]
    created = post(
        client,
        "/cases/new",
        {"source_type": "dust", "topic": "道路扬尘", "source_name": name, "place": place, "problem": "未洒水"},
    )
    assert created.status_code == 302, created.get_data(as_text=True)[:300]
    return int(created.headers["Location"].rsplit("/", 1)[1])


def test_a_transfer_form_moves_each_case_through_the_transition(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    first, second = _new_case(inspector, name="甲工地"), _new_case(inspector, name="乙工地")
    answer = post(
        inspector, "/cases/transfers", {"case_id": [first, second], "to_bureau": world.neijiang.id, "confirm": "1"}
    )
    assert answer.status_code == 302
    # one audit entry per case's state change (the transition's), and the form's own
    moved = audit_actions("case.transfer")
    case_entries = sorted(e.object_id for e in moved if e.object_type == "case_record")
    assert case_entries == sorted(str(i) for i in (first, second))
    for case_id in (first, second):
        case = session.get(Case, case_id)
        assert case.state is CaseState.transferred and case.responsible_bureau_id == world.neijiang.id
        event = [e for e in case.events if e.action == "transfer"]
        assert len(event) == 1 and event[0].from_state is CaseState.discovered and "内江" in event[0].note
    # a case already transferred is refused by the same rule, with its state named
    again = post(inspector, "/cases/transfers", {"case_id": first, "to_bureau": world.neijiang.id, "confirm": "1"})
    assert again.status_code == 409 and "已移交" in again.get_data(as_text=True)


def test_the_transition_refuses_a_transfer_without_a_form(app, world, session) -> None:  # type: ignore[no-untyped-def]
    inspector = session.get(User, world.inspector.id)
    set_scope(session, scope_for(session, inspector))
    case = records.create_case(
        session, inspector,
        {"source_type": "dust", "topic": "道路扬尘", "source_name": "某工地", "place": "511083", "problem": "x"},
    )  # fmt: skip
    with pytest.raises(workflow.ServiceError, match="移交单"):
        workflow.transition(session, case, workflow.Action.transfer, inspector, {})
    assert case.state is CaseState.discovered


def test_reporting_twice_and_verifying_before_a_report_are_refused(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    case_id = _new_case(inspector)
    post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    nj = login_as(world.nj_staff, app.test_client())
    assert act(nj, case_id, "receive").status_code == 302
    assert act(nj, case_id, "handle").status_code == 302
    deadline = utcnow().date().replace(year=utcnow().year + 1).isoformat()
    ordered = act(nj, case_id, "order", enforcement_action="责令改正", rectify_deadline=deadline, rectify_plan="洒水")
    assert ordered.status_code == 302
    early = act(inspector, case_id, "verify", note="已核查")
    assert early.status_code in (403, 409) and "尚未报告整改完成" in early.get_data(as_text=True)
    assert upload(nj, case_id, "rectification").status_code == 302
    assert act(nj, case_id, "report", note="已洒水").status_code == 302
    twice = act(nj, case_id, "report", note="再次报告")
    assert twice.status_code in (403, 409)
    assert len(audit_actions("case.report")) == 1


@pytest.mark.parametrize(
    ("state", "rectified", "constraint"),
    [
        ("verified", False, "verified_was_reported"),
        ("handling", True, "reported_only_in_rectification"),
        ("received", True, "reported_only_in_rectification"),
    ],
)
def test_the_state_checks_refuse_what_the_workflow_never_writes(  # type: ignore[no-untyped-def]
    app, world, login_as, session, state, rectified, constraint
) -> None:
    inspector = login_as(world.inspector, app.test_client())
    case_id = _new_case(inspector)
    case = session.get(Case, case_id)
    now = utcnow()
    values = {
        "state": state, "transferred_at": now, "received_at": now, "enforcement_action": "责令改正",
        "rectify_deadline": now.date(), "rectify_plan": "洒水", "verified_at": now,
        "verified_by_id": world.inspector.id, "verification_note": "已核查", "rectified_at": now if rectified else None,
    }  # fmt: skip
    with pytest.raises(IntegrityError, match=constraint), session.begin_nested():
        statement = update(Case).where(Case.id == case.id).values(**values)
        session.execute(statement.execution_options(synchronize_session=False))


def test_evidence_events_and_inspections_outside_reach_are_not_written(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    case_id = _new_case(inspector)  # a problem in 内江, logged by 荣昌
    # 自贡's bureau can neither read nor write 内江's case, whatever it adds to it
    zg, own = session.get(User, world.zg_staff.id), session.get(User, world.inspector.id)
    zg_scope, own_scope = scope_for(session, zg), scope_for(session, own)
    set_scope(session, zg_scope)
    j = session.execute(text("SELECT jurisdiction_id FROM case_record WHERE id = :id"), {"id": case_id}).scalar_one()
    rows = [
        CaseEvent(case_id=case_id, jurisdiction_id=j, action="note", actor_name="x"),
        Evidence(case_id=case_id, jurisdiction_id=j, kind=EvidenceKind.discovery, filename="x.png",
                 stored_name="x" * 32, content_type="image/png", size=1, sha256="0" * 64,
                 uploaded_by_id=world.zg_staff.id),
        Inspection(bureau_id=world.neijiang.id, jurisdiction_id=j, inspected_at=utcnow(), source_name="某厂"),
    ]  # fmt: skip
    for row in rows:
        with pytest.raises(ScopeViolation), session.begin_nested():
            session.add(row)
            session.flush()
    # the discovering bureau still writes its case's timeline and evidence, and its own inspection there
    set_scope(session, own_scope)
    session.add(CaseEvent(case_id=case_id, jurisdiction_id=j, action="note", actor_name="荣昌执法员"))
    session.add(Inspection(bureau_id=world.rongchang.id, jurisdiction_id=j, inspected_at=utcnow(), source_name="某厂"))
    session.flush()
    assert upload(inspector, case_id, "discovery", name="补充.png").status_code == 302


def test_a_joint_inspection_is_recorded_in_another_bureaus_area(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    answer = post(
        inspector, "/cases/inspections", {"source_name": "隆昌某砖厂", "place": "511083", "staff": "3", "joint": "1"}
    )
    assert answer.status_code in (200, 302), answer.get_data(as_text=True)[:300]
    assert audit_actions("inspection.create")


def test_photos_go_with_the_case_form(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    created = post(
        inspector, "/cases/new",
        {"source_type": "dust", "topic": "道路扬尘", "source_name": "某工地", "place": "511083", "problem": "未洒水",
         "photos": (io.BytesIO(png_bytes()), "现场.png")},
        content_type="multipart/form-data",
    )  # fmt: skip
    case = session.get(Case, int(created.headers["Location"].rsplit("/", 1)[1]))
    assert [e.filename for e in case.evidence] == ["现场.png"]
