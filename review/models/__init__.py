"""Tables, split by concern. Importing this package registers all of them."""
from review.models.audit import AuditEvent, AuditHead
from review.models.channels import Channel
from review.models.chains import (ChainStep, ChannelWebhook, DecisionRecord, Delegation, Delivery, Escalation,
                                   Notification, NotificationAddress)
from review.models.drafts import Decision, Draft, DraftVersion, Flag, Publication, ScanResult
from review.models.people import ApiToken, User
from review.models.terms import WordListRevision, WordListTerm
from review.models.registry import FilingEvent
from review.models import reporting  # noqa: F401  (the report's indexes)

__all__ = [
    "ApiToken", "AuditEvent", "AuditHead", "Channel", "Decision", "Draft",
    "DraftVersion", "FilingEvent", "Flag", "Publication", "ScanResult", "User",
]
__all__ += [
    "ChainStep", "ChannelWebhook", "DecisionRecord", "Delegation", "Delivery", "Escalation",
    "Notification", "NotificationAddress",
]
__all__ += ["WordListRevision", "WordListTerm"]
