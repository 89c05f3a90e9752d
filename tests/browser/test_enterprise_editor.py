"""The enterprise editor at phone width (375 px): a district officer adds an enterprise with a unit, a facility
and a meter, a refusal shows beside its field with what was typed kept, and the edit form and the removal's
confirmation fit the screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from app.reduction.domain.uscc import generate
from tests.browser.conftest import Console
from tests.browser.steps import fill_and_save_enterprise, no_sideways_scroll
from tests.browser.test_policy_editor import reduction_demo

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect
__all__ = ["reduction_demo"]  # the fixture, used by name


def test_add_edit_and_take_off_an_enterprise_at_phone_width(
    page: Page, demo_login: Callable[..., Page], console: Console, reduction_demo: None
) -> None:
    demo_login("njsz_staff")
    page.goto("/lists/")
    page.get_by_role("link", name="市中区 2026 年应急减排清单（第 1 版）").click()
    page.get_by_test_id("add-enterprise").click()
    no_sideways_scroll(page)
    fill_and_save_enterprise(page, generate(99001, region="511002")[:-1] + "#", "市中区浏览器测试陶瓷厂")
    expect(page.locator("[data-testid=field-error][data-field=e-uscc]")).to_contain_text("统一社会信用代码")
    expect(page.locator("#e-name")).to_have_value("市中区浏览器测试陶瓷厂")
    no_sideways_scroll(page)

    page.fill("#e-uscc", generate(99001, region="511002"))
    page.get_by_test_id("save-enterprise").click()
    expect(page.get_by_test_id("enterprise-saved")).to_be_visible()
    no_sideways_scroll(page)
    page.get_by_test_id("edit-enterprise").click()
    expect(page.locator("#u-0-code")).to_have_value("K1")
    no_sideways_scroll(page)
    page.fill("#e-address", "市中区白马镇")
    page.get_by_test_id("save-enterprise").click()
    expect(page.get_by_test_id("enterprise-saved")).to_be_visible()

    page.get_by_test_id("remove-enterprise").click()
    no_sideways_scroll(page)
    page.get_by_label("确认删除该企业").check()
    page.get_by_test_id("confirm-remove").click()
    expect(page.get_by_text("已从清单删除“市中区浏览器测试陶瓷厂”。")).to_be_visible()
    console.assert_clean()
