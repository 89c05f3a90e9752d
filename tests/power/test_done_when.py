"""Issue 14's "done when", as one chained test: generated plants for the 成都 unit — two that stop or limit as asked,
two that only pretend, one whose controls go off at night, one that moves its production to the night, one whose
production meter goes silent, one whose stoppage was reported in advance — an alert is issued, the readings arrive
through the API (one batch sent twice, stored once) and through HJ 212 frames from the devices over TCP, the check
flags exactly the pretenders, the night-time ones and the silent one and explains the reported one, the confirmed
flags become cases in the responsible bureau's inbox with their load-curve charts, and a rerun changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from app.auth.models import Bureau
from app.auth.roles import Role
from app.cases.models import Case, Evidence
from app.cases.vocabulary import CaseState
from app.power.models import FlagState, PowerFlag, PowerReading
from app.response.models import ResponseTask
from tests.conftest import audit_actions, csrf_token
from tests.power import world as w
from tests.power.helpers import bearer
from tests.power.test_receiver import packet, receiver  # noqa: F401  the receiver fixture
from tests.response.conftest import zone  # noqa: F401  the fixture

DONE = ["stops", "limits", "pretends", "pretends_partly", "controls_off_at_night", "night", "silent", "reported"]
OVER_HJ212 = ("night", "stops")  # their devices send the alert's hours over HJ 212
FLAGGED = {
    "pretends": {"production_not_reduced"},
    "pretends_partly": {"production_not_reduced"},
    "controls_off_at_night": {"controls_off"},
    "night": {"night_pattern"},
    "silent": {"meter_silent"},
}
FACTOR = {"production": "e30101", "control": "e30102", "total": "e30103"}


def api_rows(frame: pd.DataFrame, meters: dict[int, tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [{"uscc": meters[m][0], "meter": meters[m][1], "at": at.strftime("%Y-%m-%d %H:%M"), "kwh": round(k, 4)}
            for m, at, k in zip(frame["meter_id"], frame["at"], frame["kwh"], strict=True)]  # fmt: skip


def frames(frame: pd.DataFrame, meters: dict[int, tuple[str, str, str]], mn: str) -> list[bytes]:
    """One data packet per hour, the hour's three meters as factors, as the device uploads them."""
    out = []
    for n, (at, hour) in enumerate(frame.groupby("at")):
        values = {FACTOR[meters[m][2]]: k for m, k in zip(hour["meter_id"], hour["kwh"], strict=True)}
        out.append(packet(at.strftime("%Y%m%d%H%M%S"), values, mn=mn, qn=f"{at:%Y%m%d%H%M%S}{n % 1000:03d}"))
    return out


def flags_by_behaviour(session: Any, world: w.World) -> dict[str, set[tuple[str, str]]]:
    by = {e.id: b for b, e in world.by_behaviour.items()}
    out: dict[str, set[tuple[str, str]]] = {b: set() for b in DONE}
    for f in session.scalars(select(PowerFlag).where(PowerFlag.episode_id == world.episode)):
        out[by[f.registry_enterprise_id]].add((f.kind, f.state.value))
    return out


def stored_flags(session: Any, world: w.World) -> set[tuple[Any, ...]]:
    rows = session.scalars(select(PowerFlag).where(PowerFlag.episode_id == world.episode))
    return {(f.id, f.kind, f.about, f.state, f.case_id, f.report_id, json.dumps(f.evidence, sort_keys=True))
            for f in rows}  # fmt: skip


def run_check(runner: Any, world: w.World) -> dict[str, Any]:
    result = runner.invoke(args=["power", "check", str(world.episode), "--as-of", w.AS_OF])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_done_when(app, session, runner, zone, receiver, make_user, login_as) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    # --- an alert is issued: every generated plant is under response at orange (limit by 50 %) --------------------
    world = w.build(session, zone, DONE, store_readings=False)
    tasks = list(session.scalars(select(ResponseTask).where(ResponseTask.episode_id == world.episode)))
    ours = {e.id for e in world.by_behaviour.values()}
    assert ours <= {t.registry_enterprise_id for t in tasks} and {t.level.value for t in tasks} == {"orange"}
    readings = world.readings
    assert readings is not None

    # --- readings in: the API (the alert's batch sent twice) and HJ 212 frames over TCP ----------------------------
    device_meters = {m for m, (uscc, _n, _k) in world.meters.items()
                     if uscc in {world.by_behaviour[b].uscc for b in OVER_HJ212}}  # fmt: skip
    in_alert = readings["at"] >= world.alert_start
    by_device = readings["meter_id"].isin(device_meters) & in_alert
    chengdu = session.scalar(select(Bureau).where(Bureau.name == "510100测试局"))  # the zone's bureau of 成都
    auth = bearer(session, make_user("power_grid_company", bureau=chengdu))
    client = app.test_client()
    before = client.post("/api/v1/power/readings", json={"readings": api_rows(readings[~in_alert], world.meters)},
                         headers=auth)  # fmt: skip
    assert before.status_code == 201, before.get_json()
    alert_batch = {"readings": api_rows(readings[in_alert & ~by_device], world.meters)}
    headers = {**auth, "Idempotency-Key": "grid-2026-12-10"}
    first = client.post("/api/v1/power/readings", json=alert_batch, headers=headers)
    again = client.post("/api/v1/power/readings", json=alert_batch, headers=headers)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json() == again.get_json() == {"rows": len(alert_batch["readings"]),
                                                    "new": len(alert_batch["readings"]), "corrected": 0,
                                                    "unchanged": 0}  # fmt: skip
    plain = client.post("/api/v1/power/readings", json=alert_batch, headers=auth)  # again, without the key
    assert plain.get_json()["new"] == 0 and plain.get_json()["unchanged"] == len(alert_batch["readings"])

    host, port = receiver
    for b in OVER_HJ212:
        ent = world.by_behaviour[b]
        mn = f"LF{ent.uscc}"
        mine = readings[by_device & readings["meter_id"].isin([m for m, v in world.meters.items() if v[0] == ent.uscc])]
        mapping = [f"{FACTOR[k]}={n}" for m, (u, n, k) in world.meters.items() if u == ent.uscc]
        assert runner.invoke(args=["power", "device", mn, ent.uscc, *mapping]).exit_code == 0
        sent = frames(mine, world.meters, mn)
        assert len(sent) == 72  # the alert's 72 hours
        answers = send_all(host, port, sent)
        assert all(a is not None for a in answers), "every data packet is acknowledged (9014) once stored"
    session.expire_all()
    stored = session.scalar(select(func.count()).select_from(PowerReading))
    assert stored == len(readings)  # every reading once, whichever way it came and however often
    assert session.scalar(select(func.count()).select_from(PowerReading).where(PowerReading.source == "hj212")) == (
        int(by_device.sum())
    )

    # --- the check flags exactly the pretenders, the night-time ones and the silent one; explains the reported one --
    doc = run_check(runner, world)
    session.expire_all()
    flags = flags_by_behaviour(session, world)
    raised = {b: {k for k, s in fs if s == "raised"} for b, fs in flags.items()}
    # the night plant is also over its ceiling on 12-10, whose hours checked (00:00–08:00) are mostly its night
    assert raised.pop("night") == {"night_pattern", "production_not_reduced"}
    assert {f.day.isoformat() for f in session.scalars(select(PowerFlag).where(
        PowerFlag.registry_enterprise_id == world.by_behaviour["night"].id,
        PowerFlag.kind == "production_not_reduced"))} == {"2026-12-10"}  # fmt: skip
    assert {b: ks for b, ks in raised.items() if ks} == {b: k for b, k in FLAGGED.items() if b != "night"}
    assert flags["stops"] == flags["limits"] == set()
    assert flags["reported"] and {s for _k, s in flags["reported"]} == {"explained"}
    assert ("meter_silent", "explained") in flags["reported"]
    assert sum(doc["raised"].values()) == sum(1 for f in doc["flags"] if f["status"] == "raised")

    # --- confirmed flags become cases in the responsible bureau's inbox, their charts attached -----------------------
    city = make_user("power_city_official", bureau=chengdu)
    department = session.scalar(select(Bureau).where(Bureau.name == "四川省测试厅"))
    province = make_user("power_province_official", bureau=department, roles=(Role.province_staff,))
    officials = {"silent": province}  # the province confirms one: its case is transferred to 成都's bureau
    for b in FLAGGED:
        ent = world.by_behaviour[b]
        official = officials.get(b, city)
        c = login_as(official, app.test_client())
        page = f"/power/episodes/{world.episode}/enterprises/{ent.id}"
        for f in session.scalars(select(PowerFlag).where(PowerFlag.registry_enterprise_id == ent.id,
                                                         PowerFlag.state == FlagState.raised)):  # fmt: skip
            r = c.post(f"/power/flags/{f.id}/confirm", data={"csrf_token": csrf_token(c, page)})
            assert r.status_code == 302, r.get_data(as_text=True)[:500]
    session.expire_all()
    cases = list(session.scalars(select(Case).where(Case.origin == "power_check")))
    confirmed = {(f.registry_enterprise_id, f.kind, f.case_id) for f in session.scalars(select(PowerFlag).where(
        PowerFlag.state == FlagState.confirmed))}  # fmt: skip
    assert len(cases) == len(confirmed) == 6  # one per enterprise and kind (the night one's two), whatever the days
    assert {c.source_name for c in cases} == {world.by_behaviour[b].name for b in FLAGGED}
    assert {c.responsible_bureau_id for c in cases} == {chengdu.id}
    silent_case = next(c for c in cases if c.source_name == world.by_behaviour["silent"].name)
    assert silent_case.state is CaseState.transferred
    assert {c.state for c in cases if c is not silent_case} == {CaseState.received}
    inbox_user = make_user("power_city_handler", bureau=chengdu)
    handler = login_as(inbox_user, app.test_client())
    inbox = handler.get("/cases/").get_data(as_text=True)
    for case in cases:
        assert case.number in inbox, case.number
        detail = handler.get(f"/cases/{case.id}").get_data(as_text=True)
        pngs = list(session.scalars(select(Evidence).where(Evidence.case_id == case.id)))
        assert [p.filename.endswith(".png") for p in pngs] == [True]
        assert pngs[0].filename in detail and f"/cases/evidence/{pngs[0].id}" in detail
        with handler.get(f"/cases/evidence/{pngs[0].id}") as image:  # a file response: closed after reading
            assert image.status_code == 200 and image.data.startswith(b"\x89PNG")  # the load-curve chart
    far = make_user("power_far_handler", code="511400")
    assert not any(c.number in login_as(far, app.test_client()).get("/cases/").get_data(as_text=True) for c in cases)

    # --- a rerun changes nothing: the same flags in the same states, the same cases ----------------------------------
    flags_before = stored_flags(session, world)
    runs = len(audit_actions("power.check_run"))
    again_doc = run_check(runner, world)
    session.expire_all()
    assert stored_flags(session, world) == flags_before
    assert session.scalar(select(func.count()).select_from(Case).where(Case.origin == "power_check")) == len(cases)
    assert len(audit_actions("power.check_run")) == runs  # nothing changed, nothing audited
    assert len(again_doc["flags"]) == len(doc["flags"])


def send_all(host: str, port: int, sent: list[bytes]) -> list[bytes | None]:
    from app.power.receiver import send

    return send(host, port, sent)
