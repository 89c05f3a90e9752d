"""What every request may carry, checked once where every request passes.

- Route converters that know the range of the column they name: `<id:...>` for 32-bit keys, `<bigid:...>` for
  64-bit ones (`app.db.BigId`). A number past the column's range names no row: the route does not match (404)
  instead of overflowing the database driver (a 500). `<int:...>` is the 32-bit one too, and a test forbids it.
- One parser for ids and numbers in query strings and forms (`parse_id`, `id_arg`, `page_arg`, `bounded_int`).
- One filter (`refuse_control_characters`, a before_request hook) that refuses C0 control characters (NUL
  included; tab, line feed and carriage return allowed) in any query, form or JSON text before a view or the
  database sees it, naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, request
from flask_babel import gettext as _
from werkzeug.routing import IntegerConverter

from app.core.errors import ServiceError

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# The last page any list may ask for: page × page size stays far inside a 64-bit OFFSET.
MAX_PAGE = 1_000_000


class IdConverter(IntegerConverter):
    """`<id:...>`: a key of a 32-bit integer column (1 … 2³¹−1)."""

    bits = 32

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", INT32_MAX if self.bits == 32 else INT64_MAX)
        super().__init__(map, *args, **kwargs)


class BigIdConverter(IdConverter):
    """`<bigid:...>`: a key of a 64-bit integer column (`app.db.BigId`, 1 … 2⁶³−1)."""

    bits = 64


def register_converters(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
    app.url_map.converters["int"] = IdConverter  # the safe default; tests/test_inputs.py forbids it in routes


# --- numbers in query strings and forms ------------------------------------------------------------------


def parse_id(raw: object, *, big: bool = False) -> int | None:
    """The id that `raw` writes (ASCII digits, 1 … the column's maximum), or None when it names no row."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw or "").strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 19:  # "²".isdigit(), but int() refuses it
            return None
        value = int(text)
    return value if 1 <= value <= (INT64_MAX if big else INT32_MAX) else None


def id_arg(name: str, *, big: bool = False, args: Mapping[str, Any] | None = None) -> int | None:
    """An id from the query string (`args`, default request.args); None when absent or naming no row."""
    return parse_id((request.args if args is None else args).get(name), big=big)


def bounded_int(raw: object, low: int, high: int, *, label: str, field: str | None = None) -> int:
    """An integer from low to high written in ASCII digits; otherwise a ServiceError naming the field."""
    text = str(raw if raw is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not low <= int(text) <= high:
        raise ServiceError(
            _("“%(what)s”应为 %(low)d 到 %(high)d 之间的整数。", what=label, low=low, high=high), field=field or label
        )
    return int(text)


def page_arg(name: str = "page", *, args: Mapping[str, Any] | None = None) -> int:
    """The page number of a list screen: 1 when absent or unreadable, at most MAX_PAGE (past the last page a
    list is empty, as for any page after the last)."""
    raw = str((request.args if args is None else args).get(name) or "").strip()
    if not (raw.isascii() and raw.isdigit()):
        return 1
    return min(max(int(raw[:8]) if len(raw) <= 8 else MAX_PAGE, 1), MAX_PAGE)


# --- control characters ----------------------------------------------------------------------------------

# C0 controls but tab, line feed and carriage return (a browser sends a textarea's line breaks as CR LF).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _json_texts(value: Any) -> Iterator[tuple[str, str]]:
    """(path, text) of every string and key of a parsed JSON document, without recursion (any depth)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, str):
            yield path, node
        elif isinstance(node, dict):
            for k, v in node.items():
                key = f"{path}.{k}" if path else str(k)
                yield key, str(k)
                stack.append((key, v))
        elif isinstance(node, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(node))


class TooDeep(ValueError):
    pass


def request_texts() -> Iterator[tuple[str, str]]:
    """(field, text) for every text the request carries: path parts, query, form fields and JSON strings (a
    multipart part without a name carries None, which is no text)."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            yield name, value
    for source in (request.args, request.form):
        for name, values in source.lists():
            yield from _texts(name, [name, *values])
    for name in request.files:
        yield from _texts(name, [name])
    if request.is_json:
        try:
            document = request.get_json(silent=True)
        except RecursionError:  # not a ValueError, so `silent` lets it through: a 500 in every view
            raise TooDeep from None
        yield from _json_texts(document)


def _texts(name: Any, values: list[Any]) -> Iterator[tuple[str, str]]:
    field = name if isinstance(name, str) else ""
    for value in values:
        if isinstance(value, str):
            yield field, value


def json_object(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON body, which must be an object (a list or a number is refused, 400; so is no body at
    all unless `optional`, which reads it as {})."""
    data = request.get_json(silent=True)
    if data is None and optional:
        return {}
    if not isinstance(data, dict):
        raise ServiceError(_("请求体应为 JSON 对象。"), field="body")
    return data


def json_or_form() -> Any:
    """A plain form's fields (a POST from a screen without JavaScript), else the JSON object of the body."""
    if request.form and not request.is_json:
        return request.form
    return json_object()


__all__ = [
    "INT32_MAX", "INT64_MAX", "MAX_PAGE", "BigIdConverter", "IdConverter", "bounded_int", "id_arg", "json_object",
    "json_or_form", "page_arg", "parse_id", "register_converters", "request_texts",
]  # fmt: skip
