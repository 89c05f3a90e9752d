"""Memos that can never be staler than the database: per transaction, or keyed by the inventory version.

There are no per-process caches with a time to live in feature code: a worker would serve places, plans,
rules or deadlines older than the last `flask inventories load` for as long as the TTL. Instead:

- `per_transaction(session, key, build)`: what one request (one transaction) reads several times, read once
  and dropped when the transaction ends;
- `by_inventory_version`: data read from the inventory files at run time (the measure rule library, the
  staggered-production schedules), parsed once per process **and inventory version**. The version is a digest
  of every inventory file, stored by `flask inventories load` (places.services.load) in `inventory_file`
  under the name `INVENTORY_VERSION`; the request cycle reads it in the statement that identifies the reader
  (auth.services.identify_statement: no extra query), so a worker parses the files again in the first request
  after a load. bench/README.md gives the bench rows for why these stay cached (parsing the rule library costs
  far more than a page).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

T = TypeVar("T")
INVENTORY_VERSION = "(inventory version)"  # inventory_file.name of the digest row
_MEMO = "per_transaction_memo"


def per_transaction(session: Session, key: Any, build: Callable[[], T]) -> T:
    """`build()` once per transaction of `session` (a request's reads), dropped when the transaction ends."""
    memo = session.info.setdefault(_MEMO, {})
    if key not in memo:
        memo[key] = build()
    return memo[key]  # type: ignore[no-any-return]


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction (a savepoint's end keeps what was read)
        session.info.pop(_MEMO, None)


def version_statement() -> Any:
    from app.places.models import InventoryFile

    return select(InventoryFile.sha256).where(InventoryFile.name == INVENTORY_VERSION).scalar_subquery()


def inventory_version() -> str | None:
    """The version of the inventory files in the database, as the request cycle read it with the reader (or a
    job at its start). None elsewhere: a CLI command is one short process that starts after any load, and
    plain tests of domain code have no database."""
    if has_app_context() and "inventory_version" in g:
        return g.inventory_version  # type: ignore[no-any-return]
    return None


def by_inventory_version(fn: Callable[..., T]) -> Callable[..., T]:
    """Like functools.cache, but keyed by the inventory version too (only the newest version is kept)."""
    lock = threading.Lock()
    memo: dict[Any, T] = {}
    current: list[Any] = [object()]

    @functools.wraps(fn)
    def wrapper(*args: Any) -> T:
        version = inventory_version()
        key = args
        with lock:
            if current[0] != version:
                memo.clear()
                current[0] = version
            if key in memo:
                return memo[key]
        value = fn(*args)
        with lock:
            if current[0] == version:
                memo[key] = value
        return value

    wrapper.cache_clear = memo.clear  # type: ignore[attr-defined]
    return wrapper
