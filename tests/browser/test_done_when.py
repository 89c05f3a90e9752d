"""Issue 12's Done-when as one walk in a real browser, at 375 px and on a desktop, under the strict
Content-Security-Policy:

rc_staff exports 荣昌's 2025 v1 from the list page and re-imports it with no problem, opens 2026 (a copy of the
list in force) and has it published (cq_staff approves), starts 2027 from 2026 and adds an enterprise by hand
(the desktop walk, which runs second on the same server, publishes 2027 and starts 2028 from it);
rc_inspector logs two cases at plants in 内江, corrects one, and transfers both on one form, choosing them in
the case list; cq_staff opens that form (copied to it); nj_staff passes one on (转办) to 市中区, whose officer
signs for it; sc_staff exports the whole province's lists from the web and watches the progress bar reach the
download.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from app.reduction.domain.uscc import generate
from tests.browser.conftest import PHONE, Console
from tests.browser.steps import (
    export_version,
    fill_and_save_enterprise,
    hold_jobs,
    log_out,
    no_sideways_scroll,
    reimport_unchanged,
    run_export_to_download,
    start_province_export,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

NEIJIANG = "内江市生态环境局"
SHIZHONG = "内江市生态环境局市中区分局"


DESKTOP = {"width": 1280, "height": 800}


def open_own_list(page: Page, year: int) -> None:
    page.goto("/lists/")
    page.get_by_test_id("own-lists").get_by_role("link", name=re.compile(f"{year} 年")).last.click()
    expect(page.get_by_test_id("list-actions").or_(page.get_by_test_id("list-excel")).first).to_be_visible()


def enterprise_count(page: Page) -> int:
    found = re.search(r"(\d+)", page.get_by_test_id("counts").inner_text())
    assert found, page.get_by_test_id("counts").inner_text()
    return int(found.group(1))


def log_case(page: Page, name: str, place: str, problem: str) -> tuple[str, str]:
    """The phone form, as the inspector fills it; returns the case's URL and number."""
    page.goto("/cases/")
    page.get_by_test_id("new-case").click()
    expect(page.get_by_role("heading", name="登记问题线索")).to_be_visible()
    page.locator("label.chip", has_text="工业源").click()
    page.locator("#topic").fill("未落实应急减排措施")
    page.locator("#source_name").fill(name)
    page.locator("#place").select_option(place)
    page.locator("input[name=team_name]").first.fill("李四")
    page.locator("input[name=team_cert]").first.fill("渝执字0034")
    page.locator("#problem").fill(problem)
    no_sideways_scroll(page)
    page.get_by_test_id("case-submit").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    expect(page.get_by_test_id("case-state")).to_have_text("已发现")
    number = page.title().split(" · ")[0].strip()
    assert re.fullmatch(r"XS-\d{4}-\d{6}-\d{5}", number), number
    return page.url, number


@pytest.mark.parametrize(("viewport", "year"), [(PHONE, 2026), (DESKTOP, 2027)], ids=["phone", "desktop"])
def test_issue_12_done_when(
    page: Page, demo_login: Callable[..., Page], console: Console, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    viewport: dict[str, int], year: int,
) -> None:  # fmt: skip
    page.set_viewport_size(viewport)
    page.on("dialog", lambda dialog: dialog.accept())  # the lists' "确定报送？" / "确定发布？"

    # --- rc_staff: 2025 v1 exported from the list page goes back through its import with no problem ----------
    demo_login("rc_staff")
    open_own_list(page, 2025)
    exported = export_version(page, "2025·第 1 版", tmp_path / "2025-v1.xlsx")
    no_sideways_scroll(page)
    reimport_unchanged(page, exported)
    no_sideways_scroll(page)

    # --- `year` opened (on the phone: 2026, a copy of the list in force), published; the next year from it ----
    page.goto("/lists/")
    page.locator("#open-year").fill(str(year))
    page.get_by_role("button", name="打开或新建本年度清单").click()
    expect(page.get_by_role("heading", name=re.compile(f"{year} 年应急减排清单"))).to_be_visible()
    count_before = enterprise_count(page)
    assert count_before > 0
    page.get_by_test_id("submit-list").click()
    expect(page.locator("dl.kv dd").first).to_have_text("已报送")
    log_out(page)
    demo_login("cq_staff")
    page.goto("/lists/")
    page.get_by_test_id("below-lists").get_by_role("link", name=re.compile(f"荣昌区 {year} 年")).first.click()
    page.get_by_test_id("approve-list").click()
    expect(page.locator("dl.kv dd").first).to_have_text("已审核通过")
    log_out(page)
    demo_login("rc_staff")
    open_own_list(page, year)
    page.get_by_test_id("publish-list").click()
    expect(page.locator("dl.kv dd").first).to_have_text("已发布")
    page.goto("/lists/")
    expect(page.get_by_test_id("in-force-hint")).to_contain_text(f"{year} 年第")
    page.locator("#open-year").fill(str(year + 1))
    page.get_by_role("button", name="打开或新建本年度清单").click()
    expect(page.get_by_role("heading", name=re.compile(f"{year + 1} 年应急减排清单（第 1 版）"))).to_be_visible()
    assert enterprise_count(page) == count_before
    no_sideways_scroll(page)

    # --- an enterprise added by hand to the new year's list ------------------------------------------------------
    page.get_by_test_id("add-enterprise").click()
    no_sideways_scroll(page)
    fill_and_save_enterprise(page, generate(98000 + year, region="500153"), f"荣昌区走查测试陶瓷厂（{year + 1}）")
    expect(page.get_by_test_id("enterprise-saved")).to_be_visible()
    no_sideways_scroll(page)
    open_own_list(page, year + 1)
    assert enterprise_count(page) == count_before + 1
    log_out(page)

    # --- rc_inspector: two cases at plants in 内江, one corrected, both on one transfer form -----------------
    demo_login("rc_inspector")
    url_a, number_a = log_case(page, "内江市市中区白马化工有限公司", "511002", "橙色预警期间锅炉未停产")
    url_b, number_b = log_case(page, "隆昌市石燕桥陶瓷厂", "511083", "辊道窑未按一厂一策限产")
    page.get_by_test_id("edit-case").click()
    expect(page.get_by_role("heading", name=re.compile("修改问题线索"))).to_be_visible()
    page.locator("#problem").fill("辊道窑未按一厂一策限产，用电监控显示负荷与预警前持平")
    no_sideways_scroll(page)
    page.get_by_test_id("case-submit").click()
    expect(page.get_by_role("status")).to_contain_text("已修改线索")
    expect(page.locator("dl.kv")).to_contain_text("用电监控显示负荷与预警前持平")

    page.goto("/cases/")
    page.get_by_role("link", name="待我单位核查").click()
    for number in (number_a, number_b):
        page.get_by_label(number, exact=True).check()
    no_sideways_scroll(page)
    page.get_by_test_id("transfer-selected").click()
    expect(page.get_by_role("heading", name="确认移交")).to_be_visible()
    chosen = page.get_by_test_id("transfer-cases")
    expect(chosen.locator("tbody tr")).to_have_count(2)
    expect(chosen).to_contain_text(number_a)
    expect(chosen).to_contain_text(number_b)
    expect(chosen).to_contain_text("用电监控显示负荷与预警前持平")
    page.locator("#to_bureau").select_option(label=NEIJIANG)
    no_sideways_scroll(page)
    page.get_by_test_id("confirm-transfer").click()
    expect(page.get_by_role("heading", name=re.compile("问题线索移交单"))).to_be_visible()
    form_url = page.url
    form_number = page.title().split(" · ")[0].strip()
    expect(page.get_by_test_id("copied-to")).to_contain_text("重庆市生态环境局")
    no_sideways_scroll(page)
    log_out(page)

    # --- cq_staff opens the form copied to it --------------------------------------------------------------
    demo_login("cq_staff")
    page.goto("/cases/")
    page.get_by_test_id("copied-nav").click()
    page.get_by_test_id("copied").get_by_role("link", name=form_number).click()
    expect(page).to_have_url(form_url)
    expect(page.get_by_role("heading", name=re.compile("问题线索移交单"))).to_be_visible()
    expect(page.locator("ol")).to_contain_text(number_a)
    expect(page.locator("ol")).to_contain_text(number_b)
    no_sideways_scroll(page)
    log_out(page)

    # --- nj_staff passes the 市中区 case on; 市中区's officer signs for it ------------------------------------
    demo_login("nj_staff")
    page.goto(url_a)
    expect(page.get_by_test_id("case-state")).to_have_text("已移交")
    page.locator("#pass_on_to").select_option(label=SHIZHONG)
    page.locator("#pass_on_note").fill("属地办理")
    no_sideways_scroll(page)
    page.get_by_test_id("action-pass_on").click()
    expect(page.get_by_test_id("responsible")).to_have_text(SHIZHONG)
    expect(page.get_by_test_id("timeline")).to_contain_text(f"{NEIJIANG} → {SHIZHONG}：属地办理")
    page.goto(url_b)  # the other case of the form stays with 内江
    expect(page.get_by_test_id("responsible")).to_have_text(NEIJIANG)
    log_out(page)

    demo_login("njsz_staff")
    page.goto("/cases/inbox")
    page.get_by_test_id("case-table").get_by_role("link", name=number_a).click()
    expect(page.get_by_test_id("case-state")).to_have_text("已移交")
    page.get_by_test_id("action-receive").click()
    expect(page.get_by_test_id("case-state")).to_have_text("已签收")
    expect(page.get_by_test_id("timeline")).to_contain_text("签收")
    no_sideways_scroll(page)
    log_out(page)

    # --- sc_staff: the whole province's lists, in the background, to the download ---------------------------
    queued = hold_jobs(monkeypatch)
    demo_login("sc_staff")
    start_province_export(page, 2026)
    expect(page.get_by_test_id("job-bar")).to_be_visible()
    no_sideways_scroll(page)
    run_export_to_download(page, queued, 2026, "510000")
    no_sideways_scroll(page)
    console.assert_clean()
