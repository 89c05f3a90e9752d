"""Hand-made .xlsx files of any shape (the parts written as given), for the safety tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
RNS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def sheet_xml(rows: str, dimension: str | None = "A1", extra: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f"{DECL}<worksheet {NS}>{dim}<sheetData>{rows}</sheetData>{extra}</worksheet>"


def cells(*refs: str) -> str:
    """One <row> per reference, each holding that cell with a number."""
    out = []
    for ref in refs:
        row = "".join(ch for ch in ref if ch.isdigit())
        out.append(f'<row r="{row}"><c r="{ref}"><v>1</v></c></row>')
    return "".join(out)


def workbook(
    path: Path,
    sheets: dict[str, str | bytes],
    parts: dict[str, str | bytes] | None = None,
    targets: dict[str, str] | None = None,
) -> Path:
    """sheets: name → worksheet XML; written to xl/worksheets/sheetN.xml unless `targets` names another part."""
    targets = targets or {}
    entries = []
    rels = []
    files: dict[str, str | bytes] = {}
    for i, (name, xml) in enumerate(sheets.items(), 1):
        target = targets.get(name, f"worksheets/sheet{i}.xml")
        entries.append(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>')
        rels.append(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/worksheet" Target="{target}"/>'
        )
        files[target[1:] if target.startswith("/") else "xl/" + target] = xml
    files["[Content_Types].xml"] = (
        f'{DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>'
    )
    files["_rels/.rels"] = (
        f'{DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        'officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )
    files["xl/workbook.xml"] = f"{DECL}<workbook {NS} {RNS}><sheets>{''.join(entries)}</sheets></workbook>"
    files["xl/_rels/workbook.xml.rels"] = (
        f'{DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f"{''.join(rels)}</Relationships>"
    )
    files.update(parts or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path
