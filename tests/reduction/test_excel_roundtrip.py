"""Issue 12.1: every version of a list exports from its list page, and its export re-imports with no problem and
nothing to change; the import goes into the open version from the same page."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from app.auth.models import User
from app.reduction.excel import exporter, safety, snapshot, uploads
from app.reduction.excel.records import ENT_FIELDS
from app.reduction.models import Enterprise, ReductionList
from app.reduction.services import import_plan
from tests.conftest import csrf_token


def _owner(session: Any, lst: ReductionList) -> User:
    user = session.scalar(select(User).where(User.bureau_id == lst.bureau_id).order_by(User.id))
    assert user is not None, lst.id
    return user


def _differences(session: Any, lst: ReductionList, p: import_plan.Plan) -> list[tuple[str, list[str]]]:
    """What reads back otherwise, per changed enterprise: the differing fields and kinds of rows."""
    stored = import_plan.stored_content(session, lst.id, {s.uscc for s, _b in p.changed})
    out = []
    for s, b in p.changed:
        old = stored[s.uscc].canon
        new = import_plan.canon_bundle(b.ent, b.units, b.measures, b.facilities, b.meters)
        assert old is not None
        fields = [f"{f}: {x!r} ≠ {y!r}" for f, x, y in zip(ENT_FIELDS, old[0], new[0], strict=True) if x != y]
        kinds = [k for k, x, y in zip(("units", "measures", "facilities", "meters"), old[1:], new[1:], strict=True)
                 if x != y]  # fmt: skip
        out.append((s.name, fields + kinds))
    return out


def test_every_demo_version_reimports_unchanged(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each demo list's export, read back against the very version it came from: no error, no warning that
    refuses, and every enterprise unchanged (nothing new, changed or removed)."""
    from app.demo import load

    load(session)
    session.commit()
    lists = session.scalars(select(ReductionList).order_by(ReductionList.id)).all()
    assert len(lists) >= 5
    for lst in lists:
        owner = _owner(session, lst)
        path = tmp_path / f"list-{lst.id}.xlsx"
        with app.test_request_context(), path.open("wb") as out:
            exporter.export_list(session, lst, owner, out)
        with path.open("rb") as f:
            upload = uploads.store(f, path.name, app.config["UPLOAD_DIR"], owner.id, lst.year, safety.Limits())
        with app.test_request_context():
            parsed = snapshot.validate(session, upload, lst.jurisdiction, app.config)
            errors = [f"{i.sheet} {i.row} {i.header} {i.name}: {i.message}" for i in parsed.issues if i.error]
            where = (lst.jurisdiction.name, lst.year, lst.version)
            assert errors == [], (where, errors[:10])
            p = import_plan.plan(session, lst, parsed)
        listed = session.scalar(select(func.count()).where(Enterprise.list_id == lst.id))
        assert listed > 0
        changed = _differences(session, lst, p)
        assert (len(p.new), changed, len(p.removed)) == (0, [], 0), where
        assert p.unchanged == listed == parsed.in_file, where
        uploads.discard(upload)


def test_the_list_page_exports_every_version_and_imports_into_the_open_one(app, session, login_as) -> None:  # type: ignore[no-untyped-def]
    """rc_staff on 荣昌's 2025 list: an export button for each version, and the import form on the page takes
    that export back with no problem and every enterprise unchanged."""
    from app.demo import load

    load(session)
    session.commit()
    rc = session.scalar(select(User).where(User.username == "rc_staff"))
    lst = session.scalar(
        select(ReductionList)
        .where(ReductionList.jurisdiction_id == rc.bureau.jurisdiction_id, ReductionList.year == 2025)
        .order_by(ReductionList.version.desc())
    )
    assert lst is not None
    client = login_as(rc)
    page = client.get(f"/lists/{lst.id}").get_data(as_text=True)
    versions = session.scalars(
        select(ReductionList.id).where(ReductionList.jurisdiction_id == lst.jurisdiction_id)
    ).all()
    assert len(versions) >= 2
    exported = set(map(int, re.findall(r'data-testid="export-version" data-list="(\d+)"', page)))
    assert exported == set(versions)
    for list_id in versions:
        r = client.get(f"/lists/export.xlsx?list_id={list_id}")
        assert r.status_code == 200 and r.data[:2] == b"PK", list_id
    assert 'data-testid="list-import"' in page
    assert "第 1 版已发布，将建立第 2 版" in page  # the published list: the import opens its next version

    data = client.get(f"/lists/export.xlsx?list_id={lst.id}").data
    import io

    r = client.post(
        "/lists/import",
        data={"csrf_token": csrf_token(client, f"/lists/{lst.id}"), "year": "2025",
              "file": (io.BytesIO(data), "export.xlsx")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    preview = client.get(r.headers["Location"]).get_data(as_text=True)
    listed = session.scalar(select(func.count()).where(Enterprise.list_id == lst.id))
    assert "文件检查通过" in preview
    assert 'data-testid="problems"' not in preview or "problem-error" not in preview

    def count(testid: str) -> int:
        found = re.search(rf'data-testid="{testid}">(\d+)<', preview)
        assert found, testid
        return int(found.group(1))

    assert count("count-in-file") == count("count-unchanged") == listed
    assert (count("count-new"), count("count-changed"), count("count-removed")) == (0, 0, 0)
