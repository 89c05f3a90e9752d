"""The English catalog: complete, well-formed, compiled, and actually served.

The msgids are the Chinese UI strings. Every string extraction finds (the same extraction `pybabel extract`
runs, configured by babel.cfg) must have an English translation; see docs/i18n.md for the workflow.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import post_form

ROOT = Path(__file__).resolve().parent.parent
BABEL_CFG = ROOT / "babel.cfg"
TRANSLATIONS = ROOT / "app" / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

# The keywords babel.cfg declares for Python files, repeated for Babel versions that ignore them there.
EXTRA_KEYWORDS = ["_l", "N_", "lazy_gettext", "lazy_ngettext:1,2", "lazy_pgettext:1c,2", "lazy_npgettext:1c,2,3"]
UPDATE_HINT = (
    "run `.venv/bin/pybabel extract -F babel.cfg -k _l -k N_ -k lazy_gettext -o app/translations/messages.pot . && "
    ".venv/bin/pybabel update -d app/translations -i app/translations/messages.pot`, then translate the new "
    "entries in app/translations/en/LC_MESSAGES/messages.po (docs/i18n.md)"
)
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")


def load_catalog() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="en")


def compile_catalog() -> bool:
    """Write the .mo next to the .po when it is missing or older; True when it was (re)written."""
    if MO.exists() and MO.stat().st_mtime >= PO.stat().st_mtime:
        return False
    catalog = load_catalog()
    fd, tmp = tempfile.mkstemp(dir=MO.parent, prefix=".messages-", suffix=".mo")
    try:
        with os.fdopen(fd, "wb") as f:
            write_mo(f, catalog, use_fuzzy=False)
        os.replace(tmp, MO)  # atomic: a parallel run never reads half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


@pytest.fixture(scope="session", autouse=True)
def compiled_catalog() -> bool:
    return compile_catalog()


@pytest.fixture
def translated_app(app: Flask, compiled_catalog: bool) -> Iterator[Flask]:
    """The app, with Flask-Babel's translation cache dropped if the catalog was compiled during this run
    (an earlier test may have cached the English locale before the .mo existed)."""
    if compiled_catalog:
        from flask_babel import get_domain

        with app.app_context():
            getattr(get_domain(), "cache", {}).clear()
    yield app


def msgid_key(message_id: str | tuple[str, ...], context: str | None) -> tuple[str, str | None]:
    return (message_id if isinstance(message_id, str) else message_id[0], context)


def forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def translated(message: Message) -> bool:
    return bool(forms(message.string)) and all(s.strip() for s in forms(message.string))


def extracted_messages() -> dict[tuple[str, str | None], str]:
    """Every message `pybabel extract -F babel.cfg .` finds, keyed like the catalog, with its location."""
    try:
        from babel.messages.frontend import parse_mapping_cfg as parse_mapping
    except ImportError:  # Babel < 2.14
        from babel.messages.frontend import parse_mapping  # type: ignore[attr-defined,no-redef]

    with BABEL_CFG.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping(f, str(BABEL_CFG))
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(EXTRA_KEYWORDS)}
    found: dict[tuple[str, str | None], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.setdefault(msgid_key(message, context), f"{filename}:{lineno}")
    return found


def error_strings() -> set[str]:
    from app.core import web

    return set(web.ERROR_TITLES.values()) | set(web.ERROR_MESSAGES.values())


# --- the catalog ----------------------------------------------------------------------------------------


def test_every_entry_is_translated_and_not_fuzzy() -> None:
    catalog = load_catalog()
    entries = [m for m in catalog if m.id]
    assert len(entries) > 100
    untranslated = [m.id for m in entries if not translated(m)]
    fuzzy = [m.id for m in entries if m.fuzzy]
    assert not untranslated, f"untranslated entries in {PO.name}: {untranslated}"
    assert not fuzzy, f"fuzzy entries in {PO.name} (check the translation, then drop the flag): {fuzzy}"


def formats(text: str, names: Counter[str]) -> bool:
    """Whether `text % {...}` works, as gettext with variables (and every Jinja `_()`) does at runtime."""
    try:
        text % dict.fromkeys(names, 1)
    except (KeyError, TypeError, ValueError):
        return False
    return True


def test_placeholders_match() -> None:
    problems = []
    for m in load_catalog():
        if not m.id:
            continue
        plural = len(forms(m.id)) > 1
        wanted = Counter(PLACEHOLDER_RE.findall(forms(m.id)[-1]))
        for s in forms(m.string):
            got = Counter(PLACEHOLDER_RE.findall(s))
            # a plural entry's singular form may leave out the number ("one user")
            if got != wanted and not (plural and set(got) <= set(wanted)):
                problems.append((m.id, s))
                continue
            if formats(forms(m.id)[-1], wanted) and not formats(s, wanted):
                problems.append((m.id, f"{s} (a stray % breaks formatting)"))
    assert not problems, f"placeholders differ between msgid and msgstr: {problems}"


def test_catalog_covers_every_extractable_string() -> None:
    catalog = load_catalog()
    have = {msgid_key(m.id, m.context) for m in catalog if m.id and translated(m) and not m.fuzzy}
    found = extracted_messages()
    assert len(found) > 100, "extraction found almost nothing: is babel.cfg right?"
    missing = sorted(f"{key[0]!r} ({where})" for key, where in found.items() if key not in have)
    assert not missing, f"{len(missing)} string(s) without an English translation: {missing}; {UPDATE_HINT}"


def test_runtime_error_strings_are_translated() -> None:
    """ERROR_TITLES / ERROR_MESSAGES reach gettext through a variable, so extraction cannot see them in
    app/core/web.py; app/translations/runtime_messages.py lists them for pybabel."""
    catalog = load_catalog()
    missing = []
    for text in sorted(error_strings()):
        m = catalog.get(text)
        if m is None or not translated(m) or m.fuzzy:
            missing.append(text)
    assert not missing, (
        f"error strings of app.core.web without an English translation: {missing}; add them to "
        f"app/translations/runtime_messages.py, then {UPDATE_HINT}"
    )
    # ... and extraction must find them, or `pybabel update` would turn their entries obsolete
    unlisted = sorted(error_strings() - {key[0] for key in extracted_messages()})
    assert not unlisted, f"add these to app/translations/runtime_messages.py: {unlisted}"


def test_compiled_catalog_is_current() -> None:
    assert MO.exists()
    assert MO.stat().st_mtime >= PO.stat().st_mtime


# --- what users see ---------------------------------------------------------------------------------------


def test_english_user_sees_english(translated_app: Flask, client: FlaskClient, make_user, login_as) -> None:
    user = make_user("i18n_en", display_name="Wang Wei", locale="en")
    login_as(user)
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    for text in ("Sign out", "Dashboard", "Reduction lists", "Cases", "Hello, Wang Wei", "Lianfang"):
        assert text in html, text
    for text in ("退出", "工作台", "减排清单", "问题线索", "您好"):
        assert text not in html, text


def test_default_user_sees_chinese(translated_app: Flask, client: FlaskClient, make_user, login_as) -> None:
    user = make_user("i18n_zh", display_name="王伟")
    login_as(user)
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    for text in ("退出", "工作台", "减排清单", "您好，王伟"):
        assert text in html, text
    for text in ("Sign out", "Dashboard", "Reduction lists"):
        assert text not in html, text


def test_anonymous_visitor_switches_to_english(translated_app: Flask, client: FlaskClient) -> None:
    assert "登录联防平台" in client.get("/login").get_data(as_text=True)
    response = post_form(client, "/language", {"lang": "en"}, token_from="/login")
    assert response.status_code == 302
    html = client.get("/login").get_data(as_text=True)
    for text in ("Sign in to Lianfang", "Username", "Password", "中文"):
        assert text in html, text
    for text in ("登录联防平台", "用户名", "密码"):
        assert text not in html, text

    post_form(client, "/language", {"lang": "zh"}, token_from="/login")
    assert "登录联防平台" in client.get("/login").get_data(as_text=True)


def test_error_page_is_translated(translated_app: Flask, client: FlaskClient) -> None:
    post_form(client, "/language", {"lang": "en"}, token_from="/login")
    response = client.get("/no-such-page-i18n")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "Page not found" in html
    assert "页面不存在" not in html
