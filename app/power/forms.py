"""The power screens' forms (Flask-WTF: CSRF with every form). The values are checked again by the service
(`app.power.reports.read`), whose message names the field it is about; the form shows it under that field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from app.power.vocabulary import REPORT_LABELS


class ReportForm(FlaskForm):
    """A stoppage, maintenance, retrofit or power cut reported in advance."""

    uscc = StringField(
        _l("统一社会信用代码"),
        validators=[DataRequired(_l("请填写“统一社会信用代码”。")),
                    Length(max=18, message=_l("统一社会信用代码应为 18 位字母或数字。"))],
        render_kw={"autocomplete": "off", "list": "power-report-enterprises", "maxlength": 18},
    )  # fmt: skip
    # a kind the select does not offer is named by the service (app/power/reports.read), not by WTForms
    kind = SelectField(_l("报备类型"), choices=[SelectChoice(k, _l(v)) for k, v in REPORT_LABELS.items()],
                       validate_choice=False, validators=[DataRequired(_l("请选择报备类型。"))])  # fmt: skip
    starts_at = StringField(_l("开始时间"), validators=[DataRequired(_l("请填写“开始时间”。"))],
                            render_kw={"type": "datetime-local"})  # fmt: skip
    ends_at = StringField(_l("结束时间"), validators=[DataRequired(_l("请填写“结束时间”。"))],
                          render_kw={"type": "datetime-local"})  # fmt: skip
    note = TextAreaField(_l("说明"), validators=[Length(max=500, message=_l("“说明”不能超过 500 个字符。"))],
                         render_kw={"maxlength": 500, "rows": 2})  # fmt: skip
