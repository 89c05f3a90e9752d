"""Foundation: the cost of jurisdiction scoping on reads and of the audit chain on writes."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import func, insert, select, text

from bench.harness import PASSWORD_HASH, ROOT, Context, Result, compare, stopwatch

NAME = "foundation"

USERS = 20_000
PAGE = 50  # users listed per query
READS = 60  # queries per timing round
READ_ROUNDS = 7
TRANSACTIONS = 2_000  # for each side, audited and plain
WRITE_ROUNDS = 5  # the transactions are timed in this many alternating rounds
SEED = 20240601


def run(ctx: Context) -> list[Result]:
    with ctx.app.app_context():
        with stopwatch() as elapsed:
            data = populate(ctx)
        ctx.log(f"loaded the inventories and {USERS:,} users in {elapsed():.1f} s")
        return [scoped_reads(ctx, data), audited_writes(ctx, data)]


# --- data --------------------------------------------------------------------------------------------------


def populate(ctx: Context) -> dict[str, Any]:
    """The real jurisdictions, one bureau each, and USERS users spread over them at random."""
    from app.auth.models import Bureau, BureauKind, User, UserRole
    from app.auth.roles import Role
    from app.db import utcnow
    from app.places.models import Jurisdiction
    from app.places.services import load

    kinds = {"province": BureauKind.department, "city": BureauKind.bureau, "county": BureauKind.branch}
    roles = {"province": Role.province_staff, "city": Role.city_staff, "county": Role.district_staff}
    rng = random.Random(SEED)
    now = utcnow()
    with ctx.session() as s:
        load(s, ROOT / "inventories")
        s.commit()
        places = s.execute(select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, Jurisdiction.level)).all()
        s.execute(
            insert(Bureau),
            [
                {"name": f"{p.name}生态环境局（{p.code}）", "kind": kinds[str(p.level)],
                 "jurisdiction_id": p.id, "active": True, "created_at": now}
                for p in places
            ],
        )  # fmt: skip
        bureaus = s.execute(select(Bureau.id, Bureau.jurisdiction_id)).all()
        level_of = {p.id: str(p.level) for p in places}
        # Every bureau gets a user first, then the rest fall at random.
        owners = [*bureaus, *(rng.choice(bureaus) for _ in range(USERS - len(bureaus)))]
        numbers = list(range(1, USERS + 1))
        rng.shuffle(numbers)  # usernames in no relation to the jurisdiction
        s.execute(
            insert(User),
            [
                {"username": f"user{n:05d}", "display_name": f"用户{n:05d}", "bureau_id": b.id,
                 "jurisdiction_id": b.jurisdiction_id, "password_hash": PASSWORD_HASH, "locale": "zh",
                 "active": True, "failed_logins": 0, "password_changed_at": now, "created_at": now}
                for n, b in zip(numbers, owners, strict=True)
            ],
        )  # fmt: skip
        users = s.execute(select(User.id, User.jurisdiction_id)).all()
        s.execute(insert(UserRole), [{"user_id": u.id, "role": roles[level_of[u.jurisdiction_id]]} for u in users])
        s.commit()
        if ctx.backend == "postgresql":
            s.execute(text("ANALYZE"))  # what autovacuum would do soon after a bulk load
            s.commit()
    return {"places": places, "bureaus": bureaus, "user_ids": [u.id for u in users]}


def biggest_city(ctx: Context) -> Any:
    """The city with the most jurisdictions in its subtree (the longest list in the scope's IN)."""
    from sqlalchemy.orm import aliased

    from app.places.models import Jurisdiction, JurisdictionLevel

    below = aliased(Jurisdiction)
    with ctx.session() as s:
        return s.execute(
            select(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name, func.count(below.id).label("n"))
            .join(below, below.path.startswith(Jurisdiction.path))
            .where(Jurisdiction.level == JurisdictionLevel.city)
            .group_by(Jurisdiction.id, Jurisdiction.code, Jurisdiction.name)
            .order_by(func.count(below.id).desc(), Jurisdiction.code)
            .limit(1)
        ).one()


# --- 1. scoped reads ---------------------------------------------------------------------------------------


def scoped_reads(ctx: Context, data: dict[str, Any]) -> Result:
    """A page of 50 users by username, through a city user's scope vs through the operator's."""
    from app.auth.models import User
    from app.auth.services import scope_for
    from app.core.scoping import Scope

    city = biggest_city(ctx)
    with ctx.session() as s:
        city_user = s.scalars(select(User).where(User.jurisdiction_id == city.id).order_by(User.id).limit(1)).one()
        city_scope = scope_for(s, city_user)
    everything = Scope.everything()
    stmt = select(User).order_by(User.username).limit(PAGE)

    def page(scope: Scope) -> list[Any]:
        with ctx.session(scope) as s:
            return list(s.scalars(stmt))

    # The scope must really restrict, or the comparison means nothing.
    scoped_rows, all_rows = page(city_scope), page(everything)
    assert len(scoped_rows) == PAGE and len(all_rows) == PAGE
    assert all(u.jurisdiction_id in city_scope.readable for u in scoped_rows)
    assert any(u.jurisdiction_id not in city_scope.readable for u in all_rows)
    with ctx.session(city_scope) as s:
        visible = s.scalar(select(func.count()).select_from(User))
    ctx.log(f"city scope: {city.name} ({city.code}), {len(city_scope.readable)} jurisdictions, {visible:,} users")

    scoped, unscoped = compare(lambda: page(city_scope), lambda: page(everything), number=READS, repeat=READ_ROUNDS)
    # PostgreSQL (production) walks the username index and filters; SQLite sorts the scope's rows for each
    # page whether the IN list comes from the scope or is written by hand, so its bound is looser.
    bound = 1.5 if ctx.backend == "postgresql" else 3.0
    return Result.at_most(
        f"list {PAGE} of {USERS // 1000}k users, city scope", scoped * 1e3, unscoped * 1e3, "ms", bound
    )


# --- 2. audited writes -------------------------------------------------------------------------------------


def audited_writes(ctx: Context, data: dict[str, Any]) -> Result:
    """A transaction updating one user's display name, with an audit entry vs without."""
    from app.audit.services import record, verify
    from app.auth.models import User

    rng = random.Random(SEED + 1)
    ids = [rng.choice(data["user_ids"]) for _ in range(2 * TRANSACTIONS)]
    with ctx.session() as s:
        actor = s.get(User, data["user_ids"][0])
        before_count, _ = verify(s, ctx.app.config["AUDIT_KEY"])
    counter = iter(range(10**9))

    def transaction(audited: bool) -> None:
        n = next(counter)
        with ctx.session() as s:
            user = s.get(User, ids[n % len(ids)])
            old = user.display_name
            user.display_name = f"用户{n:07d}"
            if audited:
                record(s, "user.update", obj=user, user=actor,
                       before={"display_name": old}, after={"display_name": user.display_name})  # fmt: skip
            s.commit()

    per_round = TRANSACTIONS // WRITE_ROUNDS
    audited, plain = compare(
        lambda: transaction(True), lambda: transaction(False), number=per_round, repeat=WRITE_ROUNDS, warmup=0
    )

    with ctx.session() as s:
        count, problems = verify(s, ctx.app.config["AUDIT_KEY"])
    assert not problems, problems[:3]
    assert count == before_count + TRANSACTIONS, (before_count, count)
    return Result.at_most(f"{TRANSACTIONS:,} txns: update user + audit", audited * 1e3, plain * 1e3, "ms/txn", 3)
