"""Printable forms: every sample renders, the transfer form reads right, the renderer is locked down."""

from __future__ import annotations

import copy
import multiprocessing
import os
import re
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup

from app import printing
from app.printing import PrintError, PrintTimeout, available_forms, render_pdf, sample_context

HEADERS = ("序号", "检查时间", "污染源名称", "污染源地址", "问题", "佐证资料")
SIGN_OFF = ("移交单位（签章）", "接收单位（签章）", "移送时间")
PDFTOTEXT = shutil.which("pdftotext")


# --- helpers -------------------------------------------------------------------------------------------


def expanded(pdf: bytes) -> bytes:
    """The PDF with its Flate streams inflated: WeasyPrint packs objects into compressed object streams,
    so /Type /Page, /FontFile2 or /EmbeddedFile may not be visible in the raw bytes."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n", pdf):
        start = match.end()
        end = pdf.find(b"endstream", start)
        try:
            parts.append(zlib.decompressobj().decompress(pdf[start:end]))
        except zlib.error:
            continue
    return b"\n".join(parts)


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", expanded(pdf)))


def pdf_text(pdf: bytes, tmp_path: Path, page: int | None = None) -> str | None:
    """Extractable text (pdftotext from poppler-utils), or None when the tool is missing."""
    if PDFTOTEXT is None:
        print("pdftotext not installed (apt-get install poppler-utils): text assertions skipped")
        return None
    path = tmp_path / f"extract-{time.monotonic_ns()}.pdf"
    path.write_bytes(pdf)
    pages = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run([PDFTOTEXT, *pages, str(path), "-"], capture_output=True, check=True, timeout=30)
    return out.stdout.decode()


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def tiny_png(path: Path, width: int = 24, height: int = 16, rgb: tuple[int, int, int] = (40, 120, 60)) -> Path:
    """A valid PNG without Pillow: signature, IHDR, one zlib IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(png)
    return path


def many_cases(n: int) -> dict[str, Any]:
    ctx = sample_context("transfer_form")
    base = ctx["cases"]
    ctx["cases"] = [dict(base[i % len(base)], case_no=f"XS-2026-500153-{i + 1:04d}") for i in range(n)]
    return ctx


def child_pids() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").glob("*"):
        try:
            pids.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return pids


@pytest.fixture
def tmp_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A forms/ folder of our own, holding a copy of the transfer form; forked children inherit it."""
    forms = tmp_path / "forms"
    shutil.copytree(printing.FORMS_DIR / "transfer_form", forms / "transfer_form")
    monkeypatch.setattr(printing, "FORMS_DIR", forms)
    return forms


# --- every form -----------------------------------------------------------------------------------------


def test_forms_are_folders_with_template_style_and_sample() -> None:
    forms = available_forms()
    assert "transfer_form" in forms
    for form in forms:
        folder = printing.FORMS_DIR / form
        for name in ("template.html", "style.css", "sample.yaml"):
            assert (folder / name).is_file(), f"{form} lacks {name}"
        assert isinstance(sample_context(form), dict)


@pytest.mark.parametrize("form", available_forms())
def test_every_form_renders_its_sample(form: str) -> None:
    pdf = render_pdf(form, sample_context(form))
    assert pdf.startswith(b"%PDF-")
    assert page_count(pdf) >= 1
    assert b"/FontFile" in expanded(pdf)


def test_vendored_font_is_there_with_its_licence() -> None:
    fonts = printing.FONTS_DIR
    assert printing.FONT_FILE.is_file()
    assert (fonts / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") >= 1
    assert "OFL" in (fonts / "README.md").read_text()
    total = sum(p.stat().st_size for p in fonts.iterdir() if p.is_file())
    assert total < 25 * 1024 * 1024


# --- the transfer form ----------------------------------------------------------------------------------


def test_transfer_form_text(tmp_path: Path) -> None:
    ctx = sample_context("transfer_form")
    pdf = render_pdf("transfer_form", ctx)
    assert page_count(pdf) == 1, "the three-case sample fits one page"
    # The font is embedded, and subsetted: the whole file is 15 MB.
    assert b"/FontFile2" in expanded(pdf)
    assert len(pdf) < 500_000
    text = pdf_text(pdf, tmp_path)
    if text is None:
        return
    body = flat(text)
    for label in HEADERS + SIGN_OFF:
        assert label in body, label
    assert "问题线索移交单" in body
    assert ctx["form_no"] in body
    assert body.count(ctx["form_no"]) >= 2, "printed at the top and in the footer"
    assert ctx["from_bureau"] in body and ctx["to_bureau"] in body
    for case in ctx["cases"]:
        assert flat(case["source_name"]) in body
        assert case["case_no"] in body, "each row leads back to its case"
    assert "2026年1月8日" in body and "10:20" in body
    assert "第1页共1页" in body
    assert "抄送：重庆市生态环境局，四川省生态环境厅" in body
    assert "现场检查笔录.pdf" in body


def test_many_cases_repeat_the_header_on_every_page(tmp_path: Path) -> None:
    ctx = many_cases(60)
    pdf = render_pdf("transfer_form", ctx)
    pages = page_count(pdf)
    assert pages >= 3
    page2 = pdf_text(pdf, tmp_path, page=2)
    if page2 is None:
        return
    body = flat(page2)
    for label in HEADERS:
        assert label in body, f"page 2 repeats {label}"
    assert body.count(ctx["form_no"]) >= 2, "form number at the top and in the footer of page 2"
    assert f"第2页共{pages}页" in body
    last = flat(pdf_text(pdf, tmp_path, page=pages) or "")
    assert "移交单位（签章）" in last and "XS-2026-500153-0060" in last


def test_evidence_thumbnails_are_embedded_only_when_allowed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    photo = tiny_png(tmp_path / "现场照片.png")
    ctx = sample_context("transfer_form")
    ctx["cases"][0]["evidence"] = [{"name": "现场照片.png", "thumbnail": str(photo)}]

    pdf = render_pdf("transfer_form", ctx, allowed_files=[photo])
    assert b"/Subtype /Image" in expanded(pdf)
    assert "refused" not in caplog.text

    pdf = render_pdf("transfer_form", ctx)  # not listed: not read
    assert b"/Subtype /Image" not in expanded(pdf)
    assert "refused to fetch" in caplog.text and photo.as_uri() in caplog.text


def test_user_text_is_escaped(tmp_path: Path) -> None:
    ctx = sample_context("transfer_form")
    ctx["cases"][0]["source_name"] = "<script>alert(1)</script>"
    ctx["cases"][0]["problem"] = "</td><td>多出来的一格"
    html = printing.render_html("transfer_form", ctx)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;/td&gt;&lt;td&gt;多出来的一格" in html
    assert "<script>" not in html
    text = pdf_text(render_pdf("transfer_form", ctx), tmp_path)
    if text is not None:
        assert "<script>alert(1)</script>" in flat(text)
        assert "</td><td>多出来的一格" in flat(text)


# --- locked down ----------------------------------------------------------------------------------------


def test_renderer_reads_nothing_it_was_not_given(
    tmp_path: Path, tmp_forms: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = tmp_path / "secret.png"
    tiny_png(secret)
    outside_link = tmp_forms / "transfer_form" / "evil.png"
    outside_link.symlink_to(secret)  # inside the form's folder, pointing outside it
    allowed = tiny_png(tmp_path / "allowed.png")
    hostile = Markup(  # noqa: S704 (the point: markup that got past autoescape)
        '<img src="file:///etc/passwd">'
        '<img src="http://127.0.0.1:9/x.png">'
        '<img src="https://example.invalid/x.png">'
        '<img src="../../secret.png">'
        '<img src="evil.png">'
        '<img src="data:image/png;base64,iVBORw0KGgo=">'
        '<a rel="attachment" href="file:///etc/passwd">附件</a>'
        f'<a rel="attachment" href="{allowed.as_uri()}">附件</a>'
        f'<link rel="attachment" href="{allowed.as_uri()}">'
        f'<link rel="attachment" href="{printing.FONT_FILE.as_uri()}">'
        '<span style="background: url(file:///etc/hostname)">背景</span>'
    )
    ctx = sample_context("transfer_form")
    ctx["cases"][0]["problem"] = hostile  # as if autoescape had been bypassed

    pdf = render_pdf("transfer_form", ctx, allowed_files=[allowed])
    raw = expanded(pdf)
    assert b"/EmbeddedFile" not in raw and b"/FileAttachment" not in raw
    assert b"/Subtype /Image" not in raw
    assert b"root:" not in raw
    refused = caplog.text
    for url in (
        "file:///etc/passwd",
        "http://127.0.0.1:9/x.png",
        "https://example.invalid/x.png",
        secret.as_uri(),  # ../ resolved against the form's folder
        outside_link.as_uri(),
        "data:image/png",
        "file:///etc/hostname",
    ):
        assert f"refused to fetch {url}" in refused, url


def test_fetcher_rules() -> None:
    """The fetcher on its own: what it serves and what it refuses, and why."""
    fetcher_class = printing._locked_fetcher_class()
    folder = printing.FORMS_DIR / "transfer_form"
    fetcher = fetcher_class((printing.FONTS_DIR, folder), ())
    assert fetcher.fetch(printing.FONT_FILE.as_uri()).read(4) == b"\x00\x01\x00\x00"
    assert fetcher.fetch((folder / "style.css").as_uri()).read().startswith(b"/*")
    for url in (
        "file:///etc/passwd",
        "file://otherhost/etc/passwd",
        f"file://{folder}/../../app/config.py",
        "http://127.0.0.1:9/x.png",
        "ftp://127.0.0.1/x",
        "data:text/plain,hi",
        "file:///dev/zero",
        (folder / "missing.png").as_uri(),
    ):
        with pytest.raises(printing.FetchRefused):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 8


def test_template_problems_raise_print_error(tmp_forms: Path) -> None:
    with pytest.raises(PrintError, match="unknown form"):
        render_pdf("../app", {})
    with pytest.raises(PrintError, match="unknown form"):
        render_pdf("no_such_form", {})
    with pytest.raises(PrintError, match="form_no"):
        ctx = sample_context("transfer_form")
        del ctx["form_no"]
        render_pdf("transfer_form", ctx)

    broken = tmp_forms / "broken"
    broken.mkdir()
    (broken / "style.css").write_text("")
    (broken / "template.html").write_text("<p>{% for %}</p>")
    with pytest.raises(PrintError, match="TemplateSyntaxError"):
        render_pdf("broken", {})

    (broken / "template.html").write_text("<p>{{ ''.__class__.__mro__ }}</p>")
    with pytest.raises(PrintError, match=r"SecurityError|unsafe"):
        render_pdf("broken", {})


def test_slow_render_is_stopped(tmp_path: Path) -> None:
    before = child_pids()
    ctx = many_cases(3000)
    with pytest.raises(PrintTimeout, match=r"longer than 0\.5 s"):
        render_pdf("transfer_form", ctx, timeout=0.5)
    assert multiprocessing.active_children() == []
    assert child_pids() <= before, "the render's process was reaped"


def test_a_crashed_renderer_raises_print_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(printing, "_render_here", lambda job, warm: os._exit(3))
    with pytest.raises(PrintError, match=r"renderer died \(exit code 3\)"):
        render_pdf("transfer_form", sample_context("transfer_form"))
    assert multiprocessing.active_children() == []


def test_render_does_not_touch_the_callers_context() -> None:
    ctx = sample_context("transfer_form")
    kept = copy.deepcopy(ctx)
    render_pdf("transfer_form", ctx)
    assert ctx == kept
