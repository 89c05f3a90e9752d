"""Roles and permissions: the single table of who may do what."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    system_admin = "system_admin"
    audit_admin = "audit_admin"
    province_staff = "province_staff"
    city_staff = "city_staff"
    district_staff = "district_staff"
    inspector = "inspector"
    forecast_center = "forecast_center"
    reviewer = "reviewer"
    approver = "approver"
    # Positions in the plans' approval chains (seed 000: 组长/副组长; seed 002: 指挥长/副指挥长/办公室主任).
    group_leader = "group_leader"
    deputy_leader = "deputy_leader"
    commander = "commander"
    deputy_commander = "deputy_commander"
    office_director = "office_director"
    # The regional red alert's approvers (seed 000 四(四)): the vice-governor of Sichuan and the vice-mayor of
    # Chongqing in charge; a plan's approval step names the role and the jurisdiction (510000, 500000).
    vice_governor = "vice_governor"
    vice_mayor = "vice_mayor"


class Permission(enum.StrEnum):
    view_places = "view_places"
    manage_users = "manage_users"
    view_audit = "view_audit"
    export_audit = "export_audit"
    view_lists = "view_lists"  # read reduction lists, enterprises, policies, targets
    edit_lists = "edit_lists"  # import, edit enterprises and policies, submit (own bureau's open list)
    decide_lists = "decide_lists"  # return or approve a list one level down
    view_cases = "view_cases"  # cases of the own area and those shared with the bureau
    handle_cases = "handle_cases"  # log, transfer, sign for, handle, verify (the transition function decides)
    supervise_cases = "supervise_cases"  # step up the escalation of an overdue case
    submit_forecasts = "submit_forecasts"  # post forecasts and observed AQI, ask for an evaluation
    view_alerts = "view_alerts"  # the situation page, episodes and proposals within reach
    propose_alerts = "propose_alerts"  # draft and submit proposals, issue approved ones (the running bureau)
    decide_alerts = "decide_alerts"  # decide a step of a proposal's approval chain (the step names the role)
    confirm_alerts = "confirm_alerts"  # confirm that one's member unit has started the alert
    view_response = "view_response"  # response tasks, daily reports and the daily summary of the own area
    work_response = "work_response"  # check a task's measures (photos, a case for one not carried out)
    report_response = "report_response"  # submit the own unit's daily report and episode summary
    view_cross_checks = "view_cross_checks"  # campaigns within reach, the consistency page
    work_cross_checks = "work_cross_checks"  # set up, review, answer (the campaign's can_<action> decides)


STAFF = {Role.province_staff, Role.city_staff, Role.district_staff}
APPROVERS = {
    Role.approver,
    Role.group_leader,
    Role.deputy_leader,
    Role.commander,
    Role.deputy_commander,
    Role.office_director,
    Role.vice_governor,
    Role.vice_mayor,
}

GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.view_places: frozenset(Role),
    # 三员分立: the system admin manages accounts, the audit admin reads the log; neither does the other's job.
    Permission.manage_users: frozenset({Role.system_admin}),
    Permission.view_audit: frozenset({Role.audit_admin}),
    Permission.export_audit: frozenset({Role.audit_admin}),
    Permission.view_lists: frozenset(STAFF | APPROVERS | {Role.inspector, Role.forecast_center, Role.reviewer}),
    Permission.edit_lists: frozenset(STAFF),
    Permission.decide_lists: frozenset({Role.city_staff, Role.province_staff, Role.approver, Role.reviewer}),
    Permission.view_cases: frozenset(STAFF | APPROVERS | {Role.inspector, Role.reviewer}),
    Permission.handle_cases: frozenset(STAFF | {Role.inspector}),
    Permission.supervise_cases: frozenset({Role.province_staff, Role.city_staff}),
    Permission.submit_forecasts: frozenset({Role.forecast_center, Role.province_staff}),
    Permission.view_alerts: frozenset(STAFF | APPROVERS | {Role.inspector, Role.forecast_center, Role.reviewer}),
    Permission.propose_alerts: frozenset(
        {Role.forecast_center, Role.province_staff, Role.city_staff, Role.office_director}
    ),
    Permission.decide_alerts: frozenset(APPROVERS - {Role.approver}),
    Permission.confirm_alerts: frozenset(STAFF),
    Permission.view_response: frozenset(STAFF | APPROVERS | {Role.inspector, Role.reviewer}),
    Permission.work_response: frozenset(STAFF | {Role.inspector}),
    Permission.report_response: frozenset(STAFF),
    Permission.view_cross_checks: frozenset(STAFF | APPROVERS | {Role.reviewer}),
    Permission.work_cross_checks: frozenset(STAFF),
}

# Roles that must not be held together, and roles that only fit a bureau at a given level.
EXCLUSIVE = [frozenset({Role.system_admin, Role.audit_admin})]
LEVEL_OF_ROLE = {Role.province_staff: "province", Role.city_staff: "city", Role.district_staff: "county"}
# Granted from the command line only, so that no web account can make itself an auditor.
CLI_ONLY = frozenset({Role.audit_admin})


def roles_allow(roles: set[Role] | frozenset[Role], permission: Permission) -> bool:
    return bool(GRANTS[permission] & set(roles))
