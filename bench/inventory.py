"""Inventory: Excel import (preview + commit) and export of a national-scale reduction list."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import random
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.harness import ROOT, Context, Result, stopwatch

NAME = "inventory"

ENTERPRISES = 100_000
UNITS = 3  # per enterprise: 300,000 process units, a measure per unit and level (900,000 measures)
SAMPLE = 10  # the naive baselines run on 1/SAMPLE of the rows and are multiplied by SAMPLE
SEED = 20260301
COUNTY = "500153"  # 荣昌区: a district bureau's list
YEAR = 2026


def bundles(n: int, jid: int, seed: int = SEED) -> Any:
    """Deterministic enterprises with UNITS units each and a limit per unit and level (importer records)."""
    from app.reduction.domain import uscc
    from app.reduction.excel import parsing
    from app.reduction.excel.parsing import ENT_FIELDS, Bundle

    rng = random.Random(seed)
    codes = uscc.generate_many(n, seed=seed, region=COUNTY)
    grades = ("B", "C", "D")
    for i, code in enumerate(codes):
        v = dict(parsing._DEFAULTS)
        v.update(
            uscc=code,
            name=f"测试企业{i:06d}有限公司",
            address=f"荣昌区工业园区{i % 500}路{i}号",
            category="key",
            grade=grades[i % 3],
            graded_on="2024-05-01",
            industry="cement_clinker",
            industry_code="3011",
            so2=round(rng.uniform(0, 50), 3),
            nox=round(rng.uniform(0, 80), 3),
            pm=round(rng.uniform(0, 20), 3),
            vocs=round(rng.uniform(0, 10), 3),
            truck_visits_per_day=rng.randrange(40),
            contact_name="张工",
            contact_phone=f"138{i:08d}",
            jurisdiction_id=jid,
            machinery={},
            truck_emissions={},
            machinery_emissions={},
        )
        b = Bundle(0, tuple(v[f] for f in ENT_FIELDS))
        b.units = [
            (
                f"L{k}",
                f"{k}号生产线",
                0.3,
                0.3,
                0.3,
                0.3,
                1000.0 * k,
                1200.0 * k,
                900.0 * k,
                "吨",
                False,
                False,
            )
            for k in range(1, UNITS + 1)
        ]
        b.measures = [
            (lv, f"L{k}", "limit", pct, "power_meter", None, None, "")
            for k in range(1, UNITS + 1)
            for lv, pct in (("yellow", 20.0), ("orange", 30.0), ("red", 50.0))
        ]
        yield b


def run(ctx: Context) -> list[Result]:
    results: list[Result] = []
    with ctx.app.app_context():
        ctx.app.config["IMPORT_MAX_BYTES"] = 200 * 1024 * 1024  # the national file is ~35 MB
        user_id, jid = _setup(ctx)
        from app.reduction.excel import exporter, importer

        big, small = ctx.tmp / "national.xlsx", ctx.tmp / "sample.xlsx"
        labels, industries = {jid: "荣昌区"}, importer.industry_labels()
        with stopwatch() as elapsed:
            counts = exporter.write(
                big,
                bundles(ENTERPRISES, jid),
                county_label=labels,
                industry_label=industries,
                rows_hint=ENTERPRISES * UNITS,
            )
        ctx.log(f"wrote {big.stat().st_size / 1e6:.1f} MB, {counts['rows']:,} rows in {elapsed():.1f} s")
        exporter.write(
            small,
            bundles(ENTERPRISES // SAMPLE, jid, seed=SEED + 1),
            county_label=labels,
            industry_label=industries,
        )

        floor = _floor(ctx, big, jid)
        figure = _import(ctx, big, user_id)
        naive = _naive_import(ctx, small, jid) * SAMPLE
        results.append(
            Result.at_most("import 100k ent.: preview+commit vs calamine read + COPY", figure, floor, "s", 2)
        )
        results.append(
            Result.faster_by(
                f"import 100k ent. vs pandas/openpyxl + ORM (1/{SAMPLE} sample ×{SAMPLE})",
                figure,
                naive,
                "s",
                10,
                against="naive",
            )
        )
        export, to_excel = _export(ctx, user_id, small)
        results.append(
            Result.at_most(
                f"export 100k ent. vs DataFrame.to_excel(openpyxl) (1/{SAMPLE} sample ×{SAMPLE})",
                export,
                to_excel * SAMPLE,
                "s",
                0.5,
            )
        )
    if importlib.util.find_spec("bench._inventory_web") is not None:
        results.extend(importlib.import_module("bench._inventory_web").run(ctx))
    return results


def _setup(ctx: Context) -> tuple[int, int]:
    from app.auth.models import Bureau, BureauKind, User, UserRole
    from app.auth.roles import Role
    from app.places.models import Jurisdiction
    from app.places.services import load

    with ctx.session() as s:
        load(s, ROOT / "inventories")
        j = s.scalars(select(Jurisdiction).where(Jurisdiction.code == COUNTY)).one()
        bureau = Bureau(name="荣昌区生态环境局（基准测试）", kind=BureauKind.branch, jurisdiction_id=j.id)
        s.add(bureau)
        s.flush()
        user = User(
            username="bench_district",
            display_name="区局业务员",
            bureau_id=bureau.id,
            jurisdiction_id=j.id,
            password_hash="x",
            role_rows=[UserRole(role=Role.district_staff)],
        )
        s.add(user)
        s.commit()
        return user.id, j.id


def _counts(ctx: Context) -> dict[str, int]:
    from app.reduction.models import Enterprise, Measure, ProcessUnit

    with ctx.session() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (Enterprise, ProcessUnit, Measure)
        }


def _truncate(ctx: Context) -> None:
    with ctx.session() as s:
        if ctx.backend == "postgresql":
            s.execute(
                text(
                    "TRUNCATE meter, measure, control_facility, process_unit, staggered_period, enterprise, "
                    "reduction_list CASCADE"
                )
            )
        else:
            for table in (
                "meter",
                "measure",
                "control_facility",
                "process_unit",
                "staggered_period",
                "enterprise",
                "reduction_list",
            ):
                s.execute(text(f"DELETE FROM {table}"))
        s.commit()


def _floor(ctx: Context, path: Path, jid: int) -> float:
    """python-calamine reading the file + COPY (executemany on SQLite) of the same rows: nothing else."""
    import python_calamine as pc

    from app.auth.models import Bureau
    from app.reduction.excel import importer
    from app.reduction.excel.template import MAIN_SHEET
    from app.reduction.models import ReductionList

    gc.collect()
    with stopwatch() as read:
        rows = (
            pc.CalamineWorkbook.from_path(str(path))
            .get_sheet_by_name(MAIN_SHEET)
            .to_python(skip_empty_area=False)
        )
    read_s = read()
    assert len(rows) == ENTERPRISES * UNITS + 2
    del rows
    with ctx.session() as s:
        bureau_id = s.scalar(select(Bureau.id).where(Bureau.jurisdiction_id == jid))
        lst = ReductionList(jurisdiction_id=jid, bureau_id=bureau_id, year=YEAR - 1)
        s.add(lst)
        s.commit()
        plan = importer.Plan(new=list(bundles(ENTERPRISES, jid)))
        gc.collect()
        with stopwatch() as copy:
            importer.apply(s, lst, plan)
            s.commit()
        copy_s = copy()
    assert _counts(ctx) == {
        "enterprise": ENTERPRISES,
        "process_unit": ENTERPRISES * UNITS,
        "measure": ENTERPRISES * UNITS * 3,
    }
    ctx.log(f"floor: calamine read {read_s:.1f} s + COPY {copy_s:.1f} s")
    _truncate(ctx)
    return read_s + copy_s


def _import(ctx: Context, path: Path, user_id: int) -> float:
    from app.auth.models import User
    from app.auth.services import scope_for
    from app.reduction.excel import importer, safety

    app = ctx.app
    with ctx.session() as s:
        scope = scope_for(s, s.get(User, user_id))
    gc.collect()
    with app.test_request_context(), ctx.session(scope) as s:
        user = s.get(User, user_id)
        with stopwatch() as total:
            with path.open("rb") as f:
                upload = importer.store(
                    f,
                    path.name,
                    app.config["UPLOAD_DIR"],
                    user_id,
                    YEAR,
                    safety.Limits(max_bytes=200 * safety.MB),
                )
            p = importer.preview(s, user, upload, app.config)
            t_preview = total()
            assert not p.errors and p.counts["new"] == ENTERPRISES, p.issues[:5]
            importer.commit(s, user, upload, app.config)
            s.commit()
        figure = total()
    assert _counts(ctx) == {
        "enterprise": ENTERPRISES,
        "process_unit": ENTERPRISES * UNITS,
        "measure": ENTERPRISES * UNITS * 3,
    }
    ctx.log(f"import: preview {t_preview:.1f} s, commit {figure - t_preview:.1f} s, total {figure:.1f} s")
    return figure


def _naive_import(ctx: Context, path: Path, jid: int) -> float:
    """pandas.read_excel (openpyxl) + one ORM object per enterprise, unit and measure, on the sample file."""
    import pandas as pd

    from app.auth.models import Bureau
    from app.reduction.domain.vocabulary import LABELS, Category, Grade, MeasureKind, Verification
    from app.reduction.excel.template import MAIN_SHEET
    from app.reduction.models import Enterprise, Measure, ProcessUnit, ReductionList

    back = {LABELS[m]: m.value for e in (Category, Grade, MeasureKind, Verification) for m in e}
    with ctx.session() as s:
        bureau_id = s.scalar(select(Bureau.id).where(Bureau.jurisdiction_id == jid))
        lst = ReductionList(jurisdiction_id=jid, bureau_id=bureau_id, year=YEAR + 1)
        s.add(lst)
        s.commit()
        gc.collect()
        with stopwatch() as elapsed:
            df = pd.read_excel(path, sheet_name=MAIN_SHEET, header=[0, 1], engine="openpyxl")
            cols = list(df.columns)
            levels = [g for g, _h in cols if g.endswith("预警")]
            ent = None
            units: dict[str, ProcessUnit] = {}
            for row in df.itertuples(index=False):
                values = dict(zip(cols, row, strict=True))
                code = values[("企业基本信息", "统一社会信用代码")]
                if isinstance(code, str):
                    ent = Enterprise(
                        list_id=lst.id,
                        jurisdiction_id=jid,
                        uscc=code,
                        name=values[("企业基本信息", "企业名称")],
                        category=back[values[("企业基本信息", "企业类别")]],
                        grade=back[values[("企业基本信息", "绩效分级")]],
                        so2=float(values[("企业基本信息", "二氧化硫（吨/年）")]),
                    )
                    s.add(ent)
                    units = {}
                unit = ProcessUnit(
                    enterprise=ent,
                    jurisdiction_id=jid,
                    code=values[("生产线/工序", "工序编码")],
                    name=values[("生产线/工序", "工序名称")],
                )
                ent.units.append(unit)  # type: ignore[union-attr]
                units[unit.code] = unit
                for g in dict.fromkeys(levels):
                    kind = values[(g, "措施")]
                    if isinstance(kind, str):
                        ent.measures.append(
                            Measure(  # type: ignore[union-attr]
                                jurisdiction_id=jid,
                                level={"黄色预警": "yellow", "橙色预警": "orange", "红色预警": "red"}[g],
                                process_unit=unit,
                                kind=back[kind],
                                percent=float(values[(g, "比例（%）")]),
                                verification=back[values[(g, "核查方式")]],
                            )
                        )
            s.commit()
        naive = elapsed()
    n = ENTERPRISES // SAMPLE
    with ctx.session() as s:
        got = s.scalar(
            select(func.count())
            .select_from(Measure)
            .join(Enterprise, Enterprise.id == Measure.enterprise_id)
            .where(Enterprise.list_id == lst.id)
        )
    assert got == n * UNITS * 3, got
    ctx.log(f"naive import of {n:,} enterprises: {naive:.1f} s (×{SAMPLE} = {naive * SAMPLE:.0f} s)")
    return naive


def _export(ctx: Context, user_id: int, sample: Path) -> tuple[float, float]:
    import pandas as pd
    import python_calamine as pc

    from app.auth.models import User
    from app.reduction.excel import exporter
    from app.reduction.excel.template import MAIN_SHEET
    from app.reduction.models import ReductionList

    out = ctx.tmp / "export.xlsx"
    gc.collect()
    with ctx.app.test_request_context(), ctx.session() as s:
        lst = s.scalars(select(ReductionList).where(ReductionList.year == YEAR)).one()
        user = s.get(User, user_id)
        with stopwatch() as elapsed:
            counts = exporter.export_list(s, lst, user, str(out))
            s.commit()
        export = elapsed()
    assert counts["enterprises"] == ENTERPRISES and counts["measures"] == ENTERPRISES * UNITS * 3
    rows = (
        pc.CalamineWorkbook.from_path(str(sample))
        .get_sheet_by_name(MAIN_SHEET)
        .to_python(skip_empty_area=False)
    )
    df = pd.DataFrame(rows[2:], columns=[f"{a}|{b}" for a, b in zip(rows[0], rows[1], strict=True)])
    gc.collect()
    with stopwatch() as elapsed:
        df.to_excel(ctx.tmp / "to_excel.xlsx", engine="openpyxl", index=False)
    baseline = elapsed()
    ctx.log(f"export {export:.1f} s; to_excel(openpyxl) of {len(df):,} rows {baseline:.1f} s (×{SAMPLE})")
    return export, baseline
