"""The response on a phone at 375 px, under the strict CSP: an orange alert issued over 荣昌 gives its listed
enterprises their tasks; 荣昌's inspector opens one from the menu and ticks a measure as carried out with a photo
taken on the phone; 荣昌's staff sends the day's report, on time. No page scrolls sideways."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from tests.browser.conftest import LIVE, Console
from tests.browser.test_cases import no_horizontal_scroll, photo_png

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def _activate_rongchang() -> None:
    from app.alerts.models import Episode
    from app.auth.models import Bureau
    from app.core.scoping import Scope, set_scope
    from app.extensions import db
    from app.places.models import Jurisdiction
    from app.plans.models import Plan
    from app.response.models import ResponseUnit
    from app.response.services.activation import UnitChange, apply

    with LIVE["app"].app_context():
        s = db.session()
        set_scope(s, Scope.everything())
        rc = s.scalars(select(Jurisdiction).where(Jurisdiction.code == "500153")).one()
        if s.scalars(select(ResponseUnit).where(ResponseUnit.jurisdiction_id == rc.id)).first():
            return
        bureau = s.scalars(select(Bureau).where(Bureau.jurisdiction_id == rc.id)).first()
        plan = s.scalars(select(Plan).where(Plan.code == "chuanyu")).one()
        episode = Episode(plan_code="chuanyu", bureau_id=bureau.id, jurisdiction_id=rc.id)
        s.add(episode)
        s.flush()
        start = datetime.now(UTC) - timedelta(minutes=1)
        apply(s, episode_id=episode.id, plan_id=plan.id, units=[UnitChange(rc.id, "orange", start)])
        s.commit()


def test_inspector_checks_a_task_on_the_phone_and_staff_reports(
    page: Page, live_server: str, demo_login: Callable[..., Page], console: Console
) -> None:
    _activate_rongchang()
    demo_login("rc_inspector")
    page.get_by_role("button", name="菜单").click()
    page.locator("nav#mainnav").get_by_role("link", name="应急响应").click()
    expect(page.get_by_role("heading", name="应急响应任务")).to_be_visible()
    expect(page.get_by_test_id("task-count")).to_contain_text("项任务")
    no_horizontal_scroll(page)
    page.get_by_test_id("task-list").locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/response/tasks/\d+$"))
    expect(page.get_by_test_id("task-level")).to_contain_text("橙色预警")
    measures = page.get_by_test_id("measure")
    first = measures.first
    first.locator("input[value=carried_out]").check()
    first.locator("input[type=file]").set_input_files(
        files=[{"name": "现场照片.png", "mimeType": "image/png", "buffer": photo_png()}]
    )
    no_horizontal_scroll(page)
    first.get_by_role("button", name="提交核查").click()
    expect(page.get_by_role("status")).to_contain_text("已记录核查结果")
    expect(page.get_by_test_id("measure").first.get_by_test_id("measure-status")).to_have_text("已落实")
    expect(page.get_by_test_id("measure").first.locator("img")).to_have_count(1)
    no_horizontal_scroll(page)

    page.context.clear_cookies()
    demo_login("rc_staff")
    page.goto("/response/reports")
    form = page.get_by_test_id("report-form").first
    for area in form.locator("textarea").all():
        area.fill("今日出动执法人员 12 人次，检查企业 8 家。")
    no_horizontal_scroll(page)
    form.get_by_role("button", name="报送").click()
    expect(page.get_by_role("status")).to_contain_text("已报送")
    expect(page.get_by_test_id("report-table")).to_contain_text("按时报送")
    no_horizontal_scroll(page)
