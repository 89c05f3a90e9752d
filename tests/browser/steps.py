"""Steps the browser tests share: the width check, logging out, a list version's export and its unchanged
re-import, the enterprise editor's form, and a province export run in the background to its download."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import current_app

from app.jobs import services as jobs

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def no_sideways_scroll(page: Page) -> None:
    page.wait_for_load_state("load")  # measured with the stylesheet applied (a loaded machine serves it late)
    width, screen = page.evaluate("document.documentElement.scrollWidth"), page.viewport_size["width"]
    assert width <= screen, f"horizontal scroll at {screen} px on {page.url}: the page is {width} px wide"


def log_out(page: Page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("heading", name="登录联防平台")).to_be_visible()


def export_version(page: Page, version: str, target: Path) -> Path:
    """From the list page's table of versions (e.g. `2025·第 1 版`), the version's workbook saved to `target`."""
    row = page.get_by_test_id("version-exports").locator("tr", has_text=version)
    with page.expect_download() as download:
        row.get_by_test_id("export-version").click()
    download.value.save_as(target)
    return target


def reimport_unchanged(page: Page, workbook: Path) -> None:
    """The list page's import previews the workbook with no problem and every enterprise unchanged."""
    page.get_by_label("导入 Excel").set_input_files(str(workbook))
    page.get_by_test_id("list-import").get_by_role("button", name="上传并预览").click()
    expect(page.get_by_test_id("preview-status")).to_contain_text("文件检查通过")
    in_file = page.get_by_test_id("count-in-file").inner_text()
    assert int(in_file) > 0
    expect(page.get_by_test_id("count-unchanged")).to_have_text(in_file)
    for testid in ("count-new", "count-changed", "count-removed"):
        expect(page.get_by_test_id(testid)).to_have_text("0")


def fill_and_save_enterprise(page: Page, uscc: str, name: str) -> None:
    """The enterprise editor's form: a key C-grade plant with one unit, one facility and one production meter."""
    page.fill("#e-uscc", uscc)
    page.fill("#e-name", name)
    page.select_option("#e-category", "key")
    page.select_option("#e-grade", "C")
    page.fill("#u-0-code", "K1")
    page.fill("#u-0-name", "辊道窑")
    page.fill("#f-0-code", "F1")
    page.fill("#f-0-name", "脱硫塔")
    page.fill("#m-0-number", "DB-1")
    page.select_option("#m-0-kind", "production")
    page.fill("#m-0-unit", "K1")
    page.get_by_test_id("save-enterprise").click()


def hold_jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, Any]]:
    """No worker in the browser tests: a started job waits in this list until the test runs it, as a worker would."""
    queued: list[tuple[int, Any]] = []
    monkeypatch.setattr(jobs, "enqueue", lambda job_id: queued.append((job_id, current_app._get_current_object())))
    return queued


def start_province_export(page: Page, year: int) -> None:
    page.goto("/lists/")
    form = page.get_by_test_id("export-region")
    form.get_by_label("年份").fill(str(year))
    form.get_by_role("button", name="在后台导出（Excel）").click()
    expect(page.get_by_test_id("job-state")).to_have_text("排队中")


def run_export_to_download(page: Page, queued: list[tuple[int, Any]], year: int, province: str) -> None:
    """The one held job run; the page notices by itself (it polls), shows every row done and offers the file."""
    assert len(queued) == 1
    job_id, app = queued[0]
    with app.app_context():
        jobs.execute(job_id)
        expected = enterprises_of_the_newest_lists(year, province)
    expect(page.get_by_test_id("job-done")).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("job-rows")).to_have_text(f"已处理 {expected} / {expected}")
    assert page.get_by_test_id("job-bar").get_attribute("value") == "100"
    with page.expect_download() as download:
        page.get_by_test_id("job-download").click()
    assert download.value.suggested_filename.endswith(f"_{year}_全部.xlsx")


def enterprises_of_the_newest_lists(year: int, province: str) -> int:
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
