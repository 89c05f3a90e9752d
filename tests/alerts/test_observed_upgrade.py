"""Kashgar (seed 002 §3.7.1, plan `kashgar`: upgrade_observed_hours = 24): with a yellow alert in force, observed
AQI that has reached orange, and a forecast showing no clear improvement within 24 hours, gives an upgrade
proposal to orange with its reason; a forecast of improvement within 24 hours gives none; observations at the
level in force give none."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from app.alerts import services as alerts
from app.alerts.domain import readings
from app.alerts.models import EpisodeEvent, Proposal, ReadingKind
from app.alerts.services import observed, proposals
from app.alerts.services.drafts import Draft
from app.alerts.vocabulary import ProposalKind, ProposalState
from app.alerts.workflow import Action
from app.audit.models import AuditEntry
from app.auth.models import BureauKind
from app.auth.roles import Role
from app.notifications.models import Notification, NotificationKind
from app.reduction.domain.vocabulary import AlertLevel

COUNTIES = ["653101", "653121", "653122", "653123", "653124", "653125",
            "653126", "653127", "653128", "653129", "653130", "653131"]  # fmt: skip
T0 = datetime(2026, 12, 20)  # local midnight: the yellow alert's start


def hourly(path: Path, start: datetime, hours: int, value: int) -> Path:
    lines = ["unit,time,aqi"] + [f"{u},{pd.Timestamp(start) + pd.Timedelta(hours=h):%Y-%m-%d %H:%M},{value}"
                                 for u in COUNTIES for h in range(hours)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stored(session, path: Path, kind: ReadingKind):  # type: ignore[no-untyped-def]
    parsed = readings.parse(path.name, path.read_bytes(), alerts.member_codes(session, "kashgar"))
    return alerts.store(session, parsed, kind, path.name)[0]


@pytest.fixture
def yellow(session, make_user, make_bureau):  # type: ignore[no-untyped-def]
    command = make_bureau("653100", "喀什指挥部（实测升级测试）", kind=BureauKind.command_center)
    director = session.get(type(u := make_user("ks_obs_dir", roles=(Role.office_director,), bureau=command)), u.id)
    start = T0.replace(tzinfo=UTC) - timedelta(hours=8)
    p = proposals.create(session, director, "kashgar", Draft(ProposalKind.issue, AlertLevel.yellow, COUNTIES, start))
    proposals.transition(session, p, Action.submit, director, now=start - timedelta(hours=30))
    proposals.transition(session, p, Action.decide, director, {"decision": "agree"}, now=start - timedelta(hours=30))
    proposals.transition(session, p, Action.issue, director, now=start - timedelta(hours=30))
    return director, p.episode


def todo(page: str, key: str) -> int:
    found = re.search(rf'data-testid="todo-{key}">\s*<strong class="count">(\d+)</strong>', page)
    return int(found.group(1)) if found else 0


def upgrades(session, episode):  # type: ignore[no-untyped-def]
    return session.scalars(select(Proposal).where(Proposal.episode_id == episode.id,
                                                  Proposal.kind == ProposalKind.upgrade)).all()  # fmt: skip


def test_an_observed_upgrade_reaches_its_deciders_work_list_and_notifications(
    session, yellow, tmp_path, make_user, make_bureau, login_as, client
) -> None:  # type: ignore[no-untyped-def]
    """Storing observations that call for an upgrade puts the upgrade into the plan's orange chain at once: the
    office director (审核) sees it to decide on the home page and is notified; the deputy commander (批准) only
    once the director has agreed; nobody else."""
    director, episode = yellow
    command = director.bureau
    leaders = make_bureau("653100", "喀什指挥部领导（实测升级测试）", kind=BureauKind.command_center)
    deputy = make_user("ks_obs_deputy", roles=(Role.deputy_commander,), bureau=leaders)
    staff = make_user("ks_obs_staff", "653101", roles=(Role.city_staff,))
    stored(session, hourly(tmp_path / "预报.csv", T0 + timedelta(hours=60), 48, 260), ReadingKind.forecast)
    assert upgrades(session, episode) == []  # a forecast alone proposes no observed upgrade
    seen = stored(session, hourly(tmp_path / "实测.csv", T0, 60, 260), ReadingKind.observation)
    [p] = upgrades(session, episode)
    assert p.state is ProposalState.under_approval and p.level is AlertLevel.orange and p.created_by_id is None
    assert p.forecast_issue_id == seen.id and p.reason.startswith("实测：")
    assert "预报未来24小时内无明显改善" in p.reason and sorted(p.units) == sorted(COUNTIES)
    assert [s["role"] for s in p.chain] == ["office_director", "deputy_commander"]
    notes = session.scalars(select(Notification).where(Notification.object_id == p.id,
                                                       Notification.endpoint == "alerts.proposal")).all()  # fmt: skip
    # its own kind, saying why: the level observed and the units that reached it
    assert [(n.kind, n.bureau_id) for n in notes] == [(NotificationKind.alert_observed, command.id)]
    assert notes[0].detail.startswith("橙色预警：喀什市、疏附县、疏勒县") and notes[0].detail.count("、") == 11
    kinds = [e.kind.value for e in session.scalars(select(EpisodeEvent).where(EpisodeEvent.proposal_id == p.id))]
    assert kinds == ["drafted", "submitted"]
    # the same file again, and another observation at orange, make no second upgrade
    stored(session, hourly(tmp_path / "实测.csv", T0, 60, 260), ReadingKind.observation)
    stored(session, hourly(tmp_path / "实测2.csv", T0, 61, 270), ReadingKind.observation)
    assert len(upgrades(session, episode)) == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "alert_proposal.propose_on_rule", AuditEntry.object_id == str(p.id))) == 1  # fmt: skip

    login_as(director)
    home = client.get("/").get_data(as_text=True)
    assert todo(home, "alert_decide") == 1
    assert "实测升级待审批：kashgar" in home and "实测已达橙色预警：喀什市、疏附县" in home
    assert "预警建议待审批：kashgar #1 预警升级" not in home  # not the wording of a proposal someone submitted
    timeline = client.get(f"/alerts/episodes/{episode.id}").get_data(as_text=True)
    assert "按预案规则（实测升级）" in timeline
    login_as(deputy)
    assert todo(client.get("/").get_data(as_text=True), "alert_decide") == 0  # the review comes first
    assert "待审批" not in client.get("/notifications/").get_data(as_text=True)
    login_as(staff)
    assert todo(client.get("/").get_data(as_text=True), "alert_decide") == 0

    proposals.transition(session, p, Action.decide, session.get(type(director), director.id),
                         {"decision": "agree", "opinion": "实测已达橙色"})  # fmt: skip
    session.commit()
    login_as(deputy)
    assert todo(client.get("/").get_data(as_text=True), "alert_decide") == 1
    # the next step's decider is told the same reason
    inbox = client.get("/notifications/").get_data(as_text=True)
    assert "实测升级待审批：kashgar" in inbox and "实测已达橙色预警：喀什市" in inbox
    from tests.conftest import post_form

    post_form(client, "/language", {"lang": "en"}, token_from="/notifications/")
    english = client.get("/notifications/").get_data(as_text=True)
    assert "Observed upgrade awaiting your decision: kashgar" in english


def test_observations_that_call_for_no_upgrade_notify_nobody(session, yellow, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _director, episode = yellow
    before = session.scalar(select(func.count()).select_from(Notification))
    stored(session, hourly(tmp_path / "实测黄.csv", T0, 30, 260), ReadingKind.observation)  # yellow: as in force
    stored(session, hourly(tmp_path / "预报好.csv", T0 + timedelta(hours=60), 48, 80), ReadingKind.forecast)
    stored(session, hourly(tmp_path / "实测橙.csv", T0, 60, 260), ReadingKind.observation)  # improvement forecast
    assert upgrades(session, episode) == []
    assert session.scalar(select(func.count()).select_from(Notification)) == before


def test_observed_orange_over_a_yellow_alert_gives_an_upgrade(session, yellow, tmp_path) -> None:  # type: ignore[no-untyped-def]
    director, episode = yellow
    seen = stored(session, hourly(tmp_path / "实测.csv", T0, 60, 260), ReadingKind.observation)
    ahead = stored(session, hourly(tmp_path / "预报.csv", T0 + timedelta(hours=60), 48, 260), ReadingKind.forecast)
    found = observed.upgrade(session, "kashgar", seen, ahead)
    assert found is not None and found["kind"] == "upgrade" and found["level"] == "orange"
    assert sorted(found["units"]) == sorted(COUNTIES)
    assert found["reason"].startswith("实测：") and "高于现行黄色预警" in found["reason"]
    assert "预报未来24小时内无明显改善，及时调整为橙色预警" in found["reason"]
    assert "连片" in found["reason"] or "平均" in found["reason"]  # the trigger's words: which counties
    # it becomes the episode's upgrade proposal, through the plan's orange chain
    p = proposals.create(session, director, "kashgar", observed.draft(found), episode=episode)
    assert p.kind is ProposalKind.upgrade and p.level is AlertLevel.orange and p.state is ProposalState.drafted
    assert [s["role"] for s in p.chain] == ["office_director", "deputy_commander"] and p.reason == found["reason"]
    # without a forecast there is no sign of improvement either: the upgrade stands, saying so
    alone = observed.upgrade(session, "kashgar", seen)
    assert alone is not None and "无未来24小时预报" in alone["reason"]


def test_no_upgrade_when_improvement_is_forecast_or_the_level_is_not_higher(session, yellow, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seen = stored(session, hourly(tmp_path / "实测.csv", T0, 60, 260), ReadingKind.observation)
    better = stored(session, hourly(tmp_path / "预报.csv", T0 + timedelta(hours=60), 48, 80), ReadingKind.forecast)
    assert observed.upgrade(session, "kashgar", seen, better) is None
    at_yellow = stored(session, hourly(tmp_path / "实测黄.csv", T0, 30, 260), ReadingKind.observation)
    assert observed.upgrade(session, "kashgar", at_yellow) is None
    # a plan without the rule (川渝) proposes no observed upgrade
    assert observed.upgrade(session, "chuanyu", seen) is None


def test_the_observation_page_shows_the_upgrade_and_drafts_it(session, yellow, tmp_path, login_as) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import post_form

    director, episode = yellow
    seen = stored(session, hourly(tmp_path / "实测.csv", T0, 60, 260), ReadingKind.observation)
    session.commit()
    client = login_as(director)
    url = f"/alerts/forecasts/{seen.id}?plan=kashgar"
    page = client.get(url).get_data(as_text=True)
    assert 'data-testid="observed-upgrade"' in page and "高于现行黄色预警" in page
    r = post_form(client, f"/alerts/forecasts/{seen.id}/propose-upgrade", {"plan": "kashgar", "episode": episode.id},
                  token_from=url)  # fmt: skip
    # the upload itself already put the upgrade into the chain: drafting again leads to that proposal
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "橙色预警" in page and "实测：" in page and "审批中" in page
    assert "已有升级建议在办理中" in page
    assert session.scalar(select(func.count()).select_from(Proposal).where(
        Proposal.episode_id == episode.id, Proposal.kind == ProposalKind.upgrade)) == 1  # fmt: skip


def test_the_api_answers_the_observed_upgrade(session, yellow, tmp_path, client) -> None:  # type: ignore[no-untyped-def]
    from jsonschema import Draft202012Validator

    from tests.test_openapi import SPEC, bearer

    director, _episode = yellow
    seen = stored(session, hourly(tmp_path / "实测.csv", T0, 60, 260), ReadingKind.observation)
    ahead = stored(session, hourly(tmp_path / "预报.csv", T0 + timedelta(hours=60), 48, 260), ReadingKind.forecast)
    headers = bearer(session, director)
    r = client.get(f"/api/v1/alerts/observations/{seen.id}/upgrade/kashgar", headers=headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    answer = SPEC["paths"]["/alerts/observations/{issue_id}/upgrade/{plan}"]["get"]["responses"]["200"]
    Draft202012Validator(answer["content"]["application/json"]["schema"]).validate(body)
    assert body["forecast"] == ahead.id and body["proposal"]["level"] == "orange"
    assert "高于现行黄色预警" in body["proposal"]["reason"]
    assert client.get(f"/api/v1/alerts/observations/{ahead.id}/upgrade/kashgar", headers=headers).status_code == 400
    assert client.get(f"/api/v1/alerts/observations/{seen.id}/upgrade/nowhere", headers=headers).status_code == 404
