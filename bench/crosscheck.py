"""Cross-checks (issue 15, Speed): the consistency analysis over 100,000 enterprises against one SQL GROUP BY
with percentile_cont on PostgreSQL; a reviewer's pages under a campaign grant against the same pages under
their own scope, requests per second under gunicorn.

1. **Consistency.** Generated rows, one per enterprise and alert level (3 levels), 40 bureaus, the demo lists'
   key industries and grades, cuts drawn by grade. The figure: `app/crosscheck/domain/consistency.analyse`
   over the dataframe (the regional medians per industry, grade and level, each bureau's medians in the same
   groups, the outliers). The baseline: the same rows in a table and one statement, `GROUP BY GROUPING SETS
   ((industry, grade, level), (bureau, industry, grade, level))` with `percentile_cont(0.5)` of the three
   metrics. Target ≤ 3×. On SQLite (no percentile_cont) the analysis is reported against a plain GROUP BY
   count, not judged.
2. **Grant pages.** 遂宁 (510900) and 潼南 (500152) each keep a published list in force; a campaign of 重庆's
   provincial bureau has 遂宁's bureau review a 10 % sample of 潼南's list, open. 遂宁's city user then reads
   `/crosscheck/enterprises/<id>` (units and measures, through the central scoping) for the sampled 潼南
   enterprises (the grant) and for as many of 遂宁's own (the plain scope): same page, same user, same
   criterion builder. Target: granted ≥ 0.5× own requests per second.

Sizes: BENCH_CROSSCHECK_FULL=1 for the issue's 100,000 enterprises and 20,000 per list; by default 100,000 /
20,000 on PostgreSQL would take minutes to write, so the defaults are 100,000 rows for (1) (in memory and one
COPY) and 2,000 enterprises per list for (2). BENCH_CROSSCHECK_ENTERPRISES and BENCH_CROSSCHECK_LIST override.
"""

from __future__ import annotations

import os
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from bench.harness import PASSWORD_HASH, ROOT, Context, Result, compare, stopwatch
from bench.load import CLIENTS, Server, get, merge, run_load, session_cookie

NAME = "crosscheck"

FULL = os.environ.get("BENCH_CROSSCHECK_FULL") == "1"
ENTERPRISES = int(os.environ.get("BENCH_CROSSCHECK_ENTERPRISES") or 100_000)
LIST_SIZE = int(os.environ.get("BENCH_CROSSCHECK_LIST") or (20_000 if FULL else 2_000))
BUREAUS = 40
LEVELS = ("yellow", "orange", "red")
GRADES = ("A", "B", "B", "C", "C", "D", "leading")
SEED = 20261207
WORKERS = 4
PHASE_SECONDS = 6.0
ROUNDS = 2
WARM_UP_SECONDS = 2.0
REVIEWER, REVIEWED, ORGANISER = "510900", "500152", "500000"


def run(ctx: Context) -> list[Result]:
    results = consistency(ctx)
    with ctx.app.app_context():
        results += grant_pages(ctx)
    return results


# --- (1) consistency ---------------------------------------------------------------------------------------


def _rows(n: int) -> Any:
    import pandas as pd

    from app.reduction.demo import KEY_INDUSTRIES

    rng = np.random.default_rng(SEED)
    ids = np.arange(1, n + 1)
    bureau = rng.integers(1, BUREAUS + 1, n)
    industry = np.array(KEY_INDUSTRIES)[rng.integers(0, len(KEY_INDUSTRIES), n)]
    grade = np.array(GRADES)[rng.integers(0, len(GRADES), n)]
    base = {"A": 0.0, "leading": 0.0, "B": 20.0, "C": 40.0, "D": 60.0}
    frames = []
    for k, level in enumerate(LEVELS):
        cut = np.clip(np.vectorize(base.get)(grade) + 10 * k + rng.normal(0, 12, n), 0, 100).round(1)
        lines = np.where(rng.random(n) < 0.3, rng.choice([25.0, 50.0, 100.0], n), 0.0)
        transport = rng.integers(0, 3, n).astype(float)
        columns = {"bureau": bureau, "enterprise_id": ids, "industry": industry, "grade": grade, "level": level,
                   "cut_pct": cut, "lines_pct": lines, "transport": transport}  # fmt: skip
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)


def consistency(ctx: Context) -> list[Result]:
    from sqlalchemy import text

    from app.crosscheck.domain import consistency as domain

    df = _rows(ENTERPRISES)
    ctx.log(f"consistency: {ENTERPRISES:,} enterprises, {len(df):,} rows")
    with ctx.app.app_context():
        engine = ctx.db.engine
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE bench_consistency (bureau integer, enterprise_id bigint, industry varchar(32), "
                "grade varchar(16), level varchar(16), cut_pct double precision, lines_pct double precision, "
                "transport double precision)"
            )
        cols = list(domain.COLUMNS)
        rows = list(df[cols].itertuples(index=False, name=None))
        if ctx.backend == "postgresql":
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur, cur.copy(f"COPY bench_consistency ({', '.join(cols)}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
                raw.commit()
            finally:
                raw.close()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE) bench_consistency")
            sql = text(
                "SELECT bureau, industry, grade, level, count(*), "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY cut_pct), "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY lines_pct), "
                "percentile_cont(0.5) WITHIN GROUP (ORDER BY transport) "
                "FROM bench_consistency GROUP BY GROUPING SETS ((industry, grade, level), "
                "(bureau, industry, grade, level))"
            )
        else:
            with engine.begin() as conn:
                conn.connection.driver_connection.executemany(
                    "INSERT INTO bench_consistency VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows
                )
            sql = text("SELECT bureau, industry, grade, level, count(*) FROM bench_consistency "
                       "GROUP BY bureau, industry, grade, level")  # fmt: skip

        def baseline() -> None:
            with engine.connect() as conn:
                conn.execute(sql).all()

        analysis = domain.analyse(df)
        with engine.connect() as conn:
            groups = len(conn.execute(sql).all())
        ctx.log(f"analysis: {len(analysis.regional)} regional groups, {len(analysis.bureaus)} bureau groups, "
                f"{len(analysis.outliers)} outliers; SQL: {groups} groups")  # fmt: skip
        fig, base = compare(lambda: domain.analyse(df), baseline, repeat=5)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE bench_consistency")
    name = f"consistency analysis, {ENTERPRISES:,} enterprises × 3 levels"
    if ctx.backend == "postgresql":
        return [Result.at_most(f"{name} vs SQL GROUP BY percentile_cont", fig * 1e3, base * 1e3, "ms", 3)]
    return [Result.info(f"{name} vs SQL GROUP BY count (SQLite: no percentile_cont)", fig * 1e3, base * 1e3, "ms")]


# --- (2) the reviewer's pages under a grant ---------------------------------------------------------------


def _populate(ctx: Context) -> dict[str, Any]:
    from sqlalchemy import select

    from app.auth.models import Bureau, BureauKind, User, UserRole
    from app.auth.roles import Role
    from app.crosscheck import services
    from app.crosscheck.models import CampaignSample
    from app.places.models import Jurisdiction
    from app.places.services import load
    from app.reduction import demo
    from app.reduction.domain.uscc import generate
    from app.reduction.models import ListState, ReductionList

    rng = random.Random(SEED)
    published = datetime.now(UTC) - timedelta(days=3)
    out: dict[str, Any] = {"own": [], "granted": []}
    with ctx.session() as s:
        load(s, ROOT / "inventories")
        s.flush()
        users = {}
        lists = {}
        for code, role in ((REVIEWER, Role.city_staff), (REVIEWED, Role.district_staff),
                           (ORGANISER, Role.province_staff)):  # fmt: skip
            j = s.scalars(select(Jurisdiction).where(Jurisdiction.code == code)).one()
            bureau = Bureau(name=f"基准抽核{code}", kind=BureauKind.bureau, jurisdiction_id=j.id)
            s.add(bureau)
            s.flush()
            user = User(username=f"bench_cc_{code}", display_name=f"基准{code}", bureau_id=bureau.id,
                        jurisdiction_id=j.id, password_hash=PASSWORD_HASH, role_rows=[UserRole(role=role)])  # fmt: skip
            s.add(user)
            s.flush()
            users[code] = user
            if code != ORGANISER:
                lists[code] = ReductionList(jurisdiction_id=j.id, bureau_id=bureau.id, year=2026, version=1,
                                            state=ListState.published, submitted_at=published, decided_at=published,
                                            decided_by_id=user.id, published_at=published)  # fmt: skip
                s.add(lists[code])
        s.flush()
        from app.reduction.demo import KEY_INDUSTRIES

        n = 0
        for code, lst in lists.items():
            for i in range(LIST_SIZE):
                n += 1
                industry = KEY_INDUSTRIES[i % len(KEY_INDUSTRIES)]
                demo.add_enterprise(
                    s, lst, assess=False, uscc=generate(n, region=code), name=f"基准企业{code}-{i}", category="key",
                    grade=rng.choice(("A", "B", "C", "D")), industry=industry,
                    units=[demo.UnitSpec("L1", "1号线", {"so2": 0.5, "nox": 0.5, "pm": 0.5}, 100, 90, 80),
                           demo.UnitSpec("L2", "2号线", {"so2": 0.5, "nox": 0.5, "pm": 0.5}, 100, 90, 80)],
                    measures={"yellow": [demo.MeasureSpec("limit", "power_meter", percent=30),
                                         demo.MeasureSpec("truck_ban", "gate_records")]},
                )  # fmt: skip
            s.commit()
        from flask import g

        organiser = s.get(User, users[ORGANISER].id)
        g.user = organiser
        today = date.today()
        window = {
            "name": "基准交叉抽核",
            "opens_on": today - timedelta(days=1),
            "closes_on": today + timedelta(days=30),
        }
        campaign = services.create_campaign(s, organiser, window)
        reviewer_bureau = users[REVIEWER].bureau_id
        services.add_pair(s, organiser, campaign, {"reviewer_bureau_id": reviewer_bureau, "reviewed": REVIEWED,
                                                   "share": "10", "seed": str(SEED)})  # fmt: skip
        s.flush()
        s.expire(campaign, ["pairs"])
        services.transition(s, organiser, campaign, "open")
        s.commit()
        out["granted"] = list(s.scalars(select(CampaignSample.enterprise_id).where(
            CampaignSample.campaign_id == campaign.id)))  # fmt: skip
        from app.reduction.models import Enterprise

        out["own"] = list(s.scalars(select(Enterprise.id).where(Enterprise.list_id == lists[REVIEWER].id)
                                    .order_by(Enterprise.id).limit(len(out["granted"]))))  # fmt: skip
        out["user"] = users[REVIEWER].id
    if ctx.backend == "postgresql":
        with ctx.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
    return out


def grant_pages(ctx: Context) -> list[Result]:
    with stopwatch() as elapsed:
        data = _populate(ctx)
    ctx.log(f"grant pages: 2 lists of {LIST_SIZE:,}, {len(data['granted'])} granted, in {elapsed():.1f} s")
    cookies = [session_cookie(ctx, data["user"]) for _ in range(CLIENTS)]
    pages = {
        "granted": lambda rng: f"/crosscheck/enterprises/{rng.choice(data['granted'])}",
        "own": lambda rng: f"/crosscheck/enterprises/{rng.choice(data['own'])}",
    }
    server = Server(
        ctx, "wsgi:app", workers=WORKERS, args=("--timeout", "300", "--log-level", "warning"),
        env={"DATABASE_URL": ctx.url, "LIANFANG_ENV": "testing", "UPLOAD_DIR": str(ctx.tmp / "uploads"),
             "SESSION_COOKIE_SECURE": "0", "LOGIN_RATE_LIMIT": "100000 per minute"},
    )  # fmt: skip
    phases: dict[str, list[Any]] = {name: [] for name in pages}
    try:
        for name, paths in pages.items():
            status, body, _t = get(server.port, paths(random.Random(1)), cookies[0])
            assert status == 200 and "1号线".encode() in body, (name, status, body[:300])
            run_load(server.port, paths, cookies, WARM_UP_SECONDS, workdir=ctx.tmp, seed=SEED)
        for i in range(ROUNDS):
            order = list(pages.items())
            for name, paths in order if i % 2 == 0 else order[::-1]:
                phases[name].append(
                    run_load(server.port, paths, cookies, PHASE_SECONDS, workdir=ctx.tmp, seed=SEED + i)
                )
    finally:
        server.stop()
    loads = {name: merge(parts) for name, parts in phases.items()}
    for name, load in loads.items():
        ctx.log(load.line(name))
        assert load.errors == 0, f"{name}: {load.errors} errors"
    return [Result.at_least("reviewer's enterprise page: under the grant vs own scope", loads["granted"].rps,
                            loads["own"].rps, "req/s", 0.5)]  # fmt: skip
