"""Forms for logging in, the own account page and user administration."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名。")), Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请填写密码。")), Length(max=128)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(_l("请填写当前密码。"))])
    new = PasswordField(_l("新密码"), validators=[DataRequired(_l("请填写新密码。")), Length(max=128)])


class TokenForm(FlaskForm):
    name = StringField(_l("令牌名称"), validators=[DataRequired(_l("请填写令牌名称。")), Length(max=64)])
    days = IntegerField(
        _l("有效期（天）"), default=365,
        validators=[DataRequired(_l("请填写有效期。")), NumberRange(1, 3650, _l("有效期须在 1 到 3650 天之间。"))],
    )  # fmt: skip


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(_l("请填写用户名。")), Length(max=64)])
    display_name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=64)])
    bureau_id = SelectField(_l("单位"), coerce=int, validators=[DataRequired(_l("请选择单位。"))])
    phone = StringField(_l("电话"), validators=[Optional(), Length(max=32)])
    roles = MultiCheckboxField(_l("角色"), validators=[DataRequired(_l("至少选择一个角色。"))])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(_l("请设置初始密码。")), Length(max=128)])


class UserEditForm(FlaskForm):
    display_name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名。")), Length(max=64)])
    phone = StringField(_l("电话"), validators=[Optional(), Length(max=32)])
    roles = MultiCheckboxField(_l("角色"), validators=[DataRequired(_l("至少选择一个角色。"))])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请填写新密码。")), Length(max=128)])
