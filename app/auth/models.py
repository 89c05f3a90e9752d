"""Bureaus, users with their roles, server-side login sessions and API tokens."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.roles import Permission, Role, roles_allow
from app.core.scoping import Scoped
from app.db import Base, BigId, enum_type, utcnow
from app.places.models import Jurisdiction


class BureauKind(enum.StrEnum):
    department = "department"  # 省生态环境厅 / 重庆市生态环境局
    bureau = "bureau"  # 市 (州) 生态环境局
    branch = "branch"  # 区县分局
    forecast_center = "forecast_center"
    working_group = "working_group"
    command_center = "command_center"
    operations = "operations"  # the platform's own operators


class Bureau(Scoped, Base):
    """An organisation that owns a jurisdiction's data. Its scope is its jurisdiction's subtree, or the
    subtrees of the extra roots listed in `scope_roots` (a forecast center covering two provinces)."""

    __tablename__ = "bureau"
    __table_args__ = (UniqueConstraint("id", "jurisdiction_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[BureauKind] = mapped_column(enum_type(BureauKind))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Hours a case may stay in each state at this bureau, overriding the plan's defaults ({"handling": 48}).
    case_limits: Mapped[dict[str, Any] | None] = mapped_column()

    jurisdiction: Mapped[Jurisdiction] = relationship()
    scope_roots: Mapped[list[Jurisdiction]] = relationship(secondary="bureau_scope_root", order_by=Jurisdiction.code)

    def __repr__(self) -> str:
        return f"<Bureau {self.name}>"


class BureauScopeRoot(Base):
    __tablename__ = "bureau_scope_root"

    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureau.id", ondelete="CASCADE"), primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="RESTRICT"), primary_key=True)


class User(Scoped, Base):
    """A person. Never deleted (the audit log names them): disabled instead."""

    __tablename__ = "user_account"
    __table_args__ = (
        # The user's jurisdiction is always their bureau's: scoping reads it without a join.
        ForeignKeyConstraint(
            ["bureau_id", "jurisdiction_id"], ["bureau.id", "bureau.jurisdiction_id"], ondelete="RESTRICT"
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    bureau_id: Mapped[int] = mapped_column(index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()

    bureau: Mapped[Bureau] = relationship(foreign_keys=[bureau_id], primaryjoin="User.bureau_id == Bureau.id")
    jurisdiction: Mapped[Jurisdiction] = relationship(foreign_keys="User.jurisdiction_id")
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles & set(roles))

    def can(self, permission: Permission) -> bool:
        return self.active and roles_allow(self.roles, permission)

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[Role] = mapped_column(enum_type(Role), primary_key=True)


class SessionEnd(enum.StrEnum):
    logout = "logout"
    idle = "idle"
    expired = "expired"
    disabled = "disabled"
    password_changed = "password_changed"  # noqa: S105 - a reason, not a password
    revoked = "revoked"


class UserSession(Base):
    """A server-side login session: the cookie holds only a random id whose hash is stored here."""

    __tablename__ = "user_session"
    __table_args__ = (CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended_has_reason"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    ended_at: Mapped[datetime | None] = mapped_column()
    end_reason: Mapped[SessionEnd | None] = mapped_column(enum_type(SessionEnd))

    user: Mapped[User] = relationship()


class ApiToken(Base):
    """A bearer token a user creates for another system; acts with the user's roles and scope."""

    __tablename__ = "api_token"
    __table_args__ = (
        CheckConstraint("(revoked_at IS NULL) OR (revoked_at >= created_at)", name="revoked_after_created"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
