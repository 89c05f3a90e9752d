"""Generated requests over app/api/openapi.yaml (Schemathesis): for every documented operation, requests that
follow the schema and requests that break it (wrong types, missing fields, out-of-range numbers, odd strings),
sent in-process with a token of a user who holds every permission, half of them at real objects. No answer may
be a server error (issue 10.6).

The run is bounded (EXAMPLES per operation, derandomized: the same requests every run) so that it takes seconds
in `make test`; `LIANFANG_API_EXAMPLES=2000 LIANFANG_API_RANDOM=1 pytest tests/test_api_generated.py` explores
further with fresh random requests."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.auth.models import User
from app.auth.roles import Role
from app.auth.services import create_token
from app.reduction.models import ReductionList

SPEC = Path(__file__).resolve().parent.parent / "app" / "api" / "openapi.yaml"
EXAMPLES = int(os.environ.get("LIANFANG_API_EXAMPLES", "20"))

schema = schemathesis.openapi.from_path(SPEC)


@pytest.fixture
def api_world(app, make_user, session):  # type: ignore[no-untyped-def]
    """A province user with every role but the audit admin's, their bearer token, and one object of each kind the
    API names by id (a draft list with an enterprise, a case)."""
    from app.cases.models import Case
    from app.cases.vocabulary import CaseState, Origin, SourceType
    from app.db import utcnow
    from app.reduction.demo import MeasureSpec, UnitSpec, add_enterprise
    from app.reduction.domain.uscc import generate

    user = make_user("generated", code="510000", roles=tuple(r for r in Role if r is not Role.audit_admin))
    row = session.get(User, user.id)
    lst = ReductionList(jurisdiction_id=row.jurisdiction_id, bureau_id=row.bureau_id, year=2026)
    session.add(lst)
    session.flush()
    enterprise = add_enterprise(
        session, lst, uscc=generate(4242, region="510000"), name="生成请求企业", category="key", grade="B",
        industry="cement_clinker", contact_phone="13812345678",
        units=[UnitSpec("L1", "1号线", {"so2": 1.0, "nox": 1.0, "pm": 1.0}, 100, 90, 80)],
        measures={"yellow": [MeasureSpec("truck_ban", "gate_records")]},
    )  # fmt: skip
    case = Case(
        number="XS-GEN-0001", state=CaseState.discovered, source_type=SourceType.industrial, topic="超标排放",
        origin=Origin.field_inspection, inspected_at=utcnow(), source_name="生成请求", problem="p",
        discovered_bureau_id=row.bureau_id, jurisdiction_id=row.jurisdiction_id, created_by_id=row.id,
    )  # fmt: skip
    session.add(case)
    session.flush()
    from tests.alerts.walk import add_alert_objects

    alert_objects = {"510000": {"bureau": row.bureau}}
    issue = add_alert_objects(session, alert_objects, member="510000")
    _token, raw = create_token(session, row, "generated", days=1)
    ids = {"list_id": lst.id, "enterprise_id": enterprise.id, "case_id": case.id, "issue_id": issue.id,
           "proposal_id": alert_objects["510000"]["proposal"].id, "episode_id": alert_objects["510000"]["episode"].id,
           "unit_id": alert_objects["510000"]["period"].id, "plan": "chuanyu"}  # fmt: skip
    session.commit()
    return {"Authorization": f"Bearer {raw}"}, ids


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=not os.environ.get("LIANFANG_API_RANDOM"),
    suppress_health_check=list(HealthCheck),
)  # fmt: skip
def test_no_generated_request_is_a_server_error(case: Any, app: Any, api_world: Any) -> None:
    headers, ids = api_world
    turn = next(_turns)
    if case.path_parameters and turn % 2 == 0:  # every other request at a real object
        for name in case.path_parameters:
            if name in ids:
                case.path_parameters[name] = ids[name]
    response = case.call(app=app, headers=headers)
    case.validate_response(response, checks=[not_a_server_error], headers=headers)


_turns = itertools.count()
