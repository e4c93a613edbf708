"""Tables, split by concern. Importing this package registers all of them."""
from review.models.audit import AuditEvent, AuditHead
from review.models.channels import Channel
from review.models.drafts import Decision, Draft, DraftVersion, Flag, Publication, ScanResult
from review.models.people import ApiToken, User

__all__ = [
    "ApiToken", "AuditEvent", "AuditHead", "Channel", "Decision", "Draft",
    "DraftVersion", "Flag", "Publication", "ScanResult", "User",
]
