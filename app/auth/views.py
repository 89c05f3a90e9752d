"""Login and logout, the own account page (password, language, API tokens) and user administration."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from app.audit.services import record
from app.auth import services as auth
from app.auth.forms import LoginForm, PasswordForm, ResetPasswordForm, TokenForm, UserEditForm, UserForm
from app.auth.labels import ROLE_LABELS
from app.auth.models import ApiToken, Bureau, SessionEnd, User
from app.auth.roles import CLI_ONLY, Permission, Role
from app.core.access import login_required, public, require
from app.core.errors import ServiceError
from app.extensions import db, limiter

bp = Blueprint("auth", __name__)
admin_bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 50


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    if g.user is not None:
        return redirect(url_for("core.index"))
    form = LoginForm()
    error = None
    if g.get("session_ended") in (SessionEnd.idle, SessionEnd.expired):
        error = _("会话已超时，请重新登录。")
    if form.validate_on_submit():
        s = db.session()
        cfg = current_app.config
        try:
            user = auth.authenticate(
                s, form.username.data or "", form.password.data or "",
                lock_after=cfg["LOCKOUT_THRESHOLD"], lock_for=cfg["LOCKOUT_DURATION"],
            )  # fmt: skip
        except auth.LoginFailed as e:
            g.commit_anyway = True  # keep the failure count and its audit entry
            return render_template("auth/login.html", form=form, error=e.message), 401
        lang = session.get("lang")
        session.clear()  # a new session id at login: nothing from before survives
        session["sid"] = auth.start_session(
            s, user, ip=request.remote_addr, user_agent=request.headers.get("User-Agent")
        )
        if lang and not user.locale:
            user.locale = lang
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form, error=error)


def _safe_next(target: str | None) -> str:
    """Only ever a path of this site: browsers drop tabs and newlines from a URL (`/\t/evil.example/` is
    `//evil.example/` to them) and read a backslash as a slash, so a target with either, with any control
    character, with a scheme or a host, or that starts with `//` (as given or once percent-decoded, in case
    something on the way decodes it again) goes to the home page instead."""
    home = url_for("core.index")
    if not target or not target.startswith("/"):
        return home
    for form in (target, unquote(target)):
        if form.startswith("//") or "\\" in form or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in form):
            return home
        parts = urlsplit(form)
        if parts.scheme or parts.netloc:
            return home
    return target


def _account_key() -> str:
    user = g.get("user")
    return f"account:{user.id}" if user is not None else f"account:{request.remote_addr}"


def _not_a_password_check() -> bool:
    return request.form.get("action") != "password"


@bp.post("/logout")
@login_required
def logout():  # type: ignore[no-untyped-def]
    s = db.session()
    if g.get("session_row") is not None:
        auth.end_session(s, g.session_row, SessionEnd.logout)
    record(s, "logout", obj=g.user)
    session.clear()
    flash(_("您已安全退出。"))
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"], key_func=_account_key, exempt_when=_not_a_password_check)
def account():  # type: ignore[no-untyped-def]
    s = db.session()
    password_form = PasswordForm(prefix="pw")
    token_form = TokenForm(prefix="tk")
    new_token = None
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "password" and password_form.validate_on_submit():
                cfg = current_app.config
                auth.change_own_password(
                    s, g.user, password_form.current.data or "", password_form.new.data or "",
                    lock_after=cfg["LOCKOUT_THRESHOLD"], lock_for=cfg["LOCKOUT_DURATION"],
                )  # fmt: skip
                session.clear()
                flash(_("密码已修改，请用新密码重新登录。"))
                return redirect(url_for("auth.login"))
            if action == "token" and token_form.validate_on_submit():
                _token, new_token = auth.create_token(s, g.user, token_form.name.data, days=token_form.days.data)
                flash(_("令牌已创建。它只显示这一次，请立即复制保存。"))
            elif action not in ("password", "token"):
                abort(400)
            else:
                status = 400
        except ServiceError as e:
            if e.field == "current":
                g.commit_anyway = True  # the failed attempt is audited
            form = password_form if action == "password" else token_form
            target = getattr(form, {"current": "current", "password": "new"}.get(e.field or "", e.field or ""), None)
            if target is not None:
                target.errors = [*target.errors, e.message] if isinstance(target.errors, list) else [e.message]
            else:
                flash(e.message, "error")
            status = 400
    tokens = s.scalars(select(ApiToken).where(ApiToken.user_id == g.user.id).order_by(ApiToken.created_at.desc())).all()
    return (
        render_template(
            "auth/account.html", password_form=password_form, token_form=token_form, tokens=tokens, new_token=new_token
        ),
        status,
    )


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):  # type: ignore[no-untyped-def]
    auth.revoke_token(db.session(), g.user, token_id)
    flash(_("令牌已吊销。"))
    return redirect(url_for("auth.account"))


# --- administration --------------------------------------------------------------------------------------


def _bureau_choices() -> list[tuple[int, str]]:
    bureaus = db.session.scalars(select(Bureau).where(Bureau.active).order_by(Bureau.jurisdiction_id, Bureau.name))
    return [(b.id, b.name) for b in bureaus]


def _role_choices(user: User | None = None) -> list[tuple[str, str]]:
    kept = user.roles & CLI_ONLY if user else set()
    return [(r.value, str(ROLE_LABELS[r])) for r in Role if r not in CLI_ONLY or r in kept]


@admin_bp.get("/users")
@require(Permission.manage_users)
def users():  # type: ignore[no-untyped-def]
    s = db.session()
    q = (request.args.get("q") or "").strip()[:64]
    bureau_id = request.args.get("bureau_id", type=int)
    page = max(request.args.get("page", 1, type=int), 1)
    stmt = select(User)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(User.username.ilike(like), User.display_name.ilike(like)))
    if bureau_id:
        stmt = stmt.where(User.bureau_id == bureau_id)
    total = s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = s.scalars(stmt.order_by(User.username).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template(
        "admin/users.html", users=rows, total=total, page=page, pages=pages, q=q, bureau_id=bureau_id,
        bureaus=_bureau_choices(),
    )  # fmt: skip


@admin_bp.route("/users/new", methods=["GET", "POST"])
@require(Permission.manage_users)
def new_user():  # type: ignore[no-untyped-def]
    form = UserForm()
    form.bureau_id.choices = _bureau_choices()
    form.roles.choices = _role_choices()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            s = db.session()
            bureau = s.get(Bureau, form.bureau_id.data)
            try:
                if bureau is None:
                    raise ServiceError(_("请选择单位。"), field="bureau_id")
                user = auth.create_user(
                    s, username=form.username.data, display_name=form.display_name.data, bureau=bureau,
                    password=form.password.data, roles={Role(r) for r in form.roles.data}, phone=form.phone.data,
                )  # fmt: skip
            except ServiceError as e:
                s.rollback()
                _attach(form, e)
            else:
                flash(_("用户 %(u)s 已创建。", u=user.username))
                return redirect(url_for("admin.user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=None), status


def _attach(form, e: ServiceError) -> None:  # type: ignore[no-untyped-def]
    field = getattr(form, e.field, None) if e.field else None
    if field is not None:
        field.errors = [*list(field.errors), e.message]
    else:
        flash(e.message, "error")


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@admin_bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(Permission.manage_users)
def user(user_id: int):  # type: ignore[no-untyped-def]
    target = _user_or_404(user_id)
    form = UserEditForm(obj=None if request.method == "POST" else target)
    form.roles.choices = _role_choices(target)
    if request.method == "GET":
        form.roles.data = [r.value for r in target.roles]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            s = db.session()
            try:
                auth.update_user(
                    s, target, display_name=form.display_name.data, phone=form.phone.data,
                    roles={Role(r) for r in form.roles.data}, actor=g.user,
                )  # fmt: skip
            except ServiceError as e:
                s.rollback()
                target = _user_or_404(user_id)
                _attach(form, e)
            else:
                flash(_("已保存。"))
                return redirect(url_for("admin.user", user_id=target.id))
    managed = _managed_here(target)
    return render_template(
        "admin/user_form.html", form=form, user=target, reset_form=ResetPasswordForm(), managed=managed
    ), status


def _managed_here(target: User) -> bool:
    """Whether the web may change the account's roles, password and state (三员分立, check_duties)."""
    try:
        auth.check_duties(g.user, target)
    except ServiceError:
        return False
    return True


@admin_bp.post("/users/<int:user_id>/status")
@require(Permission.manage_users)
def user_status(user_id: int):  # type: ignore[no-untyped-def]
    target = _user_or_404(user_id)
    action = request.form.get("action")
    s = db.session()
    if action == "disable":
        auth.set_active(s, target, False, actor=g.user)
        flash(_("账号已停用，其所有会话已结束。"))
    elif action == "enable":
        auth.set_active(s, target, True, actor=g.user)
        flash(_("账号已启用。"))
    elif action == "unlock":
        auth.unlock(s, target, actor=g.user)
        flash(_("账号已解锁。"))
    else:
        abort(400)
    return redirect(url_for("admin.user", user_id=target.id))


@admin_bp.post("/users/<int:user_id>/password")
@require(Permission.manage_users)
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    target = _user_or_404(user_id)
    auth.check_duties(g.user, target)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        raise ServiceError(_("请填写新密码。"))
    auth.set_password(db.session(), target, form.password.data, action="password.reset", actor=g.user)
    flash(_("密码已重置，该用户的所有会话已结束。"))
    return redirect(url_for("admin.user", user_id=target.id))


@admin_bp.get("/bureaus")
@require(Permission.manage_users)
def bureaus():  # type: ignore[no-untyped-def]
    s = db.session()
    rows = s.scalars(select(Bureau).order_by(Bureau.jurisdiction_id, Bureau.name)).all()
    counts = dict(s.execute(select(User.bureau_id, func.count()).group_by(User.bureau_id)).all())
    return render_template("admin/bureaus.html", bureaus=rows, counts=counts)
