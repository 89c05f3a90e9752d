"""Uploaded names and images (issues 10.7 and 10.4): a name is stored, shown and sent without bidirectional
controls and with the extension of the type its bytes are; an image whose header declares more than the pixel
limit is refused before anything decodes it, whatever its format or shape; a form prints copies of at most
1600 px, never the originals, for photos stored before print copies existed too."""

from __future__ import annotations

import io
import re
import secrets
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from PIL import Image
from sqlalchemy import select

from app.cases.models import Case, CaseTransfer, Evidence
from app.cases.vocabulary import EvidenceKind
from app.core.images import MAX_PIXELS, PRINT_MAX_SIDE
from app.core.names import BIDI_CONTROLS, clean_name
from tests.cases.conftest import png_bytes
from tests.conftest import audit_actions, csrf_token

PDFIMAGES = shutil.which("pdfimages")


def post(client: Any, url: str, data: dict[str, Any], **kw: Any) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client, "/")}, **kw)


def new_case(client: Any, photos: list[tuple[bytes, str]] | None = None) -> Any:
    data: dict[str, Any] = {
        "source_type": "industrial", "topic": "超标排放", "source_name": "隆昌某厂", "place": "511083",
        "problem": "烟气超标", "origin": "field_inspection",
    }  # fmt: skip
    if photos:
        data["photos"] = [(io.BytesIO(b), n) for b, n in photos]
    return post(client, "/cases/new", data, content_type="multipart/form-data")


def case_id_of(response: Any) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def upload(client: Any, case_id: int, data: bytes, name: str) -> Any:
    return post(
        client, f"/cases/{case_id}/evidence", {"kind": "discovery", "files": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )  # fmt: skip


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 160, 90)).save(out, "JPEG", quality=70)
    return out.getvalue()


def fetch(client: Any, url: str) -> Any:
    response = client.get(url)
    response.get_data()
    response.close()  # a sent file is streamed: close it here, as the server would
    return response


def sent_name(response: Any) -> str:
    header = response.headers["Content-Disposition"]
    star = re.search(r"filename\*=UTF-8''([^;]+)", header)
    return unquote(star.group(1)) if star else re.search(r'filename="?([^";]+)', header).group(1)


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


def evidence_rows(session: Any, case_id: int) -> list[Evidence]:
    session.expire_all()
    return list(session.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id)))


# --- names ---------------------------------------------------------------------------------------------------


def test_a_download_carries_the_extension_of_what_the_bytes_are(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    case_id = case_id_of(new_case(inspector, [(jpeg(8, 8), "jpeg_as.html")]))
    (row,) = evidence_rows(session, case_id)
    assert row.filename == "jpeg_as.jpg" and row.content_type == "image/jpeg"
    assert "jpeg_as.jpg" in inspector.get(f"/cases/{case_id}").get_data(as_text=True)
    download = fetch(inspector, f"/cases/evidence/{row.id}?download=1")
    assert download.status_code == 200 and download.mimetype == "image/jpeg"
    assert sent_name(download) == "jpeg_as.jpg" and ".html" not in download.headers["Content-Disposition"]
    # A PNG named .jpeg, a JPEG named .JPEG (kept), a name without an extension.
    assert upload(inspector, case_id, png_bytes(), "scan.jpeg").status_code == 302
    assert upload(inspector, case_id, jpeg(4, 4), "IMG_0001.JPEG").status_code == 302
    assert upload(inspector, case_id, png_bytes(), "现场照片").status_code == 302
    assert [e.filename for e in evidence_rows(session, case_id)[1:]] == ["scan.png", "IMG_0001.JPEG", "现场照片.png"]


@pytest.mark.parametrize("control", list(BIDI_CONTROLS))
def test_bidirectional_controls_are_gone_from_every_name_shown_or_sent(app, world, login_as, session, control) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    name = f"现场{control}gnp.exe.png"
    case_id = case_id_of(new_case(inspector, [(png_bytes(), name)]))
    (row,) = evidence_rows(session, case_id)
    assert row.filename == "现场gnp.exe.png"
    page = inspector.get(f"/cases/{case_id}").get_data(as_text=True)
    assert control not in page and "现场gnp.exe.png" in page
    download = fetch(inspector, f"/cases/evidence/{row.id}?download=1")
    assert control not in sent_name(download) and sent_name(download) == "现场gnp.exe.png"
    assert control not in str(audit_actions("case.create")[-1].after or "")


def test_a_name_stored_before_the_cleaning_is_cleaned_when_sent(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    case_id = case_id_of(new_case(inspector, [(png_bytes(), "a.png")]))
    (row,) = evidence_rows(session, case_id)
    row.filename = "invoice\u202egpj.html"  # as main stored it
    session.commit()
    download = fetch(inspector, f"/cases/evidence/{row.id}?download=1")
    assert sent_name(download) == "invoicegpj.png"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("C:\\Users\\张三\\清单.xlsx", "清单.xlsx"), ("../../etc/passwd", "passwd"),
        ("\u2067abc\u2069.xlsx", "abc.xlsx"),
        ("a\x00b\x1f\x85.xlsx", "ab.xlsx"), ('  "x<y>|z?".xlsx ', "xyz.xlsx"), ("\u202e\u200f", "file"),
        ("长" * 300 + ".xlsx", "长" * 195 + ".xlsx"),
    ],
)  # fmt: skip
def test_one_cleaning_for_every_name(given: str, kept: str) -> None:
    assert clean_name(given) == kept


def test_an_excel_upload_keeps_a_cleaned_name(app, world) -> None:  # type: ignore[no-untyped-def]
    from app.reduction.excel import exporter, safety, uploads

    with app.app_context():
        out = io.BytesIO()
        exporter.write_template(out)
        out.seek(0)
        upload = uploads.store(
            out, "荣昌\u202exslx.清单.xlsx", app.config["UPLOAD_DIR"], world.rc_staff.id, 2026,
            safety.Limits.from_config(app.config),
        )  # fmt: skip
    assert upload.filename == "荣昌xslx.清单.xlsx"


# --- image size ----------------------------------------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    """A PNG declaring width×height whose pixel data is a few bytes: it costs nothing to send and, decoded,
    would cost width×height×3 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sos = b"\xff\xda" + struct.pack(">H", 12) + b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0" + sof + sos + b"\0" * 64


def webp_header(width: int, height: int) -> bytes:
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0" * 4 + (width - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def heic_header(width: int, height: int) -> bytes:
    ispe = struct.pack(">I", 20) + b"ispe" + b"\0" * 4 + struct.pack(">II", width, height)
    return struct.pack(">I", 24) + b"ftypheic" + b"\0" * 4 + b"mif1heic" + ispe


SIDE = int(MAX_PIXELS**0.5) + 1  # a square just past the limit
TOO_MANY = [
    ("png-square", png_header(12000, 12000), "big.png"), ("png-just-past", png_header(SIDE, SIDE), "p.png"),
    ("png-strip", png_header(1, MAX_PIXELS + 1), "strip.png"), ("png-tall", png_header(200, 300_000), "t.png"),
    ("png-max", png_header(2**31 - 1, 2**31 - 1), "max.png"), ("jpeg", jpeg_header(10000, 10000), "j.jpg"),
    ("jpeg-max", jpeg_header(65535, 65535), "jm.jpg"), ("webp", webp_header(16000, 16000), "w.webp"),
    ("heic", heic_header(10000, 10000), "h.heic"), ("heic-strip", heic_header(MAX_PIXELS + 1, 1), "hs.heic"),
]  # fmt: skip


@pytest.mark.parametrize(("shape", "data", "name"), TOO_MANY, ids=[t[0] for t in TOO_MANY])
def test_an_image_past_the_pixel_limit_is_refused_from_its_header(
    app, world, login_as, session, shape, data, name
) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    evidence_dir = Path(app.config["UPLOAD_DIR"]) / "evidence"
    before = set(evidence_dir.rglob("*")) if evidence_dir.exists() else set()
    response = new_case(inspector, [(png_bytes(), "ok.png"), (data, name)])
    assert response.status_code == 400, shape
    text = response.get_data(as_text=True)
    assert f"超过 {MAX_PIXELS // 1_000_000} 百万像素的上限" in text and clean_name(name) in text
    assert session.scalars(select(Case).where(Case.source_name == "隆昌某厂")).first() is None  # nothing kept
    assert (set(evidence_dir.rglob("*")) if evidence_dir.exists() else set()) == before  # not even ok.png


def test_a_large_photo_within_the_limit_is_accepted_and_a_broken_header_is_refused(app, world, login_as) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    assert new_case(inspector, [(jpeg(4000, 3000), "12mp.jpg")]).status_code == 302
    broken = new_case(inspector, [(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "broken.png")])
    assert broken.status_code == 400 and "已损坏或无法识别" in broken.get_data(as_text=True)


# --- print copies --------------------------------------------------------------------------------------------


def printed_sizes(pdf: bytes) -> list[tuple[int, int]]:
    out = subprocess.run(
        [
            PDFIMAGES,
            "-list",
            "-",
        ],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [(int(line.split()[3]), int(line.split()[4])) for line in out.splitlines()[2:] if line.split()]


def transfer_pdf(client: Any, case_id: int, to: int) -> bytes:
    moved = post(client, "/cases/transfers", {"case_id": case_id, "to_bureau": to, "confirm": "1"})
    assert moved.status_code == 302, moved.get_data(as_text=True)[:500]
    pdf = client.get(moved.headers["Location"] + ".pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    return pdf.data


@pytest.mark.skipif(PDFIMAGES is None, reason="pdfimages (poppler-utils) not installed")
def test_the_transfer_form_prints_copies_of_at_most_1600_px(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    case_id = case_id_of(new_case(inspector, [(jpeg(3200, 2400), "大图.jpg"), (png_bytes(40, 30), "小图.png")]))
    rows = evidence_rows(session, case_id)
    sizes = printed_sizes(transfer_pdf(inspector, case_id, world.neijiang.id))
    assert sorted(sizes) == [(40, 30), (PRINT_MAX_SIDE, 1200)]
    originals = [Path(app.config["UPLOAD_DIR"]) / "evidence" / r.stored_name for r in rows]
    assert [image_size(p) for p in originals] == [(3200, 2400), (40, 30)]  # the originals are kept as sent


@pytest.mark.skipif(PDFIMAGES is None, reason="pdfimages (poppler-utils) not installed")
def test_photos_stored_before_print_copies_are_printed_as_copies_or_not_at_all(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    inspector = login_as(world.inspector, app.test_client())
    case_id = case_id_of(new_case(inspector))
    case = session.get(Case, case_id)
    evidence_dir = Path(app.config["UPLOAD_DIR"]) / "evidence"
    for data, name in ((jpeg(2000, 1500), "legacy.jpg"), (png_header(12000, 12000), "bomb.png")):
        stored = secrets.token_hex(16) + Path(name).suffix
        (evidence_dir / stored).write_bytes(data)  # as main stored them: no pixel check, no print copy
        session.add(Evidence(
            case_id=case.id, jurisdiction_id=case.jurisdiction_id, kind=EvidenceKind.discovery, filename=name,
            stored_name=stored, content_type="image/jpeg" if name.endswith("jpg") else "image/png",
            size=len(data), sha256="0" * 64, uploaded_by_id=world.inspector.id,
        ))  # fmt: skip
    session.commit()
    assert printed_sizes(transfer_pdf(inspector, case_id, world.neijiang.id)) == [(PRINT_MAX_SIDE, 1200)]


@pytest.mark.skipif(PDFIMAGES is None, reason="pdfimages (poppler-utils) not installed")
def test_the_renderer_refuses_an_original_larger_than_a_print_copy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.printing import render_pdf, sample_context

    big, small = tmp_path / "original.jpg", tmp_path / "copy.jpg"
    big.write_bytes(jpeg(PRINT_MAX_SIDE + 1, 100))
    small.write_bytes(jpeg(PRINT_MAX_SIDE, 100))
    context = sample_context("transfer_form")
    context["cases"][0]["evidence"] = [{"name": "a", "thumbnail": str(big)}, {"name": "b", "thumbnail": str(small)}]
    pdf = render_pdf("transfer_form", context, allowed_files=[big, small])
    assert printed_sizes(pdf) == [(PRINT_MAX_SIDE, 100)]


def test_a_signed_scan_keeps_its_name(app, world, login_as, session) -> None:  # type: ignore[no-untyped-def]
    """Scans of the signed form (PDF) are not printed and need no print copy."""
    inspector = login_as(world.inspector, app.test_client())
    case_id = case_id_of(new_case(inspector, [(png_bytes(), "p.png")]))
    moved = post(inspector, "/cases/transfers", {"case_id": case_id, "to_bureau": world.neijiang.id, "confirm": "1"})
    transfer_id = int(moved.headers["Location"].rsplit("/", 1)[1])
    scan = post(
        inspector, f"/cases/transfers/{transfer_id}/scan", {"files": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "签章.pdf")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert scan.status_code == 302
    row = session.scalars(select(Evidence).where(Evidence.transfer_id == transfer_id)).one()
    assert row.filename == "签章.pdf" and session.get(CaseTransfer, transfer_id) is not None
