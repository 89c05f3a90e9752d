"""The phone form in a real browser at 375 px, under the strict Content-Security-Policy: 荣昌's inspector logs a
problem at a plant in 隆昌 with a photo and the browser's location, transfers it to 内江, gets the transfer
form PDF, and 内江's staff signs for it (签收)."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import PHONE, Console

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

SCREENSHOT = "/tmp/case-form-375.png"
POSITION = {"latitude": 29.3395, "longitude": 105.2873, "accuracy": 12}  # 隆昌市古湖街道


def photo_png(width: int = 96, height: int = 72) -> bytes:
    """A small real PNG (a gradient), as a phone camera would hand over a photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = (b"".join(bytes((x * 255 // width, y * 255 // height, 96)) for x in range(width)) for y in range(height))
    raw = b"".join(b"\x00" + row for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal scroll at 375 px: the page is {width} px wide"


def test_inspector_logs_a_case_on_the_phone_and_neijiang_signs_for_it(
    page: Page, live_server: str, demo_login: Callable[..., Page], console: Console
) -> None:
    page.context.grant_permissions(["geolocation"], origin=live_server)
    page.context.set_geolocation(POSITION)
    demo_login("rc_inspector")
    expect(page.locator("[data-testid=welcome]")).to_contain_text("您好")

    # From the menu to the phone form.
    page.get_by_role("button", name="菜单").click()
    page.locator("nav#mainnav").get_by_role("link", name="问题线索").click()
    page.get_by_test_id("new-case").click()
    expect(page.get_by_role("heading", name="登记问题线索")).to_be_visible()

    # The location comes from the browser (static/js/case-form.js).
    expect(page.locator("#latitude")).to_have_value("29.339500")
    expect(page.locator("#longitude")).to_have_value("105.287300")
    expect(page.locator("#geo-status")).to_contain_text("已定位")
    # The complainant's fields show only for complaints.
    expect(page.locator(".complainant")).to_be_hidden()
    # The location sits on one row at 375 px; the camera is a big button a thumb can hit.
    lat_box, lon_box = page.locator("#latitude").bounding_box(), page.locator("#longitude").bounding_box()
    assert (
        lat_box and lon_box and abs(lat_box["y"] - lon_box["y"]) < 2 and lon_box["x"] > lat_box["x"] + lat_box["width"]
    )
    take = page.get_by_test_id("photo-take")
    expect(take).to_contain_text("拍照")
    box = take.bounding_box()
    assert box and box["height"] >= 48 and box["width"] >= 0.8 * page.locator("#case-form").bounding_box()["width"]
    expect(page.locator("#photos")).to_have_attribute("capture", "environment")

    page.locator("label.chip", has_text="工业源").click()
    expect(page.locator("input[name=source_type][value=industrial]")).to_be_checked()
    page.locator("#topic").fill("治污设施未正常运行")
    page.locator("#source_name").fill("隆昌市鑫旺页岩砖厂")
    # the county picker is searchable (static/js/place-picker.js): typing picks the first match
    page.locator("input.place-search").fill("隆昌")
    expect(page.locator("#place option:checked")).to_have_text("内江市 隆昌市")
    page.locator("#place").select_option("511083")
    page.locator("input[name=team_name]").first.fill("张三")
    page.locator("input[name=team_cert]").first.fill("渝执字0012")
    page.locator("#source_address").fill("隆昌市响石镇高峰村五组")
    page.locator("#problem").fill("脱硫塔循环泵停运，排气筒可见明显烟尘")
    # Two photos taken one after the other: the second does not replace the first.
    for name in ("现场照片-脱硫塔.png", "现场照片-排气筒.png"):
        page.locator("#photos").set_input_files(files=[{"name": name, "mimeType": "image/png", "buffer": photo_png()}])
    expect(page.locator("#photo-status")).to_contain_text("已选择 2 个文件")
    expect(page.locator("#photo-status")).to_contain_text("现场照片-排气筒.png")
    expect(page.locator("#photo-clear")).to_be_visible()

    no_horizontal_scroll(page)
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name="登记", exact=True).click()
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    case_url = page.url
    expect(page.get_by_test_id("case-state")).to_have_text("已发现")
    expect(page.get_by_role("status")).to_contain_text("已登记")
    expect(page.get_by_test_id("evidence").locator("img")).to_have_count(2)
    expect(page.locator("dl.kv")).to_contain_text("29.33950, 105.28730")
    no_horizontal_scroll(page)

    # Transfer to 内江's bureau with a transfer form, and fetch the form's PDF as the link gives it.
    page.locator("#to_bureau").select_option(label="内江市生态环境局")
    page.get_by_test_id("action-transfer").click()
    # the transfer asks for confirmation, naming the case and the receiving bureau
    expect(page.get_by_role("heading", name="确认移交")).to_be_visible()
    expect(page.get_by_test_id("transfer-cases")).to_contain_text("隆昌")
    no_horizontal_scroll(page)
    page.get_by_test_id("confirm-transfer").click()
    expect(page.get_by_role("heading", name=re.compile("问题线索移交单"))).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("已生成移交单")
    pdf_link = page.get_by_test_id("transfer-pdf")
    href = pdf_link.get_attribute("href")
    assert href and re.fullmatch(r"/cases/transfers/\d+\.pdf", href), href
    response = page.request.get(href)
    assert response.status == 200, response.status
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.body().startswith(b"%PDF-")
    no_horizontal_scroll(page)

    page.get_by_role("button", name="退出").click()
    expect(page.get_by_role("heading", name="登录联防平台")).to_be_visible()

    # 内江 signs for it.
    demo_login("nj_staff")
    expect(page.locator("[data-testid=welcome]")).to_contain_text("您好")
    page.goto(case_url)
    expect(page.get_by_test_id("case-state")).to_have_text("已移交")
    page.get_by_test_id("action-receive").click()
    expect(page.get_by_test_id("case-state")).to_have_text("已签收")
    expect(page.get_by_test_id("timeline")).to_contain_text("签收")
    no_horizontal_scroll(page)
    console.assert_clean()
