"""A table of text from an uploaded file: CSV (UTF-8, else GB 18030), Excel (calamine) or JSON (a list of
objects, or an object holding one under a key). Plain code over bytes; each feature words its own refusals
from the `TableError.kind` (`encoding`, `unreadable`, `not_csv`, `not_objects`)."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

EXCEL = (".xlsx", ".xls", ".xlsm", ".ods")


class TableError(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind, detail)
        self.kind, self.detail = kind, detail


def read_table(name: str, content: bytes, json_key: str) -> tuple[pd.DataFrame, int]:
    """Every cell as text, and the file's line number of the first data row (2 under a header row, 1 for
    JSON's first object)."""
    lower = name.lower()
    try:
        if lower.endswith(EXCEL):
            return pd.read_excel(io.BytesIO(content), dtype=str, engine="calamine", keep_default_na=False), 2
        if lower.endswith(".json"):
            doc = json.loads(content.decode("utf-8"))
            return json_table(doc.get(json_key) if isinstance(doc, dict) else doc), 1
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")
        except UnicodeDecodeError as e:
            raise TableError("encoding") from e
    except TableError:
        raise
    except Exception as e:  # a broken workbook or JSON: said so, never a 500
        raise TableError("unreadable", type(e).__name__) from e
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True), 2
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise TableError("not_csv", str(e).splitlines()[0] if str(e) else "") from e


def json_table(items: Any) -> pd.DataFrame:
    """A list of objects as a table of text (true/false as JSON writes them, null as empty)."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise TableError("not_objects")
    raw = pd.DataFrame(items).astype(object)
    return raw.where(raw.notna(), "").map(lambda v: "true" if v is True else "false" if v is False else str(v))
