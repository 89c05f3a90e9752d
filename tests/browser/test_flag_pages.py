"""The enterprise pages with the most rule flags, at phone width (375 px): the flags read as an official writes
them (the guide's clause, never a file path) and nothing makes the page wider than the screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.browser.conftest import Console
from tests.browser.steps import no_sideways_scroll
from tests.browser.test_policy_editor import live_database_url, reduction_demo

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
__all__ = ["reduction_demo"]  # the fixture, used by name


def most_flagged(tmp_path_factory: pytest.TempPathFactory, province: str, n: int = 4) -> list[int]:
    """The enterprises of a province with rule flags, the most problems first, one per industry."""
    from app.core.scoping import Scope, set_scope
    from app.db import make_engine
    from app.places.models import Jurisdiction
    from app.reduction.models import Enterprise, EnterpriseAssessment

    engine = make_engine(live_database_url(tmp_path_factory))
    try:
        with Session(engine) as s:
            set_scope(s, Scope.everything())
            rows = s.execute(
                select(Enterprise.id, Enterprise.industry, EnterpriseAssessment.codes, Jurisdiction.code)
                .join(EnterpriseAssessment, EnterpriseAssessment.enterprise_id == Enterprise.id)
                .join(Jurisdiction, Jurisdiction.id == Enterprise.jurisdiction_id)
                .order_by(EnterpriseAssessment.problems.desc(), Enterprise.id)
            ).all()
    finally:
        engine.dispose()
    found: dict[str, int] = {}
    for eid, industry, codes, code in rows:
        if "below_rule" in codes and code.startswith(province) and industry not in found:
            found[industry] = eid
    return list(found.values())[:n]


@pytest.mark.parametrize(("user", "province"), [("sc_staff", "51"), ("cq_staff", "50")])
def test_flagged_enterprise_pages_fit_a_phone(
    page: Page, demo_login: Callable[..., Page], console: Console, reduction_demo: None,
    tmp_path_factory: pytest.TempPathFactory, user: str, province: str,
) -> None:  # fmt: skip
    ids = most_flagged(tmp_path_factory, province)
    assert ids, "the demo has enterprises below their rule"
    demo_login(user)
    for eid in ids:
        page.goto(f"/lists/enterprises/{eid}")
        flags = page.locator("[data-testid=problems] li[data-code=below_rule]")
        expect(flags.first).to_be_visible()
        for text in flags.all_inner_texts():
            assert "依据" in text and "期间应" in text, text
            assert not any(bad in text for bad in ("measure_rules", ".yaml", "seed", "。；")), text
        no_sideways_scroll(page)
