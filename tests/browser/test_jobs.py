"""sc_staff exports the whole province's lists from the web at phone width: the job's page shows it queued,
then, with no reload by the user, its end and the download (the page polls the job's JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from flask import current_app

from app.jobs import services
from tests.browser.conftest import PHONE, Console

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def test_province_export_runs_in_the_background_to_its_download(
    page: Page, demo_login: Callable[..., Page], console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[int, Any]] = []
    # no worker yet: the job waits in the queue until the test runs it, as a worker would
    monkeypatch.setattr(services, "enqueue", lambda job_id: queued.append((job_id, current_app._get_current_object())))
    page.set_viewport_size(PHONE)
    demo_login("sc_staff")
    page.goto("/lists/")
    form = page.get_by_test_id("export-region")
    form.get_by_label("年份").fill("2026")
    form.get_by_role("button", name="在后台导出（Excel）").click()
    expect(page.get_by_test_id("job-state")).to_have_text("排队中")
    expect(page.get_by_test_id("job-cancel")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal scroll at 375 px: the page is {width} px wide"
    assert len(queued) == 1
    job_id, app = queued[0]
    with app.app_context():
        services.execute(job_id)
    # the page notices by itself (polling), then shows the result
    expect(page.get_by_test_id("job-done")).to_be_visible(timeout=10_000)
    with app.app_context():
        expected = _enterprises_of_the_newest_lists(2026, "510000")
    expect(page.get_by_test_id("job-rows")).to_have_text(f"已处理 {expected} / {expected}")
    assert page.get_by_test_id("job-bar").get_attribute("value") == "100"
    with page.expect_download() as download:
        page.get_by_test_id("job-download").click()
    assert download.value.suggested_filename.endswith("_2026_全部.xlsx")
    console.assert_clean()


def _enterprises_of_the_newest_lists(year: int, province: str) -> int:
    """Counted apart from the exporter: the enterprises of the newest version of each list of the year in the
    province (what 四川省厅 sees), however many other browser tests have added to the shared database."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.places.models import Jurisdiction
    from app.reduction.models import Enterprise, ReductionList

    s = db.session()
    root = s.scalar(select(Jurisdiction).where(Jurisdiction.code == province))
    newest = (
        select(ReductionList.jurisdiction_id, func.max(ReductionList.version).label("v"))
        .join(Jurisdiction, Jurisdiction.id == ReductionList.jurisdiction_id)
        .where(ReductionList.year == year, Jurisdiction.path.startswith(root.path))
        .group_by(ReductionList.jurisdiction_id)
        .subquery()
    )
    return s.scalar(
        select(func.count(Enterprise.id))
        .join(ReductionList, ReductionList.id == Enterprise.list_id)
        .join(
            newest, (newest.c.jurisdiction_id == ReductionList.jurisdiction_id) & (newest.c.v == ReductionList.version)
        )
        .where(ReductionList.year == year)
    )
