"""The assessment stored with every enterprise equals a fresh check of the enterprise as stored, after every
kind of change: the list builders and the demo, a policy edit (screen and API), an import (new, changed, moved
and removed enterprises), a new list version, and a change of the rule library (`flask inventories load`). A
user sees the flags and the targets move."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.auth.roles import Role
from app.core.scoping import Scope, set_scope
from app.reduction.domain import rules as dr
from app.reduction.domain.vocabulary import LEVELS, POLLUTANTS
from app.reduction.models import Enterprise, EnterpriseAssessment, ListState, ReductionList
from app.reduction.services import assessments, policies, rule_library
from app.reduction.services import enterprises as enterprise_service
from app.reduction.services import lists as list_service
from tests.conftest import csrf_token
from tests.reduction import test_lists
from tests.reduction.test_excel_import import commit, enterprise, place_id, write_file
from tests.reduction.test_lists import YEAR, build_list, html, names
from tests.reduction.test_policy_editor import BRICK_OK, rows, save

people = test_lists.people  # the shared fixture
ROOT = Path(__file__).resolve().parents[2]


def assert_fresh(session: Any, list_id: int, library: dr.RuleLibrary | None = None) -> int:
    """Every enterprise of the list has one stored row, equal to what the enterprise page computes now."""
    session.expire_all()
    library = library or rule_library.current()
    stored = {
        a.enterprise_id: a
        for a in session.scalars(select(EnterpriseAssessment).where(EnterpriseAssessment.list_id == list_id))
    }
    found = session.scalars(select(Enterprise).where(Enterprise.list_id == list_id)).all()
    assert set(stored) == {e.id for e in found}, "one row per enterprise of the list, none else"
    for e in found:
        fresh, row = policies.assess(e, library), stored[e.id]
        where = f"{e.name} ({e.uscc})"
        assert row.rules_version == assessments.rules_version(library), where
        assert row.jurisdiction_id == e.jurisdiction_id, where
        assert row.problems == len(fresh.problems), (where, [p.message for p in fresh.problems])
        assert row.codes == sorted({p.code for p in fresh.problems}), where
        for level in LEVELS:
            for p in POLLUTANTS:
                got = getattr(row, EnterpriseAssessment.reduction(level, p.value))
                assert got == pytest.approx(fresh.reductions[level][p], rel=1e-12, abs=1e-15), (where, level, p)
        for p in POLLUTANTS:
            assert getattr(row, f"full_stop_{p.value}") == pytest.approx(fresh.full_stop[p], rel=1e-12), where
    # the list's stored flagged count per jurisdiction, which the list page shows, is the rows' own
    flagged: dict[str, int] = {}
    for row in stored.values():
        if row.problems:
            flagged[str(row.jurisdiction_id)] = flagged.get(str(row.jurisdiction_id), 0) + 1
    assert session.get(ReductionList, list_id).flagged == flagged, "stored flagged count per jurisdiction"
    return len(found)


def flag_count(page: str, name: str) -> str:
    """The flags column of one enterprise's row on the list page."""
    row = re.search(rf"{re.escape(name)}</a>.*?</tr>", page, re.S)
    assert row, name
    badge = re.search(r'<span class="badge (?:bad|ok)"[^>]*>(\d+)</span>', row.group(0))
    return badge.group(1) if badge else "—"


def target_percent(client: Any, level: str, pollutant: str = "so2") -> float:
    """The achieved percentage of a pollutant on the targets page of the district."""
    page = html(client.get("/lists/targets", query_string={"jurisdiction": "j:511002", "year": YEAR, "level": level}))
    found = re.search(rf'data-testid="percent-{pollutant}">([\d.]+)%', page)
    assert found, page[:2000]
    return float(found.group(1))


def test_builders_store_what_the_enterprise_page_computes(people, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    assert assert_fresh(session, built.lst.id) == 5
    brick = session.get(EnterpriseAssessment, built.brick.id)
    assert brick.problems == 1 and brick.codes == ["below_rule"] and not brick.exempt
    assert session.get(EnterpriseAssessment, built.heating.id).exempt  # guarantee
    assert session.get(EnterpriseAssessment, built.voluntary.id).exempt  # A grade


def test_a_policy_edit_moves_the_stored_flags_and_the_targets_a_user_sees(people, login_as, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    client = login_as(people.district_user)
    url = f"/lists/{built.lst.id}"
    page = html(client.get(url))
    assert flag_count(page, "市中区鑫源页岩砖厂") == "1" and "有问题 1 家" in page
    assert names(html(client.get(url, query_string={"flags": "flagged"}))) == ["市中区鑫源页岩砖厂"]
    before = target_percent(client, "yellow")

    # the brick plant's yellow limit from 30 % to 50 %: it meets its rule and cuts more SO2
    assert save(client, built.brick, "yellow", rows(*BRICK_OK)).status_code == 302
    assert_fresh(session, built.lst.id)
    page = html(client.get(url))
    assert flag_count(page, "市中区鑫源页岩砖厂") == "0" and "有问题 0 家" in page
    assert names(html(client.get(url, query_string={"flags": "flagged"}))) == []
    assert "市中区鑫源页岩砖厂" in names(html(client.get(url, query_string={"flags": "clean"})))
    after = target_percent(client, "yellow")
    assert after > before, (before, after)

    # through the API: a weaker (but escalating) yellow level flags it again
    token = csrf_token(client, f"/lists/enterprises/{built.brick.id}")
    body = {"measures": [{"kind": "limit", "percent": 40, "verification": "power_meter"},
                         {"kind": "truck_ban", "verification": "gate_records"},
                         {"kind": "outdoor_work_ban", "verification": "video"}]}  # fmt: skip
    answer = client.put(
        f"/api/v1/reduction/enterprises/{built.brick.id}/policy/yellow", json=body, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["flags"][0]["code"] == "below_rule"
    assert_fresh(session, built.lst.id)
    listed = client.get(f"/api/v1/reduction/lists/{built.lst.id}/enterprises", query_string={"flags": "flagged"})
    assert [r["name"] for r in listed.get_json()["enterprises"]] == ["市中区鑫源页岩砖厂"]
    assert listed.get_json()["enterprises"][0]["problem_codes"] == ["below_rule"]


def test_imports_store_new_changed_moved_and_removed_enterprises(
    app, session, make_bureau, make_user, login_as, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    user = make_user("njcity", bureau=make_bureau("511000"), roles=(Role.city_staff,))
    here, there = place_id(session, "511002"), place_id(session, "511011")
    first = [enterprise(i, here, region="511000") for i in range(4)]
    first[3] = enterprise(3, here, region="511000", grade=None)  # a key enterprise without a grade
    commit(app, session, user, write_file(tmp_path / "a.xlsx", first, session, root="511000"))
    lst = session.scalars(select(ReductionList).where(ReductionList.jurisdiction_id == place_id(session, "511000")))
    list_id = lst.one().id
    assert assert_fresh(session, list_id) == 4
    client = login_as(user)

    def shown(county: str) -> str:  # the count of the filtered page, which pages of the same filter reuse
        page = client.get(f"/lists/{list_id}", query_string={"county": county, "category": "key"})
        return re.search(r"共 (\d+) 家", page.get_data(as_text=True)).group(1)

    assert (shown("511002"), shown("511011")) == ("4", "0")
    ungraded = session.scalar(select(Enterprise.id).where(Enterprise.uscc == first[3].ent[0]))
    assert "key_without_grade" in session.get(EnterpriseAssessment, ungraded).codes

    second = [
        enterprise(0, there, region="511000"),  # moved to another county
        enterprise(1, here, region="511000", grade="D"),  # regraded: D stops at every level, its limits do not
        enterprise(3, here, region="511000", grade="C"),  # graded now
        enterprise(9, here, region="511000"),  # new; number 2 is removed
    ]
    commit(app, session, user, write_file(tmp_path / "b.xlsx", second, session, root="511000"))
    assert assert_fresh(session, list_id) == 4
    assert (shown("511002"), shown("511011")) == ("3", "1"), "an import moves the list's counts"
    moved = session.scalar(select(Enterprise).where(Enterprise.uscc == second[0].ent[0]))
    assert session.get(EnterpriseAssessment, moved.id).jurisdiction_id == there
    regraded = session.scalar(select(Enterprise.id).where(Enterprise.uscc == second[1].ent[0]))
    assert "below_rule" in session.get(EnterpriseAssessment, regraded).codes
    assert "key_without_grade" not in session.get(EnterpriseAssessment, ungraded).codes
    assert session.scalar(select(func.count()).select_from(EnterpriseAssessment)) == 4, "the removed one's row went"

    # the same file again writes nothing and keeps the rows
    commit(app, session, user, tmp_path / "b.xlsx")
    assert assert_fresh(session, list_id) == 4

    # a file that only drops enterprises (the regraded D plant, flagged) writes no assessment: the count follows
    flagged_before = sum(session.get(ReductionList, list_id).flagged.values())
    third = [second[0], second[2], second[3]]
    commit(app, session, user, write_file(tmp_path / "c.xlsx", third, session, root="511000"))
    assert assert_fresh(session, list_id) == 3
    assert sum(session.get(ReductionList, list_id).flagged.values()) == flagged_before - 1


def test_a_new_version_copies_the_assessments(people, session) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    lst = built.lst
    lst.state, lst.submitted_at, lst.decided_at = ListState.published, datetime.now(UTC), datetime.now(UTC)
    lst.decided_by_id, lst.published_at = people.city_user.id, datetime.now(UTC)
    # one enterprise's row is missing (as before the assessments were stored): the new version computes it
    session.delete(session.get(EnterpriseAssessment, built.micro.id))
    session.commit()
    new = list_service.new_version(session, lst, session.get(User, people.district_user.id))
    session.commit()
    assert assert_fresh(session, new.id) == 5
    flagged = session.scalars(
        select(Enterprise.name)
        .join(EnterpriseAssessment, EnterpriseAssessment.enterprise_id == Enterprise.id)
        .where(Enterprise.list_id == new.id, EnterpriseAssessment.problems > 0)
    ).all()
    assert flagged == ["市中区鑫源页岩砖厂"]


def test_a_rule_library_change_is_recomputed_by_inventories_load(
    app, people, login_as, session, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    built = build_list(session, people)
    old = rule_library.current()
    # the cement rule for grade B asks for more at yellow: the compliant cement plant falls below it
    rules = tmp_path / "measure_rules"
    shutil.copytree(ROOT / "inventories" / "measure_rules", rules)
    cement = (rules / "cement_clinker.yaml").read_text(encoding="utf-8")
    b_yellow = "    yellow:\n      - {kind: truck_ban}\n"  # the first rule of the file: grade B
    stricter = cement.replace(b_yellow, b_yellow + "      - {kind: limit, percent: 20}\n", 1)
    assert stricter != cement
    (rules / "cement_clinker.yaml").write_text(stricter, encoding="utf-8")
    new = dr.load(rules)
    assert assessments.rules_version(new) != assessments.rules_version(old)
    assert session.get(EnterpriseAssessment, built.cement.id).problems == 0

    monkeypatch.setattr(rule_library, "current", lambda root=None: new)  # what a deployment's restart does
    result = app.test_cli_runner().invoke(args=["inventories", "load"])
    assert result.exit_code == 0, result.output
    assert "5 enterprise assessment(s) computed" in result.output
    assert_fresh(session, built.lst.id, new)
    assert "below_rule" in session.get(EnterpriseAssessment, built.cement.id).codes
    page = html(login_as(people.district_user).get(f"/lists/{built.lst.id}"))
    assert flag_count(page, "市中区华兴水泥有限公司") != "0"
    again = app.test_cli_runner().invoke(args=["inventories", "load"])
    assert "assessments up to date" in again.output


def test_the_demo_lists_are_stored_as_checked(app, session) -> None:  # type: ignore[no-untyped-def]
    from app.demo import load

    load(session)
    session.commit()
    lists = session.scalars(select(ReductionList.id)).all()
    assert len(lists) >= 4
    checked = sum(assert_fresh(session, list_id) for list_id in lists)
    flagged = session.scalar(select(func.count()).where(EnterpriseAssessment.problems > 0))
    assert checked >= 300 and 0 < flagged < checked


def test_flag_counts_never_reach_beyond_the_readers_scope(app, people, session) -> None:  # type: ignore[no-untyped-def]
    """An enterprise filed outside the list's own subtree (a wrong import) is counted for a reader who may see
    it and not for one who may not."""
    built = build_list(session, people)
    test_lists.enterprise(session, built.lst, 99, "东兴区误录企业", code="511011", grade=None)  # flagged
    session.commit()
    lst = session.get(ReductionList, built.lst.id)
    assert enterprise_service.flagged_count(session, lst) == 2  # the operator's scope: everything
    from app.auth.services import scope_for

    with app.app_context():
        from app.extensions import db

        s = db.session()
        set_scope(s, scope_for(s, s.get(User, people.district_user.id)))
        mine = s.get(ReductionList, built.lst.id)
        assert enterprise_service.flagged_count(s, mine) == 1
        page = enterprise_service.search(s, mine, enterprise_service.Filters(flags="flagged"))
        assert [r.name for r in page.rows] == ["市中区鑫源页岩砖厂"] and page.flagged_total == 1
        # a county filter inside the reader's scope reads that county; one outside it reads nothing
        inside = enterprise_service.search(s, mine, enterprise_service.Filters(county="511002"))
        assert inside.total == 5 and "东兴区误录企业" not in {r.name for r in inside.rows}
        outside = enterprise_service.search(s, mine, enterprise_service.Filters(county="511011"))
        assert outside.total == 0 and outside.rows == []
        set_scope(s, Scope.everything())


def test_every_demo_list_exports_and_reimports_without_a_problem(app, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 12.1: the import, the editor and the list page judge the same data the same way. The demo holds
    only data the editor accepts (no stored refusal: flags only), and an unchanged export of each list (荣昌
    2025 v2 among them) previews with no error."""
    from app.demo import load
    from app.reduction.domain import bulk
    from app.reduction.excel import exporter
    from tests.reduction.test_excel_import import preview

    load(session)
    session.commit()
    refused = [
        (e, codes)
        for e, codes in session.execute(select(EnterpriseAssessment.enterprise_id, EnterpriseAssessment.codes))
        if set(codes or ()) & bulk.REFUSED
    ]
    assert refused == [], refused[:5]
    lists = session.scalars(select(ReductionList).order_by(ReductionList.id)).all()
    seen = set()
    for lst in lists:
        owner = session.scalar(select(User).where(User.bureau_id == lst.bureau_id).order_by(User.id))
        assert owner is not None, lst.id
        path = tmp_path / f"list-{lst.id}.xlsx"
        with app.test_request_context(), path.open("wb") as out:
            exporter.export_list(session, lst, owner, out)
        result = preview(app, session, owner, path, year=lst.year)
        errors = [f"{i.sheet} {i.row} {i.header}: {i.message}" for i in result.issues if i.error]
        assert errors == [], (lst.jurisdiction.name, lst.year, lst.version, errors[:10])
        seen.add((lst.jurisdiction.code, lst.year, lst.version))
    assert any(code == "500153" and year == 2025 for code, year, _v in seen)  # 荣昌 2025
