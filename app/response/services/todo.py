"""The response's lines of the home page's work list (app/notifications/todos.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.roles import Permission
from app.notifications.item import Todo
from app.response.domain import reports as dom
from app.response.models import ResponseTask
from app.response.services import reports
from app.response.vocabulary import TaskState


def response_todos(session: Session, user: Any, now: datetime) -> list[Todo]:
    found: list[Todo] = []
    if user.can(Permission.work_response):
        # scoped: the open tasks of the reader's area
        open_tasks = session.scalar(select(func.count()).where(ResponseTask.state == TaskState.open)) or 0
        found.append(Todo("response_tasks", str(_l("待核查响应任务")), open_tasks, "response.tasks", {}))
    if user.can(Permission.report_response):
        owed = reports.owed(session, reports.units_in_reach(session, own=user), now)
        due = sum(1 for o in owed if o.standing.status in (dom.PENDING, dom.MISSING))
        missing = sum(1 for o in owed if o.standing.status == dom.MISSING)
        found.append(Todo("reports_due", str(_l("待报送日报和总结")), due, "response.reports", {}, urgent=missing > 0))
    return found
