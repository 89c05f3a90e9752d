"""Accounts: authentication with lockout, server-side sessions, API tokens and user administration."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cache
from typing import Any

from flask import g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import Select, and_, bindparam, exists, func, null, or_, select, update
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.models import Outcome
from app.audit.services import diff, record
from app.auth.models import ApiToken, Bureau, BureauScopeRoot, SessionEnd, User, UserRole, UserSession
from app.auth.passwords import DUMMY_HASH, hash_password, policy_errors, verify_password
from app.auth.roles import CLI_ONLY, EXCLUSIVE, LEVEL_OF_ROLE, Role
from app.core.errors import Conflict, Forbidden, NotFound, ServiceError
from app.core.scoping import Scope, unscoped
from app.db import utcnow
from app.places.models import Jurisdiction

TOKEN_PREFIX = "lf_"  # noqa: S105 - marks Lianfang tokens, not a secret


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- scope -----------------------------------------------------------------------------------------------


@cache
def _scope_statement() -> Select[tuple[int]]:
    # Built once: constructing it costs more than running it.
    roots = select(BureauScopeRoot.jurisdiction_id).where(BureauScopeRoot.bureau_id == bindparam("bureau_id"))
    root = aliased(Jurisdiction)
    return (
        select(Jurisdiction.id)
        .join(root, Jurisdiction.path.startswith(root.path))
        .where(or_(root.id.in_(roots), and_(~exists(roots), root.id == bindparam("jurisdiction_id"))))
    )


READER = "reader_scope"  # session.info: (user id, Scope) read with the reader's session or token row


def scope_for(session: Session, user: User) -> Scope:
    """A user reads and writes their bureau's jurisdiction subtree (or the subtrees of its scope roots).

    The roots are the bureau's scope roots, or the user's own jurisdiction when the bureau has none. In a
    request the scope came with the reader's session or token row (`_by_hash`, one statement for both);
    otherwise one statement."""
    found = session.info.pop(READER, None)
    if found is not None and found[0] == user.id:
        return found[1]  # type: ignore[no-any-return]
    ids = frozenset(
        session.scalars(_scope_statement(), {"bureau_id": user.bureau_id, "jurisdiction_id": user.jurisdiction_id})
    )
    return Scope(readable=ids, writable=ids, bureau_id=user.bureau_id)


# --- authentication --------------------------------------------------------------------------------------


class LoginFailed(ServiceError):
    status = 401


def authenticate(session: Session, username: str, password: str, *, lock_after: int, lock_for: timedelta) -> User:
    """Check a username and password; count failures and lock the account after `lock_after` of them.

    Every attempt is audited. The same message answers an unknown user and a wrong password.
    """
    now = utcnow()
    with unscoped(session):
        user = session.scalars(select(User).where(User.username == username.strip())).first()
        if user is None:
            verify_password(DUMMY_HASH, password)
            record(session, "login", outcome=Outcome.failure, detail={"username": username[:64], "reason": "unknown"})
            raise LoginFailed(_("用户名或密码错误。"))
        check_password(session, user, password, now=now, lock_after=lock_after, lock_for=lock_for, action="login")
        if not user.active or not user.bureau.active:
            record(session, "login", obj=user, user=user, outcome=Outcome.denied, detail={"reason": "disabled"})
            raise LoginFailed(_("账号已停用，请联系管理员。"))
        user.last_login_at = now
    return user


def check_password(
    session: Session, user: User, password: str, *, now: Any, lock_after: int, lock_for: timedelta, action: str
) -> None:
    """Check a user's password under the lockout, for the login and the own account page alike.

    The attempt is counted before the password is checked, in one atomic UPDATE … RETURNING that only an
    unlocked account passes: parallel attempts each get their own number (no lost update of the counter), no
    attempt beyond the `lock_after`-th is checked at all, and the attempt numbered `lock_after` that fails
    locks the account. On PostgreSQL the row stays locked until the request commits, so attempts for one
    account run one after another; SQLite's writers are serialised anyway (BEGIN IMMEDIATE)."""
    table = User.__table__
    number = session.execute(
        update(table)
        .where(table.c.id == user.id, or_(table.c.locked_until.is_(None), table.c.locked_until <= now))
        .values(failed_logins=table.c.failed_logins + 1)
        .returning(table.c.failed_logins)
    ).scalar()
    if number is None or number > lock_after:
        if number is not None:
            _store_counter(session, user, failed_logins=number - 1, locked_until=user.locked_until)
        record(session, action, obj=user, user=user, outcome=Outcome.denied, detail={"reason": "locked"})
        raise LoginFailed(_("账号已锁定，请 30 分钟后再试或联系管理员解锁。"), field="current")
    if verify_password(user.password_hash, password):
        _store_counter(session, user, failed_logins=0, locked_until=None)
        return
    detail: dict[str, Any] = {"reason": "password", "failed_logins": number}
    if number >= lock_after:
        until = now + lock_for
        _store_counter(session, user, failed_logins=0, locked_until=until)
        detail["locked_until"] = until
        record(session, "account.lock", obj=user, user=user, after={"locked_until": until})
        record(session, action, obj=user, user=user, outcome=Outcome.failure, detail=detail)
        raise LoginFailed(_("连续 %(n)d 次密码错误，账号已锁定 30 分钟。", n=lock_after), field="current")
    set_committed_value(user, "failed_logins", number)
    record(session, action, obj=user, user=user, outcome=Outcome.failure, detail=detail)
    raise LoginFailed(_("用户名或密码错误。") if action == "login" else _("当前密码不正确。"), field="current")


def _store_counter(session: Session, user: User, *, failed_logins: int, locked_until: Any) -> None:
    table = User.__table__
    session.execute(
        update(table).where(table.c.id == user.id).values(failed_logins=failed_logins, locked_until=locked_until)
    )
    set_committed_value(user, "failed_logins", failed_logins)
    set_committed_value(user, "locked_until", locked_until)


def start_session(session: Session, user: User, *, ip: str | None, user_agent: str | None) -> str:
    """Create a fresh server-side session; the raw id goes into the signed cookie, only its hash is kept."""
    raw = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=token_hash(raw), user_id=user.id, ip=ip, user_agent=(user_agent or "")[:255]))
    record(session, "login", obj=user, user=user)
    return raw


@cache
def _reader_statement(model: Any, dialect: str) -> Select[Any]:
    """The session's or token's row with its user, bureau and roles, the reader's readable jurisdiction ids,
    the inventory version (app/core/memo.py) and, for a session (a page in the layout), the notification
    badge's unread count: who is asking, what they may see, which inventory the workers' parsed files must
    match and what the layout shows of them, in one statement, because it runs on every request.

    The ids come aggregated into one comma-separated column (PostgreSQL has no group_concat, SQLite no
    array_agg): joined as rows they would repeat the user's row once per jurisdiction, 200 for a province."""
    from app.core.memo import version_statement
    from app.notifications.services import unread_count_of_reader

    roots = select(BureauScopeRoot.jurisdiction_id).where(BureauScopeRoot.bureau_id == User.bureau_id)
    root, member = aliased(Jurisdiction), aliased(Jurisdiction)
    aggregate = (
        func.array_to_string(func.array_agg(member.id), ",")
        if dialect == "postgresql"
        else func.group_concat(member.id, ",")
    )
    scope_ids = (
        select(aggregate)
        .select_from(root)
        .join(member, member.path.startswith(root.path))
        .where(
            or_(
                root.id.in_(roots.correlate(User)),
                and_(~exists(roots.correlate(User)), root.id == User.jurisdiction_id),
            )
        )
        .correlate(User)
        .scalar_subquery()
    )
    unread = unread_count_of_reader() if model is UserSession else null()
    return (
        select(model, scope_ids, version_statement(), unread)
        .join(model.user)
        .where(model.token_hash == bindparam("token_hash"))
        .options(contains_eager(model.user).options(joinedload(User.bureau), joinedload(User.role_rows)))
    )


def _by_hash(session: Session, model: Any, raw: str) -> Any:
    """The session or token row whose hash is raw's, with its user, bureau and roles; the reader's scope and
    the inventory version come with it (kept for scope_for and the request)."""
    dialect = session.get_bind().dialect.name
    rows = session.execute(_reader_statement(model, dialect), {"token_hash": token_hash(raw)}).unique().all()
    if not rows:
        return None
    row, ids, version, unread = rows[0]
    readable = frozenset(int(i) for i in (ids or "").split(",") if i)
    session.info[READER] = (row.user_id, Scope(readable=readable, writable=readable, bureau_id=row.user.bureau_id))
    if has_request_context():
        g.inventory_version = version
        if model is UserSession:
            g.unread_notifications = int(unread or 0)  # the layout's badge (core/templating.py)
    return row


def resume_session(
    session: Session, raw: str, *, idle: timedelta, absolute: timedelta
) -> tuple[User | None, UserSession | None]:
    """The user behind a session id, or None when it is unknown, ended, idle or too old (then ended)."""
    now = utcnow()
    with unscoped(session):
        row = _by_hash(session, UserSession, raw)
        if row is None or row.ended_at is not None:
            return None, None
        reason = None
        if now - row.created_at > absolute:
            reason = SessionEnd.expired
        elif now - row.last_seen_at > idle:
            reason = SessionEnd.idle
        elif not row.user.active or not row.user.bureau.active:
            reason = SessionEnd.disabled
        if reason is not None:
            row.ended_at, row.end_reason = now, reason
            return None, row
        if now - row.last_seen_at > TOUCH_EVERY:
            _touch(session, UserSession, row, "last_seen_at", now)
        return row.user, row


def end_session(session: Session, row: UserSession, reason: SessionEnd) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = utcnow(), reason


def end_all_sessions(session: Session, user: User, reason: SessionEnd) -> int:
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# --- API tokens ------------------------------------------------------------------------------------------


def create_token(session: Session, user: User, name: str, *, days: int | None = 365) -> tuple[ApiToken, str]:
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ServiceError(_("令牌名称不能为空，且不超过 64 个字符。"), field="name")
    if days is not None and not 1 <= days <= 3650:
        raise ServiceError(_("有效期须在 1 到 3650 天之间。"), field="days")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        prefix=raw[:10],
        token_hash=token_hash(raw),
        expires_at=utcnow() + timedelta(days=days) if days else None,
    )
    session.add(token)
    session.flush()
    record(session, "api_token.create", obj=token, after={"name": name, "prefix": token.prefix, "user": user.username})
    return token, raw


def revoke_token(session: Session, actor: User, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id:
        raise NotFound(_("没有这个令牌。"))
    if token.revoked_at is not None:
        raise Conflict(_("该令牌已经吊销。"))
    token.revoked_at = utcnow()
    record(session, "api_token.revoke", obj=token, before={"revoked_at": None}, after={"revoked_at": token.revoked_at})
    return token


def user_for_token(session: Session, raw: str) -> tuple[User | None, ApiToken | None]:
    if not raw.startswith(TOKEN_PREFIX):
        return None, None
    with unscoped(session):
        token = _by_hash(session, ApiToken, raw)
        now = utcnow()
        if token is None or not token.is_usable(now):
            return None, token
        user = token.user
        if not user.active or not user.bureau.active:
            return None, token
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            _touch(session, ApiToken, token, "last_used_at", now)
        return user, token


TOUCH_EVERY = timedelta(seconds=60)


def _touch(session: Session, model: Any, obj: Any, column: str, now: Any) -> None:
    """Record a session's or token's last use, at most once a minute, without ever waiting for it.

    An ORM change of the row would hold its lock from identify() to the request's commit: every parallel
    request of the same session or token queued behind it, each for a whole request (the benchmarks'
    clients share a session: a burst of 400-500 ms answers once a minute). SKIP LOCKED lets the first
    request write and the others go on; SQLite serialises writers anyway and ignores the clause."""
    col = getattr(model, column)
    due = (
        select(model.id)
        .where(model.id == obj.id, or_(col.is_(None), col < now - TOUCH_EVERY))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    session.execute(
        update(model).where(model.id == due).values({column: now}).execution_options(synchronize_session=False)
    )
    set_committed_value(obj, column, now)


# --- user administration ---------------------------------------------------------------------------------


def user_snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "bureau_id": user.bureau_id,
        "phone": user.phone,
        "active": user.active,
        "roles": sorted(r.value for r in user.roles),
        "locale": user.locale,
    }


def check_duties(actor: User | None, target: User) -> None:
    """三员分立 on the web: an account holding a role only the command line grants (the audit admin) is
    managed from the command line only, and a system admin and an audit admin never act on each other's
    account. `actor` None is the command line; one's own account is one's own (the /account page)."""
    if actor is None or actor.id == target.id:
        return
    if target.roles & CLI_ONLY:
        raise Forbidden(_("审计管理员的账号只能由运维人员在命令行中管理。"))
    for group in EXCLUSIVE:
        if (actor.roles & group) and (target.roles & group) and not (actor.roles & target.roles & group):
            raise Forbidden(_("系统管理员与审计管理员不能管理对方的账号。"))


def check_roles(bureau: Bureau, roles: set[Role], *, via_cli: bool) -> None:
    if not roles:
        raise ServiceError(_("至少选择一个角色。"), field="roles")
    for group in EXCLUSIVE:
        if group <= roles:
            raise ServiceError(_("系统管理员与审计管理员不能由同一人担任。"), field="roles")
    if not via_cli and roles & CLI_ONLY:
        raise Forbidden(_("审计管理员只能由运维人员在命令行中设置。"))
    level = bureau.jurisdiction.level.value
    for role, needed in LEVEL_OF_ROLE.items():
        if role in roles and level != needed:
            raise ServiceError(
                _(
                    "角色“%(role)s”只适用于%(level)s级单位，而%(bureau)s不是。",
                    role=role_label(role),
                    level=level_label(needed),
                    bureau=bureau.name,
                ),
                field="roles",
            )


def role_label(role: Role) -> str:
    from app.auth.labels import ROLE_LABELS

    return str(ROLE_LABELS[role])


def level_label(level: str) -> str:
    from app.auth.labels import LEVEL_LABELS

    return str(LEVEL_LABELS[level])


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    bureau: Bureau,
    password: str,
    roles: set[Role],
    phone: str | None = None,
    via_cli: bool = False,
) -> User:
    username = username.strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise ServiceError(_("用户名只能包含字母、数字、下划线和点，最长 64 个字符。"), field="username")
    if not display_name.strip():
        raise ServiceError(_("请填写姓名。"), field="display_name")
    with unscoped(session):
        taken = session.scalars(select(User.id).where(User.username == username)).first()
    if taken is not None:
        raise ServiceError(_("用户名“%(u)s”已被使用。", u=username), field="username")
    errors = policy_errors(password, username)
    if errors:
        raise ServiceError(" ".join(errors), field="password")
    check_roles(bureau, roles, via_cli=via_cli)
    user = User(
        username=username,
        display_name=display_name.strip(),
        bureau_id=bureau.id,
        jurisdiction_id=bureau.jurisdiction_id,
        password_hash=hash_password(password),
        phone=(phone or "").strip() or None,
        role_rows=[UserRole(role=r) for r in sorted(roles)],
    )
    session.add(user)
    session.flush()
    record(session, "user.create", obj=user, after=user_snapshot(user))
    return user


def update_user(
    session: Session, user: User, *, display_name: str, phone: str | None, roles: set[Role], actor: User | None
) -> None:
    before = user_snapshot(user)
    if (
        actor is not None
        and actor.id == user.id
        and Role.system_admin in before["roles"]
        and Role.system_admin not in roles
    ):
        raise ServiceError(_("不能取消自己的系统管理员角色。"), field="roles")
    via_cli = actor is None
    kept = user.roles & CLI_ONLY
    if not via_cli and kept:
        # The audit admin's account: the web may save its name and phone, never its roles.
        if roles != user.roles:
            raise Forbidden(_("审计管理员的角色只能由运维人员在命令行中设置。"))
    elif not via_cli:
        check_duties(actor, user)
    # Every role the account will hold takes part in the exclusivity check, those only the CLI grants too;
    # a role only the CLI grants may be kept from the web, never added.
    check_roles(user.bureau, roles, via_cli=via_cli or (roles & CLI_ONLY) <= kept)
    if not display_name.strip():
        raise ServiceError(_("请填写姓名。"), field="display_name")
    user.display_name = display_name.strip()
    user.phone = (phone or "").strip() or None
    current = {r.role: r for r in user.role_rows}
    for role in set(current) - roles:
        user.role_rows.remove(current[role])
    for role in sorted(roles - set(current)):
        user.role_rows.append(UserRole(role=role))
    session.flush()
    old, new = diff(before, user_snapshot(user))
    if new:
        record(session, "user.update", obj=user, before=old, after=new)


def set_active(session: Session, user: User, active: bool, *, actor: User | None) -> None:
    if actor is not None and actor.id == user.id:
        raise ServiceError(_("不能停用自己的账号。"))
    check_duties(actor, user)
    if user.active == active:
        raise Conflict(_("账号已经是该状态。"))
    user.active = active
    ended = 0 if active else end_all_sessions(session, user, SessionEnd.disabled)
    record(
        session, "user.enable" if active else "user.disable", obj=user,
        before={"active": not active}, after={"active": active}, detail={"sessions_ended": ended},
    )  # fmt: skip


def unlock(session: Session, user: User, *, actor: User | None) -> None:
    check_duties(actor, user)
    if user.locked_until is None:
        raise Conflict(_("账号未被锁定。"))
    before = {"locked_until": user.locked_until}
    user.locked_until, user.failed_logins = None, 0
    record(session, "account.unlock", obj=user, before=before, after={"locked_until": None})


def set_password(session: Session, user: User, password: str, *, action: str, actor: User | None) -> None:
    check_duties(actor, user)
    errors = policy_errors(password, user.username)
    if errors:
        raise ServiceError(" ".join(errors), field="password")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    ended = end_all_sessions(session, user, SessionEnd.password_changed)
    record(session, action, obj=user, detail={"sessions_ended": ended})


def change_own_password(
    session: Session,
    user: User,
    current: str,
    new: str,
    *,
    lock_after: int = 5,
    lock_for: timedelta = timedelta(minutes=30),
) -> None:
    """The current password is checked under the login's lockout (check_password): guessing it here counts
    toward the same lock, and a locked account cannot change its password."""
    check_password(
        session, user, current, now=utcnow(), lock_after=lock_after, lock_for=lock_for, action="password.change"
    )
    set_password(session, user, new, action="password.change", actor=user)


def set_locale(session: Session, user: User, locale: str) -> None:
    if locale not in ("zh", "en"):
        raise ServiceError(_("不支持的语言。"), field="locale")
    if user.locale != locale:
        record(session, "user.locale", obj=user, before={"locale": user.locale}, after={"locale": locale})
        user.locale = locale


def bureau_by_name(session: Session, name: str) -> Bureau:
    bureau = session.scalars(select(Bureau).where(Bureau.name == name)).first()
    if bureau is None:
        raise NotFound(_("没有名为“%(n)s”的单位。", n=name))
    return bureau


def bureau_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    """Names of bureaus (on a case, an episode …), wherever they are (a name is not data of their jurisdiction): a plain
    Core query on the session's connection, outside the ORM and its scope."""
    wanted = sorted(i for i in ids if i)
    if not wanted:
        return {}
    table = Bureau.__table__
    found = session.connection().execute(select(table.c.id, table.c.name).where(table.c.id.in_(wanted)))
    return {i: name for i, name in found}
