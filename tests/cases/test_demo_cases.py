"""The demo's cases are made through the web's services, under the inspector's scope: each is visible to
exactly the bureaus that should see it."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User
from app.cases.models import Case
from app.demo import load


def test_each_demo_case_is_seen_by_exactly_the_bureaus_that_should(session, login_as) -> None:  # type: ignore[no-untyped-def]
    load(session)
    session.flush()
    cases = {c.source_name: c for c in session.scalars(select(Case))}
    users = {u.username: u for u in session.scalars(select(User))}
    session.commit()
    seen = {}
    for name in ("rc_inspector", "rc_staff", "nj_staff", "njsz_staff", "yc_staff", "zg_staff", "cq_staff", "sc_staff"):
        c = login_as(users[name])
        seen[name] = {src for src, case in cases.items() if c.get(f"/cases/{case.id}").status_code == 200}
    ceramics, gravel, depot = "隆昌市某陶瓷有限公司", "隆昌市某砂石场", "荣昌区某物流园"
    assert seen == {
        # 荣昌 logged all three (two in 隆昌, outside its area): it keeps reading them.
        "rc_inspector": {ceramics, gravel, depot},
        "rc_staff": {ceramics, gravel, depot},
        # 隆昌 lies in 内江's jurisdiction; the ceramics plant was transferred to it.
        "nj_staff": {ceramics, gravel},
        "njsz_staff": set(),
        "yc_staff": set(),
        "zg_staff": set(),
        # 重庆市局: its own 荣昌 case, and the cross-province transfer form that names it.
        "cq_staff": {ceramics, depot},
        "sc_staff": {ceramics, gravel},
    }
    # 内江 received only the transferred one: its inbox holds that and not the untransferred gravel yard.
    inbox = login_as(users["nj_staff"]).get("/cases/inbox").get_data(as_text=True)
    assert ceramics in inbox
    assert gravel not in inbox
