"""Every page in English: each GET route of the URL map, as the roles that reach the most screens, with the
reader's language set to English, must show no Chinese text but data (what the database holds: names,
addresses, reasons typed by users, places; what the inventories say: plan and rule texts quoted as they are
written). A label, a state, a button or a message left in Chinese fails the test, naming the page and the
text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import String, Text, select

from app.auth.models import ApiToken, User
from app.auth.roles import Role, roles_allow
from app.config import ROOT
from app.core.access import access_of
from app.db import Base
from tests.test_access_walk import OWN, _build, login, targets_for, world  # noqa: F401  world is a fixture

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")  # runs of Chinese characters (punctuation aside)
LANGUAGE_SWITCH = {"中文"}  # the switch back to Chinese is written in Chinese on purpose
SKIP_PREFIXES = ("/api/", "/static/")
ROLES = (Role.district_staff, Role.city_staff, Role.province_staff, Role.inspector, Role.approver,
         Role.system_admin)  # fmt: skip


class _Text(HTMLParser):
    """The text a reader sees, and the attributes read aloud or shown (title, placeholder, aria-label, value of
    buttons), without scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._skip += 1
        for name, value in attrs:
            if value and name in ("title", "placeholder", "aria-label", "alt", "data-confirm"):
                self.parts.append(value)
            if value and name == "value" and tag == "input" and ("type", "submit") in attrs:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return "\n".join(parser.parts)


def data_text(session) -> str:  # type: ignore[no-untyped-def]
    """Every text the database holds, and every inventory file: Chinese that is data, not a label."""
    found: list[str] = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        if not columns:
            continue
        for row in session.execute(select(*columns)):
            found.extend(v for v in row if isinstance(v, str) and CJK.search(v))
    # the official workbook's sheet and column names, and the column names the readings files may use, quoted as
    # a user must type them
    for source in ("app/reduction/excel/template.py", "app/power/domain/rows.py"):
        found.append((ROOT / source).read_text(encoding="utf-8"))
    for path in (ROOT / "inventories").rglob("*"):
        if path.suffix in (".toml", ".yaml", ".yml", ".csv", ".json", ".geojson") and path.is_file():
            found.append(path.read_text(encoding="utf-8"))
    return "\n".join(found)


def untranslated(text: str, data: str) -> list[str]:
    return sorted({run for run in CJK.findall(text) if run not in LANGUAGE_SWITCH and run not in data})


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_every_page_in_english(app, world, make_user, session, role: Role) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    actor = make_user(f"en_{role.value}", bureau=world[OWN]["bureau"], roles=(role,))
    session.get(User, actor.id).locale = "en"
    token = ApiToken(user_id=actor.id, name="mine", prefix="lf_en", token_hash="e" * 64)
    session.add(token)
    session.commit()
    data = data_text(session)
    client, _csrf = login(app, actor)
    found: dict[str, list[str]] = {}
    pages = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(SKIP_PREFIXES) or rule.endpoint == "static":
            continue
        kind, permission = access_of(app.view_functions[rule.endpoint]) or ("public", None)
        if kind not in ("public", "login") and not roles_allow({role}, permission):
            continue
        for target in targets_for(rule, world, actor, token):
            if not target.in_scope:
                continue
            url = _build(app, rule, target.params)
            response = client.get(url)
            html = response.status_code == 200 and response.mimetype.startswith("text/html")
            page = response.get_data(as_text=True) if html else ""
            response.close()  # a download's file handle
            if not html:
                continue
            pages += 1
            missing = untranslated(visible_text(page), data)
            if missing:
                found[url] = missing
    assert pages > 10, f"only {pages} pages walked"
    report = "\n".join(f"{url}: {'、'.join(runs[:12])}{' …' if len(runs) > 12 else ''}" for url, runs in found.items())
    assert not found, f"{len(found)} of {pages} pages show untranslated Chinese:\n{report}"


def test_the_walk_sees_an_untranslated_label() -> None:
    page = "<h1>Cases</h1><p>尚未翻译的标签</p><p>成都市</p><script>var x = '脚本';</script>"
    assert untranslated(visible_text(page), data="成都市") == ["尚未翻译的标签"]
