"""Kashgar (seed 002 §3.7.1, plan `kashgar`: upgrade_observed_hours = 24): with a yellow alert in force, observed
AQI that has reached orange, and a forecast showing no clear improvement within 24 hours, gives an upgrade
proposal to orange with its reason; a forecast of improvement within 24 hours gives none; observations at the
level in force give none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from app.alerts import services as alerts
from app.alerts.domain import readings
from app.alerts.models import ReadingKind
from app.alerts.services import observed, proposals
from app.alerts.services.drafts import Draft
from app.alerts.vocabulary import ProposalKind, ProposalState
from app.alerts.workflow import Action
from app.auth.models import BureauKind
from app.auth.roles import Role
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
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "橙色预警" in page and "实测：" in page and "草稿" in page


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
