"""Inventory: Excel import (preview + commit) and export of a national-scale reduction list."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import math
import os
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from bench.harness import ROOT, Context, Result, stopwatch

NAME = "inventory"

ENTERPRISES = int(os.environ.get("BENCH_INVENTORY_ENTERPRISES", "100000"))  # smaller to try the bench out
UNITS = 3  # per enterprise: 300,000 process units, a measure per unit and level (900,000 measures)
SIZE = f"{ENTERPRISES // 1000:,}k" if ENTERPRISES >= 1000 else f"{ENTERPRISES}-enterprise"
SAMPLE = 10  # the naive baselines run on 1/SAMPLE of the rows and are multiplied by SAMPLE
SEED = 20260301
COUNTY = "500153"  # 荣昌区: a district bureau's list
YEAR = 2026


def bundles(n: int, jid: int, seed: int = SEED) -> Any:
    """Deterministic enterprises with UNITS units each and a limit per unit and level (importer records)."""
    from app.reduction.domain import uscc
    from app.reduction.excel import records
    from app.reduction.excel.records import ENT_FIELDS, Bundle

    rng = random.Random(seed)
    codes = uscc.generate_many(n, seed=seed, region=COUNTY)
    grades = ("B", "C", "D")
    for i, code in enumerate(codes):
        v = dict(records.DEFAULTS)
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


PARTS = ("import", "export", "web")


def parts() -> set[str]:
    """BENCH_INVENTORY_PARTS=import,export,web (default all): which parts to run; export needs import."""
    raw = os.environ.get("BENCH_INVENTORY_PARTS", "").strip()
    chosen = {p.strip() for p in raw.split(",") if p.strip()} if raw else set(PARTS)
    unknown = chosen - set(PARTS)
    if unknown:
        raise ValueError(f"BENCH_INVENTORY_PARTS: unknown part(s) {sorted(unknown)}; choose from {PARTS}")
    if "export" in chosen and "import" not in chosen:
        raise ValueError("BENCH_INVENTORY_PARTS: export exports the imported list, so it needs import too")
    return chosen


def run(ctx: Context) -> list[Result]:
    results: list[Result] = []
    chosen = parts()
    if chosen & {"import", "export"}:
        results.extend(_excel(ctx, chosen))
    if "web" in chosen and importlib.util.find_spec("bench._inventory_web") is not None:
        results.extend(importlib.import_module("bench._inventory_web").run(ctx))
    return results


def _excel(ctx: Context, chosen: set[str]) -> list[Result]:
    results: list[Result] = []
    with ctx.app.app_context():
        ctx.app.config["IMPORT_MAX_BYTES"] = 200 * 1024 * 1024  # the national file is ~35 MB
        user_id, jid = _setup(ctx)
        from app.reduction.excel import exporter, lookups

        big, small = ctx.tmp / "national.xlsx", ctx.tmp / "sample.xlsx"
        labels, industries = {jid: "荣昌区"}, lookups.industry_labels()
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
        again = _import(ctx, big, user_id, again=True)
        naive = _naive_import(ctx, small, jid) * SAMPLE
        results.append(
            Result.at_most(f"import {SIZE} ent.: preview+commit vs calamine read + COPY", figure, floor, "s", 2)
        )
        results.append(
            Result.faster_by(
                f"import {SIZE} ent. vs pandas/openpyxl + ORM (1/{SAMPLE} sample ×{SAMPLE})",
                figure,
                naive,
                "s",
                10,
                against="naive",
            )
        )
        name = f"re-import of the same {SIZE} file (changes nothing) vs the floor"
        results.append(Result.info(name, again, floor, "s"))
        changed = ctx.tmp / "one_changed.xlsx"
        exporter.write(changed, _one_changed(bundles(ENTERPRISES, jid)), county_label=labels,
                       industry_label=industries, rows_hint=ENTERPRISES * UNITS)  # fmt: skip
        one, preview_only = _reimport_one_changed(ctx, changed, user_id)
        name = f"re-import of the {SIZE} file, one enterprise changed, vs its preview alone"
        results.append(Result.at_most(name, one, preview_only, "s", 1.2))
        copy, bare = _new_version(ctx, user_id)
        results.append(Result.at_most(f"new version of the {SIZE} list vs bare INSERT … SELECT", copy, bare, "s", 2))
        if "export" in chosen:
            export, to_excel = _export(ctx, user_id, small)
            results.append(
                Result.at_most(
                    f"export {SIZE} ent. vs DataFrame.to_excel(openpyxl) (1/{SAMPLE} sample ×{SAMPLE})",
                    export,
                    to_excel * SAMPLE,
                    "s",
                    0.5,
                )
            )
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
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) for m in (Enterprise, ProcessUnit, Measure)
        }


# What the floor wrote, removed before the import is measured, so that both start from the same empty list
# and registry (the registry's history too: the import registers every enterprise again).
_FLOOR_TABLES = ("meter", "measure", "control_facility", "process_unit", "staggered_period", "enterprise_assessment",
                 "enterprise", "registry_event", "registry_meter", "registry_facility", "registry_unit",
                 "registry_enterprise", "reduction_list")  # fmt: skip
_HISTORY_TRIGGER = "reduction_list_event_no_delete"  # migrations/helpers.py create_append_only (SQLite)


def _truncate(ctx: Context) -> None:
    with ctx.session() as s:
        if ctx.backend == "postgresql":
            # the list's history is append-only by trigger, even against TRUNCATE … CASCADE: a benchmark's
            # scratch data is the one thing allowed past it (as the database's owner, in this transaction only)
            s.execute(text("SET LOCAL session_replication_role = replica"))
            s.execute(text(f"TRUNCATE {', '.join(_FLOOR_TABLES)}, reduction_list_event CASCADE"))
        else:
            # SQLite's append-only trigger on the list history has no such switch: it is dropped and made again
            # in the same transaction
            trigger = s.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"), {"n": _HISTORY_TRIGGER}
            ).scalar_one()
            s.execute(text(f"DROP TRIGGER {_HISTORY_TRIGGER}"))
            for table in (*_FLOOR_TABLES[:-1], "reduction_list_event", _FLOOR_TABLES[-1]):
                s.execute(text(f"DELETE FROM {table}"))
            s.execute(text(trigger))
        s.commit()


def _floor(ctx: Context, path: Path, jid: int) -> float:
    """python-calamine reading the file + COPY (executemany on SQLite) of the same rows: nothing else."""
    import python_calamine as pc

    from app.auth.models import Bureau
    from app.reduction.excel.template import MAIN_SHEET
    from app.reduction.models import ReductionList
    from app.reduction.services import import_plan, import_writer

    gc.collect()
    with stopwatch() as read:
        rows = pc.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(MAIN_SHEET).to_python(skip_empty_area=False)
    read_s = read()
    assert len(rows) == ENTERPRISES * UNITS + 2
    del rows
    with ctx.session() as s:
        bureau_id = s.scalar(select(Bureau.id).where(Bureau.jurisdiction_id == jid))
        lst = ReductionList(jurisdiction_id=jid, bureau_id=bureau_id, year=YEAR - 1)
        s.add(lst)
        s.commit()
        plan = import_plan.Plan(new=list(bundles(ENTERPRISES, jid)))
        gc.collect()
        with stopwatch() as copy:
            import_writer.apply(s, lst, plan)
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


def _import(ctx: Context, path: Path, user_id: int, *, again: bool = False) -> float:
    """Store, preview and commit the file as the import page does, in one session; returns the seconds.

    `again`: the list holds the file already; the import must find every enterprise unchanged and rewrite no
    row (the highest ids and the row counts stay as they were)."""
    from app.auth.models import User
    from app.auth.services import scope_for
    from app.reduction.excel import safety, uploads
    from app.reduction.services import imports

    app = ctx.app
    before = _last_ids(ctx) if again else None
    with ctx.session() as s:
        scope = scope_for(s, s.get(User, user_id))
    gc.collect()
    with app.test_request_context(), ctx.session(scope) as s:
        user = s.get(User, user_id)
        with stopwatch() as total:
            with path.open("rb") as f:
                upload = uploads.store(
                    f,
                    path.name,
                    app.config["UPLOAD_DIR"],
                    user_id,
                    YEAR,
                    safety.Limits(max_bytes=200 * safety.MB),
                )
            p = imports.preview(s, user, upload, app.config)
            t_preview = total()
            assert not p.errors, p.issues[:5]
            assert p.counts["unchanged" if again else "new"] == ENTERPRISES, p.counts
            imports.commit(s, user, upload, app.config)
            s.commit()
        figure = total()
    assert _counts(ctx) == {
        "enterprise": ENTERPRISES,
        "process_unit": ENTERPRISES * UNITS,
        "measure": ENTERPRISES * UNITS * 3,
    }
    assert before is None or _last_ids(ctx) == before, "a re-import rewrote rows"
    what = "re-import" if again else "import"
    ctx.log(f"{what}: preview {t_preview:.1f} s, commit {figure - t_preview:.1f} s, total {figure:.1f} s")
    return figure


CHANGED_SO2 = 777.777  # the one enterprise's new SO₂ in the changed file


def _one_changed(records: Any) -> Any:
    """The same enterprises with the first one's SO₂ changed."""
    from app.reduction.excel.records import ENT_FIELDS

    at = ENT_FIELDS.index("so2")
    for i, b in enumerate(records):
        if i == 0:
            b.ent = (*b.ent[:at], CHANGED_SO2, *b.ent[at + 1 :])
        yield b


def _reimport_one_changed(ctx: Context, path: Path, user_id: int) -> tuple[float, float]:
    """The import of a file in which one enterprise changed, into the list that holds the others unchanged,
    against reading and validating the same file alone (store + preview, no commit). Both are timed in one
    run, the preview's part of it before the commit starts: the commit's share is a tenth of the whole and
    two separate runs on a loaded machine differed by more than that. Only the changed enterprise's rows may
    be written: every other row keeps its id."""
    from app.auth.models import User
    from app.auth.services import scope_for
    from app.reduction.excel import safety, uploads
    from app.reduction.models import Enterprise, Measure, ProcessUnit
    from app.reduction.services import imports

    app = ctx.app
    before, counts_before = _last_ids(ctx), _counts(ctx)
    with ctx.session() as s:
        scope = scope_for(s, s.get(User, user_id))
    gc.collect()
    with app.test_request_context(), ctx.session(scope) as s:
        user = s.get(User, user_id)
        with stopwatch() as total:
            with path.open("rb") as f:
                upload = uploads.store(f, path.name, app.config["UPLOAD_DIR"], user_id, YEAR,
                                        safety.Limits(max_bytes=200 * safety.MB))  # fmt: skip
            p = imports.preview(s, user, upload, app.config)
            preview_only = total()
            assert not p.errors, p.issues[:5]
            assert (p.counts["changed"], p.counts["unchanged"]) == (1, ENTERPRISES - 1), p.counts
            imports.commit(s, user, upload, app.config)
            s.commit()
        figure = total()
    with ctx.session() as s:
        assert s.scalar(select(func.count()).where(Enterprise.so2 == CHANGED_SO2)) == 1
        new_units = s.scalar(select(func.count()).where(ProcessUnit.id > before["process_unit"]))
        new_measures = s.scalar(select(func.count()).where(Measure.id > before["measure"]))
        assert s.scalar(select(func.max(Enterprise.id))) == before["enterprise"], "an enterprise row was rewritten"
    assert new_units <= UNITS and new_measures <= UNITS * 3, (new_units, new_measures)
    assert _counts(ctx) == counts_before, (_counts(ctx), counts_before)
    ctx.log(f"re-import, one changed: store + preview {preview_only:.2f} s, then commit {figure - preview_only:.2f} s; "
            f"rows written: {new_units} units, {new_measures} measures")  # fmt: skip
    return figure, preview_only


def _new_version(ctx: Context, user_id: int) -> tuple[float, float]:
    """`new_version` of the imported list (published first) against bare INSERT … SELECT copies of its
    enterprises, units and measures into a scratch list, in the same run."""
    from app.auth.models import User
    from app.auth.services import scope_for
    from app.reduction.models import Enterprise, ReductionList
    from app.reduction.services import lists as list_service

    with ctx.session() as s:
        lst = s.scalars(select(ReductionList).where(ReductionList.year == YEAR)).one()
        s.execute(
            text("UPDATE reduction_list SET state = 'published', submitted_at = :t, decided_at = :t, "
                 "decided_by_id = :u, published_at = :t WHERE id = :id"),
            {"t": datetime.now(UTC), "u": user_id, "id": lst.id},
        )  # fmt: skip
        scratch = ReductionList(jurisdiction_id=lst.jurisdiction_id, bureau_id=lst.bureau_id, year=YEAR - 2)
        s.add(scratch)
        s.commit()
        old_id, scratch_id, scope = lst.id, scratch.id, scope_for(s, s.get(User, user_id))
    ent, unit = list_service._COPY["enterprise"], list_service._COPY["process_unit"]  # the same columns
    join = ("JOIN enterprise oe ON oe.id = c.enterprise_id "
            "JOIN enterprise ne ON ne.list_id = :new AND ne.uscc = oe.uscc")  # fmt: skip

    def bare() -> None:
        with ctx.session() as s:
            params = {"old": old_id, "new": scratch_id}
            s.execute(text(f"INSERT INTO enterprise (list_id, {ent}) SELECT :new, {ent} FROM enterprise "
                           "WHERE list_id = :old"), params)  # fmt: skip
            s.execute(text(f"INSERT INTO process_unit (enterprise_id, jurisdiction_id, {unit}) "
                           f"SELECT ne.id, ne.jurisdiction_id, {', '.join(f'c.{c.strip()}' for c in unit.split(','))} "
                           f"FROM process_unit c {join} WHERE oe.list_id = :old"), params)  # fmt: skip
            s.execute(text("INSERT INTO measure (enterprise_id, jurisdiction_id, level, process_unit_id, kind, "
                           "percent, verification, max_stage, basis, note) SELECT ne.id, ne.jurisdiction_id, c.level, "
                           "nu.id, c.kind, c.percent, c.verification, c.max_stage, c.basis, c.note "
                           f"FROM measure c {join} "
                           "LEFT JOIN process_unit ou ON ou.id = c.process_unit_id "
                           "LEFT JOIN process_unit nu ON nu.enterprise_id = ne.id AND nu.code = ou.code "
                           "WHERE oe.list_id = :old"), params)  # fmt: skip
            s.commit()

    gc.collect()
    with stopwatch() as t_bare:
        bare()
    baseline = t_bare()
    gc.collect()
    with ctx.app.test_request_context(), ctx.session(scope) as s:
        with stopwatch() as t_copy:
            new = list_service.new_version(s, s.get(ReductionList, old_id), s.get(User, user_id))
            s.commit()
        figure = t_copy()
        copied = s.scalar(select(func.count()).where(Enterprise.list_id == new.id))
    assert copied == ENTERPRISES, copied
    ctx.log(f"new version: {figure:.1f} s; bare INSERT … SELECT of enterprises, units, measures {baseline:.1f} s")
    return figure, baseline


def _last_ids(ctx: Context) -> dict[str, int]:
    from app.reduction.models import Enterprise, Measure, ProcessUnit

    with ctx.session() as s:
        return {m.__tablename__: s.scalar(select(func.max(m.id))) for m in (Enterprise, ProcessUnit, Measure)}


def _naive_import(ctx: Context, path: Path, jid: int) -> float:
    """The issue's naive path doing the work the real import does, plainly written, on the sample file.

    `pandas.read_excel` (openpyxl) of the main sheet (two header rows) and of the facility and meter sheets,
    then one ORM object per enterprise, process unit, measure, facility and meter, with every column the
    importer stores and the conversions it needs: Chinese labels → enum members, 是/否 → bool, date text →
    date, county name → jurisdiction id, industry name (or, when empty, the GB/T 4754 code) → rule-library
    industry, the machinery and truck columns → their JSON objects, 以量定产/以热定产 → output_cap with its
    basis, empty cells → the importer's defaults. One session, one commit; no validation (so it does less
    than the real import there). Afterwards (not timed) what it stored is compared with the generated
    records the file was written from, enterprise by enterprise, as the importer compares lists.
    """
    import pandas as pd

    from app.auth.models import Bureau
    from app.places.models import Jurisdiction
    from app.reduction.domain.vocabulary import AlertLevel, MachineryStage, Pollutant
    from app.reduction.excel import cells, lookups
    from app.reduction.excel import template as t
    from app.reduction.models import (
        ControlFacility,
        Enterprise,
        Measure,
        Meter,
        MeterKind,
        ProcessUnit,
        ReductionList,
    )

    n = ENTERPRISES // SAMPLE
    with ctx.session() as s:
        bureau_id = s.scalar(select(Bureau.id).where(Bureau.jurisdiction_id == jid))
        lst = ReductionList(jurisdiction_id=jid, bureau_id=bureau_id, year=YEAR + 1)
        s.add(lst)
        s.commit()
        gc.collect()
        with stopwatch() as elapsed:
            with pd.ExcelFile(path, engine="openpyxl") as book:
                main = pd.read_excel(book, sheet_name=t.MAIN_SHEET, header=[0, 1], dtype=object)  # text stays text
                facility_df = pd.read_excel(book, sheet_name=t.FACILITY_SHEET, dtype=str)
                meter_df = pd.read_excel(book, sheet_name=t.METER_SHEET, dtype=str)
            # label → value for every choice column, as the template writes them
            choice = {name: {label: value for value, label in labels.items()} for name, labels in t.LABEL_OF.items()}
            basis_of = {"以量定产": "output_by_demand", "以热定产": "output_by_heat"}
            industry_of = {label: code for code, label in lookups.industry_labels().items()}
            root = s.get(Jurisdiction, jid)
            place_of: dict[str, int] = {}
            for j in s.scalars(select(Jurisdiction).where(Jurisdiction.path.startswith(root.path))):
                place_of[j.code] = place_of[j.name] = j.id
                if j.short_name:
                    place_of[j.short_name] = j.id
            rules = lookups.industries()

            def blank(v: Any) -> bool:
                return v is None or (isinstance(v, float) and math.isnan(v)) or v == ""

            def text_or(v: Any, default: Any = "") -> Any:
                return default if blank(v) else str(v).strip()

            def number_or(v: Any, default: Any) -> Any:
                return default if blank(v) else float(v)

            def yes(v: Any) -> bool:
                return not blank(v) and v == t.YES

            pos = {key: i for i, key in enumerate(main.columns)}
            ent_col = {c.key: pos[(c.group, c.header)] for c in t.ENTERPRISE_COLUMNS}
            unit_col = {c.key: pos[(c.group, c.header)] for c in t.UNIT_COLUMNS}
            level_col = {
                lv: {c.key: pos[(t.LEVEL_GROUPS[lv], c.header)] for c in t.LEVEL_COLUMNS[lv]}
                for lv in (AlertLevel.yellow, AlertLevel.orange, AlertLevel.red)
            }
            stages = [s_.value for s_ in MachineryStage]
            pollutants = [p.value for p in Pollutant]
            by_uscc: dict[str, Enterprise] = {}
            ent: Enterprise | None = None
            units: dict[str, ProcessUnit] = {}
            for row in main.itertuples(index=False, name=None):
                code = row[ent_col["uscc"]]
                if not blank(code):
                    e = {k: row[i] for k, i in ent_col.items()}
                    industry_code = text_or(e["industry_code"])
                    ent = Enterprise(
                        list_id=lst.id,
                        jurisdiction_id=place_of[e["county"]] if not blank(e["county"]) else jid,
                        uscc=str(code).strip().upper(),
                        name=text_or(e["name"]),
                        address=text_or(e["address"]),
                        latitude=number_or(e["latitude"], None),
                        longitude=number_or(e["longitude"], None),
                        industry_code=industry_code,
                        industry=industry_of[e["industry"]]
                        if not blank(e["industry"])
                        else rules.of_code(industry_code),
                        category=choice["category"][e["category"]],
                        grade=None if blank(e["grade"]) else choice["grade"][e["grade"]],
                        graded_on=None if blank(e["graded_on"]) else pd.Timestamp(e["graded_on"]).date(),
                        output_basis=None if blank(e["output_basis"]) else choice["basis"][e["output_basis"]],
                        so2=number_or(e["so2"], 0.0),
                        nox=number_or(e["nox"], 0.0),
                        pm=number_or(e["pm"], 0.0),
                        vocs=number_or(e["vocs"], 0.0),
                        uses_coal=yes(e["uses_coal"]),
                        uses_oil=yes(e["uses_oil"]),
                        toxic=yes(e["toxic"]),
                        ultra_low=yes(e["ultra_low"]),
                        operating_days=int(number_or(e["operating_days"], 365)),
                        truck_visits_per_day=int(number_or(e["truck_visits_per_day"], 0)),
                        machinery={st: int(e[f"machinery:{st}"]) for st in stages if not blank(e[f"machinery:{st}"])},
                        truck_emissions={p: float(e[f"truck:{p}"]) for p in pollutants if not blank(e[f"truck:{p}"])},
                        machinery_emissions=cells.machinery_emissions(e["machinery_emissions"])
                        if not blank(e["machinery_emissions"])
                        else {},
                        contact_name=text_or(e["contact_name"]),
                        contact_phone=text_or(e["contact_phone"]),
                        notes=text_or(e["notes"]),
                    )
                    s.add(ent)
                    by_uscc[ent.uscc] = ent
                    units = {}
                assert ent is not None
                unit_code = text_or(row[unit_col["code"]])
                unit = None
                if unit_code != t.WHOLE_PLANT:
                    unit = units.get(unit_code)
                    if unit is None:
                        u = {k: row[i] for k, i in unit_col.items()}
                        unit = ProcessUnit(
                            jurisdiction_id=ent.jurisdiction_id,
                            code=unit_code,
                            name=text_or(u["name"]),
                            share_so2=number_or(u["share_so2"], 0.0),
                            share_nox=number_or(u["share_nox"], 0.0),
                            share_pm=number_or(u["share_pm"], 0.0),
                            share_vocs=number_or(u["share_vocs"], 0.0),
                            eia_capacity=number_or(u["eia_capacity"], None),
                            permit_capacity=number_or(u["permit_capacity"], None),
                            last_year_output=number_or(u["last_year_output"], None),
                            capacity_unit=text_or(u["capacity_unit"]),
                            outdoor=yes(u["outdoor"]),
                            under_rectification=yes(u["under_rectification"]),
                        )
                        ent.units.append(unit)
                        units[unit_code] = unit
                for level, cols in level_col.items():
                    kind = row[cols["kind"]]
                    if blank(kind):
                        continue
                    basis = basis_of.get(kind)
                    stage = row[cols["max_stage"]]
                    ent.measures.append(
                        Measure(
                            jurisdiction_id=ent.jurisdiction_id,
                            level=level,
                            process_unit=unit,
                            kind="output_cap" if basis else choice["measure"][kind],
                            percent=number_or(row[cols["percent"]], None),
                            verification=choice["verification"][row[cols["verification"]]],
                            max_stage=None if blank(stage) else choice["stage"][stage],
                            basis=basis,
                            note=text_or(row[cols["note"]]),
                        )
                    )
            if len(facility_df) or len(meter_df):
                s.flush()  # facilities and meters name their unit and facility by id
            facility_of: dict[tuple[str, str], ControlFacility] = {}
            fac_col = {c.key: c.header for c in t.FACILITY_COLUMNS}
            for f in facility_df.to_dict("records"):
                owner = by_uscc[text_or(f[fac_col["uscc"]])]
                unit_code = text_or(f[fac_col["unit"]], None)
                facility = ControlFacility(
                    enterprise_id=owner.id,
                    jurisdiction_id=owner.jurisdiction_id,
                    code=text_or(f[fac_col["code"]]),
                    name=text_or(f[fac_col["name"]]),
                    kind=text_or(f[fac_col["kind"]]),
                    pollutants=text_or(f[fac_col["pollutants"]]),
                    process_unit_id=next(u.id for u in owner.units if u.code == unit_code) if unit_code else None,
                )
                s.add(facility)
                facility_of[(owner.uscc, facility.code)] = facility
            if facility_of and len(meter_df):
                s.flush()
            meter_kind = {label: MeterKind(value) for value, label in t.LABEL_OF["meter"].items()}
            meter_col = {c.key: c.header for c in t.METER_COLUMNS}
            for m in meter_df.to_dict("records"):
                owner = by_uscc[text_or(m[meter_col["uscc"]])]
                unit_code = text_or(m[meter_col["unit"]], None)
                facility_code = text_or(m[meter_col["facility"]], None)
                s.add(
                    Meter(
                        enterprise_id=owner.id,
                        jurisdiction_id=owner.jurisdiction_id,
                        number=text_or(m[meter_col["number"]]),
                        kind=meter_kind[m[meter_col["kind"]]],
                        process_unit_id=next(u.id for u in owner.units if u.code == unit_code) if unit_code else None,
                        control_facility_id=facility_of[(owner.uscc, facility_code)].id if facility_code else None,
                    )
                )
            s.commit()
        naive = elapsed()
        _same_as_generated(s, lst.id, list(bundles(n, jid, seed=SEED + 1)))
    ctx.log(f"naive import of {n:,} enterprises: {naive:.1f} s (×{SAMPLE} = {naive * SAMPLE:.0f} s)")
    return naive


def _same_as_generated(session: Any, list_id: int, source: list[Any]) -> None:
    """The list holds exactly the generated records, compared in the importer's canonical form."""
    from app.reduction.services import import_plan

    stored = import_plan.stored_content(session, list_id, {b.ent[0] for b in source})
    assert len(stored) == len(source), (len(stored), len(source))
    for b in source:
        want = import_plan.canon_bundle(b.ent, b.units, b.measures, b.facilities, b.meters)
        got = stored[b.ent[0]].canon
        assert got == want, (b.ent[0], got, want)


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
        # the imported list (version 1), not the version made from it
        lst = s.scalars(select(ReductionList).where(ReductionList.year == YEAR, ReductionList.version == 1)).one()
        user = s.get(User, user_id)
        with stopwatch() as elapsed:
            counts = exporter.export_list(s, lst, user, str(out))
            s.commit()
        export = elapsed()
    assert counts["enterprises"] == ENTERPRISES and counts["measures"] == ENTERPRISES * UNITS * 3
    rows = pc.CalamineWorkbook.from_path(str(sample)).get_sheet_by_name(MAIN_SHEET).to_python(skip_empty_area=False)
    df = pd.DataFrame(rows[2:], columns=[f"{a}|{b}" for a, b in zip(rows[0], rows[1], strict=True)])
    gc.collect()
    with stopwatch() as elapsed:
        df.to_excel(ctx.tmp / "to_excel.xlsx", engine="openpyxl", index=False)
    baseline = elapsed()
    ctx.log(f"export {export:.1f} s; to_excel(openpyxl) of {len(df):,} rows {baseline:.1f} s (×{SAMPLE})")
    return export, baseline
