"""The registry's migration on a filled database: the demo's lists, cases and tasks, plus rows written with
plain SQL at the previous revision (a second version of one enterprise under a new name, a case naming it),
carried across to one registry entry per credit code with every link."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from app.db import make_engine
from tests.test_migrations import config

REVISION = "b7d4e1a9c203"


@pytest.mark.no_transaction
def test_the_registry_migration_carries_a_filled_database_across(app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.demo import load
    from tests.conftest import private_sessions

    with private_sessions("registry", tmp_path, "registry-migration-audit-key") as new:
        with new() as s, app.app_context():
            load(s)
            s.commit()
            url = s.get_bind().url.render_as_string(hide_password=False)
            s.get_bind().dispose()
        cfg = config(url)
        command.downgrade(cfg, "f3a9c1d27b54")
        engine = make_engine(url)
        with engine.begin() as conn:
            uscc, list_id, jid, bureau = conn.execute(text(
                "SELECT e.uscc, e.list_id, e.jurisdiction_id, l.bureau_id FROM enterprise e "
                "JOIN reduction_list l ON l.id = e.list_id "
                "WHERE EXISTS (SELECT 1 FROM meter m WHERE m.enterprise_id = e.id) ORDER BY e.id LIMIT 1"
            )).one()  # fmt: skip
            conn.execute(text(
                "INSERT INTO reduction_list (year, version, state, bureau_id, created_at, lock_version, flagged, "
                "jurisdiction_id) VALUES (2030, 1, 'draft', :b, CURRENT_TIMESTAMP, 1, '{}', :j)"
            ), {"b": bureau, "j": jid})  # fmt: skip
            newer = conn.scalar(text("SELECT id FROM reduction_list WHERE year = 2030"))
            cols = ("uscc, address, industry_code, industry, category, so2, nox, pm, vocs, uses_coal, uses_oil, "
                    "toxic, ultra_low, truck_visits_per_day, machinery, truck_emissions, machinery_emissions, "
                    "operating_days, contact_name, contact_phone, notes, jurisdiction_id")  # fmt: skip
            conn.execute(text(
                f"INSERT INTO enterprise (list_id, name, {cols}) SELECT :n, '迁移后的新名称', {cols} "  # noqa: S608
                "FROM enterprise WHERE list_id = :o AND uscc = :u"
            ), {"n": newer, "o": list_id, "u": uscc})  # fmt: skip
            join = ("JOIN enterprise oe ON oe.id = c.enterprise_id AND oe.list_id = :o AND oe.uscc = :u "
                    "JOIN enterprise ne ON ne.list_id = :n AND ne.uscc = oe.uscc")  # fmt: skip
            conn.execute(text(
                "INSERT INTO process_unit (enterprise_id, jurisdiction_id, code, name, share_so2, share_nox, "  # noqa: S608
                "share_pm, share_vocs, capacity_unit, outdoor, under_rectification) SELECT ne.id, ne.jurisdiction_id, "
                f"c.code, c.name, c.share_so2, c.share_nox, c.share_pm, c.share_vocs, c.capacity_unit, c.outdoor, "
                f"c.under_rectification FROM process_unit c {join}"
            ), {"n": newer, "o": list_id, "u": uscc})  # fmt: skip
            conn.execute(text(
                "INSERT INTO meter (enterprise_id, jurisdiction_id, kind, number, process_unit_id) "  # noqa: S608
                f"SELECT ne.id, ne.jurisdiction_id, c.kind, c.number, nu.id FROM meter c {join} "
                "JOIN process_unit ou ON ou.id = c.process_unit_id "
                "JOIN process_unit nu ON nu.enterprise_id = ne.id AND nu.code = ou.code WHERE c.kind = 'production'"
            ), {"n": newer, "o": list_id, "u": uscc})  # fmt: skip
            case_id = conn.scalar(text("SELECT min(id) FROM case_record"))
            conn.execute(text("UPDATE case_record SET enterprise_uscc = :u WHERE id = :c"), {"u": uscc, "c": case_id})
            distinct = conn.scalar(text("SELECT count(DISTINCT uscc) FROM enterprise"))
            meters = conn.scalar(text(
                "SELECT count(*) FROM (SELECT DISTINCT e.uscc, m.number FROM meter m "
                "JOIN enterprise e ON e.id = m.enterprise_id) x"
            ))  # fmt: skip
        engine.dispose()

        command.upgrade(cfg, REVISION)
        engine = make_engine(url)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM registry_enterprise")) == distinct
            assert conn.scalar(text("SELECT count(*) FROM registry_meter")) == meters
            assert conn.scalar(text("SELECT count(*) FROM enterprise WHERE registry_id IS NULL")) == 0
            reg = conn.execute(text("SELECT id, name FROM registry_enterprise WHERE uscc = :u"), {"u": uscc}).one()
            assert reg.name == "迁移后的新名称", "name from the latest version row"
            assert {r[0] for r in conn.execute(text("SELECT registry_id FROM enterprise WHERE uscc = :u"),
                                               {"u": uscc})} == {reg.id}  # fmt: skip
            # a meter number of the enterprise is one registry meter in both versions
            pairs = conn.execute(text(
                "SELECT m.number, count(DISTINCT m.registry_id), count(DISTINCT e.list_id) FROM meter m "
                "JOIN enterprise e ON e.id = m.enterprise_id WHERE e.uscc = :u AND m.kind = 'production' "
                "GROUP BY m.number"
            ), {"u": uscc}).all()  # fmt: skip
            assert pairs and all(n == 1 and lists == 2 for _num, n, lists in pairs)
            wrong = conn.scalar(text(
                "SELECT count(*) FROM meter m JOIN registry_meter r ON r.id = m.registry_id "
                "JOIN enterprise e ON e.id = m.enterprise_id "
                "WHERE r.number <> m.number OR r.registry_enterprise_id <> e.registry_id"
            ))  # fmt: skip
            assert wrong == 0
            for table, key in (("process_unit", "code"), ("control_facility", "code")):
                registry = {"process_unit": "registry_unit", "control_facility": "registry_facility"}[table]
                assert conn.scalar(text(
                    f"SELECT count(*) FROM {table} c JOIN {registry} r ON r.id = c.registry_id "  # noqa: S608
                    "JOIN enterprise e ON e.id = c.enterprise_id "
                    f"WHERE r.{key} <> c.{key} OR r.registry_enterprise_id <> e.registry_id"
                )) == 0  # fmt: skip
            assert conn.scalar(text("SELECT registry_enterprise_id FROM case_record WHERE id = :c"),
                               {"c": case_id}) == reg.id  # fmt: skip
            assert conn.scalar(text(
                "SELECT count(*) FROM response_task t JOIN enterprise e ON e.id = t.enterprise_id "
                "WHERE t.registry_enterprise_id <> e.registry_id"
            )) == 0  # fmt: skip
            assert conn.scalar(text("SELECT count(*) FROM registry_event WHERE action = 'registered'")) == distinct
        engine.dispose()
