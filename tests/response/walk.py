"""Response objects for the route walk: in each jurisdiction a unit, its area, one task (on the walk's
enterprise) with one measure, and a photo of it."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.db import utcnow
from app.plans.models import Plan
from app.response.models import ResponseArea, ResponseMeasure, ResponsePhoto, ResponseTask, ResponseUnit

RESPONSE_PARAMS = {
    frozenset({"task_id"}): lambda o: {"task_id": o["task"].id},
    frozenset({"task_id", "measure_id"}): lambda o: {"task_id": o["task"].id, "measure_id": o["measure"].id},
    frozenset({"photo_id"}): lambda o: {"photo_id": o["photo"].id},
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def add_response_objects(app: Any, session: Any, objects: dict[str, dict[str, Any]]) -> None:
    upload = Path(app.config["UPLOAD_DIR"]) / "response"
    upload.mkdir(parents=True, exist_ok=True)
    plan = session.scalars(select(Plan).where(Plan.code == "chuanyu")).one()
    from tests.response.conftest import make_episode

    for o in objects.values():
        e, jid = o["enterprise"], o["bureau"].jurisdiction_id
        n = make_episode(session, "chuanyu", o["bureau"].id)
        unit = ResponseUnit(episode_id=n, plan_id=plan.id, jurisdiction_id=jid, level="orange", starts_at=utcnow())
        session.add(unit)
        session.flush()
        area = ResponseArea(episode_id=n, unit_id=unit.id, jurisdiction_id=jid, level="orange", list_id=e.list_id)
        session.add(area)
        session.flush()
        task = ResponseTask(episode_id=n, area_id=area.id, jurisdiction_id=e.jurisdiction_id, enterprise_id=e.id,
                            list_id=e.list_id, uscc=e.uscc, enterprise_name=e.name, category=e.category,
                            supervision="onsite_supervision", level="orange")  # fmt: skip
        session.add(task)
        session.flush()
        measure = ResponseMeasure(task_id=task.id, jurisdiction_id=task.jurisdiction_id, level="orange",
                                  kind="truck_ban", verification="gate_records")  # fmt: skip
        session.add(measure)
        session.flush()
        stored = secrets.token_hex(16) + ".png"
        (upload / stored).write_bytes(PNG)
        photo = ResponsePhoto(measure_id=measure.id, jurisdiction_id=task.jurisdiction_id, filename="w.png",
                              stored_name=stored, content_type="image/png", size=len(PNG), sha256="0" * 64,
                              uploaded_by_id=o["user"].id)  # fmt: skip
        session.add(photo)
        session.commit()
        o["task"], o["measure"], o["photo"] = task, measure, photo
