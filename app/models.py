"""Every model, imported once so that metadata and Alembic see the whole schema."""

from app.alerts.models import (
    Episode,
    EpisodeEvent,
    EpisodeReach,
    EpisodeUnit,
    ForecastIssue,
    ForecastValue,
    Proposal,
    ProposalDecision,
)
from app.audit.models import AuditEntry, AuditHead
from app.auth.models import ApiToken, Bureau, BureauScopeRoot, User, UserRole, UserSession
from app.cases.models import (
    Case,
    CaseEvent,
    CaseShare,
    CaseTransfer,
    Evidence,
    Inspection,
    SerialCounter,
    TransferItem,
)
from app.crosscheck.models import Campaign, CampaignPair, CampaignSample, Finding
from app.experts.models import Expert, GradeReview, ReviewInvitation
from app.jobs.models import Job
from app.notifications.models import Notification, NotificationRead
from app.places.models import Adjacency, InventoryFile, Jurisdiction, LinkageZone, ZoneMember
from app.plans.models import Plan
from app.power.models import (
    PowerBatch,
    PowerDaily,
    PowerDevice,
    PowerFlag,
    PowerHourly,
    PowerReading,
    PowerReport,
)
from app.reduction.models import (
    ControlFacility,
    Enterprise,
    EnterpriseAssessment,
    Measure,
    Meter,
    ProcessUnit,
    ReductionList,
    StaggeredPeriod,
    TotalEmissions,
)
from app.registry.models import (
    RegisteredEnterprise,
    RegisteredFacility,
    RegisteredMeter,
    RegisteredUnit,
    RegistryEvent,
)
from app.response.models import (
    ResponseArea,
    ResponseMeasure,
    ResponsePhoto,
    ResponseReport,
    ResponseTask,
    ResponseUnit,
)

__all__ = [
    "Adjacency",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Bureau",
    "BureauScopeRoot",
    "Campaign",
    "CampaignPair",
    "CampaignSample",
    "Case",
    "CaseEvent",
    "CaseShare",
    "CaseTransfer",
    "ControlFacility",
    "Enterprise",
    "EnterpriseAssessment",
    "Episode",
    "EpisodeEvent",
    "EpisodeReach",
    "EpisodeUnit",
    "Evidence",
    "Expert",
    "Finding",
    "ForecastIssue",
    "ForecastValue",
    "GradeReview",
    "Inspection",
    "InventoryFile",
    "Job",
    "Jurisdiction",
    "LinkageZone",
    "Measure",
    "Meter",
    "Notification",
    "NotificationRead",
    "Plan",
    "PowerBatch",
    "PowerDaily",
    "PowerDevice",
    "PowerFlag",
    "PowerHourly",
    "PowerReading",
    "PowerReport",
    "ProcessUnit",
    "Proposal",
    "ProposalDecision",
    "ReductionList",
    "RegisteredEnterprise",
    "RegisteredFacility",
    "RegisteredMeter",
    "RegisteredUnit",
    "RegistryEvent",
    "ResponseArea",
    "ResponseMeasure",
    "ResponsePhoto",
    "ResponseReport",
    "ResponseTask",
    "ResponseUnit",
    "ReviewInvitation",
    "SerialCounter",
    "StaggeredPeriod",
    "TotalEmissions",
    "TransferItem",
    "User",
    "UserRole",
    "UserSession",
    "ZoneMember",
]  # fmt: skip

# The registry follows every flush of the version rows (app/registry/services.py listens on the session).
import app.registry.services  # noqa: F401
