"""Issuing an alert over jurisdictions holding N listed enterprises (default 100,000): the response tasks and
their measures, made by `app.response.services.activation.apply`, against a bare set-based INSERT … SELECT of
the same rows (tasks, then their measures) in the same run. Part of `make bench ONLY=alerts`."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from itertools import count
from typing import Any

from bench._registry import register
from bench.harness import Context, Result, compare

ENTERPRISES = int(os.environ.get("BENCH_RESPONSE_ENTERPRISES", "100000"))
ISSUED = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
PUBLISHED = datetime(2026, 10, 1, tzinfo=UTC)


def _world(ctx: Context) -> dict[str, Any]:
    """Published lists for Sichuan's member cities and their counties, ENTERPRISES enterprises spread over
    them (a key one in ten), two orange measures each (a limit on the whole plant, a truck ban)."""
    from sqlalchemy import insert, select

    from app.alerts.models import Episode
    from app.auth.models import Bureau, BureauKind, User
    from app.config import ROOT
    from app.places.models import Jurisdiction
    from app.places.services import load
    from app.plans.models import Plan
    from app.reduction.domain.uscc import generate_many
    from app.reduction.models import Enterprise, ListState, Measure, ReductionList

    with ctx.app.app_context(), ctx.session() as s:
        load(s, ROOT / "inventories")
        s.commit()
        plan = s.scalars(select(Plan).where(Plan.code == "chuanyu")).one()
        sichuan = s.scalars(select(Jurisdiction).where(Jurisdiction.code == "510000")).one()
        cities = [j for j in s.scalars(select(Jurisdiction).where(Jurisdiction.parent_id == sichuan.id))]
        member_ids = {m.jurisdiction_id for z in plan.zones for m in z.members}
        cities = [c for c in cities if c.id in member_ids]
        places = [*cities, *s.scalars(select(Jurisdiction).where(Jurisdiction.parent_id.in_([c.id for c in cities])))]
        province = Bureau(name="四川省生态环境厅（测试）", kind=BureauKind.department, jurisdiction_id=sichuan.id)
        s.add(province)
        s.flush()
        user = User(username="bench_response", display_name="bench", bureau_id=province.id,
                    jurisdiction_id=sichuan.id, password_hash="x")  # fmt: skip
        s.add(user)
        s.flush()
        lists = []
        for j in places:
            b = Bureau(name=f"{j.name}（测试 {j.code}）", kind=BureauKind.bureau, jurisdiction_id=j.id)
            s.add(b)
            s.flush()
            lst = ReductionList(jurisdiction_id=j.id, bureau_id=b.id, year=2026, state=ListState.published,
                                submitted_at=PUBLISHED, decided_at=PUBLISHED, decided_by_id=user.id,
                                published_at=PUBLISHED)  # fmt: skip
            s.add(lst)
            s.flush()
            lists.append(lst)
        rows = []
        # distinct codes: the response gives an enterprise on two lists one task, so a repeated code (six
        # random characters collide a few times in 100,000) would count as one enterprise
        codes = generate_many(ENTERPRISES, region="510100")
        for i in range(ENTERPRISES):
            lst = lists[i % len(lists)]
            rows.append({"list_id": lst.id, "jurisdiction_id": lst.jurisdiction_id,
                         "uscc": codes[i], "name": f"测试企业{i:06d}",
                         "category": "key" if i % 10 == 0 else "other", "address": f"测试路{i}号"})  # fmt: skip
        registry, _units = register(s, ((r["uscc"], r["jurisdiction_id"], r["name"]) for r in rows))
        for r in rows:
            r["registry_id"] = registry[r["uscc"]]
        for start in range(0, len(rows), 20000):
            s.execute(insert(Enterprise), rows[start : start + 20000])
        ids = s.execute(select(Enterprise.id, Enterprise.jurisdiction_id)).all()
        measures = [m for eid, jid in ids for m in (
            {"enterprise_id": eid, "jurisdiction_id": jid, "level": "orange", "kind": "limit", "percent": 50.0,
             "verification": "power_meter"},
            {"enterprise_id": eid, "jurisdiction_id": jid, "level": "orange", "kind": "truck_ban",
             "verification": "gate_records"})]  # fmt: skip
        for start in range(0, len(measures), 20000):
            s.execute(insert(Measure), measures[start : start + 20000])
        episodes = []
        for _ in range(12):
            e = Episode(plan_code="chuanyu", bureau_id=province.id, jurisdiction_id=sichuan.id)
            s.add(e)
            s.flush()
            episodes.append(e.id)
        s.commit()
        return {"plan_id": plan.id, "cities": [c.id for c in cities], "lists": [x.id for x in lists],
                "episodes": episodes, "places": len(places)}  # fmt: skip


def run(ctx: Context) -> list[Result]:
    from sqlalchemy import case, insert, literal, select

    from app.reduction.models import Enterprise, Measure
    from app.response.models import ResponseArea, ResponseMeasure, ResponseTask, ResponseUnit
    from app.response.services.activation import UnitChange, apply

    world = _world(ctx)
    ctx.log(f"{ENTERPRISES:,} listed enterprises on {world['places']} lists (Sichuan's member cities and counties)")
    episodes = iter(world["episodes"])
    made = count()

    def issue() -> None:
        with ctx.app.app_context(), ctx.session() as s:
            done = apply(s, episode_id=next(episodes), plan_id=world["plan_id"], now=ISSUED,
                         units=[UnitChange(j, "orange", ISSUED) for j in world["cities"]])  # fmt: skip
            s.commit()
            assert done.tasks_created == ENTERPRISES, done
            next(made)

    def bare() -> None:
        """The same task rows and measure rows, by two plain INSERT … SELECT statements."""
        with ctx.app.app_context(), ctx.session() as s:
            ep = next(episodes)
            unit = ResponseUnit(episode_id=ep, plan_id=world["plan_id"], jurisdiction_id=world["cities"][0],
                                level="orange", starts_at=ISSUED)  # fmt: skip
            s.add(unit)
            s.flush()
            area = ResponseArea(episode_id=ep, unit_id=unit.id, jurisdiction_id=world["cities"][0], level="orange")
            s.add(area)
            s.flush()
            rows = select(
                literal(ep), literal(area.id), Enterprise.jurisdiction_id, Enterprise.id, Enterprise.list_id,
                Enterprise.uscc, Enterprise.registry_id, Enterprise.name, Enterprise.address, Enterprise.category,
                case((Enterprise.category == "key", literal("onsite_supervision")), else_=literal("patrol")),
                literal("orange"), literal("open"), literal(ISSUED, ResponseTask.created_at.type),
            ).where(Enterprise.list_id.in_(world["lists"]))  # fmt: skip
            s.execute(insert(ResponseTask.__table__).from_select(
                ["episode_id", "area_id", "jurisdiction_id", "enterprise_id", "list_id", "uscc",
                 "registry_enterprise_id", "enterprise_name", "address", "category", "supervision", "level", "state",
                 "created_at"], rows))  # fmt: skip
            m = select(
                ResponseTask.id, ResponseTask.jurisdiction_id, Measure.id, Measure.level, Measure.kind,
                Measure.percent, Measure.verification, literal(""), Measure.note, literal(True), literal("pending"),
                literal(""),
            ).join(Measure, (Measure.enterprise_id == ResponseTask.enterprise_id) & (Measure.level == "orange")
                   ).where(ResponseTask.episode_id == ep)  # fmt: skip
            s.execute(insert(ResponseMeasure.__table__).from_select(
                ["task_id", "jurisdiction_id", "measure_id", "level", "kind", "percent", "verification", "unit_name",
                 "note", "required", "status", "remark"], m))  # fmt: skip
            s.commit()

    figure, baseline = compare(issue, bare, repeat=3, warmup=0)
    return [Result.at_most(f"issue over {ENTERPRISES:,} listed enterprises: tasks + measures vs bare INSERT … SELECT",
                           figure, baseline, "s", 2.0)]  # fmt: skip
