"""Printable official forms: forms/<form>/template.html + style.css rendered to PDF by one function.

`render_pdf` is the only way the product makes a PDF. The template runs in a Jinja sandbox with
autoescape on; WeasyPrint may read nothing but the vendored fonts, the form's own folder and the
evidence files the caller names; and the whole render runs in a forked child that is killed when it
overruns its time. See docs/printing.md.
"""

from __future__ import annotations

import gc
import logging
import math
import mimetypes
import multiprocessing
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2
import yaml
from jinja2.sandbox import SandboxedEnvironment

from app.core.localtime import LOCAL_TZ

ROOT = Path(__file__).resolve().parent.parent
FORMS_DIR = ROOT / "forms"
FONTS_DIR = ROOT / "static" / "fonts"
FONT_FILE = FONTS_DIR / "NotoSerifSC-Regular.ttf"
# The family every form's style.css names; declared here once so that no form can point elsewhere.
FONT_FAMILY = "Lianfang Serif"
# Larger than the font (15 MB) and any sane evidence photo; stops a huge file eating the child's memory.
MAX_FETCH_BYTES = 32 * 1024 * 1024
_FORM_NAME = re.compile(r"[a-z][a-z0-9_]*")

LOGGER = logging.getLogger(__name__)


class PrintError(RuntimeError):
    """The form could not be rendered: unknown form, template error, or a crashed renderer."""


class PrintTimeout(PrintError):
    """The render ran longer than its timeout and its process was killed."""


def available_forms() -> list[str]:
    """Names of the printable forms: folders of forms/ that hold a template.html."""
    if not FORMS_DIR.is_dir():
        return []
    return sorted(
        p.name for p in FORMS_DIR.iterdir() if _FORM_NAME.fullmatch(p.name) and (p / "template.html").is_file()
    )


def form_dir(form: str) -> Path:
    if not _FORM_NAME.fullmatch(form) or form not in available_forms():
        raise PrintError(f"unknown form {form!r}")
    return FORMS_DIR / form


def sample_context(form: str) -> dict[str, Any]:
    """The sample data of a form (forms/<form>/sample.yaml), which the tests render."""
    path = form_dir(form) / "sample.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise PrintError(f"{path} must hold a mapping")
    return data


# --- template ---------------------------------------------------------------------------------------


def _file_url(value: Any) -> str:
    """An evidence path as a file: URL for <img src>; the fetcher still decides whether it is served."""
    path = Path(str(value))
    if not path.is_absolute():
        raise PrintError(f"evidence path must be absolute: {value!r}")
    return path.as_uri()


def _local(value: datetime) -> datetime:
    # The database keeps UTC; a printed form shows the time of the bureau that signs it.
    return value.astimezone(LOCAL_TZ) if value.tzinfo is not None else value


def _cn_date(value: Any) -> str:
    """2026年1月8日 from a date or datetime; strings pass through as written."""
    if isinstance(value, datetime):
        value = _local(value).date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    return "" if value is None else str(value)


def _cn_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        value = _local(value)
        return f"{_cn_date(value)} {value:%H:%M}"
    return _cn_date(value)


def _cn_time(value: Any) -> str:
    """10:20 from a datetime; empty for anything else (a date, or a string already printed whole)."""
    return f"{_local(value):%H:%M}" if isinstance(value, datetime) else ""


@lru_cache(maxsize=32)
def _environment(directory: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        # A missing field is an error, not a blank on an official document.
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(file_url=_file_url, cn_date=_cn_date, cn_datetime=_cn_datetime, cn_time=_cn_time)
    return env


def _template(form: str) -> jinja2.Template:
    try:
        return _environment(form_dir(form)).get_template("template.html")
    except jinja2.TemplateError as exc:
        raise PrintError(f"{form}: {type(exc).__name__}: {exc}") from exc


def render_html(form: str, context: Mapping[str, Any]) -> str:
    """The form's HTML, in this process and without a time limit: for tests and previews only."""
    try:
        return _template(form).render(**context)
    except jinja2.TemplateError as exc:
        raise PrintError(f"{form}: {type(exc).__name__}: {exc}") from exc


# --- fetcher ----------------------------------------------------------------------------------------


class FetchRefused(ValueError):
    pass


def _locked_fetcher_class() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LockedFetcher(URLFetcher):  # type: ignore[misc]
        """Serves local files below `roots` or listed in `files`, after resolving symlinks; nothing else.

        No network, no data: URLs, no redirects: WeasyPrint's own opener is never called.
        """

        def __init__(self, roots: Iterable[Path], files: Iterable[Path]) -> None:
            super().__init__(allowed_protocols=("file",), allow_redirects=False)
            self.roots = tuple(r.resolve() for r in roots)
            self.files = frozenset(_resolved(files))
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            try:
                path = self._check(url)
                data = _read_regular_file(path)
                _check_image(data)
            except FetchRefused as exc:
                self.refused.append(f"{url[:200]}: {exc}")
                raise
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(path.as_uri(), data, {"Content-Type": mime})

        def _check(self, url: str) -> Path:
            parts = urlsplit(url)
            if parts.scheme.lower() != "file":
                raise FetchRefused(f"scheme {parts.scheme or '(none)'!r} is not allowed")
            if parts.netloc not in ("", "localhost"):
                raise FetchRefused("remote file host is not allowed")
            path = Path(url2pathname(parts.path))
            if not path.is_absolute():
                raise FetchRefused("relative path")
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError) as exc:
                raise FetchRefused("no such file") from exc
            if real in self.files or any(real.is_relative_to(root) for root in self.roots):
                return real
            raise FetchRefused("outside the fonts, the form and the allowed files")

    return LockedFetcher


def _resolved(paths: Iterable[Path]) -> Iterable[Path]:
    for p in paths:
        try:
            yield Path(p).resolve(strict=True)
        except (OSError, RuntimeError):
            continue


def _check_image(data: bytes) -> None:
    """A raster image is printed only as a print copy (app.core.images.make_print_copy): one larger than
    PRINT_MAX_SIDE on a side is an original, whose decoding could take a gigabyte, and is refused."""
    from app.core.images import PRINT_MAX_SIDE, bytes_size

    size = bytes_size(data)
    if size is not None and max(size) > PRINT_MAX_SIDE:
        raise FetchRefused(f"image of {size[0]}x{size[1]} px: forms print copies of at most {PRINT_MAX_SIDE} px")


def _read_regular_file(path: Path) -> bytes:
    # O_NOFOLLOW: the checked path cannot be swapped for a symlink; O_NONBLOCK: a FIFO cannot hang us.
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise FetchRefused(f"cannot open: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise FetchRefused("not a regular file")
        if info.st_size > MAX_FETCH_BYTES:
            raise FetchRefused("file too large")
        data = f.read(MAX_FETCH_BYTES + 1)
    if len(data) > MAX_FETCH_BYTES:
        raise FetchRefused("file too large")
    return data


# --- renderer ---------------------------------------------------------------------------------------


def font_css() -> str:
    return (
        f'@font-face {{ font-family: "{FONT_FAMILY}"; font-style: normal; font-weight: 400;'
        f' src: url("{FONT_FILE.as_uri()}"); }}\n'
    )


@dataclass
class _Warm:
    """What the parent prepares once and every forked child inherits for free."""

    font_config: Any
    font_css: Any
    fetcher_class: type
    form_css: dict[str, Any] = field(default_factory=dict)  # form name → its parsed style.css

    def fresh(self) -> bool:
        # WeasyPrint keeps the @font-face copy in a temporary folder; a tmp cleaner may remove it from
        # a long-running server, and then the warm configuration must be rebuilt.
        folder = getattr(self.font_config, "_folder", None)
        return folder is not None and Path(folder).is_dir() and any(Path(folder).iterdir())


_warm_lock = threading.Lock()
_warm: _Warm | None = None


def _warm_state() -> _Warm:
    """Import WeasyPrint and load the font once in this process (call with _warm_lock held).

    Forked children inherit the parsed font, so a render does not re-read and re-register 15 MB.
    """
    global _warm
    if _warm is None or not _warm.fresh():
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        fetcher_class = _locked_fetcher_class()
        config = FontConfiguration()
        css = CSS(string=font_css(), font_config=config, url_fetcher=fetcher_class((FONTS_DIR,), ()))
        _warm = _Warm(config, css, fetcher_class)
        _lay_out_once(_warm)
    return _warm


def _lay_out_once(warm: _Warm) -> None:
    """Lay out and write a line of the font, bold and plain, in this process: Pango's font map, HarfBuzz's
    face and the subsetter are made on first use, and a child forked afterwards inherits them instead of
    making them again for every form."""
    from weasyprint import HTML

    html = f'<p style="font-family: {FONT_FAMILY}">问题线索移交单 0123 <b>移交单位（签章）</b></p>'
    fetcher = warm.fetcher_class((FONTS_DIR,), ())
    HTML(string=html, url_fetcher=fetcher).write_pdf(font_config=warm.font_config, stylesheets=[warm.font_css])


def _form_css(warm: _Warm, form: str, directory: Path) -> Any:
    """The form's style.css, parsed once in the parent (call with _warm_lock held). It may refer only to
    the fonts and the form's own folder."""
    found = warm.form_css.get(form)
    if found is None:
        from weasyprint import CSS

        found = CSS(
            string=(directory / "style.css").read_text(encoding="utf-8"),
            base_url=directory.as_uri() + "/",
            url_fetcher=warm.fetcher_class((FONTS_DIR, directory), ()),
            font_config=warm.font_config,
        )
        warm.form_css[form] = found
    return found


@dataclass
class _Job:
    form: str
    directory: Path
    template: jinja2.Template
    context: Mapping[str, Any]
    allowed_files: tuple[Path, ...]
    timeout: float


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname}: {record.getMessage()}"[:500])


def _render_here(job: _Job, warm: _Warm) -> tuple[bytes, list[str], list[str]]:
    """Render in the current process: (pdf, refused urls, WeasyPrint's log)."""
    from weasyprint import HTML

    collector = _LogCollector()
    wlog = logging.getLogger("weasyprint")
    wlog.handlers, wlog.propagate = [collector], False
    wlog.setLevel(logging.DEBUG if LOGGER.isEnabledFor(logging.DEBUG) else logging.WARNING)

    html_text = job.template.render(**job.context)
    fetcher = warm.fetcher_class((FONTS_DIR, job.directory), job.allowed_files)
    base_url = job.directory.as_uri() + "/"
    form_css = warm.form_css[job.form]
    document = HTML(string=html_text, base_url=base_url, url_fetcher=fetcher).render(
        font_config=warm.font_config, stylesheets=[warm.font_css, form_css]
    )
    # A form never carries files: drop <link rel=attachment> and <a rel=attachment> even when they
    # point at something the fetcher may serve (the font, an evidence photo).
    document.metadata.attachments = []
    for page in document.pages:
        page.links = [link for link in page.links if link[0] != "attachment"]
    return document.write_pdf(), fetcher.refused, collector.messages


def _child(conn: Connection, job: _Job, warm: _Warm) -> None:
    # If the parent dies (a worker killed by its own timeout), nobody kills us: end ourselves shortly
    # after the deadline. SIG_DFL first, in case the parent had a handler for SIGALRM.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(math.ceil(job.timeout) + 2)
    # A short-lived copy of the parent: a collection would walk (and so copy, page by page) the whole of the
    # parent's heap for the few objects one form leaves behind.
    gc.disable()
    try:
        pdf, refused, logs = _render_here(job, warm)
        conn.send(("ok", pdf, refused, logs))
    except jinja2.TemplateError as exc:
        conn.send(("template", f"{type(exc).__name__}: {exc}", [], []))
    except BaseException as exc:  # report anything; the parent raises PrintError
        conn.send(("error", f"{type(exc).__name__}: {exc}", [], []))
    finally:
        conn.close()


def render_pdf(
    form: str,
    context: Mapping[str, Any],
    *,
    allowed_files: Iterable[Path] = (),
    timeout: float = 20.0,
) -> bytes:
    """Render forms/<form>/template.html with `context` to PDF bytes.

    `allowed_files` are the only files outside the fonts and the form's folder the render may read
    (evidence images the template links with the `file_url` filter). Raises PrintTimeout when the
    render takes longer than `timeout` seconds, PrintError for anything else that goes wrong.
    """
    # Compiled here, so that children inherit the cached template; only rendering runs in the child.
    job = _Job(form, form_dir(form), _template(form), context, tuple(Path(p) for p in allowed_files), timeout)

    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    # Forking under the lock: no thread is halfway through loading the font when the child is made.
    with _warm_lock:
        warm = _warm_state()
        _form_css(warm, form, job.directory)
        # Not a daemon: daemonic processes may not have children, and render_pdf may run in one (a job
        # worker); the child is always reaped below, and ends itself if we die first.
        proc = ctx.Process(target=_child, args=(sender, job, warm), name=f"print-{form}")
        started = time.monotonic()
        proc.start()
    sender.close()
    done = False
    try:
        if not receiver.poll(max(0.0, timeout - (time.monotonic() - started))):
            raise PrintTimeout(f"{form}: render took longer than {timeout:g} s and was stopped")
        try:
            status, payload, refused, logs = receiver.recv()
        except EOFError as exc:
            proc.join(1.0)
            raise PrintError(f"{form}: renderer died (exit code {proc.exitcode})") from exc
        done = True
    finally:
        receiver.close()
        if done:
            proc.join(2.0)  # the child is only exiting now
        if proc.is_alive():
            proc.kill()
        proc.join()
        proc.close()
    for line in logs:
        LOGGER.debug("weasyprint (%s): %s", form, line)
    for url in refused:
        LOGGER.warning("printing %s: refused to fetch %s", form, url)
    if status != "ok":
        raise PrintError(f"{form}: {payload}")
    return payload
