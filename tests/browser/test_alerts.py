"""At phone width (375 px), under the strict Content-Security-Policy: the forecast centre uploads a forecast and
drafts the orange proposal from its evaluation, the group leader approves it, the centre issues it, and 成都
confirms that it has started; the map shows 成都 orange."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.core.localtime import LOCAL_TZ
from tests.alerts.test_proposals import forecast
from tests.browser.conftest import PHONE, Console

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal scroll at 375 px on {page.url}: {width} px wide"


def _as(page: Page, demo_login: Callable[..., Page], user: str) -> None:
    page.context.clear_cookies()
    demo_login(user)
    expect(page.get_by_test_id("account-link")).to_be_visible()


def test_proposal_approval_issue_confirm_at_phone_width(
    page: Page, demo_login: Callable[..., Page], console: Console, tmp_path: Path
) -> None:
    tomorrow = (datetime.now(LOCAL_TZ) + timedelta(days=1)).strftime("%Y-%m-%d")
    file = forecast(tmp_path / "成都平原预报.csv", 24 * 7, tomorrow)

    _as(page, demo_login, "forecaster")
    page.goto("/alerts/")
    expect(page.get_by_role("heading", name="预警态势")).to_be_visible()
    page.get_by_test_id("upload-link").click()
    page.get_by_label("文件（CSV 或 Excel）").set_input_files(str(file))
    page.get_by_test_id("upload-submit").click()
    expect(page.get_by_test_id("activation").first).to_contain_text("成都平原内4个相邻城市（成都、德阳、眉山、雅安）")
    _fits(page)
    first = page.get_by_test_id("evaluation-proposal").first
    first.get_by_label("污染程度").fill("PM2.5 重度污染")
    first.get_by_label("气象条件").fill("静稳、逆温")
    page.get_by_test_id("draft-0").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("草稿")
    expect(page.get_by_test_id("proposal-units")).to_contain_text("绵阳")
    _fits(page)
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("审批中")
    proposal_url = page.url

    _as(page, demo_login, "leader")
    page.get_by_test_id("todo-alert_decide").click()
    page.get_by_test_id("waiting-for-me").get_by_role("link").first.click()
    expect(page.get_by_test_id("chain")).to_contain_text("组长")
    page.get_by_label("意见（不同意时必填）").fill("同意发布橙色预警")
    _fits(page)
    page.get_by_test_id("action-decide").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("已批准，待发布")

    _as(page, demo_login, "forecaster")
    page.goto(proposal_url)
    page.get_by_test_id("action-issue").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("已发布")
    expect(page.get_by_test_id("letters")).to_contain_text("PDF")

    _as(page, demo_login, "cd_staff")
    page.get_by_test_id("todo-alert_confirm").click()
    expect(page.locator('path[data-unit="510100"]')).to_have_attribute("data-level", "orange")
    _fits(page)
    page.get_by_test_id("waiting-for-me").get_by_role("link").first.click()
    form = page.get_by_test_id("confirm-form")
    form.get_by_test_id("started").check()
    form.get_by_label("启动情况（可选）").fill("已发布本市橙色预警")
    form.get_by_test_id("action-confirm").click()
    expect(page.get_by_text("已确认本单位启动预警。")).to_be_visible()
    expect(page.get_by_test_id("timeline")).to_contain_text("成员单位确认启动")
    expect(page.get_by_test_id("confirm-form")).to_have_count(0)
    _fits(page)
    page.screenshot(path="/tmp/lianfang-alert-episode-375.png", full_page=True)
