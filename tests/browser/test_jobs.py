"""sc_staff exports the whole province's lists from the web at phone width: the job's page shows it queued,
then, with no reload by the user, its end and the download (the page polls the job's JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import PHONE, Console
from tests.browser.steps import hold_jobs, no_sideways_scroll, run_export_to_download, start_province_export

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect


def test_province_export_runs_in_the_background_to_its_download(
    page: Page, demo_login: Callable[..., Page], console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = hold_jobs(monkeypatch)
    page.set_viewport_size(PHONE)
    demo_login("sc_staff")
    start_province_export(page, 2026)
    expect(page.get_by_test_id("job-cancel")).to_be_visible()
    no_sideways_scroll(page)
    run_export_to_download(page, queued, 2026, "510000")
    console.assert_clean()
