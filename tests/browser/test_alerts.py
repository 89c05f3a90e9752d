"""Issue 13's whole chain at phone width (375 px), under the strict Content-Security-Policy: the forecast centre
uploads a forecast (`unit,date,aqi`) in which 成都, 德阳, 眉山 and 雅安 exceed AQI 200 for 48 hours from
yesterday and drafts the orange proposal for 成都平原 from its evaluation; the group leader approves it; the centre
issues it (late, flagged) and the letter is offered; 成都 confirms; 成都's inspector finds the tasks of 成都's
list, and a measure not carried out becomes a case in one step, which 成都's staff find in their inbox; 成都
sends yesterday's daily report (late, flagged) ; the forecast improves for 36 hours and the lift is drafted,
approved and issued (the tasks are closed); a regional red proposal waits for both provinces' approvers. No page
scrolls sideways."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.core.localtime import LOCAL_TZ
from tests.alerts.test_done_when import daily_file
from tests.browser.conftest import LIVE, PHONE, Console
from tests.browser.test_cases import photo_png

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

ENTERPRISES = ("成都链测企业甲", "成都链测企业乙")


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"horizontal scroll at 375 px on {page.url}: {width} px wide"


def _as(page: Page, demo_login: Callable[..., Page], user: str) -> None:
    page.context.clear_cookies()
    demo_login(user)
    expect(page.get_by_test_id("account-link")).to_be_visible()


def _setup_chengdu() -> None:
    """What the demo lacks for this chain, added to the live server's database: 成都's published list with two
    enterprises, 成都's inspector, and the two provinces' approvers of a red alert (password DEMO_PASSWORD)."""
    from app.auth.models import Bureau, BureauKind, User, UserRole
    from app.auth.passwords import hash_password
    from app.auth.roles import Role
    from app.core.scoping import Scope, set_scope
    from app.demo import DEMO_PASSWORD
    from app.extensions import db
    from app.places.models import Jurisdiction
    from app.reduction import demo
    from tests.response.conftest import UNITS, _list, _measures, uscc

    with LIVE["app"].app_context():
        s = db.session()
        set_scope(s, Scope.everything())
        if s.scalars(select(User).where(User.username == "cd_inspector")).first():
            return
        place = {j.code: j for j in s.scalars(select(Jurisdiction).where(Jurisdiction.code.in_(
            ["510000", "500000", "510100", "510104"])))}  # fmt: skip
        chengdu = s.scalars(select(Bureau).where(Bureau.name == "成都市生态环境局")).one()
        hashed = hash_password(DEMO_PASSWORD)

        def user(name: str, display: str, bureau: Bureau, role: Role) -> User:
            u = User(username=name, display_name=display, bureau_id=bureau.id, jurisdiction_id=bureau.jurisdiction_id,
                     password_hash=hashed, role_rows=[UserRole(role=role)])  # fmt: skip
            s.add(u)
            s.flush()
            return u

        user("cd_inspector", "成都市执法员", chengdu, Role.inspector)
        for name, code, role, display in (("四川省人民政府", "510000", Role.vice_governor, "四川分管副省长"),
                                          ("重庆市人民政府", "500000", Role.vice_mayor, "重庆分管副市长")):  # fmt: skip
            gov = Bureau(name=name, kind=BureauKind.department, jurisdiction_id=place[code].id)
            s.add(gov)
            s.flush()
            user("sc_vg" if code == "510000" else "cq_vm", display, gov, role)
        decider = s.scalars(select(User).where(User.username == "sc_staff")).one()
        lst = _list(s, chengdu, decider.id)
        for n, (name, category, grade) in enumerate(zip(ENTERPRISES, ("key", "other"), ("B", None), strict=True)):
            demo.add_enterprise(s, lst, assess=False, uscc=uscc(900 + n), name=name, category=category, grade=grade,
                                jurisdiction_id=place["510104"].id, units=UNITS, measures=_measures(),
                                address=f"锦江区测试路{n}号")  # fmt: skip
        s.commit()


def _decide(page: Page, url: str, opinion: str = "") -> None:
    page.goto(url)
    if opinion:
        page.get_by_label("意见（不同意时必填）").fill(opinion)
    _fits(page)
    page.get_by_test_id("action-decide").click()


def test_the_whole_chain_at_phone_width(
    page: Page, demo_login: Callable[..., Page], console: Console, tmp_path: Path
) -> None:
    _setup_chengdu()
    today = datetime.now(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    yesterday = today - timedelta(days=1)

    # The forecast centre uploads; the evaluation shows the zone's activation; it drafts and submits.
    _as(page, demo_login, "forecaster")
    page.goto("/alerts/")
    expect(page.get_by_role("heading", name="预警态势")).to_be_visible()
    page.get_by_test_id("upload-link").click()
    page.get_by_label("文件（CSV 或 Excel）").set_input_files(
        str(daily_file(tmp_path / "成都平原预报.csv", yesterday, 3))
    )
    page.get_by_test_id("upload-submit").click()
    expect(page.get_by_test_id("activation").first).to_contain_text("成都平原内4个相邻城市（成都、德阳、眉山、雅安）")
    _fits(page)
    first = page.get_by_test_id("evaluation-proposal").first
    first.get_by_label("污染程度").fill("PM2.5 重度污染")
    first.get_by_label("气象条件").fill("静稳、逆温")
    page.get_by_test_id("draft-0").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("草稿")
    expect(page.get_by_test_id("proposal-units")).to_contain_text("绵阳")
    expect(page.get_by_test_id("proposal-reason")).to_contain_text("成都平原内4个相邻城市")
    _fits(page)
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("审批中")
    proposal_url = page.url

    # The group leader finds it among the to-dos and approves it.
    _as(page, demo_login, "leader")
    page.get_by_test_id("todo-alert_decide").click()
    page.get_by_test_id("waiting-for-me").get_by_role("link").first.click()
    expect(page.get_by_test_id("chain")).to_contain_text("组长")
    page.get_by_label("意见（不同意时必填）").fill("同意发布橙色预警")
    _fits(page)
    page.get_by_test_id("action-decide").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("已批准，待发布")

    # The centre issues it: later than the plan's notice, flagged; the letter is offered as PDF.
    _as(page, demo_login, "forecaster")
    page.goto(proposal_url)
    page.get_by_test_id("action-issue").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("已发布")
    expect(page.get_by_test_id("issued-late")).to_be_visible()
    expect(page.get_by_test_id("letters")).to_contain_text("PDF")
    episode_url = page.get_by_role("link", name=re.compile("预警过程 #")).get_attribute("href")

    # 成都 confirms its start; the map shows it orange.
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
    _fits(page)

    # 成都's inspector has a task for each enterprise of 成都's list; a measure not carried out becomes a case.
    _as(page, demo_login, "cd_inspector")
    page.get_by_role("button", name="菜单").click()
    page.locator("nav#mainnav").get_by_role("link", name="应急响应").click()
    expect(page.get_by_test_id("task-count")).to_contain_text("共 2 项任务")
    _fits(page)
    page.get_by_test_id("task-list").get_by_role("link", name=ENTERPRISES[0]).click()
    expect(page.get_by_test_id("task-level")).to_contain_text("橙色预警")
    truck = page.get_by_test_id("measure").filter(has_text="货车")
    truck.locator("input[value=not_carried_out]").check()
    truck.locator("textarea").fill("门禁记录显示国Ⅳ货车 6 辆次进厂")
    truck.locator("input[type=file]").set_input_files(
        files=[{"name": "门禁.png", "mimeType": "image/png", "buffer": photo_png()}]
    )
    _fits(page)
    truck.get_by_role("button", name="提交核查").click()
    expect(page.get_by_role("status")).to_contain_text("登记问题线索")

    # 成都's staff find the case in their inbox, with the enterprise, the measure, the level and the photo.
    _as(page, demo_login, "cd_staff")
    page.goto("/cases/inbox")
    page.get_by_role("row").filter(has_text=ENTERPRISES[0]).get_by_role("link").first.click()
    expect(page.locator("main")).to_contain_text("橙色预警")
    expect(page.locator("main")).to_contain_text("停用国Ⅳ及以下重型货车")
    expect(page.get_by_role("img", name="门禁.png")).to_be_visible()  # the check's photo, as evidence
    _fits(page)

    # 成都 sends yesterday's daily report now: late, and flagged.
    page.goto("/response/reports")
    late = page.get_by_test_id("report-form").filter(has_text=yesterday.date().isoformat())
    expect(late).to_contain_text("已逾期")
    for area in late.locator("textarea").all():
        area.fill("今日出动执法人员 12 人次，检查企业 8 家。")
    _fits(page)
    late.get_by_role("button", name="报送").click()
    expect(page.get_by_role("status")).to_contain_text("已报送（逾期）")
    expect(page.get_by_test_id("report-table").get_by_role("row").filter(
        has_text=yesterday.date().isoformat())).to_contain_text("逾期报送")  # fmt: skip
    _fits(page)

    # The forecast improves for 36 hours: the centre drafts the lift; the leader approves; the centre issues it.
    _as(page, demo_login, "forecaster")
    page.goto("/alerts/forecasts/upload")
    page.get_by_label("文件（CSV 或 Excel）").set_input_files(
        str(daily_file(tmp_path / "成都平原预报2.csv", yesterday, 4))
    )
    page.get_by_test_id("upload-submit").click()
    lift = page.get_by_test_id("evaluation-proposal").filter(has_text="解除预警")
    expect(lift).to_contain_text("（≥36小时），解除预警")
    lift.get_by_role("button", name="据此拟定预警建议").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("草稿")
    page.get_by_test_id("action-submit").click()
    lift_url = page.url
    _as(page, demo_login, "leader")
    _decide(page, lift_url)
    expect(page.get_by_test_id("proposal-state")).to_have_text("已批准，待发布")
    _as(page, demo_login, "forecaster")
    page.goto(lift_url)
    page.get_by_test_id("action-issue").click()
    expect(page.get_by_test_id("proposal-state")).to_have_text("已发布")
    page.goto(episode_url)
    expect(page.get_by_test_id("episode-state")).to_contain_text("已解除")
    _fits(page)
    _as(page, demo_login, "cd_inspector")
    page.goto("/response/?state=closed")
    expect(page.get_by_test_id("task-count")).to_contain_text("共 2 项任务")

    # A regional red proposal over both provinces waits for Sichuan's vice-governor and Chongqing's vice-mayor.
    _as(page, demo_login, "forecaster")
    page.goto("/alerts/proposals/new?plan=chuanyu")
    page.get_by_label("预警级别（解除不填）").select_option("red")
    page.get_by_label("启动（或解除）时间").fill((date.today() + timedelta(days=5)).strftime("%Y-%m-%dT08:00"))
    for name in ("泸州", "自贡", "资阳", "荣昌", "永川", "大足"):
        page.get_by_label(name, exact=True).check()
    page.get_by_label("理由").fill("区域红色")
    _fits(page)
    page.get_by_test_id("proposal-save").click()
    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("chain")).to_contain_text("重庆市分管副市长")
    red_url = page.url
    _as(page, demo_login, "leader")
    _decide(page, red_url, "审核同意，报两地政府")
    _as(page, demo_login, "sc_vg")
    _decide(page, red_url)
    expect(page.get_by_test_id("proposal-state")).to_have_text("审批中")  # one province is not enough
    _as(page, demo_login, "cq_vm")
    _decide(page, red_url)
    expect(page.get_by_test_id("proposal-state")).to_have_text("已批准，待发布")
    _fits(page)
    page.screenshot(path="/tmp/lianfang-alert-chain-375.png", full_page=True)
