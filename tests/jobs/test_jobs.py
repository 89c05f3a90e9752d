"""Jobs through the runner (Huey in immediate mode, as the tests run it): a large import and export go
through the progress page to their result; cancel; the progress endpoint is the requesting bureau's only;
every job is audited like the request that started it; a big selection of cases makes several forms."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from app.auth.models import Bureau, User
from app.cases.models import Case, CaseTransfer
from app.cases.services import records
from app.core.errors import ServiceError
from app.core.scoping import Scope, set_scope
from app.jobs import runner, services
from app.jobs.models import Job, JobState
from app.reduction.models import Enterprise
from tests.conftest import audit_actions, csrf_token
from tests.reduction.test_excel_import import content, district_user, enterprise, place_id, write_file


@pytest.fixture(autouse=True)
def _fresh_queue() -> Any:
    """Job ids come again in each test (its transaction is rolled back): so does the queue's storage."""
    runner.huey.flush()
    yield
    runner.huey.flush()


def job_id_of(response: Any) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    match = re.search(r"/jobs/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def upload(client: Any, path: Path) -> Any:
    with path.open("rb") as f:
        return client.post(
            "/lists/import",
            data={"csrf_token": csrf_token(client, "/lists/import"), "year": "2026", "file": (f, path.name)},
            content_type="multipart/form-data",
        )


def test_a_large_import_runs_as_jobs_to_its_preview_and_commit(  # type: ignore[no-untyped-def]
    app, session, make_bureau, make_user, login_as, tmp_path, monkeypatch
) -> None:
    monkeypatch.setitem(app.config, "JOBS_IMPORT_MIN_BYTES", 0)  # every workbook counts as large
    assert runner.huey.immediate
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    good = write_file(tmp_path / "good.xlsx", [enterprise(i, jid) for i in range(3)], session)
    client = login_as(user)

    preview_job = job_id_of(upload(client, good))
    page = client.get(f"/jobs/{preview_job}").get_data(as_text=True)
    assert "检查导入文件" in page and "已完成" in page and "已处理 1 / 1" in page
    link = re.search(r'href="(/lists/import/preview\?token=[^"]+)"', page)
    assert link, page
    html = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "文件检查通过" in html and content(session)["enterprises"] == 0  # a preview writes nothing

    token = link.group(1).split("token=")[1]
    r = client.post("/lists/import/commit", data={"csrf_token": csrf_token(client, "/lists/import"), "token": token})
    commit_job = job_id_of(r)
    page = client.get(f"/jobs/{commit_job}").get_data(as_text=True)
    assert "导入清单" in page and "已完成" in page and "返回导入页面" in page
    assert content(session)["enterprises"] == 3
    assert not list(Path(app.config["UPLOAD_DIR"], "imports").glob(f"{token}*")), "the upload goes after commit"

    # audited like the request: who asked, then the work's own entry and the job's end, both naming the user
    imports = audit_actions("reduction_list.import")
    assert [e.action for e in imports] == ["reduction_list.import"] and imports[0].username == user.username
    done = [e for e in audit_actions("job.") if e.object_id == str(commit_job)]
    assert [e.action for e in done] == ["job.submit", "job.done"]
    assert {e.username for e in done} == {user.username}
    assert done[1].detail["kind"] == "reduction.import_commit" and done[1].detail["ip"] == "127.0.0.1"


def test_a_large_export_runs_as_a_job_with_progress_and_a_download(  # type: ignore[no-untyped-def]
    app, session, make_bureau, make_user, login_as, tmp_path, monkeypatch
) -> None:
    user = district_user(make_bureau, make_user)
    jid = place_id(session, "500153")
    from tests.reduction.test_excel_import import commit

    commit(app, session, user, write_file(tmp_path / "l.xlsx", [enterprise(i, jid) for i in range(5)], session))
    list_id = session.scalar(select(Enterprise.list_id).limit(1))
    monkeypatch.setitem(app.config, "JOBS_EXPORT_MIN_ENTERPRISES", 5)
    client = login_as(user)
    start = client.get(f"/lists/export.xlsx?list_id={list_id}").get_data(as_text=True)
    assert "该清单较大，将在后台导出" in start
    job = job_id_of(client.post("/lists/export", data={"csrf_token": csrf_token(client, "/"), "list_id": list_id}))
    status = client.get(f"/jobs/{job}/status.json").get_json()
    assert status["state"] == "done" and status["done"] == status["total"] == 5 and status["percent"] == 100
    page = client.get(f"/jobs/{job}").get_data(as_text=True)
    assert 'data-testid="job-download"' in page and "已处理 5 / 5" in page and "job-progress.js" in page
    file = client.get(status["download_url"])
    data = file.data
    file.close()
    assert file.status_code == 200 and "attachment" in file.headers["Content-Disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert wb.sheetnames  # an xlsx in the import layout
    exports = audit_actions("reduction_list.export")
    assert len(exports) == 1 and exports[0].username == user.username


def test_the_whole_provinces_lists_in_one_export(  # type: ignore[no-untyped-def]
    app, session, make_bureau, make_user, login_as, tmp_path
) -> None:
    from app.auth.roles import Role
    from tests.reduction.test_excel_import import commit

    rc = district_user(make_bureau, make_user)
    commit(app, session, rc, write_file(tmp_path / "l.xlsx", [enterprise(i, place_id(session, "500153"))
                                                                for i in range(4)], session))  # fmt: skip
    cq_bureau = make_bureau("500000", name="重庆市生态环境局（测试）")
    cq = make_user("cq_prov", bureau=cq_bureau, roles=(Role.province_staff,))
    client = login_as(cq)
    assert "导出辖区全部清单" in client.get("/lists/").get_data(as_text=True)
    job = job_id_of(client.post("/lists/export-region", data={"csrf_token": csrf_token(client, "/"), "year": "2026"}))
    status = client.get(f"/jobs/{job}/status.json").get_json()
    assert status["state"] == "done" and status["result"]["lists"] == 1 and status["result"]["enterprises"] == 4
    file = client.get(status["download_url"])
    file.close()
    assert file.status_code == 200
    empty = job_id_of(client.post("/lists/export-region", data={"csrf_token": csrf_token(client, "/"), "year": "2031"}))
    assert client.get(f"/jobs/{empty}/status.json").get_json()["error"] == "2031 年没有可导出的清单。"


@pytest.fixture
def test_kinds() -> Any:
    """Job kinds of the test's own, registered for its duration."""
    added: list[str] = []

    def add(kind: str, fn: Any) -> None:
        services.HANDLERS[kind] = fn
        services.LABELS[kind] = "测试任务"
        added.append(kind)

    yield add
    for kind in added:
        services.HANDLERS.pop(kind, None)
        services.LABELS.pop(kind, None)


def test_cancel_a_queued_job_and_a_running_one_keeps_nothing(  # type: ignore[no-untyped-def]
    app, session, make_bureau, make_user, login_as, monkeypatch, test_kinds
) -> None:
    user = make_user("canceller", code="500153")
    kind = session.get(Bureau, user.bureau_id).kind
    session.commit()

    def work(ctx: services.Context) -> services.Done:
        ctx.session.add(Bureau(name="任务中途新建的单位", kind=kind, jurisdiction_id=ctx.user.jurisdiction_id))
        ctx.session.flush()
        for i in range(1, 11):
            if i == 4:
                runner.request_cancel(ctx.job_id)  # the user presses 取消 while the job runs
            ctx._written = 0.0  # every step writes its progress here (no half-second wait)
            ctx.progress(i, 10)
        return services.Done({"never": True})

    test_kinds("test.cancelled", work)
    client = login_as(user)
    with app.test_request_context():
        running = services.submit(session, session.get(User, user.id), "test.cancelled", total=10)
        session.commit()  # queued at commit: immediate mode runs it here
    session.expire_all()
    job = session.get(Job, running.id)
    assert job.state is JobState.cancelled and job.result is None
    assert session.scalar(select(Bureau).where(Bureau.name == "任务中途新建的单位")) is None
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "已取消" in page and "任务已取消，未做任何修改。" in page and 'data-testid="job-cancel"' not in page

    queued_only = []
    monkeypatch.setattr(services, "enqueue", queued_only.append)  # the queue holds it; no worker yet
    with app.test_request_context():
        queued = services.submit(session, session.get(User, user.id), "test.cancelled", total=10)
        session.commit()
    assert queued_only == [queued.id]
    page = client.get(f"/jobs/{queued.id}").get_data(as_text=True)
    assert "排队中" in page and 'data-testid="job-cancel"' in page
    r = client.post(f"/jobs/{queued.id}/cancel", data={"csrf_token": csrf_token(client, f"/jobs/{queued.id}")})
    assert r.status_code == 302
    with app.app_context():
        services.execute(queued.id)  # the worker gets to it later: it does nothing
    session.expire_all()
    assert session.get(Job, queued.id).state is JobState.cancelled
    assert "job.cancel" in [e.action for e in audit_actions("job.") if e.object_id == str(queued.id)]
    assert client.post(f"/jobs/{queued.id}/cancel", data={"csrf_token": csrf_token(client, "/")}).status_code == 400


def test_the_progress_is_the_requesting_bureaus_only(  # type: ignore[no-untyped-def]
    app, session, make_bureau, make_user, login_as, test_kinds
) -> None:
    owner = make_user("owner", code="500153")
    colleague = make_user("colleague", bureau=session.get(Bureau, owner.bureau_id))
    other = make_user("other", code="500153")  # same place, another bureau
    above = make_user("above", code="500000")  # a bureau whose reach covers the owner's
    test_kinds("test.noop", lambda ctx: services.Done({"n": 1}))
    with app.test_request_context():
        job = services.submit(session, session.get(User, owner.id), "test.noop")
        session.commit()
    for who, code in ((owner, 200), (colleague, 200), (other, 404), (above, 404)):
        c = login_as(who, app.test_client())
        assert c.get(f"/jobs/{job.id}/status.json").status_code == code, who.username
        assert c.get(f"/api/v1/jobs/{job.id}").status_code == code, who.username
        assert c.get(f"/jobs/{job.id}").status_code == code, who.username
    c = login_as(other, app.test_client())
    assert c.post(f"/jobs/{job.id}/cancel", data={"csrf_token": csrf_token(c, "/")}).status_code == 404
    assert c.get("/jobs/2147483648/status.json").status_code == 404
    assert c.get("/jobs/99999999999999999999/status.json").status_code == 404
    c = login_as(owner, app.test_client())
    assert c.get(f"/api/v1/jobs/{job.id}").get_json()["result"] == {"n": 1}


def test_a_failing_job_shows_a_clear_error_and_keeps_nothing(  # type: ignore[no-untyped-def]
    app, session, make_user, login_as, test_kinds
) -> None:
    user = make_user("failer", code="500153")
    kind = session.get(Bureau, user.bureau_id).kind
    session.commit()

    def refused(ctx: services.Context) -> services.Done:
        ctx.session.add(Bureau(name="失败任务的单位", kind=kind, jurisdiction_id=ctx.user.jurisdiction_id))
        ctx.session.flush()
        raise ServiceError("第 3 行的企业名称为空。")

    def broken(ctx: services.Context) -> services.Done:
        raise RuntimeError("boom")

    test_kinds("test.refused", refused)
    test_kinds("test.broken", broken)
    with app.test_request_context():
        a = services.submit(session, session.get(User, user.id), "test.refused")
        b = services.submit(session, session.get(User, user.id), "test.broken")
        session.commit()
    client = login_as(user)
    page = client.get(f"/jobs/{a.id}").get_data(as_text=True)
    assert "失败" in page and "第 3 行的企业名称为空。" in page
    assert session.scalar(select(Bureau).where(Bureau.name == "失败任务的单位")) is None
    error = client.get(f"/jobs/{b.id}/status.json").get_json()["error"]
    assert error.startswith("任务执行出错，未做任何修改。") and f"任务编号 {b.id}" in error
    assert [e.action for e in audit_actions("job.failed")] == ["job.failed", "job.failed"]


def test_a_retried_job_does_its_work_once(app, session, make_user, test_kinds) -> None:  # type: ignore[no-untyped-def]
    user = make_user("retrier", code="500153")
    runs = []

    def work(ctx: services.Context) -> services.Done:
        runs.append(ctx.job_id)
        return services.Done()

    test_kinds("test.once", work)
    with app.test_request_context():
        job = services.submit(session, session.get(User, user.id), "test.once")
        session.commit()
    with app.app_context():
        services.execute(job.id)
        services.run_job(job.id)
    assert runs == [job.id]
    assert len([e for e in audit_actions("job.done") if e.object_id == str(job.id)]) == 1


def _cases(app: Any, session: Any, world: Any, n: int) -> list[int]:
    from app.auth.services import scope_for

    with app.app_context():
        inspector = session.get(User, world.inspector.id)
        set_scope(session, scope_for(session, inspector))
        ids = [
            records.create_case(session, inspector, {
                "source_type": "industrial", "topic": "超标排放", "source_name": f"隆昌某砖厂{i}", "place": "511083",
                "problem": "烟气超标", "origin": "field_inspection",
            }).id
            for i in range(n)
        ]  # fmt: skip
        session.commit()
        set_scope(session, Scope.everything())
    return ids


def test_a_big_selection_of_cases_makes_several_forms_in_a_job(  # type: ignore[no-untyped-def]
    app, session, world, login_as, monkeypatch
) -> None:
    monkeypatch.setattr(records, "MAX_CASES_PER_FORM", 2)
    ids = _cases(app, session, world, 5)
    with app.app_context(), pytest.raises(ServiceError, match="一张移交单最多载 2 条线索"):
        records.create_transfer(session, session.get(User, world.inspector.id), ids[:3], world.neijiang.id)
    session.rollback()
    client = login_as(world.inspector)
    r = client.post("/cases/transfers", data={"csrf_token": csrf_token(client, "/"), "case_id": ids,
                                              "to_bureau": world.neijiang.id, "confirm": "1"})  # fmt: skip
    job = job_id_of(r)
    st = client.get(f"/jobs/{job}/status.json").get_json()
    assert st["state"] == "done" and [t["cases"] for t in st["result"]["transfers"]] == [2, 2, 1]
    assert len(st["links"]) == 3
    forms = session.scalars(select(CaseTransfer).order_by(CaseTransfer.id)).all()
    assert len(forms) == 3 and all(len(f.items) <= 2 for f in forms)
    assert {c.state.value for c in session.scalars(select(Case).where(Case.id.in_(ids)))} == {"transferred"}
    page = client.get(f"/jobs/{job}").get_data(as_text=True)
    assert "打印全部移交单（PDF）" in page
    forms_audited = [e for e in audit_actions("case.transfer") if e.object_type == "case_transfer"]
    assert len(forms_audited) == 3 and {e.username for e in forms_audited} == {world.inspector.username}


def test_a_batch_where_one_case_is_refused_makes_no_form(app, session, world, login_as, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(records, "MAX_CASES_PER_FORM", 2)
    ids = _cases(app, session, world, 3)
    client = login_as(world.inspector)
    first = client.post("/cases/transfers", data={"csrf_token": csrf_token(client, "/"), "case_id": ids[2:],
                                                  "to_bureau": world.neijiang.id, "confirm": "1"})  # fmt: skip
    assert first.status_code == 302  # one case: one form, at once
    job = job_id_of(client.post("/cases/transfers", data={"csrf_token": csrf_token(client, "/"), "case_id": ids,
                                                          "to_bureau": world.neijiang.id, "confirm": "1"}))  # fmt: skip
    st = client.get(f"/jobs/{job}/status.json").get_json()
    assert st["state"] == "failed" and "不能移交" in st["error"]
    assert len(session.scalars(select(CaseTransfer)).all()) == 1  # the first two cases' form was not kept


def test_printing_a_batch_of_forms_is_a_job(app, session, world, login_as, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(records, "MAX_CASES_PER_FORM", 2)
    ids = _cases(app, session, world, 3)
    client = login_as(world.inspector)
    batch = job_id_of(client.post("/cases/transfers", data={"csrf_token": csrf_token(client, "/"), "case_id": ids,
                                                            "to_bureau": world.neijiang.id,
                                                            "confirm": "1"}))  # fmt: skip
    forms = [t["id"] for t in client.get(f"/jobs/{batch}/status.json").get_json()["result"]["transfers"]]
    job = job_id_of(client.post("/cases/transfers/print", data={"csrf_token": csrf_token(client, "/"),
                                                                "transfer_id": forms}))  # fmt: skip
    st = client.get(f"/jobs/{job}/status.json").get_json()
    assert st["state"] == "done", st
    z = client.get(st["download_url"])
    data = z.data
    z.close()
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert len(names) == 2 and all(n.endswith(".pdf") for n in names)
    assert len(audit_actions("case_transfer.print")) == 2


def test_escalation_is_a_periodic_job(app, session, world) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import update

    from app.db import utcnow

    ids = _cases(app, session, world, 2)
    session.execute(update(Case).where(Case.id.in_(ids)).values(due_at=utcnow() - timedelta(hours=1)))
    session.commit()
    with app.app_context():
        services.escalate_hourly.call_local()
    job = session.scalars(select(Job).where(Job.kind == "cases.escalate")).one()
    assert job.state is JobState.done and job.result == {"escalated": 2} and job.requested_by_id is None
    assert len(audit_actions("job.done")) >= 1
    assert {c.escalation.value for c in session.scalars(select(Case).where(Case.id.in_(ids)))} == {"warning"}


def test_recomputing_assessments_is_a_job(app, session, make_bureau, make_user, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from app.reduction.models import EnterpriseAssessment
    from tests.reduction.test_excel_import import commit

    user = district_user(make_bureau, make_user)
    commit(app, session, user, write_file(tmp_path / "l.xlsx", [enterprise(i, place_id(session, "500153"))
                                                                for i in range(3)], session))  # fmt: skip
    session.execute(update(EnterpriseAssessment).values(rules_version="older-rules"))
    session.commit()
    with app.app_context():
        job_id = services.submit_system("reduction.recompute", {"only_outdated": True})
    job = session.get(Job, job_id)
    assert job.state is JobState.done and job.result == {"lists": 1, "enterprises": 3}
    versions = set(session.scalars(select(EnterpriseAssessment.rules_version)))
    assert "older-rules" not in versions


def test_result_files_are_kept_a_week(app, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import time

    d = Path(app.config["UPLOAD_DIR"]) / "jobs"
    d.mkdir(parents=True, exist_ok=True)
    old, new = d / "1-old.xlsx", d / "2-new.xlsx"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    os.utime(old, (time.time() - 8 * 86400, time.time() - 8 * 86400))
    with app.app_context():
        assert services.clean_results() >= 1
    assert not old.exists() and new.exists()


def test_the_pdf_of_a_form_over_the_bound_is_made_by_a_job(app, session, world, login_as, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = _cases(app, session, world, 3)
    client = login_as(world.inspector)
    r = client.post("/cases/transfers", data={"csrf_token": csrf_token(client, "/"), "case_id": ids,
                                              "to_bureau": world.neijiang.id, "confirm": "1"})  # fmt: skip
    form_url = r.headers["Location"]
    monkeypatch.setattr(records, "MAX_CASES_PER_FORM", 2)  # the form now carries more than one form may
    page = client.get(f"{form_url}.pdf")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "该移交单线索较多，将在后台生成 PDF" in page.get_data(as_text=True)
    transfer_id = int(form_url.rsplit("/", 1)[1])
    job = job_id_of(client.post("/cases/transfers/print", data={"csrf_token": csrf_token(client, "/"),
                                                                "transfer_id": transfer_id}))  # fmt: skip
    st = client.get(f"/jobs/{job}/status.json").get_json()
    assert st["state"] == "done" and st["result"] == {"forms": 1}
    pdf = client.get(st["download_url"])
    data = pdf.data
    pdf.close()
    assert data.startswith(b"%PDF") and pdf.headers["Content-Disposition"].endswith(".pdf")
    other = login_as(world.zg_staff, app.test_client())  # a bureau that may not see the form
    assert other.post("/cases/transfers/print", data={"csrf_token": csrf_token(other, "/"),
                                                      "transfer_id": transfer_id}).status_code == 404  # fmt: skip


def test_a_running_jobs_page_shows_rows_done_of_total_and_the_time_left(  # type: ignore[no-untyped-def]
    app, session, make_user, login_as
) -> None:
    from datetime import timedelta

    from app.db import utcnow

    user = make_user("watcher", code="500153")
    job = Job(kind="reduction.export", params={}, state=JobState.running, started_at=utcnow() - timedelta(seconds=60),
              attempts=1, progress_total=400, requested_by_id=user.id, bureau_id=user.bureau_id)  # fmt: skip
    session.add(job)
    session.commit()
    runner.put_progress(job.id, 100, 400)  # a quarter done in a minute: three minutes left
    client = login_as(user)
    st = client.get(f"/jobs/{job.id}/status.json").get_json()
    assert (st["done"], st["total"], st["percent"], st["state_label"]) == (100, 400, 25, "进行中")
    assert 179 <= st["seconds_left"] <= 181
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "已处理 100 / 400" in page and re.search(r"预计剩余 (2 分 59|3 分 [01]) 秒", page) and 'value="25"' in page
    assert 'data-testid="job-cancel"' in page
    r = client.post(f"/jobs/{job.id}/cancel", data={"csrf_token": csrf_token(client, "/")})
    assert r.status_code == 302 and runner.cancel_requested(job.id)  # the work stops at its next step
    assert "正在取消…" in client.get(f"/jobs/{job.id}").get_data(as_text=True)
