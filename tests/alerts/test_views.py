"""The alert screens (issue 13.8): upload with preview, proposal from the evaluation, approval, issue, the
provinces' letters, confirmation, the situation map, to-dos and notifications; scoped; bad input refused."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.alerts.models import EpisodeUnit, ForecastIssue, Proposal
from app.alerts.vocabulary import ProposalState
from app.auth.models import BureauKind
from app.auth.roles import Role
from app.core.localtime import LOCAL_TZ
from tests.alerts.test_proposals import forecast
from tests.conftest import post_form


def todo(page: str, key: str) -> int:
    found = re.search(rf'data-testid="todo-{key}">\s*<strong class="count">(\d+)</strong>', page)
    return int(found.group(1)) if found else 0


@pytest.fixture
def people(make_user, make_bureau):
    office = make_bureau("510000", "川渝工作小组办公室（视图测试）", kind=BureauKind.working_group,
                         roots=("510000", "500000"))  # fmt: skip
    return {
        "staff": make_user("wg_view", roles=(Role.province_staff,), bureau=office, display_name="办公室值班员"),
        "leader": make_user("leader_view", roles=(Role.group_leader,), bureau=office, display_name="组长甲"),
        "chengdu": make_user("cd_view", code="510100", roles=(Role.city_staff,), display_name="成都市局"),
        "kashgar": make_user("ks_view", code="653100", roles=(Role.city_staff,), display_name="喀什地区局"),
    }


def _upload(client, path, plan="chuanyu"):
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), "plan": plan, "kind": "forecast"}
    return post_form(client, "/alerts/forecasts/upload", data, token_from="/alerts/forecasts/upload",
                     content_type="multipart/form-data")  # fmt: skip


def test_upload_preview_propose_approve_issue_confirm(app, client, login_as, people, session, tmp_path) -> None:
    login_as(people["staff"])
    # From tomorrow: the episode starts in 48–72 hours, later than the plan's 72-hour notice, whatever the hour.
    tomorrow = (datetime.now(LOCAL_TZ) + timedelta(days=1)).strftime("%Y-%m-%d")
    r = _upload(client, forecast(tmp_path / "forecast.csv", 24 * 7, tomorrow))
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "成都平原内4个相邻城市（成都、德阳、眉山、雅安）达到橙色预警条件" in page
    assert 'data-testid="forecast-summary"' in page and "成都" in page
    issue_id = session.scalar(select(func.max(ForecastIssue.id)))
    r = post_form(client, f"/alerts/forecasts/{issue_id}/propose",
                  {"plan": "chuanyu", "index": 0, "pollution": "重度污染", "weather": "静稳"},
                  token_from=f"/alerts/forecasts/{issue_id}?plan=chuanyu")  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)
    proposal_url = r.headers["Location"]
    page = client.get(proposal_url).get_data(as_text=True)
    assert "发布预警 · 橙色预警" in page and "重度污染" in page and "绵阳" in page and "乐山" in page
    pid = int(proposal_url.rstrip("/").rsplit("/", 1)[1])
    assert (
        post_form(
            client, f"/alerts/proposals/{pid}/transition", {"action": "submit"}, token_from=proposal_url
        ).status_code
        == 302
    )
    assert session.get(Proposal, pid).state is ProposalState.under_approval

    # The leader sees it waiting on the home page and the situation page, decides it.
    login_as(people["leader"])
    assert todo(client.get("/").get_data(as_text=True), "alert_decide") == 1
    assert f'data-testid="decide-{pid}"' in client.get("/alerts/").get_data(as_text=True)
    notes = client.get("/notifications/").get_data(as_text=True)
    assert "预警建议待审批" in notes
    r = post_form(client, f"/alerts/proposals/{pid}/transition",
                  {"action": "decide", "decision": "agree", "opinion": "同意发布"},
                  token_from=proposal_url)  # fmt: skip
    assert r.status_code == 302
    assert todo(client.get("/").get_data(as_text=True), "alert_decide") == 0

    # The office issues; the letter of Sichuan prints.
    login_as(people["staff"])
    assert todo(client.get("/").get_data(as_text=True), "alert_issue") == 1
    assert (
        post_form(
            client, f"/alerts/proposals/{pid}/transition", {"action": "issue"}, token_from=proposal_url
        ).status_code
        == 302
    )
    page = client.get(proposal_url).get_data(as_text=True)
    assert re.search(r'data-testid="proposal-state">([^<]*)<', page).group(1) == "已发布", page[page.find("<main") :][
        :3000
    ]
    assert "/letters/510000.pdf" in page
    assert "/letters/500000.pdf" not in page  # no Chongqing unit in 成都平原
    pdf = client.get(f"/alerts/proposals/{pid}/letters/510000.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/alerts/proposals/{pid}/letters/500000.pdf").status_code == 404

    # 成都 confirms its start; the map shows it orange.
    login_as(people["chengdu"])
    home = client.get("/").get_data(as_text=True)
    assert todo(home, "alert_confirm") == 1
    situation = client.get("/alerts/").get_data(as_text=True)
    assert 'data-unit="510100" data-level="orange"' in situation
    row = session.scalars(select(EpisodeUnit).where(EpisodeUnit.proposal_id == pid)).first()
    episode_url = f"/alerts/episodes/{row.episode_id}"
    page = client.get(episode_url).get_data(as_text=True)
    assert 'data-testid="issued-late"' not in page  # on the proposal's page, not here
    assert "晚于预案提前量（提前" in page  # the timeline says how late
    assert page.count("待确认") == 6 and 'data-testid="unconfirmed"' not in page  # not begun: not flagged yet
    chengdu = people["chengdu"].jurisdiction_id
    mine = session.scalars(
        select(EpisodeUnit).where(EpisodeUnit.proposal_id == pid, EpisodeUnit.jurisdiction_id == chengdu)
    ).one()
    r = post_form(
        client, f"/alerts/units/{mine.id}/confirm", {"note": "已启动", "started": "1"}, token_from=episode_url
    )
    assert r.status_code == 302
    page = client.get(episode_url).get_data(as_text=True)
    assert page.count("待确认") == 5 and "成员单位确认启动 · 成都市局：已启动" in page
    assert todo(client.get("/").get_data(as_text=True), "alert_confirm") == 0

    # Kashgar sees none of it.
    login_as(people["kashgar"])
    assert client.get(proposal_url).status_code == 404
    assert client.get(episode_url).status_code == 404
    assert "成都平原" not in client.get("/alerts/").get_data(as_text=True)


def test_a_bad_file_is_refused_with_line_and_column_and_nothing_kept(client, login_as, people, session,
                                                                     tmp_path) -> None:  # fmt: skip
    login_as(people["staff"])
    bad = tmp_path / "bad.csv"
    bad.write_text("unit,date,aqi\n510100,2026-12-10,250\n510100,2026-12-11,abc\n", encoding="utf-8")
    before = session.scalar(select(func.count()).select_from(ForecastIssue))
    r = _upload(client, bad)
    assert r.status_code == 400
    assert "bad.csv 第3行 aqi 列" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ForecastIssue)) == before


def test_a_bad_manual_proposal_names_the_field(client, login_as, people, session) -> None:
    login_as(people["staff"])
    before = session.scalar(select(func.count()).select_from(Proposal))
    r = post_form(client, "/alerts/proposals/new?plan=chuanyu",
                  {"plan": "chuanyu", "kind": "issue", "level": "orange", "starts_at": "明天", "units": ["510100"]},
                  token_from="/alerts/proposals/new?plan=chuanyu")  # fmt: skip
    assert r.status_code == 400 and "启动时间“明天”无法识别" in r.get_data(as_text=True)
    r = post_form(client, "/alerts/proposals/new?plan=chuanyu",
                  {"plan": "chuanyu", "kind": "issue", "level": "orange", "starts_at": "2026-12-20T08:00"},
                  token_from="/alerts/proposals/new?plan=chuanyu")  # fmt: skip
    assert r.status_code == 400 and "请至少选择一个成员单位" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Proposal)) == before
    r = post_form(client, "/alerts/proposals/new?plan=chuanyu",
                  {"plan": "chuanyu", "kind": "issue", "level": "red", "starts_at": "2026-12-20T08:00",
                   "units": ["510100", "500153"], "reason": "手工"},
                  token_from="/alerts/proposals/new?plan=chuanyu")  # fmt: skip
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "四川省分管副省长" in page and "重庆市分管副市长" in page
