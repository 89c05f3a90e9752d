"""Ten staff of the receiving bureau sign for one transferred case at the same instant, each through its own
session and database connection: exactly one wins, the nine others get a Conflict, the case is received
once and the audit log has one `case.receive` entry for it.

The attempts must see each other's commits, so nothing can run inside the usual rolled-back transaction. And
what they commit cannot be deleted: the case's timeline (`case_event`) and the audit log are append-only by
trigger, which keeps the case and the bureaus and users it points to as well. Left in the shared test database,
those rows would show up in other tests (one counts every `case.receive` audit entry). So the test runs on a
database of its own on the same server, created for it and dropped afterwards: a SQLite file, or
`<test db>_concurrency` beside TEST_DATABASE_URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.auth.models import Bureau, BureauKind, User, UserRole
from app.auth.roles import Role
from app.auth.services import scope_for
from app.cases.models import Case, CaseEvent
from app.cases.services import records, workflow
from app.cases.vocabulary import CaseState
from app.core.errors import Conflict
from app.core.scoping import set_scope
from app.places.models import Jurisdiction
from tests.conftest import private_sessions

pytestmark = pytest.mark.no_transaction

ATTEMPTS = 10
AUDIT_KEY = "concurrency-test-audit-key"
NO_LOGIN = "!"  # nobody logs in: the attempts call the transition function directly


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Callable[[], Session]]:
    with private_sessions("concurrency", tmp_path, AUDIT_KEY) as new:
        yield new


def _user(s: Session, username: str, bureau: Bureau, role: Role) -> User:
    user = User(username=username, display_name=username, bureau_id=bureau.id, jurisdiction_id=bureau.jurisdiction_id,
                password_hash=NO_LOGIN, role_rows=[UserRole(role=role)])  # fmt: skip
    s.add(user)
    return user


def _transferred_case(new: Callable[[], Session]) -> tuple[int, int, list[int]]:
    """A case found by a 荣昌 inspector in 隆昌市, transferred to 内江's bureau: its id, its last timeline
    event and the ids of the ten 内江 staff who will sign for it."""
    with new() as s:
        place = {j.code: j for j in s.scalars(select(Jurisdiction).where(Jurisdiction.code.in_(["500153", "511000"])))}
        finder = Bureau(name="重庆市荣昌区生态环境局", kind=BureauKind.branch, jurisdiction_id=place["500153"].id)
        taker = Bureau(name="内江市生态环境局", kind=BureauKind.bureau, jurisdiction_id=place["511000"].id)
        s.add_all([finder, taker])
        s.flush()
        inspector = _user(s, "rc_insp", finder, Role.inspector)
        receivers = [_user(s, f"nj_staff_{i}", taker, Role.city_staff) for i in range(ATTEMPTS)]
        s.flush()
        case = records.create_case(s, inspector, {
            "source_type": "industrial", "topic": "治污设施未正常运行", "origin": "field_inspection",
            "source_name": "隆昌市鑫旺页岩砖厂", "place": "511083", "problem": "脱硫塔循环泵停运，排气筒可见明显烟尘",
        })  # fmt: skip
        records.create_transfer(s, inspector, [case.id], taker.id)
        s.commit()
        assert case.state is CaseState.transferred and case.responsible_bureau_id == taker.id
        last_event = s.scalar(select(func.max(CaseEvent.id)).where(CaseEvent.case_id == case.id))
        return case.id, last_event, [r.id for r in receivers]


def test_ten_concurrent_signatures_one_wins(sessions: Callable[[], Session]) -> None:
    case_id, last_event, receiver_ids = _transferred_case(sessions)
    with sessions() as s:
        postgres = s.get_bind().dialect.name == "postgresql"
    start = threading.Barrier(ATTEMPTS, timeout=30)
    # On PostgreSQL every attempt first reads the case (all see `transferred` at the same version) and only
    # then writes: the worst case for optimistic locking. SQLite takes its write lock at BEGIN (IMMEDIATE), so
    # a reader holds it until it commits and a barrier there would deadlock: there the writers queue.
    loaded = threading.Barrier(ATTEMPTS, timeout=30) if postgres else None

    def attempt(user_id: int) -> str:
        with sessions() as s:
            try:
                start.wait()
                user = s.get(User, user_id)
                set_scope(s, scope_for(s, user))  # the receiver's own scope, as in a request
                case = s.get(Case, case_id)
                assert case is not None
                if loaded is not None:
                    loaded.wait()
                workflow.transition(s, case, workflow.Action.receive, user)
                s.commit()
                return "ok"
            except Conflict:
                s.rollback()
                return "conflict"
            except Exception as exc:  # any other outcome is reported by the assertion below
                s.rollback()
                return f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:200]}"

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        outcomes = list(pool.map(attempt, receiver_ids))

    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("conflict") == ATTEMPTS - 1, outcomes
    with sessions() as s:
        case = s.get(Case, case_id)
        assert case.state is CaseState.received and case.received_at is not None
        # One state change: the timeline gained exactly one event, transferred → received.
        changes = s.execute(
            select(CaseEvent.action, CaseEvent.from_state, CaseEvent.to_state)
            .where(CaseEvent.case_id == case_id, CaseEvent.id > last_event).order_by(CaseEvent.id)
        ).all()  # fmt: skip
        assert [tuple(c) for c in changes] == [("receive", CaseState.transferred, CaseState.received)]
        audited = s.scalar(
            select(func.count()).select_from(AuditEntry)
            .where(AuditEntry.action == "case.receive", AuditEntry.object_id == str(case_id))
        )  # fmt: skip
        assert audited == 1
