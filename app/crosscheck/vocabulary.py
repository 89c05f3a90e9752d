"""The words of the cross-checks (seed 001 五), marked for translation and worded when shown."""

from __future__ import annotations

from app.core.i18n import N_
from app.crosscheck.models import CampaignState, ChecklistItem, FindingResult, FindingState

ITEM_LABELS: dict[ChecklistItem, str] = {
    ChecklistItem.listed: N_("涉气企业应纳尽纳"),
    ChecklistItem.permit_data: N_("基础数据与排污许可一致"),
    ChecklistItem.industry: N_("行业归类准确"),
    ChecklistItem.reduction_base: N_("减排基数明确"),
    ChecklistItem.stop_times: N_("停限产时间明确"),
    ChecklistItem.measures: N_("减排措施可操作、可监测、可核查"),
    ChecklistItem.grade: N_("绩效等级依据充分"),
}
STATE_LABELS: dict[CampaignState, str] = {
    CampaignState.draft: N_("筹备中"),
    CampaignState.open: N_("进行中"),
    CampaignState.closed: N_("已结束"),
}
RESULT_LABELS: dict[FindingResult, str] = {
    FindingResult.conforms: N_("符合"),
    FindingResult.problem: N_("存在问题"),
}
FINDING_STATE_LABELS: dict[FindingState, str] = {
    FindingState.recorded: N_("待答复"),
    FindingState.answered: N_("已答复"),
    FindingState.accepted: N_("已认可"),
    FindingState.case: N_("已转问题线索"),
}
