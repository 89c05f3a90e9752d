"""Logging in and out in a real browser at phone width (375 px), under the strict Content-Security-Policy."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PHONE, Console

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

SCREENSHOT = "/tmp/lianfang-home-375.png"


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def test_login_at_phone_width_reaches_home_and_menu_opens(
    page: Page, demo_login: Callable[..., Page], console: Console
) -> None:
    page.goto("/login")
    expect(page.get_by_role("heading", name="登录联防平台")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    demo_login("admin")

    expect(page.locator("[data-testid=welcome]")).to_contain_text("您好")
    assert path_of(page) == "/"
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"horizontal scroll at 375 px: the page is {scroll_width} px wide"

    # app.js (an external script, the only kind the CSP allows) hides the menu and wires the toggle.
    nav = page.locator("nav#mainnav")
    toggle = page.get_by_role("button", name="菜单")
    expect(nav).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(nav).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link").first).to_be_visible()

    page.screenshot(path=SCREENSHOT, full_page=True)
    console.assert_clean()


def test_wrong_password_shows_chinese_error_and_stays_on_login(page: Page, demo_login: Callable[..., Page]) -> None:
    demo_login("zg_staff", password="not-the-password")

    expect(page.get_by_test_id("login-error")).to_have_text("用户名或密码错误。")
    expect(page.get_by_role("heading", name="登录联防平台")).to_be_visible()
    assert path_of(page) == "/login"
    expect(page.locator("[data-testid=welcome]")).to_have_count(0)


def test_logout_ends_the_session(page: Page, demo_login: Callable[..., Page]) -> None:
    demo_login("cd_staff")
    expect(page.locator("[data-testid=welcome]")).to_contain_text("您好，成都市局业务员")

    page.get_by_role("button", name="退出").click()

    expect(page.get_by_role("heading", name="登录联防平台")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("您已安全退出")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login(\?|$)"))
    expect(page.get_by_role("heading", name="登录联防平台")).to_be_visible()
    expect(page.get_by_role("button", name="退出")).to_have_count(0)
