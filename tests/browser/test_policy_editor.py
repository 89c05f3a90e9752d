"""The policy editor in a real browser at phone width, under the strict Content-Security-Policy: the district
user finds a C-grade plant through the list's filters, adds a measure with the editor's script, and sees a
weaker higher level refused with the reason."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import make_url

from tests.browser.conftest import Console
from tests.browser.steps import no_sideways_scroll

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def live_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The live server's own database (tests/browser/conftest.py: own_database)."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        url = make_url(base)
        return url.set(database=f"{url.database}_browser").render_as_string(hide_password=False)
    found = sorted(Path(tmp_path_factory.getbasetemp()).glob("browser*/browser.db"))
    assert found, "the live server's SQLite file was not found"
    return f"sqlite:///{found[0]}"


@pytest.fixture(scope="module")
def reduction_demo(live_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The demo lists in the live server's database (a no-op once app.demo loads them itself)."""
    from sqlalchemy.orm import Session

    from app.config import load_config
    from app.core.scoping import Scope, set_scope
    from app.db import make_engine
    from app.reduction.demo import load

    engine = make_engine(live_database_url(tmp_path_factory))
    try:
        with Session(engine) as s:
            set_scope(s, Scope.everything())
            s.info["audit_key"] = load_config({})["AUDIT_KEY"]
            load(s)
            s.commit()
        yield
    finally:
        engine.dispose()


def test_district_user_edits_a_level_and_a_weaker_level_is_refused(
    page: Page, demo_login: Callable[..., Page], console: Console, reduction_demo: None
) -> None:
    demo_login("njsz_staff")
    page.goto("/lists/")
    page.get_by_role("link", name="市中区 2026 年应急减排清单（第 1 版）").click()
    expect(page.locator("dl.kv").get_by_test_id("list-state")).to_have_text("草稿")
    no_sideways_scroll(page)
    page.get_by_label("绩效分级").select_option("C")
    page.get_by_label("企业类别").select_option("key")
    page.get_by_role("button", name="筛选").click()
    expect(page.get_by_test_id("counts")).to_contain_text("已筛选")
    page.get_by_test_id("enterprise-table").locator("tbody tr a").first.click()
    expect(page.get_by_role("heading", name="一厂一策：各级预警措施")).to_be_visible()
    enterprise_url = page.url
    no_sideways_scroll(page)

    # the script replaced the spare blank rows with an "添加措施" button
    red = page.get_by_test_id("level-red")
    before = red.locator(".measure-row").count()
    red.get_by_role("button", name="添加措施").click()
    expect(red.locator(".measure-row")).to_have_count(before + 1)
    row = red.locator(".measure-row").last
    row.get_by_label("措施类型").select_option("truck_ban")
    expect(row.get_by_label("百分比（%）")).to_be_hidden()  # a truck ban takes no percent
    expect(row.get_by_label("核查方式")).to_have_value("")
    row.get_by_label("核查方式").select_option("gate_records")
    red.get_by_role("button", name="保存红色预警措施").click()
    expect(page.get_by_test_id("level-red").get_by_test_id("editor-error")).to_have_count(0)
    expect(page.get_by_test_id("level-red").locator(".measure-row")).to_have_count(before + 1)
    no_sideways_scroll(page)

    # emptying orange would make it weaker than yellow: refused, with the reason, and nothing saved
    orange = page.get_by_test_id("level-orange")
    kept = orange.locator(".measure-row").count()
    assert kept > 0
    for _ in range(kept):
        orange.locator(".measure-row:not(.removed)").first.get_by_role("button", name="删除").click()
    expect(orange.locator(".measure-row:not(.removed)")).to_have_count(0)
    orange.get_by_role("button", name="保存橙色预警措施").click()
    error = page.get_by_test_id("level-orange").get_by_test_id("editor-error")
    expect(error).to_contain_text("低于黄色预警")
    page.goto(enterprise_url)
    expect(page.get_by_test_id("level-orange").locator(".measure-row:not(.removed)")).to_have_count(kept)
    no_sideways_scroll(page)
    console.assert_clean()


def test_brick_plant_shows_where_its_staggered_days_come_from(
    page: Page, demo_login: Callable[..., Page], console: Console, reduction_demo: None
) -> None:
    """The staggered-production card names the schedule file and, while its days are placeholders, says so;
    the long source and note wrap at phone width."""
    demo_login("njsz_staff")
    page.goto("/lists/")
    page.get_by_role("link", name="市中区 2026 年应急减排清单（第 1 版）").click()
    page.get_by_label("行业").select_option("brick")
    page.get_by_role("button", name="筛选").click()
    page.get_by_test_id("enterprise-table").locator("tbody tr a").first.click()
    source = page.get_by_test_id("staggered-source")
    expect(source).to_contain_text("staggered/chuanyu_2025.yaml#brick")
    expect(source).to_contain_text("天数未核实")
    no_sideways_scroll(page)
    console.assert_clean()
