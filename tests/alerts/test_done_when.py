"""Issue 13's "done when", as one chain walked through the screens and the API, each step checked on what its
user sees: a forecast (`unit,date,aqi`) in which 成都, 德阳, 眉山 and 雅安 exceed AQI 200 for 48 hours is
uploaded and yields an orange proposal for the whole 成都平原 with its reason (the same file through `flask
alerts evaluate` gives the same activation); it is approved and issued (late, flagged) and the letter prints;
every listed enterprise of the lists in force there has its task; one failed check becomes a case in the
responsible bureau's inbox; daily reports come in, one late; the forecast improves for 36 hours and the alert
is lifted (tasks closed); a regional red proposal needs both provinces' approvers.

The alert runs from yesterday (local) so that a report can already be late: its days are yesterday and today."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app.auth.models import Bureau
from app.auth.roles import Role
from app.core.localtime import LOCAL_TZ
from app.places.models import Jurisdiction
from app.reduction.models import Enterprise
from app.reduction.services.in_force import lists_in_force
from tests.alerts.conftest import CHENGDU_FOUR
from tests.alerts.test_proposals import PLAIN, office, people  # noqa: F401 - the fixtures
from tests.conftest import csrf_token, post_form
from tests.response.conftest import Zone, jpeg, zone  # noqa: F401 - the fixture

FIELDS = ("leaders_activities", "bureau_work", "next_plans", "issue_list_rectification")


def daily_file(path: Path, first: datetime, days: int) -> Path:
    """Daily AQI from `first`: 250 in the four cities on the first two days, 80 everywhere else."""
    lines = ["unit,date,aqi"]
    for u in PLAIN:
        for d in range(days):
            lines.append(f"{u},{(first + timedelta(days=d)):%Y-%m-%d},{250 if u in CHENGDU_FOUR and d < 2 else 80}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def state_of(page: str) -> str:
    found = re.search(r'data-testid="proposal-state">([^<]*)<', page)
    assert found, page[:2000]
    return found.group(1)


def upload(client: Any, path: Path) -> str:
    data = {"file": (io.BytesIO(path.read_bytes()), path.name), "plan": "chuanyu", "kind": "forecast"}
    r = post_form(client, "/alerts/forecasts/upload", data, token_from="/alerts/forecasts/upload",
                  content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return r.headers["Location"]


def propose(client: Any, forecast_url: str, index: int, **extra: Any) -> str:
    issue_id = int(re.search(r"/forecasts/(\d+)", forecast_url).group(1))
    r = post_form(client, f"/alerts/forecasts/{issue_id}/propose", {"plan": "chuanyu", "index": index, **extra},
                  token_from=forecast_url)  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return r.headers["Location"]


def act(client: Any, url: str, action: str, **extra: Any) -> str:
    pid = url.rstrip("/").rsplit("/", 1)[1]
    r = post_form(client, f"/alerts/proposals/{pid}/transition", {"action": action, **extra}, token_from=url)
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    return client.get(url).get_data(as_text=True)


def report_forms(page: str) -> dict[str, str]:
    """The report forms on the reports page: day → unit id."""
    return {day: unit for unit, day in re.findall(r'name="unit_id" value="(\d+)">.*?name="day" value="([\d-]+)"',
                                                  page, flags=re.S)}  # fmt: skip


def listed_in_force(session: Any, on: Any) -> int:
    """How many enterprises the lists in force on `on` hold in the six member cities and their counties."""
    prefixes = [c[:4] for c in PLAIN]
    ids = [j for j, code in session.execute(select(Jurisdiction.id, Jurisdiction.code)) if code[:4] in prefixes]
    lists = lists_in_force(session, ids, on)
    return session.scalar(select(func.count()).where(Enterprise.list_id.in_([x.id for x in lists.values()]))) or 0


def test_done_when(app, client, session, login_as, make_user, people, zone: Zone, runner, tmp_path) -> None:  # noqa: F811
    today = datetime.now(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    yesterday = today - timedelta(days=1)
    staff, leader = people["staff"], people["leader"]

    # 1. The forecast centre uploads the file; its page shows the orange activation of 成都平原 with the reason.
    login_as(staff)
    first = daily_file(tmp_path / "成都平原预报.csv", yesterday, 3)  # the third day below: lift not yet due
    forecast_url = upload(client, first)
    page = client.get(forecast_url).get_data(as_text=True)
    assert "成都平原内4个相邻城市（成都、德阳、眉山、雅安）达到橙色预警条件" in page
    issue_id = int(re.search(r"/forecasts/(\d+)", forecast_url).group(1))
    api = client.get(f"/api/v1/alerts/forecasts/{issue_id}/evaluation/chuanyu").get_json()
    [activation] = api["activations"]
    assert activation["zones"] == ["chengdu_plain"] and activation["level"] == "orange"
    assert sorted(activation["units"]) == sorted(PLAIN)
    assert [(p["kind"], p["level"]) for p in api["proposals"]] == [("issue", "orange"), ("lift_pending", None)]
    # The same file through the command line gives the same activation.
    cli = runner.invoke(args=["alerts", "evaluate", "chuanyu", str(first)])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output)["activations"] == api["activations"]

    # 2. The proposal drafted from it covers the whole zone with its reason; submitted, approved, issued.
    proposal_url = propose(client, forecast_url, 0, pollution="PM2.5 重度污染，日AQI 约250", weather="静稳、逆温")
    page = client.get(proposal_url).get_data(as_text=True)
    assert "发布预警 · 橙色预警" in page and state_of(page) == "草稿"
    units = re.search(r'data-testid="proposal-units">(.*?)</dd>', page).group(1)
    assert all(name in units for name in ("成都", "德阳", "绵阳", "眉山", "乐山", "雅安"))
    assert "成都平原内4个相邻城市" in re.search(r'data-testid="proposal-reason">(.*?)</dd>', page).group(1)
    assert state_of(act(client, proposal_url, "submit")) == "审批中"
    login_as(leader)
    situation = client.get("/alerts/").get_data(as_text=True)
    pid = proposal_url.rsplit("/", 1)[1]
    assert f'data-testid="decide-{pid}"' in situation
    assert f'data-testid="past-notice-{pid}"' in situation  # waiting, and already past the 72-hour notice
    assert state_of(act(client, proposal_url, "decide", decision="agree", opinion="同意")) == "已批准，待发布"
    login_as(staff)
    page = act(client, proposal_url, "issue")
    assert state_of(page) == "已发布"
    assert 'data-testid="issued-late"' in page  # the alert began yesterday: later than the 72-hour notice
    pdf = client.get(f"/alerts/proposals/{proposal_url.rsplit('/', 1)[1]}/letters/510000.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    episode_url = re.search(r'href="(/alerts/episodes/\d+)"', page).group(1)
    assert f'data-testid="late-issue-{episode_url.rsplit("/", 1)[1]}"' in client.get("/alerts/").get_data(as_text=True)
    episode = client.get(episode_url).get_data(as_text=True)
    assert "6 个单位未确认启动" in episode and episode.count("未确认</span>") == 6  # begun, none confirmed yet
    levels = client.get("/api/v1/alerts/episodes").get_json()["levels"]
    assert {levels.get(c) for c in PLAIN} == {"orange"}

    # 3. Every listed enterprise of the lists in force there has its task, at orange.
    inspector = make_user("dw_insp_cd", code="510100", roles=(Role.inspector,), display_name="成都执法")
    login_as(inspector)
    expected = listed_in_force(session, today.date())
    assert expected == sum(len(v) for v in zone.listed.values()) == 9  # 绵阳 too: the whole zone
    office_tasks = login_as(staff).get("/response/?state=all").get_data(as_text=True)
    assert f"共 {expected} 项任务" in office_tasks
    login_as(inspector)
    tasks = client.get("/api/v1/response/tasks").get_json()["tasks"]
    assert {t["uscc"] for t in tasks} == set(zone.listed["510100"]) and {t["level"] for t in tasks} == {"orange"}

    # 4. One check found not carried out opens a case in one step, in the responsible bureau's inbox.
    key = next(t for t in tasks if t["uscc"] == zone.key_uscc)
    task_url = f"/response/tasks/{key['id']}"
    page = client.get(task_url).get_data(as_text=True)
    assert "驻场督导" in page and "橙色预警" in page
    truck = next(m for m in client.get(f"/api/v1/response/tasks/{key['id']}").get_json()["measures"]
                 if m["kind"] == "truck_ban")  # fmt: skip
    r = client.post(f"{task_url}/measures/{truck['id']}", content_type="multipart/form-data", follow_redirects=True,
                    data={"csrf_token": csrf_token(client, task_url), "status": "not_carried_out",
                          "remark": "门禁记录显示国Ⅳ货车 6 辆次进厂", "photos": [jpeg("门禁.jpg")]})  # fmt: skip
    assert r.status_code == 200 and "登记问题线索" in r.get_data(as_text=True)
    colleague = make_user("dw_cd_case", roles=(Role.city_staff,),
                          bureau=session.get(Bureau, inspector.bureau_id))  # fmt: skip
    login_as(colleague)
    inbox = client.get("/cases/inbox").get_data(as_text=True)
    assert key["enterprise_name"] in inbox
    case_url = re.search(r'href="(/cases/\d+)">', inbox[inbox.find("<tbody") :]).group(1)
    case = client.get(case_url).get_data(as_text=True)
    assert key["enterprise_name"] in case and "橙色预警" in case and "停用国Ⅳ及以下重型货车" in case
    assert "门禁.jpg" in case

    # 5. Daily reports: 成都 sends yesterday's now (late, flagged) and today's (on time); the office sees both.
    login_as(people["chengdu"])
    page = client.get("/response/reports").get_data(as_text=True)
    forms = report_forms(page)
    assert set(forms) == {yesterday.date().isoformat(), today.date().isoformat()}
    assert "已逾期" in page
    for day, flash in ((yesterday, "每日报送已报送（逾期）"), (today, "每日报送已报送。")):
        r = post_form(client, "/response/reports", {"unit_id": forms[day.date().isoformat()], "kind": "daily",
                      "day": day.date().isoformat(), **{f: "今日出动执法人员 12 人次" for f in FIELDS}},
                      token_from="/response/reports", follow_redirects=True)  # fmt: skip
        assert flash in r.get_data(as_text=True)
    login_as(staff)
    summary = client.get(f"/response/summary?day={yesterday.date().isoformat()}").get_data(as_text=True)
    cards = dict(re.findall(r'data-testid="summary-unit">\s*<h2>(\S+) .*?data-testid="summary-status">([^<]*)<',
                            summary, flags=re.S))  # fmt: skip
    assert cards["成都市"] == "逾期报送" and cards["德阳市"] == "未报送（已逾期）" and len(cards) == 6
    owed = client.get("/api/v1/response/reports").get_json()["reports"]
    chengdu = {o["day"]: o["status"] for o in owed if o["unit"].startswith("成都")}
    assert chengdu == {yesterday.date().isoformat(): "late", today.date().isoformat(): "on_time"}
    assert client.get("/response/summary.pdf").data.startswith(b"%PDF")

    # 6. The forecast improves for 36 hours: the new issue proposes the lift; approved, issued; tasks closed.
    second_url = upload(client, daily_file(tmp_path / "成都平原预报2.csv", yesterday, 4))
    second_id = int(re.search(r"/forecasts/(\d+)", second_url).group(1))
    proposals = client.get(f"/api/v1/alerts/forecasts/{second_id}/evaluation/chuanyu").get_json()["proposals"]
    lift_at = [p["kind"] for p in proposals].index("lift")
    episode_id = int(episode_url.rsplit("/", 1)[1])
    lift_url = propose(client, second_url, lift_at, episode=episode_id)
    page = client.get(lift_url).get_data(as_text=True)
    assert "解除预警" in page and "（≥36小时），解除预警" in page
    act(client, lift_url, "submit")
    login_as(leader)
    act(client, lift_url, "decide", decision="agree")
    login_as(staff)
    assert state_of(act(client, lift_url, "issue")) == "已发布"
    assert "已解除" in client.get(episode_url).get_data(as_text=True)
    assert f"共 {expected} 项任务" in client.get("/response/?state=closed").get_data(as_text=True)
    assert "共 0 项任务" in client.get("/response/?state=open").get_data(as_text=True)

    # 7. A regional red proposal over both provinces needs Sichuan's vice-governor and Chongqing's vice-mayor.
    r = post_form(client, "/alerts/proposals/new?plan=chuanyu",
                  {"plan": "chuanyu", "kind": "issue", "level": "red", "reason": "区域红色",
                   "starts_at": (today + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
                   "units": ["510500", "510300", "512000", "500153", "500118", "500111"]},
                  token_from="/alerts/proposals/new?plan=chuanyu")  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    red_url = r.headers["Location"]
    page = act(client, red_url, "submit")
    assert "四川省分管副省长" in page and "重庆市分管副市长" in page
    login_as(leader)
    act(client, red_url, "decide", decision="agree", opinion="审核同意，报两地政府")
    login_as(people["sc_vg"])
    assert state_of(act(client, red_url, "decide", decision="agree")) == "审批中"  # one province is not enough
    login_as(people["cq_vm"])
    page = act(client, red_url, "decide", decision="agree")
    assert state_of(page) == "已批准，待发布"
    assert page.count("同意</strong>") == 3
