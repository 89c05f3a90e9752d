"""A session's last use is written at most once a minute, and never waits for another request of the same
session: while one request holds the row (its own touch, until it commits), the others go on at once.

Two connections must see each other, so the test runs on a database of its own (as test_concurrency does)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.auth.models import Bureau, BureauKind, User, UserRole, UserSession
from app.auth.roles import Role
from app.auth.services import resume_session, start_session
from app.db import utcnow
from app.places.models import Jurisdiction
from tests.conftest import private_sessions

pytestmark = pytest.mark.no_transaction
IDLE, ABSOLUTE = timedelta(minutes=30), timedelta(hours=12)


@pytest.fixture
def sessions(tmp_path: Path, app) -> Iterator[Callable[[], Session]]:  # type: ignore[no-untyped-def]
    with private_sessions("touch", tmp_path, "touch-test-audit-key") as new:
        yield new


def test_last_use_is_written_once_a_minute_without_waiting(app, sessions) -> None:  # type: ignore[no-untyped-def]
    with sessions() as s, app.test_request_context():
        place = s.scalar(select(Jurisdiction).where(Jurisdiction.code == "500153"))
        bureau = Bureau(name="重庆市荣昌区生态环境局", kind=BureauKind.branch, jurisdiction_id=place.id)
        s.add(bureau)
        s.flush()
        user = User(username="touch", display_name="touch", bureau_id=bureau.id, jurisdiction_id=place.id,
                    password_hash="!", role_rows=[UserRole(role=Role.district_staff)])  # fmt: skip
        s.add(user)
        s.flush()
        raw = start_session(s, user, ip="127.0.0.1", user_agent="test")
        s.commit()
        sid = s.scalar(select(UserSession.id).where(UserSession.user_id == user.id))
        two_minutes_ago = utcnow() - timedelta(minutes=2)
        s.execute(update(UserSession).where(UserSession.id == sid).values(last_seen_at=two_minutes_ago))
        s.commit()

    first, second = sessions(), sessions()
    try:
        found, row = resume_session(first, raw, idle=IDLE, absolute=ABSOLUTE)  # touches, holds the row
        assert found is not None and row.last_seen_at > two_minutes_ago
        if first.get_bind().dialect.name == "postgresql":
            # the same session's next request, while the first has not committed: it must not wait
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            found, _row = resume_session(second, raw, idle=IDLE, absolute=ABSOLUTE)
            assert found is not None and found.username == "touch"
            second.commit()
        first.commit()
    finally:
        first.close()
        second.close()

    with sessions() as s:
        touched = s.scalar(select(UserSession.last_seen_at).where(UserSession.id == sid))
        assert touched > two_minutes_ago + timedelta(seconds=60)
        found, _ = resume_session(s, raw, idle=IDLE, absolute=ABSOLUTE)  # within the minute: nothing written
        s.commit()
        assert s.scalar(select(UserSession.last_seen_at).where(UserSession.id == sid)) == touched
