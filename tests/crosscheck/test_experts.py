"""The shared expert pool and grading reviews (issue 15 point 4, Done when): experts of both provinces with
their specialties; conflicts of interest (own employer, own jurisdiction, a review of the same enterprise within
12 months) keep an expert out; a review invites only experts of the other province; an expert from 重庆 reviews a
grade in 南充 and the new grade changes that enterprise's required measures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.auth.models import Bureau
from app.auth.roles import Role
from app.experts import domain
from app.experts.models import Expert, GradeReview, ReviewInvitation, ReviewState
from app.extensions import db
from app.reduction import demo
from app.reduction.domain.uscc import generate
from app.reduction.models import Enterprise, ListState, ReductionList
from app.registry.models import RegistryAction, RegistryEvent
from tests.conftest import audit_actions, csrf_token

NANCHONG, NEIJIANG, TONGNAN, CHONGQING, SICHUAN = "511300", "511000", "500152", "500000", "510000"
PUBLISHED = datetime.now(UTC) - timedelta(days=3)
REQUIRED = re.compile(r"规则库最低要求：([^<]*)</p>")


def _post(client: Any, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/experts/")})


@pytest.fixture
def world(app, session, make_bureau, make_user):  # type: ignore[no-untyped-def]
    nanchong = make_bureau(NANCHONG)
    people = {
        "nanchong": make_user("ex_nc", bureau=nanchong, roles=(Role.city_staff,)),
        "neijiang": make_user("ex_nj", NEIJIANG, roles=(Role.city_staff,)),
        "chongqing": make_user("ex_cq", CHONGQING, roles=(Role.province_staff,)),
        "sichuan": make_user("ex_sc", SICHUAN, roles=(Role.province_staff,)),
    }
    lst = ReductionList(jurisdiction_id=nanchong.jurisdiction_id, bureau_id=nanchong.id, year=2026, version=1,
                        state=ListState.published, submitted_at=PUBLISHED, decided_at=PUBLISHED,
                        decided_by_id=people["sichuan"].id, published_at=PUBLISHED)  # fmt: skip
    session.add(lst)
    session.flush()
    plant = demo.add_enterprise(
        session, lst, uscc=generate(301, region=NANCHONG), name="南充红砖一厂", category="key", grade="C",
        industry="brick",
        units=[demo.UnitSpec("L1", "1号隧道窑", {"so2": 0.5, "nox": 0.5, "pm": 0.5}, 100, 90, 80)],
        measures={"yellow": [demo.MeasureSpec("limit", "power_meter", percent=30)]},
    )  # fmt: skip
    session.commit()
    return {"people": people, "plant": plant, "list": lst}


def _add_expert(app, login_as, who: Any, **data: Any) -> int:  # type: ignore[no-untyped-def]
    c = login_as(who, app.test_client())
    r = _post(c, "/experts/", {"specialties": ["brick"], **data})
    assert r.status_code == 302, r.get_data(as_text=True)
    s = db.session_factory()
    expert_id = s.scalar(select(Expert.id).where(Expert.name == data["name"]))
    s.close()
    return int(expert_id)


def _required(page: str) -> list[str]:
    return REQUIRED.findall(page)


def _to_conclude(client: Any) -> tuple[int, str | None]:
    """The home page's line 待完成的绩效评级复核: its count and where it leads (none: no line)."""
    found = re.search(
        r'<a class="card todo[^"]*" href="([^"]+)" data-testid="todo-review_conclude">\s*'
        r'<strong class="count">(\d+)</strong>\s*待完成的绩效评级复核',
        client.get("/").get_data(as_text=True),
    )
    return (int(found.group(2)), found.group(1).replace("&amp;", "&")) if found else (0, None)


def test_an_expert_from_chongqing_reviews_a_grade_in_nanchong_and_the_required_measures_change(
    app, login_as, world
) -> None:  # type: ignore[no-untyped-def]
    people, plant = world["people"], world["plant"]
    cq, sc = people["chongqing"], people["sichuan"]
    zhang = _add_expert(app, login_as, cq, name="张工", employer="重庆市环境科学研究院", jurisdiction=TONGNAN)
    li = _add_expert(app, login_as, cq, name="李工", employer="南充红砖一厂", employer_uscc=plant.uscc,
                     jurisdiction=CHONGQING)  # fmt: skip
    wang = _add_expert(app, login_as, sc, name="王工", employer="四川省环境科学研究院", jurisdiction=SICHUAN)
    zhao = _add_expert(app, login_as, cq, name="赵工", employer="重庆大学", jurisdiction=CHONGQING)
    # A province keeps only its own experts.
    r = _post(login_as(sc, app.test_client()), "/experts/", {"name": "越权", "jurisdiction": TONGNAN,
                                                             "specialties": ["brick"]})  # fmt: skip
    assert r.status_code == 400
    # 赵工 reviewed the same enterprise three months ago (an earlier review, cancelled).
    s = db.session_factory()
    earlier = GradeReview(registry_enterprise_id=plant.registry_id, enterprise_id=plant.id, list_id=plant.list_id,
                          uscc=plant.uscc, name=plant.name, industry="brick", bureau_id=people["nanchong"].bureau_id,
                          requested_by_id=people["nanchong"].id, jurisdiction_id=plant.jurisdiction_id,
                          state=ReviewState.cancelled)  # fmt: skip
    s.add(earlier)
    s.flush()
    s.add(ReviewInvitation(review_id=earlier.id, expert_id=zhao, registry_enterprise_id=plant.registry_id,
                           invited_by_id=people["nanchong"].id, jurisdiction_id=plant.jurisdiction_id,
                           invited_at=datetime.now(UTC) - timedelta(days=90)))  # fmt: skip
    s.commit()
    s.close()

    nc = login_as(people["nanchong"], app.test_client())
    before = nc.get(f"/lists/enterprises/{plant.id}").get_data(as_text=True)
    assert _required(before), "the rule library names the minimum measures of brick C"

    r = _post(nc, "/experts/reviews", {"uscc": plant.uscc, "reason": "企业申请由C级升为B级"})
    assert r.status_code == 302, r.get_data(as_text=True)
    review_path = r.headers["Location"]
    page = nc.get(review_path).get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-expert="(\d+)">(.*?)</tr>', page, re.S))
    assert "邀请</button>" in rows[str(zhang)]
    assert "本人所在单位" in rows[str(li)] and "邀请</button>" not in rows[str(li)]
    assert "另一省（市）" in rows[str(wang)] and "邀请</button>" not in rows[str(wang)]
    assert "近12个月内评审过该企业" in rows[str(zhao)] and "邀请</button>" not in rows[str(zhao)]

    invite = review_path.rstrip("/") + "/invitations"
    for refused in (li, wang, zhao):  # the service refuses what the page does not offer
        assert _post(nc, invite, {"expert_id": refused}).status_code == 400
    assert _post(nc, invite, {"expert_id": zhang}).status_code == 302
    s = db.session_factory()
    inv = s.scalars(select(ReviewInvitation).where(ReviewInvitation.expert_id == zhang)).one()
    s.close()
    r = _post(nc, f"/experts/invitations/{inv.id}/opinion", {"proposed_grade": "B", "opinion": "治理设施达到B级要求"})
    assert r.status_code == 302
    # 南充 requested it and keeps the list: its own work list has it, and it is not told what it did itself
    assert _to_conclude(nc)[0] == 1
    assert "绩效评级复核待完成" not in nc.get("/notifications/").get_data(as_text=True)
    r = _post(nc, review_path.rstrip("/") + "/transition",
              {"action": "conclude", "resulting_grade": "B", "conclusion": "经专家复核，评定为B级"})  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)

    page = nc.get(review_path).get_data(as_text=True)
    assert "已完成" in page and "经专家复核，评定为B级" in page and "治理设施达到B级要求" in page
    s = db.session_factory()
    review = s.scalars(select(GradeReview).where(GradeReview.state == ReviewState.concluded)).one()
    row = s.get(Enterprise, review.result_enterprise_id)
    new_list = s.get(ReductionList, row.list_id)
    assert (row.grade.value, new_list.version, new_list.state) == ("B", 2, ListState.draft)  # the next version
    assert s.get(Enterprise, plant.id).grade.value == "C"  # the published version is never edited
    event = s.scalars(select(RegistryEvent).where(RegistryEvent.registry_enterprise_id == plant.registry_id,
                                                  RegistryEvent.action == RegistryAction.changed)).one()  # fmt: skip
    assert event.changes["grade"] == ["C", "B"]
    s.close()
    after = nc.get(f"/lists/enterprises/{row.id}").get_data(as_text=True)
    assert _required(after) and _required(after) != _required(before)
    actions = {e.action for e in audit_actions()}
    assert {"expert.create", "grade_review.request", "grade_review.invite", "grade_review.opinion",
            "grade_review.conclude", "enterprise.grade"} <= actions  # fmt: skip

    # Another city's bureau does not see the review; nobody concludes twice.
    assert login_as(people["neijiang"], app.test_client()).get(review_path).status_code == 404
    assert _post(nc, review_path.rstrip("/") + "/transition", {"action": "cancel"}).status_code == 403


def test_a_province_requested_review_of_a_published_list_is_concluded_by_the_bureau_keeping_it(
    app, login_as, world
) -> None:  # type: ignore[no-untyped-def]
    """四川省厅 asks for the review of a 南充 enterprise whose list in force is published: the province invites the
    expert from 重庆 and records the opinion, but only 南充's bureau (which keeps the list) concludes it: the grade
    goes into a new version of 南充's list, the registry keeps the change, and the required measures move. The
    province is refused with the reason and the keeper's name; another city sees nothing."""
    people, plant = world["people"], world["plant"]
    zhang = _add_expert(app, login_as, people["chongqing"], name="张工", employer="重庆市环境科学研究院",
                        jurisdiction=TONGNAN)  # fmt: skip
    sc = login_as(people["sichuan"], app.test_client())
    r = _post(sc, "/experts/reviews", {"uscc": plant.uscc, "reason": "省级抽查：C级依据不足"})
    assert r.status_code == 302, r.get_data(as_text=True)
    path = r.headers["Location"].rstrip("/")
    assert _post(sc, path + "/invitations", {"expert_id": zhang}).status_code == 302
    s = db.session_factory()
    inv = s.scalars(select(ReviewInvitation).where(ReviewInvitation.expert_id == zhang)).one()
    s.close()
    nc = login_as(people["nanchong"], app.test_client())
    assert _to_conclude(nc) == (0, "/experts/?view=to_conclude")  # invited, no opinion yet: nothing to conclude
    assert "南充红砖一厂" not in nc.get("/experts/?view=to_conclude").get_data(as_text=True)
    assert _post(sc, f"/experts/invitations/{inv.id}/opinion", {"proposed_grade": "B", "opinion": "达到B级"}
                 ).status_code == 302  # fmt: skip
    s = db.session_factory()
    nanchong_bureau = s.get(Bureau, people["nanchong"].bureau_id).name
    sichuan_bureau = s.get(Bureau, people["sichuan"].bureau_id).name
    s.close()
    # 南充, which keeps the list, is told and has it in its work list, leading to the reviews it must conclude
    count, link = _to_conclude(nc)
    assert count == 1 and link is not None
    waiting = nc.get(link).get_data(as_text=True)
    assert 'data-testid="reviews-filter"' in waiting and f'href="{path}"' in waiting and "南充红砖一厂" in waiting
    message = f"绩效评级复核待完成：南充红砖一厂（专家意见已录入：{sichuan_bureau} · 张工 · B）"
    notes = nc.get("/notifications/").get_data(as_text=True)
    assert message in notes
    opened = re.search(r'action="(/notifications/\d+/open)">\s*(?:<[^>]+>\s*)*<button[^>]*>(?:<[^>]+>[^<]*</span>)?\s*'
                       + re.escape(message), notes)  # fmt: skip
    assert opened and _post(nc, opened.group(1), {}).headers["Location"].rstrip("/") == path  # opens the review
    # the requesting province recorded it: no message, no line; another city neither
    assert "绩效评级复核待完成" not in sc.get("/notifications/").get_data(as_text=True)
    assert _to_conclude(sc)[0] == 0 and "南充红砖一厂" not in sc.get(link).get_data(as_text=True)
    nj = login_as(people["neijiang"], app.test_client())
    assert _to_conclude(nj)[0] == 0 and "绩效评级复核待完成" not in nj.get("/notifications/").get_data(as_text=True)
    assert nc.get("/experts/?view=everything").status_code == 400
    page = sc.get(path).get_data(as_text=True)
    assert 'data-testid="keeper-note"' in page and "完成复核并更新企业等级" not in page
    assert f"2026年第1版清单已发布，由{nanchong_bureau}管理" in page
    conclude = {"action": "conclude", "resulting_grade": "B", "conclusion": "经专家复核，评定为B级"}
    refused = _post(sc, path + "/transition", conclude)
    assert refused.status_code == 403
    assert f"须由{nanchong_bureau}完成复核、建立清单新版本写入" in refused.get_data(as_text=True)
    s = db.session_factory()
    assert s.scalars(select(GradeReview)).one().state is ReviewState.open  # nothing was written
    assert s.scalar(select(ReductionList.id).where(ReductionList.version == 2)) is None
    s.close()

    before = nc.get(f"/lists/enterprises/{plant.id}").get_data(as_text=True)
    page = nc.get(path).get_data(as_text=True)
    assert "完成复核并更新企业等级" in page and 'data-testid="keeper-note"' not in page
    assert "邀请</button>" not in page  # inviting and opinions stay with the requesting province
    r = _post(nc, path + "/transition", conclude)
    assert r.status_code == 302, r.get_data(as_text=True)
    page = nc.get(path).get_data(as_text=True)
    assert "已完成" in page and "2026年第2版（草稿）：该版本审核发布后成为执行中的清单" in page
    assert _to_conclude(nc)[0] == 0  # concluded: off the work list
    assert "没有待本单位完成的绩效评级复核" in nc.get(link).get_data(as_text=True)
    s = db.session_factory()
    review = s.scalars(select(GradeReview)).one()
    row = s.get(Enterprise, review.result_enterprise_id)
    new_list = s.get(ReductionList, row.list_id)
    assert (review.state, row.grade.value, new_list.version, new_list.state) == (
        ReviewState.concluded, "B", 2, ListState.draft)  # fmt: skip
    assert review.concluded_by_id == people["nanchong"].id and review.bureau_id == people["sichuan"].bureau_id
    assert s.get(Enterprise, plant.id).grade.value == "C"  # the published version is never edited
    event = s.scalars(select(RegistryEvent).where(RegistryEvent.registry_enterprise_id == plant.registry_id,
                                                  RegistryEvent.action == RegistryAction.changed)).one()  # fmt: skip
    assert event.changes["grade"] == ["C", "B"]
    s.close()
    after = nc.get(f"/lists/enterprises/{row.id}").get_data(as_text=True)
    assert _required(after) and _required(after) != _required(before)
    assert login_as(people["neijiang"], app.test_client()).get(path).status_code == 404


def test_a_chongqing_enterprise_invites_only_sichuan_experts(
    app, login_as, world, session, make_bureau, make_user
) -> None:  # type: ignore[no-untyped-def]
    people = world["people"]
    wang = _add_expert(app, login_as, people["sichuan"], name="王工", jurisdiction="511300")
    zhang = _add_expert(app, login_as, people["chongqing"], name="张工", jurisdiction=TONGNAN)
    tongnan = make_bureau(TONGNAN)
    lst = ReductionList(jurisdiction_id=tongnan.jurisdiction_id, bureau_id=tongnan.id, year=2026, version=1)
    session.add(lst)
    session.flush()
    e = demo.add_enterprise(session, lst, uscc=generate(302, region=TONGNAN), name="潼南砖厂", category="key",
                            grade="C", industry="brick")  # fmt: skip
    session.commit()
    cq = login_as(people["chongqing"], app.test_client())
    r = _post(cq, "/experts/reviews", {"uscc": e.uscc})
    assert r.status_code == 302, r.get_data(as_text=True)
    path = r.headers["Location"].rstrip("/")
    assert _post(cq, path + "/invitations", {"expert_id": zhang}).status_code == 400
    assert _post(cq, path + "/invitations", {"expert_id": wang}).status_code == 302
    # The API shows the same: the candidates with their reasons.
    data = cq.get("/api/v1" + path).get_json()
    assert {c["expert_id"]: c["reasons"] for c in data["candidates"]}[zhang] == ["same_province", "own_jurisdiction"]
    assert [i["expert_id"] for i in data["invitations"]] == [wang]


def test_conflicts_of_interest() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    kw = {"enterprise_uscc": "91511300MA0000001X", "enterprise_path": "/510000/511300/", "now": now}
    cq = domain.Candidate(1, None, "/500000/500152/")
    assert domain.conflicts(cq, last_reviewed=None, **kw) == []
    assert domain.conflicts(cq, last_reviewed=now - timedelta(days=400), **kw) == []
    assert domain.conflicts(cq, last_reviewed=now - timedelta(days=300), **kw) == ["recent_review"]
    employed = domain.Candidate(2, "91511300MA0000001X", "/500000/")
    assert domain.conflicts(employed, last_reviewed=None, **kw) == ["own_employer"]
    local = domain.Candidate(3, None, "/510000/511300/")
    assert domain.conflicts(local, last_reviewed=None, **kw) == ["same_province", "own_jurisdiction"]
    across = {**kw, "enterprise_path": "/500000/500152/"}
    assert domain.conflicts(cq, last_reviewed=None, **across) == ["same_province", "own_jurisdiction"]
    assert domain.conflicts(domain.Candidate(4, None, "/510000/", active=False), last_reviewed=None, **across) == [
        "inactive"
    ]
