"""Readings in through the upload screen and the bulk API (issue 14 point 1): own area only, bad rows by line and
nothing kept, unknown meters named, an Idempotency-Key replayed or refused, a large batch as a job with progress."""

from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from app.jobs.models import Job, JobState
from app.power.models import PowerHourly, PowerReading
from tests.conftest import audit_actions, csrf_token
from tests.power.helpers import bearer, enterprise

OWN, OTHER = "91510100MA6CPW0001", "91511000MA6CPW0002"


def readings_count(session) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.scalar(select(func.count()).select_from(PowerReading))


def test_upload_screen_stores_own_meters_and_names_bad_lines_and_other_areas_meters(
    app, session, make_user, login_as
) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, OWN, "510100")
    enterprise(session, OTHER, "511000")
    session.commit()
    user = make_user("power_upload", code="510100")
    client = login_as(user)
    page = client.get("/power/readings").get_data(as_text=True)
    assert "上传用电数据" in page and "统一社会信用代码" in page
    bad = (f"统一社会信用代码,电表编号,时间,用电量\n{OWN},M1,2026-12-01 08:00,10\n{OWN},M1,2026-13-01 09:00,11\n"
           f"{OTHER},M1,2026-12-01 08:00,5\n").encode()  # fmt: skip
    r = client.post("/power/readings", data={"csrf_token": csrf_token(client, "/power/readings"),
                                             "file": (io.BytesIO(bad), "grid.csv")})  # fmt: skip
    page = r.get_data(as_text=True)
    assert r.status_code == 400 and "文件有误，未保存任何数据" in page
    assert "grid.csv 第3行「时间」列：无法识别的时间「2026-13-01 09:00」" in page
    assert f"未登记的电表 1 块：{OTHER}/M1" in page  # another area's meter reads as unknown
    assert readings_count(session) == 0
    assert audit_actions("power.readings_refused")
    good = (
        f"统一社会信用代码,电表编号,时间,用电量\n{OWN},M1,2026-12-01 08:00,10\n{OWN},M2,2026-12-01 08:00,3\n".encode()
    )
    form = {"csrf_token": csrf_token(client, "/power/readings"), "file": (io.BytesIO(good), "grid.csv")}
    r = client.post("/power/readings", data=form, follow_redirects=True)
    assert "已保存：新读数 2 条，更正 0 条，已有相同数据 0 条。" in r.get_data(as_text=True)
    assert readings_count(session) == 2
    r = client.post("/power/readings", data={"file": (io.BytesIO(good), "grid.csv")})
    assert r.status_code == 400 and readings_count(session) == 2  # no CSRF token: refused


def test_api_idempotency_key_replays_the_answer_and_refuses_another_body(app, session, make_user) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, OWN, "510100")
    session.commit()
    auth = bearer(session, make_user("power_api", code="510100"))
    client = app.test_client()
    body = {"readings": [{"uscc": OWN, "meter": "M1", "at": "2026-12-01T08:00:00+08:00", "kwh": 10},
                         {"uscc": OWN, "meter": "M1", "at": "2026-12-01 08:15", "kwh": 5}]}  # fmt: skip
    headers = {**auth, "Idempotency-Key": "grid-2026-12-01-a"}
    # Audit entries are append-only: a PostgreSQL test that commits (test_store.py's two writers) leaves its own.
    stored_before = len(audit_actions("power.readings_stored"))
    first = client.post("/api/v1/power/readings", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert first.get_json() == {"rows": 2, "new": 2, "corrected": 0, "unchanged": 0}
    again = client.post("/api/v1/power/readings", json=body, headers=headers)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert readings_count(session) == 2
    assert session.scalar(select(PowerHourly.kwh)) == 15.0
    other = {"readings": [{"uscc": OWN, "meter": "M1", "at": "2026-12-01 08:30", "kwh": 7}]}
    refused = client.post("/api/v1/power/readings", json=other, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "idempotency_key_reused"
    assert readings_count(session) == 2
    # without a key, the same batch again is stored once all the same
    plain = client.post("/api/v1/power/readings", json=body, headers=auth)
    assert plain.get_json() == {"rows": 2, "new": 0, "corrected": 0, "unchanged": 2}
    assert len(audit_actions("power.readings_stored")) - stored_before == 1


def test_api_bad_rows_are_refused_whole_by_line_with_unknown_meters_named(app, session, make_user) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, OWN, "510100")
    session.commit()
    auth = {**bearer(session, make_user("power_api2", code="510100")), "Idempotency-Key": "k1"}
    client = app.test_client()
    body = [{"uscc": OWN, "meter": "M1", "at": "2026-12-01 08:00", "kwh": 10},
            {"uscc": OWN, "meter": "M1", "at": "2026-12-01 09:00", "kwh": "十"},
            {"uscc": OWN, "meter": "M9", "at": "2026-12-01 09:00", "kwh": 1}]  # fmt: skip
    r = client.post("/api/v1/power/readings", json=body, headers=auth)
    problems = r.get_json()["error"]["problems"]
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_rows"
    assert "readings 第2行「用电量」列：应为数字，不是「十」" in problems
    assert problems[-1] == f"readings：未登记的电表 1 块：{OWN}/M9"
    assert readings_count(session) == 0
    fixed = client.post("/api/v1/power/readings", json=body[:1], headers=auth)  # the refused key was not kept
    assert fixed.status_code == 201 and readings_count(session) == 1


def test_a_large_api_batch_runs_as_a_job_with_progress(app, session, make_user, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    enterprise(session, OWN, "510100")
    session.commit()
    auth = bearer(session, make_user("power_api3", code="510100"))
    monkeypatch.setitem(app.config, "POWER_SYNC_ROWS", 10)
    body = [{"uscc": OWN, "meter": f"M{1 + n % 2}", "at": f"2026-12-01 {n // 2:02d}:00", "kwh": n} for n in range(40)]
    r = app.test_client().post("/api/v1/power/readings", data=json.dumps(body), headers=auth,
                               content_type="application/json")  # fmt: skip
    assert r.status_code == 202, r.get_json()
    session.expire_all()
    job = session.get(Job, r.get_json()["job"]["id"])
    assert job.kind == "power.ingest" and job.state is JobState.done, job.error
    assert job.result == {"rows": 40, "new": 40, "corrected": 0, "unchanged": 0}
    assert (job.progress_done, job.progress_total) == (40, 40)
    assert readings_count(session) == 40
