"""Display names for enum values (Chinese msgids, translated in the English catalog)."""

from flask_babel import lazy_gettext as _l

from app.auth.roles import Role

ROLE_LABELS = {
    Role.system_admin: _l("系统管理员"),
    Role.audit_admin: _l("审计管理员"),
    Role.province_staff: _l("省级生态环境部门人员"),
    Role.city_staff: _l("市级生态环境局人员"),
    Role.district_staff: _l("区县分局人员"),
    Role.inspector: _l("执法检查员"),
    Role.forecast_center: _l("预测预报中心"),
    Role.reviewer: _l("审核人"),
    Role.approver: _l("审批人"),
    Role.group_leader: _l("组长"),
    Role.deputy_leader: _l("副组长"),
    Role.commander: _l("指挥长"),
    Role.deputy_commander: _l("副指挥长"),
    Role.office_director: _l("办公室主任"),
    Role.vice_governor: _l("分管副省长"),
    Role.vice_mayor: _l("分管副市长"),
}

LEVEL_LABELS = {"province": _l("省"), "city": _l("市"), "county": _l("区县")}
