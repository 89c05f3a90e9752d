"""A refused action is shown on the case page next to its form, with what was typed kept; the rectification
and verification forms take their files themselves (issue 12.2)."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from app.cases.models import Case, Evidence
from app.cases.vocabulary import CaseState, EvidenceKind
from tests.cases.conftest import png_bytes
from tests.conftest import csrf_token


def post(client: Any, url: str, data: dict[str, Any], **kw: Any) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")}, **kw)


def act(client: Any, case_id: int, action: str, **fields: Any) -> Any:
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page)
    data = {"action": action, "version": version.group(1) if version else "", **fields}
    kw = {"content_type": "multipart/form-data"} if "files" in fields else {}
    return post(client, f"/cases/{case_id}/transition", data, **kw)


def form_of(page: str, name: str) -> str:
    start = page.index(f'id="form-{name}"')
    return page[start : page.index("</form>", start)]


def own_case(client: Any) -> int:
    created = post(client, "/cases/new", {
        "source_type": "industrial", "topic": "超标排放", "source_name": "荣昌某陶瓷厂", "place": "500153",
        "problem": "烟气超标", "origin": "field_inspection",
    })  # fmt: skip
    assert created.status_code == 302, created.get_data(as_text=True)[:400]
    case_id = int(created.headers["Location"].rsplit("/", 1)[1])
    assert act(client, case_id, "accept").status_code == 302
    assert act(client, case_id, "handle").status_code == 302
    return case_id


def test_refusals_show_next_to_their_form_with_what_was_typed(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    case_id = own_case(rc)
    deadline = (date.today() + timedelta(days=5)).isoformat()
    refused = act(rc, case_id, "order", enforcement_action="罚款并责令整改", penalty_amount="20000",
                  rectify_deadline=deadline, rectify_plan="更换布袋")  # fmt: skip
    assert refused.status_code == 400
    order = form_of(refused.get_data(as_text=True), "order")
    assert "有罚款时必须填写处罚决定书文号" in order
    assert 'value="罚款并责令整改"' in order and 'value="20000"' in order and "更换布袋</textarea>" in order
    assert f'value="{deadline}"' in order and "has-error" in order
    assert session.get(Case, case_id).state is CaseState.handling

    ordered = act(
        rc, case_id, "order", enforcement_action="责令整改", rectify_deadline=deadline, rectify_plan="更换布袋"
    )
    assert ordered.status_code == 302

    # Reporting without material: the message sits in the report form, the note is kept.
    refused = act(rc, case_id, "report", note="已更换布袋")
    assert refused.status_code == 400
    report = form_of(refused.get_data(as_text=True), "report")
    assert "请先上传整改材料" in report and 'value="已更换布袋"' in report and 'type="file"' in report
    # The report form takes the files itself.
    done = act(rc, case_id, "report", note="已更换布袋", files=(io.BytesIO(png_bytes()), "整改后.png"))
    assert done.status_code == 302
    kinds = session.scalars(select(Evidence.kind).where(Evidence.case_id == case_id)).all()
    assert kinds == [EvidenceKind.rectification]

    # A file of the wrong kind on the verification form: refused there, nothing stored, the opinion kept.
    refused = act(rc, case_id, "verify", note="现场复核合格", files=(io.BytesIO(b"MZ not a photo"), "a.exe"))
    assert refused.status_code == 400
    verify = form_of(refused.get_data(as_text=True), "verify")
    assert "不是照片" in verify and 'value="现场复核合格"' in verify
    assert len(session.scalars(select(Evidence).where(Evidence.case_id == case_id)).all()) == 1
    ok = act(rc, case_id, "verify", note="现场复核合格", files=(io.BytesIO(png_bytes()), "复核.png"))
    assert ok.status_code == 302
    assert session.get(Case, case_id).state is CaseState.verified


def test_a_refused_upload_is_shown_at_the_upload_form(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    rc = login_as(world.inspector, app.test_client())
    case_id = own_case(rc)
    refused = post(rc, f"/cases/{case_id}/evidence", {"kind": "rectification", "files": (io.BytesIO(b"%!PS"), "x.ps")},
                   content_type="multipart/form-data")  # fmt: skip
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    upload = form_of(page, "upload")
    assert "不是照片" in upload and '<option value="rectification" selected' in upload
    assert "问题线索" in page  # the case page, not an error page
