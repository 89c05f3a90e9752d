"""PostgreSQL connection settings that the list page's plans and the bulk import's speed depend on."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.conftest import is_postgres


def test_statements_are_planned_for_their_values_and_foreign_key_checks_keep_their_plans(app) -> None:  # type: ignore[no-untyped-def]
    if not is_postgres():
        pytest.skip("PostgreSQL settings")
    s = db.session()
    for code in ("500153", "511083", "510000", "500000", "650000", "210000", "511000", "500153"):
        s.execute(text("SELECT id FROM jurisdiction WHERE code = :code"), {"code": code})
    # psycopg would have prepared the statement by now, and PostgreSQL would plan it once for every value.
    assert s.scalar(text("SELECT count(*) FROM pg_prepared_statements")) == 0
    # force_custom_plan would re-plan the foreign-key check of every inserted row as well.
    assert s.scalar(text("SHOW plan_cache_mode")) == "auto"
