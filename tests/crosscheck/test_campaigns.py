"""Cross-check campaigns (issue 15 point 1, Done when): 遂宁's bureau reviews a 10 % sample of 潼南's list in
force; it sees those enterprises and nothing else of 潼南, and after the close nothing at all; a reviewer of another
campaign or outside the sample sees nothing; two findings are answered and one becomes a case. And the
consistency page shows 潼南's brick plants at grade C cutting less than the regional median."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.auth.roles import Role
from app.cases.models import Case
from app.crosscheck.models import Campaign, CampaignPair, CampaignSample, Finding, FindingState
from app.extensions import db
from app.reduction import demo
from app.reduction.domain.uscc import generate
from app.reduction.models import ListState, ReductionList
from tests.conftest import audit_actions, csrf_token

PUBLISHED = datetime.now(UTC) - timedelta(days=3)
TONGNAN, SUINING, ZIYANG, CHONGQING = "500152", "510900", "512000", "500000"


def _list(session: Any, bureau: Any, decider_id: int) -> ReductionList:
    lst = ReductionList(jurisdiction_id=bureau.jurisdiction_id, bureau_id=bureau.id, year=2026, version=1,
                        state=ListState.published, submitted_at=PUBLISHED, decided_at=PUBLISHED,
                        decided_by_id=decider_id, published_at=PUBLISHED)  # fmt: skip
    session.add(lst)
    session.flush()
    return lst


def _plant(session: Any, lst: ReductionList, n: int, region: str, industry: str, grade: str, cut: float) -> Any:
    return demo.add_enterprise(
        session, lst, uscc=generate(n, region=region), name=f"{'潼南' if region == TONGNAN else '遂宁'}{industry}{n}厂",
        category="key", grade=grade, industry=industry,
        units=[demo.UnitSpec("L1", "1号线", {"so2": 0.5, "nox": 0.5, "pm": 0.5}, 100, 90, 80),
               demo.UnitSpec("L2", "2号线", {"so2": 0.5, "nox": 0.5, "pm": 0.5}, 100, 90, 80)],
        measures={"yellow": [demo.MeasureSpec("limit", "power_meter", percent=cut),
                             demo.MeasureSpec("truck_ban", "gate_records")]},
    )  # fmt: skip


@pytest.fixture
def region(app, session, make_bureau, make_user):  # type: ignore[no-untyped-def]
    tongnan, suining, ziyang = make_bureau(TONGNAN), make_bureau(SUINING), make_bureau(ZIYANG)
    organiser = make_user("cc_cq", CHONGQING, roles=(Role.province_staff,))
    people = {
        "organiser": organiser,
        "tongnan": make_user("cc_tn", bureau=tongnan, roles=(Role.district_staff,)),
        "suining": make_user("cc_sn", bureau=suining, roles=(Role.city_staff,)),
        "ziyang": make_user("cc_zy", bureau=ziyang, roles=(Role.city_staff,)),
    }
    tn_list = _list(session, tongnan, organiser.id)
    plants = []
    for i in range(20):  # 潼南: 10 brick plants at grade C cutting 20 %, 10 cement B
        industry, grade = ("brick", "C") if i < 10 else ("cement_clinker", "B")
        plants.append(_plant(session, tn_list, 100 + i, TONGNAN, industry, grade, 20 if i < 10 else 50))
    sn_list = _list(session, suining, organiser.id)
    for i in range(12):  # 遂宁: brick plants at grade C cutting 60 %
        _plant(session, sn_list, 200 + i, SUINING, "brick", "C", 60)
    session.commit()
    return {"people": people, "plants": plants, "bureaus": {"tongnan": tongnan, "suining": suining, "ziyang": ziyang},
            "list": tn_list}  # fmt: skip


def _post(client: Any, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/crosscheck/")})


def _campaign(app, login_as, region, reviewer: str, seed: int, name: str) -> int:  # type: ignore[no-untyped-def]
    c = login_as(region["people"]["organiser"], app.test_client())
    r = _post(c, "/crosscheck/", {"name": name, "opens_on": "2026-12-01", "closes_on": "2027-01-31"})
    assert r.status_code == 302, r.get_data(as_text=True)
    cid = int(r.headers["Location"].rstrip("/").split("/")[-1])
    r = _post(c, f"/crosscheck/{cid}/pairs", {"reviewer_bureau_id": region["bureaus"][reviewer].id,
                                             "reviewed": TONGNAN, "share": "10", "seed": str(seed)})  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)
    return cid


def _sampled(cid: int) -> list[CampaignSample]:
    s = db.session_factory()
    rows = list(s.scalars(select(CampaignSample).where(CampaignSample.campaign_id == cid).order_by(CampaignSample.id)))
    s.close()
    return rows


def test_reviewer_sees_the_sample_only_while_open_and_findings_become_a_case(app, login_as, region) -> None:  # type: ignore[no-untyped-def]
    cid = _campaign(app, login_as, region, "suining", 20261207, "2026年川渝清单交叉抽核")
    samples = _sampled(cid)
    assert len(samples) == 2  # 10 % of 20, one per stratum (brick C, cement B)
    assert {s.industry for s in samples} == {"brick", "cement_clinker"}
    s = db.session_factory()
    pair = s.scalars(select(CampaignPair).where(CampaignPair.campaign_id == cid)).one()
    assert (pair.seed, pair.share, pair.population, pair.list_version) == (20261207, 0.1, 20, 1)
    s.close()
    entry = [e for e in audit_actions("crosscheck.pair")][-1]
    assert entry.after["seed"] == 20261207 and sorted(entry.after["sampled"]) == sorted(
        x.enterprise_id for x in samples
    )

    sampled_ids = {x.enterprise_id for x in samples}
    other = next(p for p in region["plants"] if p.id not in sampled_ids)
    reviewer = login_as(region["people"]["suining"], app.test_client())
    # Before the campaign opens: no grant.
    assert reviewer.get(f"/crosscheck/enterprises/{samples[0].enterprise_id}").status_code == 404

    organiser = login_as(region["people"]["organiser"], app.test_client())
    assert _post(organiser, f"/crosscheck/{cid}/transition", {"action": "open"}).status_code == 302

    # Open: the sampled enterprises with their units and measures, and nothing else of 潼南.
    page = reviewer.get("/crosscheck/").get_data(as_text=True)
    assert all(x.name in page for x in samples)
    for x in samples:
        html = reviewer.get(f"/crosscheck/enterprises/{x.enterprise_id}").get_data(as_text=True)
        assert x.name in html and "1号线" in html
    assert reviewer.get(f"/crosscheck/enterprises/{other.id}").status_code == 404
    # The list's own pages stay the owner's: a granted enterprise is read on the cross-check screens only.
    assert reviewer.get(f"/reduction/enterprises/{samples[0].enterprise_id}").status_code == 404
    assert reviewer.get(f"/reduction/enterprises/{other.id}").status_code == 404
    assert reviewer.get(f"/reduction/lists/{region['list'].id}").status_code == 404
    api = reviewer.get(f"/api/v1/reduction/enterprises/{other.id}")
    assert api.status_code in (401, 404)

    # A bureau outside the campaign sees nothing of the sample, nor the campaign.
    outsider = login_as(region["people"]["ziyang"], app.test_client())
    assert outsider.get(f"/crosscheck/enterprises/{samples[0].enterprise_id}").status_code == 404
    assert outsider.get(f"/crosscheck/samples/{samples[0].id}").status_code == 404
    assert outsider.get(f"/crosscheck/{cid}").status_code == 404

    # Findings on the brick plant: two problems, the rest conform.
    brick = next(x for x in samples if x.industry == "brick")
    data = {"listed": "conforms", "permit_data": "conforms", "industry": "conforms", "reduction_base": "conforms",
            "stop_times": "problem", "stop_times_note": "黄色预警停产起止时间未写明",
            "measures": "problem", "measures_note": "限产措施无分表计电，无法核查", "grade": "conforms"}  # fmt: skip
    r = _post(reviewer, f"/crosscheck/samples/{brick.id}/findings", data)
    assert r.status_code == 302, r.get_data(as_text=True)
    s = db.session_factory()
    findings = {f.item.value: f for f in s.scalars(select(Finding).where(Finding.sample_id == brick.id))}
    s.close()
    assert len(findings) == 7

    # The reviewed bureau answers both problems; the reviewer cannot answer its own findings.
    tongnan = login_as(region["people"]["tongnan"], app.test_client())
    assert "黄色预警停产起止时间未写明" in tongnan.get(f"/crosscheck/samples/{brick.id}").get_data(as_text=True)
    assert (
        _post(reviewer, f"/crosscheck/findings/{findings['stop_times'].id}/answer", {"answer": "x"}).status_code == 403
    )
    for item, text in (("stop_times", "已补充停产起止时刻"), ("measures", "企业正在安装分表计电")):
        r = _post(tongnan, f"/crosscheck/findings/{findings[item].id}/answer", {"answer": text})
        assert r.status_code == 302, r.get_data(as_text=True)
    # One answer is accepted, the other finding becomes a case in one step.
    assert (
        _post(reviewer, f"/crosscheck/findings/{findings['stop_times'].id}/decide", {"action": "accept"}).status_code
        == 302
    )
    r = _post(reviewer, f"/crosscheck/findings/{findings['measures'].id}/decide", {"action": "case"})
    assert r.status_code == 302, r.get_data(as_text=True)
    s = db.session_factory()
    f = s.get(Finding, findings["measures"].id)
    case = s.get(Case, f.case_id)
    assert f.state is FindingState.case and s.get(Finding, findings["stop_times"].id).state is FindingState.accepted
    assert case.origin.value == "cross_check" and case.source_name == brick.name
    assert case.jurisdiction.code == TONGNAN and case.discovered_bureau_id == region["bureaus"]["suining"].id
    s.close()
    assert reviewer.get(f"/cases/{case.id}").status_code == 200
    page = reviewer.get(f"/crosscheck/samples/{brick.id}").get_data(as_text=True)
    assert "已转问题线索" in page and "已认可" in page

    # The report: screen, Excel (with the seed), PDF.
    assert "20261207" in organiser.get(f"/crosscheck/{cid}/report").get_data(as_text=True)
    xlsx = organiser.get(f"/crosscheck/{cid}/report.xlsx")
    wb = load_workbook(io.BytesIO(xlsx.data))
    cells = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert "20261207" in cells and "限产措施无分表计电，无法核查" in cells
    pdf = organiser.get(f"/crosscheck/{cid}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")

    # Closed: the grant is revoked, the reviewer sees no enterprise of 潼南 any more.
    assert _post(organiser, f"/crosscheck/{cid}/transition", {"action": "close"}).status_code == 302
    for x in samples:
        assert reviewer.get(f"/crosscheck/enterprises/{x.enterprise_id}").status_code == 404
    assert "抽核授权已结束" in reviewer.get(f"/crosscheck/samples/{brick.id}").get_data(as_text=True)
    assert brick.name not in reviewer.get("/crosscheck/").get_data(as_text=True).split('data-testid="campaigns"')[0]
    actions = {e.action for e in audit_actions("crosscheck.")}
    assert {"crosscheck.create", "crosscheck.pair", "crosscheck.open", "crosscheck.finding", "crosscheck.answer",
            "crosscheck.accept", "crosscheck.case", "crosscheck.close"} <= actions  # fmt: skip


def test_a_reviewer_of_another_campaign_sees_only_its_own_sample(app, login_as, region) -> None:  # type: ignore[no-untyped-def]
    first = _campaign(app, login_as, region, "suining", 1, "抽核一")
    second = _campaign(app, login_as, region, "ziyang", 2, "抽核二")
    organiser = login_as(region["people"]["organiser"], app.test_client())
    for cid in (first, second):
        _post(organiser, f"/crosscheck/{cid}/transition", {"action": "open"})
    mine = {x.enterprise_id for x in _sampled(second)}
    theirs = [x for x in _sampled(first) if x.enterprise_id not in mine]
    assert theirs, "the two draws should differ"
    ziyang = login_as(region["people"]["ziyang"], app.test_client())
    for x in theirs:
        assert ziyang.get(f"/crosscheck/enterprises/{x.enterprise_id}").status_code == 404
        assert ziyang.get(f"/crosscheck/samples/{x.id}").status_code == 404
    assert ziyang.get(f"/crosscheck/{first}").status_code == 404
    for eid in mine:
        assert ziyang.get(f"/crosscheck/enterprises/{eid}").status_code == 200
    # Writes are never granted: the reviewer cannot record findings on another campaign's sample.
    r = _post(ziyang, f"/crosscheck/samples/{theirs[0].id}/findings", {"listed": "conforms"})
    assert r.status_code == 404


def test_only_provincial_or_city_bureaus_set_up_campaigns(app, login_as, region) -> None:  # type: ignore[no-untyped-def]
    tongnan = login_as(region["people"]["tongnan"], app.test_client())
    r = _post(tongnan, "/crosscheck/", {"name": "区县组织", "opens_on": "2026-12-01", "closes_on": "2026-12-31"})
    assert r.status_code == 403
    s = db.session_factory()
    assert s.scalars(select(Campaign).where(Campaign.name == "区县组织")).first() is None
    s.close()


def test_same_seed_redraws_the_same_sample(app, login_as, region) -> None:  # type: ignore[no-untyped-def]
    a = {x.enterprise_id for x in _sampled(_campaign(app, login_as, region, "suining", 77, "甲"))}
    b = {x.enterprise_id for x in _sampled(_campaign(app, login_as, region, "suining", 77, "乙"))}
    assert a == b


def test_consistency_shows_tongnan_bricks_at_c_cutting_less_than_the_region(app, login_as, region) -> None:  # type: ignore[no-untyped-def]
    tongnan = login_as(region["people"]["tongnan"], app.test_client())
    html = tongnan.get("/crosscheck/consistency").get_data(as_text=True)
    outliers = html.split('data-testid="outliers"')[1].split("</table>")[0]
    assert "潼南区" in outliers and "brick" in outliers and "限产比例低于区域中位数：20，区域 60" in outliers
    # Aggregates only: no enterprise of another bureau, not even 遂宁's name among the rows.
    assert "遂宁" not in html


def _token(session: Any, user: Any) -> dict[str, str]:
    from app.auth.models import User
    from app.auth.services import create_token

    _t, raw = create_token(session, session.get(User, user.id), "crosscheck", days=1)
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_the_api_follows_the_grant(app, session, region) -> None:  # type: ignore[no-untyped-def]
    people = region["people"]
    org, rev, out = (_token(session, people[k]) for k in ("organiser", "suining", "ziyang"))
    client = app.test_client()
    r = client.post("/api/v1/crosscheck/campaigns", json={"name": "接口抽核", "opens_on": "2026-12-01",
                                                           "closes_on": "2027-01-31"}, headers=org)  # fmt: skip
    assert r.status_code == 201, r.get_json()
    cid = r.get_json()["id"]
    r = client.post(f"/api/v1/crosscheck/campaigns/{cid}/pairs", headers=org,
                    json={"reviewer_bureau_id": region["bureaus"]["suining"].id, "reviewed": TONGNAN, "share": 0.1,
                          "seed": 5})  # fmt: skip
    assert r.status_code == 201 and r.get_json()["seed"] == 5 and len(r.get_json()["samples"]) == 2
    sample = r.get_json()["samples"][0]
    assert client.get(f"/api/v1/crosscheck/samples/{sample['id']}", headers=rev).get_json()["enterprise"] is None
    r = client.post(f"/api/v1/crosscheck/campaigns/{cid}/transitions", json={"action": "open"}, headers=org)
    assert r.status_code == 200 and r.get_json()["state"] == "open"
    body = client.get(f"/api/v1/crosscheck/samples/{sample['id']}", headers=rev).get_json()
    assert body["enterprise"]["name"] == sample["name"] and body["enterprise"]["units"]
    assert client.get(f"/api/v1/crosscheck/samples/{sample['id']}", headers=out).status_code == 404
    assert client.get(f"/api/v1/crosscheck/campaigns/{cid}", headers=out).status_code == 404
    r = client.post(f"/api/v1/crosscheck/samples/{sample['id']}/findings", headers=rev,
                    json={"grade": "problem", "grade_note": "绩效评级依据不足"})  # fmt: skip
    assert r.status_code == 200 and r.get_json()["findings"][0]["state"] == "recorded"
    r = client.post(f"/api/v1/crosscheck/campaigns/{cid}/transitions", json={"action": "close"}, headers=org)
    assert r.get_json()["state"] == "closed"
    body = client.get(f"/api/v1/crosscheck/samples/{sample['id']}", headers=rev).get_json()
    assert body["enterprise"] is None and body["grant_until"] is None
    assert client.get(f"/api/v1/reduction/enterprises/{sample['enterprise_id']}", headers=rev).status_code == 404
    tn = _token(session, people["tongnan"])
    r = client.get("/api/v1/crosscheck/consistency", headers=tn).get_json()
    assert any(o["industry"] == "brick" and o["grade"] == "C" and o["metric"] == "cut_pct"
               and o["direction"] == "weaker" for o in r["outliers"])  # fmt: skip


def test_an_expired_grant_opens_nothing(app, login_as, region) -> None:  # type: ignore[no-untyped-def]
    cid = _campaign(app, login_as, region, "suining", 9, "过期抽核")
    organiser = login_as(region["people"]["organiser"], app.test_client())
    _post(organiser, f"/crosscheck/{cid}/transition", {"action": "open"})
    sample = _sampled(cid)[0]
    reviewer = login_as(region["people"]["suining"], app.test_client())
    assert reviewer.get(f"/crosscheck/enterprises/{sample.enterprise_id}").status_code == 200
    s = db.session_factory()
    s.get(CampaignSample, sample.id).grant_until = datetime.now(UTC) - timedelta(seconds=1)  # the closing day passed
    s.commit()
    s.close()
    assert reviewer.get(f"/crosscheck/enterprises/{sample.enterprise_id}").status_code == 404
