"""Issue 13.5 and its done-when: a forecast where 成都, 德阳, 眉山 and 雅安 exceed AQI 200 for 48 hours yields an
orange proposal for the whole 成都平原 zone with its reason; it is approved and issued, each unit confirms; the
forecast improves for 36 hours and the alert is lifted; the same file through `flask alerts evaluate` gives the
same activation; a regional red proposal needs both provinces' approvers; lifting on schedule in Kashgar needs no
approval; a late issue and an unconfirmed unit are flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from app.alerts import services as alerts
from app.alerts.domain import readings
from app.alerts.models import EpisodeEvent, EpisodeUnit, ProposalDecision
from app.alerts.services import drafts, episodes, proposals
from app.alerts.services.drafts import Draft
from app.alerts.vocabulary import EpisodeState, EventKind, ProposalKind, ProposalState
from app.alerts.workflow import Action
from app.auth.models import BureauKind
from app.auth.roles import Role
from app.core.errors import Forbidden, ServiceError
from app.notifications.models import Notification, NotificationKind
from app.places.models import Jurisdiction
from app.reduction.domain.vocabulary import AlertLevel
from tests.alerts.conftest import CHENGDU_FOUR
from tests.conftest import audit_actions

PLAIN = ("510100", "510600", "510700", "511400", "511100", "511800")  # 成都平原: 成都 德阳 绵阳 眉山 乐山 雅安
T_ISSUE = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)  # more than 72 h before 12-10 00:00 (+08:00)


def forecast(path: Path, hours: int, first_day: str = "2026-12-08") -> Path:
    """Hourly AQI from `first_day` 00:00: 250 in 成都, 德阳, 眉山, 雅安 for 48 hours from two days later, else 80."""
    lines = ["unit,time,aqi"]
    for u in PLAIN:
        for h in range(hours):
            value = 250 if u in CHENGDU_FOUR and 48 <= h < 96 else 80
            lines.append(f"{u},{pd.Timestamp(first_day) + pd.Timedelta(hours=h):%Y-%m-%d %H:%M},{value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def office(make_bureau):
    return make_bureau(
        "510000", "川渝工作小组办公室（测试）", kind=BureauKind.working_group, roots=("510000", "500000")
    )


@pytest.fixture
def people(make_user, make_bureau, office):
    sc_gov = make_bureau("510000", "四川省人民政府（测试）", kind=BureauKind.department)
    cq_gov = make_bureau("500000", "重庆市人民政府（测试）", kind=BureauKind.department)
    return {
        "staff": make_user("wg_staff_t", roles=(Role.province_staff,), bureau=office, display_name="办公室值班员"),
        "leader": make_user("leader_t", roles=(Role.group_leader,), bureau=office, display_name="组长"),
        "deputy": make_user("deputy_t", roles=(Role.deputy_leader,), bureau=office, display_name="副组长"),
        "sc_vg": make_user("sc_vg_t", roles=(Role.vice_governor,), bureau=sc_gov, display_name="分管副省长"),
        "cq_vm": make_user("cq_vm_t", roles=(Role.vice_mayor,), bureau=cq_gov, display_name="分管副市长"),
        "chengdu": make_user("cd_t", code="510100", roles=(Role.city_staff,), display_name="成都市局"),
        "deyang": make_user("dy_t", code="510600", roles=(Role.city_staff,), display_name="德阳市局"),
    }


def _user(session, user):
    return session.get(type(user), user.id)


def _evaluate(session, path: Path) -> tuple[dict, object]:
    parsed = readings.parse(path.name, path.read_bytes(), alerts.member_codes(session, "chuanyu"))
    issue, _ = alerts.store(session, parsed, alerts.ReadingKind.forecast, path.name)
    return alerts.evaluate(session, "chuanyu", alerts.frame_of(session, issue)), issue


def test_forecast_to_orange_alert_approved_issued_confirmed_and_lifted(session, people, runner, tmp_path) -> None:
    assert runner.invoke(args=["inventories", "load"]).exit_code == 0
    staff, leader = _user(session, people["staff"]), _user(session, people["leader"])
    first = forecast(tmp_path / "forecast_1208.csv", 24 * 4 + 12)  # ends 12 h after the episode
    result, issue = _evaluate(session, first)

    # The same file through `flask alerts evaluate` gives the same activation.
    cli = runner.invoke(args=["alerts", "evaluate", "chuanyu", str(first)])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output)["activations"] == result["activations"]

    kinds = [(p["kind"], p["level"]) for p in result["proposals"]]
    assert kinds == [("issue", "orange"), ("lift_pending", None)]
    draft = drafts.draft_from_evaluation(result, 0, pollution="PM2.5 重度污染，日AQI 约250", weather="静稳、逆温")
    proposal = proposals.create(session, staff, "chuanyu", draft, forecast_issue=issue)
    assert proposal.kind is ProposalKind.issue and proposal.level is AlertLevel.orange
    assert sorted(proposal.units) == sorted(PLAIN)  # the whole zone, 绵阳 and 乐山 too
    assert "成都平原内4个相邻城市（成都、德阳、眉山、雅安）达到橙色预警条件" in proposal.reason
    assert proposal.chain == [{"action": "approve", "role": "group_leader", "jurisdiction": None,
                               "delegate": "deputy_leader"}]  # fmt: skip
    with pytest.raises(ServiceError, match="暂不解除"):
        drafts.draft_from_evaluation(result, 1)

    # Approved by the group leader, then issued by the office.
    with pytest.raises(Forbidden):
        proposals.transition(session, proposal, Action.decide, leader, {"decision": "agree"})  # not submitted yet
    proposals.transition(session, proposal, Action.submit, staff, now=T_ISSUE)
    assert proposal.state is ProposalState.under_approval
    waiting = session.scalars(select(Notification).where(Notification.kind == NotificationKind.alert_approval)).all()
    assert people["leader"].bureau_id in {n.bureau_id for n in waiting}
    with pytest.raises(Forbidden, match="组长"):
        proposals.transition(session, proposal, Action.decide, _user(session, people["chengdu"]), {"decision": "agree"})
    proposals.transition(session, proposal, Action.decide, leader, {"decision": "agree", "opinion": "同意"},
                         now=T_ISSUE)  # fmt: skip
    assert proposal.state is ProposalState.approved
    proposals.transition(session, proposal, Action.issue, staff, now=T_ISSUE)
    episode = proposal.episode
    assert episode.state is EpisodeState.issued and episode.level is AlertLevel.orange
    assert not proposal.issued_late
    start = datetime(2026, 12, 9, 16, 0, tzinfo=UTC)  # 12-10 00:00 local
    assert episode.started_at == start
    ids = dict(session.execute(select(Jurisdiction.code, Jurisdiction.id).where(Jurisdiction.code.in_(PLAIN))).all())
    for code in PLAIN:
        assert episodes.level_in_force(session, ids[code], start + timedelta(hours=1)) is AlertLevel.orange
    assert episodes.level_in_force(session, ids["510100"], start - timedelta(minutes=1)) is None
    told = session.scalars(select(Notification.bureau_id).where(Notification.kind == NotificationKind.alert_issued))
    assert people["chengdu"].bureau_id in set(told)

    # Each unit confirms its own start; one that has not is flagged.
    chengdu_row = session.scalars(select(EpisodeUnit).where(EpisodeUnit.jurisdiction_id == ids["510100"])).one()
    with pytest.raises(Forbidden):
        proposals.confirm(session, chengdu_row, _user(session, people["deyang"]))
    proposals.confirm(session, chengdu_row, _user(session, people["chengdu"]), "已启动橙色预警", now=start)
    late = {u.jurisdiction_id for u in proposals.unconfirmed(episode, start + timedelta(hours=2))}
    assert ids["510100"] not in late and ids["510600"] in late and len(late) == 5

    # The forecast improves for 36 hours: the new issue's evaluation proposes the lift; approved and issued.
    second = forecast(tmp_path / "forecast_1210.csv", 24 * 4 + 36)
    result2, issue2 = _evaluate(session, second)
    lift_at = [i for i, p in enumerate(result2["proposals"]) if p["kind"] == "lift"]
    assert lift_at, result2["proposals"]
    lift = proposals.create(session, staff, "chuanyu", drafts.draft_from_evaluation(result2, lift_at[0]),
                            episode=episode, forecast_issue=issue2)  # fmt: skip
    assert lift.kind is ProposalKind.lift and not lift.without_approval and sorted(lift.units) == sorted(PLAIN)
    assert "成都平原预报自12月12日00时起低于预警条件" in lift.reason and "（≥36小时），解除预警" in lift.reason
    proposals.transition(session, lift, Action.submit, staff)
    proposals.transition(session, lift, Action.decide, _user(session, people["deputy"]), {"decision": "agree"})
    proposals.transition(session, lift, Action.issue, staff)
    end = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    assert episode.state is EpisodeState.lifted and episode.lifted_at == end
    assert episodes.level_in_force(session, ids["510100"], end - timedelta(minutes=1)) is AlertLevel.orange
    assert episodes.level_in_force(session, ids["510100"], end) is None
    delegated = session.scalars(select(ProposalDecision).where(ProposalDecision.proposal_id == lift.id)).one()
    assert delegated.delegated and delegated.role == "deputy_leader"

    # The whole timeline is kept, and audited.
    timeline = [e.kind for e in session.scalars(select(EpisodeEvent).where(EpisodeEvent.episode_id == episode.id)
                                                .order_by(EpisodeEvent.id))]  # fmt: skip
    assert timeline == [EventKind.drafted, EventKind.submitted, EventKind.decided, EventKind.approved,
                        EventKind.issued, EventKind.confirmed, EventKind.drafted, EventKind.submitted,
                        EventKind.decided, EventKind.approved, EventKind.issued]  # fmt: skip
    session.commit()
    actions = [a.action for a in audit_actions("alert_proposal.")]
    assert actions.count("alert_proposal.issue") == 2 and actions.count("alert_proposal.decide") == 2


def _red(session, staff, units=("510100", "510600", "511400", "511800", "500153", "500118")):
    draft = Draft(kind=ProposalKind.issue, level=AlertLevel.red, units=list(units),
                  starts_at=datetime(2026, 12, 20, tzinfo=UTC), pollution="严重污染", weather="静稳",
                  reason="手工建议")  # fmt: skip
    proposal = proposals.create(session, staff, "chuanyu", draft)
    proposals.transition(session, proposal, Action.submit, staff)
    return proposal


@pytest.mark.parametrize("order", [("sc_vg", "cq_vm"), ("cq_vm", "sc_vg")])
def test_a_regional_red_alert_needs_both_provinces_approvers(session, people, order) -> None:
    staff = _user(session, people["staff"])
    proposal = _red(session, staff)
    assert [s["role"] for s in proposal.chain] == ["group_leader", "vice_governor", "vice_mayor"]
    with pytest.raises(Forbidden, match="组长"):  # the review comes first
        proposals.transition(session, proposal, Action.decide, _user(session, people[order[0]]), {"decision": "agree"})
    proposals.transition(session, proposal, Action.decide, _user(session, people["leader"]),
                         {"decision": "agree", "opinion": "审核同意，报两地政府"})  # fmt: skip
    proposals.transition(session, proposal, Action.decide, _user(session, people[order[0]]), {"decision": "agree"})
    assert proposal.state is ProposalState.under_approval  # one province is not enough
    with pytest.raises(Forbidden):
        proposals.transition(session, proposal, Action.issue, staff)
    with pytest.raises(Forbidden, match="不同的人"):  # the same approver cannot take the other step
        proposals.transition(session, proposal, Action.decide, _user(session, people[order[0]]), {"decision": "agree"})
    proposals.transition(session, proposal, Action.decide, _user(session, people[order[1]]), {"decision": "agree"})
    assert proposal.state is ProposalState.approved
    assert [d.role for d in sorted(proposal.decisions, key=lambda d: d.id)] == ["group_leader", *(
        "vice_governor" if who == "sc_vg" else "vice_mayor" for who in order)]  # fmt: skip


def test_a_vice_governor_of_another_province_is_not_the_approver(session, people, make_user, make_bureau) -> None:
    staff = _user(session, people["staff"])
    proposal = _red(session, staff)
    proposals.transition(session, proposal, Action.decide, _user(session, people["leader"]), {"decision": "agree"})
    elsewhere = make_user("ln_vg_t", roles=(Role.vice_governor,), bureau=make_bureau("210000"))
    with pytest.raises(Forbidden, match="四川省分管副省长"):
        proposals.transition(session, proposal, Action.decide, _user(session, elsewhere), {"decision": "agree"})


def test_a_refusal_needs_an_opinion_and_cancels_the_episode(session, people) -> None:
    staff = _user(session, people["staff"])
    proposal = _red(session, staff)
    leader = _user(session, people["leader"])
    with pytest.raises(ServiceError, match="请填写意见"):
        proposals.transition(session, proposal, Action.decide, leader, {"decision": "refuse"})
    proposals.transition(session, proposal, Action.decide, leader, {"decision": "refuse", "opinion": "预报把握不足"})
    assert proposal.state is ProposalState.refused and proposal.episode.state is EpisodeState.cancelled
    refused = session.scalars(select(Notification).where(Notification.kind == NotificationKind.alert_refused)).one()
    assert refused.bureau_id == staff.bureau_id and refused.detail == "预报把握不足"


def test_an_issue_later_than_the_advance_notice_is_flagged(session, people) -> None:
    staff = _user(session, people["staff"])
    start = datetime(2026, 12, 20, tzinfo=UTC)
    draft = Draft(kind=ProposalKind.issue, level=AlertLevel.yellow, units=list(PLAIN), starts_at=start)
    proposal = proposals.create(session, staff, "chuanyu", draft)
    assert proposal.propose_by == start - timedelta(hours=72)
    proposals.transition(session, proposal, Action.submit, staff)
    proposals.transition(session, proposal, Action.decide, _user(session, people["leader"]), {"decision": "agree"})
    proposals.transition(session, proposal, Action.issue, staff, now=start - timedelta(hours=30))
    assert proposal.issued_late
    issued = session.scalars(select(EpisodeEvent).where(EpisodeEvent.kind == EventKind.issued)).one()
    assert issued.detail["late"] and issued.detail["hours_ahead"] == 30.0 and issued.detail["notice_hours"] == 72


def test_bad_drafts_are_refused_with_the_field(session, people) -> None:
    staff = _user(session, people["staff"])
    start = datetime(2026, 12, 20, tzinfo=UTC)
    with pytest.raises(ServiceError, match="653101 不是本预案的成员单位") as e:
        proposals.create(session, staff, "chuanyu", Draft(ProposalKind.issue, AlertLevel.red, ["653101"], start))
    assert e.value.field == "units"
    with pytest.raises(ServiceError, match="已发布的预警过程"):
        proposals.create(session, staff, "chuanyu", Draft(ProposalKind.upgrade, AlertLevel.red, ["510100"], start))
    with pytest.raises(Forbidden):
        proposals.create(session, _user(session, people["leader"]), "chuanyu",
                         Draft(ProposalKind.issue, AlertLevel.red, ["510100"], start))  # fmt: skip


def test_upgrade_closes_the_period_and_opens_a_higher_one(session, people) -> None:
    staff, leader = _user(session, people["staff"]), _user(session, people["leader"])
    start = datetime(2026, 12, 20, tzinfo=UTC)
    issue = proposals.create(
        session, staff, "chuanyu", Draft(ProposalKind.issue, AlertLevel.yellow, list(PLAIN), start)
    )
    for action, who in ((Action.submit, staff), (Action.decide, leader), (Action.issue, staff)):
        proposals.transition(session, issue, action, who, {"decision": "agree"})
    episode = issue.episode
    up_at = start + timedelta(days=1)
    with pytest.raises(ServiceError, match="须高于"):
        proposals.create(session, staff, "chuanyu", Draft(ProposalKind.upgrade, AlertLevel.yellow, [], up_at),
                         episode=episode)  # fmt: skip
    up = proposals.create(session, staff, "chuanyu", Draft(ProposalKind.upgrade, AlertLevel.orange, [], up_at,
                                                           unit_levels={"510100": "red"}), episode=episode)  # fmt: skip
    assert sorted(up.units) == sorted(PLAIN)
    for action, who in ((Action.submit, staff), (Action.decide, leader), (Action.issue, staff)):
        proposals.transition(session, up, action, who, {"decision": "agree"})
    ids = dict(session.execute(select(Jurisdiction.code, Jurisdiction.id).where(Jurisdiction.code.in_(PLAIN))).all())
    assert episodes.level_in_force(session, ids["510600"], up_at - timedelta(seconds=1)) is AlertLevel.yellow
    assert episodes.level_in_force(session, ids["510600"], up_at) is AlertLevel.orange
    assert episodes.level_in_force(session, ids["510100"], up_at) is AlertLevel.red  # its own higher level
    assert episode.level is AlertLevel.red
    rows = session.scalars(select(EpisodeUnit).where(EpisodeUnit.jurisdiction_id == ids["510600"])
                           .order_by(EpisodeUnit.id)).all()  # fmt: skip
    assert [(r.level, r.ends_at) for r in rows] == [(AlertLevel.yellow, up_at), (AlertLevel.orange, None)]


def test_kashgar_lifts_on_schedule_without_approval(session, make_user, make_bureau) -> None:
    command = make_bureau("653100", "喀什指挥部（测试）", kind=BureauKind.command_center)
    director = make_user("ks_dir_t", roles=(Role.office_director,), bureau=command)
    commander = make_user("ks_cmd_t", roles=(Role.deputy_commander,), bureau=command)
    director, commander = _user(session, director), _user(session, commander)
    counties = ["653101", "653121", "653122"]
    start = datetime(2026, 12, 20, tzinfo=UTC)
    issue = proposals.create(
        session, director, "kashgar", Draft(ProposalKind.issue, AlertLevel.orange, counties, start)
    )
    assert [s["role"] for s in issue.chain] == ["office_director", "deputy_commander"]
    proposals.transition(session, issue, Action.submit, director)
    with pytest.raises(Forbidden):  # the review comes first
        proposals.transition(session, issue, Action.decide, commander, {"decision": "agree"})
    proposals.transition(session, issue, Action.decide, director, {"decision": "agree"})
    proposals.transition(session, issue, Action.decide, commander, {"decision": "agree"})
    proposals.transition(session, issue, Action.issue, director)
    lift = proposals.create(session, director, "kashgar", Draft(ProposalKind.lift, None, [], start + timedelta(days=2),
                                                                on_schedule=True), episode=issue.episode)  # fmt: skip
    assert lift.without_approval and lift.chain == []
    proposals.transition(session, lift, Action.submit, director)
    assert lift.state is ProposalState.approved and not lift.decisions
    proposals.transition(session, lift, Action.issue, director)
    assert issue.episode.state is EpisodeState.lifted
