"""`flask power check EPISODE` (issue 14 points 2–3): the check on the episode's enterprises under response prints
the flags JSON of docs/power-flags.schema.json and stores them; a dismissed flag stays dismissed on a rerun, and a
rerun neither duplicates nor loses a flag."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pandas as pd
from sqlalchemy import func, select

from app.auth.models import User
from app.power import flags
from app.power.models import FlagState, PowerFlag
from tests.conftest import ROOT, audit_actions
from tests.power import world as w
from tests.response.conftest import zone  # noqa: F401  the fixture

SCHEMA = json.loads((ROOT / "docs" / "power-flags.schema.json").read_text())


def run_cli(runner, episode: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = runner.invoke(args=["power", "check", str(episode), "--as-of", w.AS_OF])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    jsonschema.validate(doc, SCHEMA)
    return doc


def test_the_check_flags_the_pretender_and_the_silent_meter_and_explains_the_reported_stoppage(
    app,
    session,
    runner,
    zone,  # noqa: F811
) -> None:  # type: ignore[no-untyped-def]
    world = w.build(session, zone)
    doc = run_cli(runner, world.episode)
    by = {e.id: b for b, e in world.by_behaviour.items()}
    seen = {(by[f["enterprise_id"]], f["kind"], f["status"]) for f in doc["flags"]}
    assert ("pretends", "production_not_reduced", "raised") in seen
    assert ("silent", "meter_silent", "raised") in seen
    assert ("reported", "meter_silent", "explained") in seen
    assert not any(b == "reported" and s == "raised" for b, _k, s in seen)
    pretender = next(f for f in doc["flags"] if f["kind"] == "production_not_reduced")
    assert pretender["reason"].startswith("生产用电未按要求下降：预警期间")
    assert pretender["evidence"]["percent_of_baseline"] > 60
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(PowerFlag)) == len(doc["flags"])
    assert audit_actions("power.check_run")


def test_a_dismissed_flag_stays_dismissed_and_a_rerun_changes_nothing(
    app,
    session,
    runner,
    zone,  # noqa: F811
    make_user,
) -> None:  # type: ignore[no-untyped-def]
    world = w.build(session, zone)
    official = session.get(User, make_user("power_official", code="510100").id)
    first = run_cli(runner, world.episode)
    session.expire_all()
    flag = session.scalars(select(PowerFlag).where(PowerFlag.kind == "production_not_reduced")
                           .order_by(PowerFlag.day)).first()  # fmt: skip
    flags.dismiss(session, flag, official, "现场核实：该线为应急保供生产线")
    session.commit()
    before = {(f.id, f.kind, f.about) for f in session.scalars(select(PowerFlag))}
    second = run_cli(runner, world.episode)
    session.expire_all()
    after = {(f.id, f.kind, f.about) for f in session.scalars(select(PowerFlag))}
    assert after == before and len(second["flags"]) == len(first["flags"])
    assert session.get(PowerFlag, flag.id).state is FlagState.dismissed
    shown = next(f for f in second["flags"] if f["kind"] == "production_not_reduced")
    assert (shown["status"], shown["status_label"]) == ("dismissed", "已排除")
    assert second["raised"]["production_not_reduced"] == first["raised"]["production_not_reduced"] - 1
    assert session.get(PowerFlag, flag.id).note == "现场核实：该线为应急保供生产线"
    assert audit_actions("power.flag_dismissed")
    assert len(audit_actions("power.check_run")) == 1  # the rerun changed nothing


def test_a_confirmed_flag_opens_one_case_with_its_numbers_and_chart(
    app,
    session,
    runner,
    zone,  # noqa: F811
    make_user,
    login_as,
) -> None:  # type: ignore[no-untyped-def]
    from app.cases.models import Case, Evidence
    from app.power import casework

    world = w.build(session, zone)
    run_cli(runner, world.episode)
    pretender = world.by_behaviour["pretends"]
    official = session.get(User, make_user("power_confirmer", code="510100").id)
    session.expire_all()
    days = list(session.scalars(select(PowerFlag).where(PowerFlag.kind == "production_not_reduced",
                                                        PowerFlag.registry_enterprise_id == pretender.id)))  # fmt: skip
    assert len(days) >= 2
    with app.test_request_context():
        first = casework.confirm(session, days[0], official)
        second = casework.confirm(session, days[1], official)  # same enterprise, kind and episode: the same case
        session.commit()
    assert first.id == second.id
    case = session.get(Case, first.id)
    assert case.origin.value == "power_check" and case.source_name == pretender.name
    assert case.enterprise_uscc == pretender.uscc and case.jurisdiction_id == pretender.jurisdiction_id
    assert "生产用电未按要求下降" in case.problem and "percent_of_baseline=" in case.problem
    pngs = list(session.scalars(select(Evidence).where(Evidence.case_id == case.id)))
    assert len(pngs) == 1 and pngs[0].filename.endswith(".png")
    run_cli(runner, world.episode)  # a rerun keeps the confirmation and opens nothing more
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Case).where(Case.origin == "power_check")) == 1
    assert session.get(PowerFlag, days[0].id).state is FlagState.confirmed
    page = login_as(official).get(f"/cases/{case.id}").get_data(as_text=True)
    assert case.number in page and ".png" in page


def test_staggered_shutdowns_of_the_list_in_force_leave_the_baseline(app, session, zone) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """The zone's 成都 list has a plant in staggered production from 2026-11-15: of the 30 days before the alert
    (11-07 … 12-06) only the 8 before its shutdown are normal days; the others keep all 30."""
    world = w.build(session, zone)
    with app.test_request_context():
        i, result = flags.compute(session, world.episode, as_of=datetime(2026, 12, 10, 0, tzinfo=UTC))
    staggered = next(e for e in world.by_behaviour.values() if e.uscc == zone.stagger_uscc)
    assert i.staggered.to_dict("records") == [{"enterprise_id": staggered.id, "start": pd.Timestamp("2026-11-15"),
                                               "end": pd.Timestamp("2027-03-16")}]  # fmt: skip
    normal = result.baselines.groupby("enterprise_id")["normal_days"].min().to_dict()
    reported = world.by_behaviour["reported"].id
    assert normal[staggered.id] == 8
    assert all(n == 30 for e, n in normal.items() if e not in (staggered.id, reported)), normal
