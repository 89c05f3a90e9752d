"""A district user imports a list from Excel at phone width: the preview names the problem, a corrected file
goes through, under the strict Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest

from app.reduction.excel import exporter, lookups
from app.reduction.excel import template as t
from tests.browser.conftest import PHONE, Console
from tests.browser.steps import export_version, no_sideways_scroll, reimport_unchanged
from tests.reduction.test_excel_import import column, enterprise

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def _files(tmp_path: Path) -> tuple[Path, Path]:
    bundles = [enterprise(i, 1, region="500153") for i in range(2)]
    good = tmp_path / "清单.xlsx"
    exporter.write(good, bundles, county_label={1: "荣昌区"}, industry_label=lookups.industry_labels())
    bad = tmp_path / "清单（有错）.xlsx"
    wb = openpyxl.load_workbook(good)
    wb[t.MAIN_SHEET][f"{column('企业类别')}3"] = "大型企业"
    wb.save(bad)
    return good, bad


def test_district_user_fixes_the_named_problem_and_commits(
    page: Page, demo_login: Callable[..., Page], console: Console, tmp_path: Path
) -> None:
    good, bad = _files(tmp_path)
    demo_login("rc_staff")
    page.goto("/lists/import?year=2026")
    expect(page.get_by_role("heading", name="导入应急减排清单")).to_be_visible()
    expect(page.get_by_test_id("template-link")).to_be_visible()
    expect(page.get_by_test_id("import-target")).to_contain_text("2026")

    page.get_by_label("Excel 文件").set_input_files(str(bad))
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_role("heading", name="导入预览")).to_be_visible()
    expect(page.get_by_test_id("preview-status")).to_contain_text("发现 1 处错误")
    problem = page.get_by_test_id("problems").locator("tbody tr").first
    expect(problem).to_contain_text("应急减排清单")
    expect(problem).to_contain_text(f"{column('企业类别')} 企业类别")
    expect(problem).to_contain_text("“大型企业”不是可选值")
    expect(problem.locator("td").nth(1)).to_have_text("3")
    expect(page.get_by_test_id("commit")).to_have_count(0)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal scroll at 375 px: the page is {width} px wide"

    page.get_by_role("link", name="重新上传").click()
    page.get_by_label("Excel 文件").set_input_files(str(good))
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_test_id("preview-status")).to_contain_text("文件检查通过")
    expect(page.get_by_test_id("count-new")).to_have_text("2")
    page.get_by_test_id("commit").click()
    expect(page.get_by_role("status").filter(has_text="导入完成")).to_contain_text("新增 2 家")
    expect(page.get_by_test_id("export-link")).to_be_visible()
    console.assert_clean()


def test_rc_staff_exports_a_version_from_the_list_page_and_reimports_it_unchanged(
    page: Page, demo_login: Callable[..., Page], console: Console, tmp_path: Path
) -> None:
    """Issue 12.1: from 荣昌's 2025 list page, the export of 2025 v1 goes back through the page's own import with
    no problem and every enterprise unchanged."""
    demo_login("rc_staff")
    page.goto("/lists/")
    page.get_by_test_id("own-lists").get_by_role("link", name="2025").first.click()
    expect(page.get_by_test_id("version-exports")).to_be_visible()
    exported = export_version(page, "2025·第 1 版", tmp_path / "2025-v1.xlsx")
    no_sideways_scroll(page)
    reimport_unchanged(page, exported)
    console.assert_clean()
