"""Who may do what. The workflow enforces these; pages use them to decide
which buttons to show, so the two can never disagree."""
from __future__ import annotations

from sqlalchemy.orm import object_session

from review.models import Channel, Draft, User

# Statuses from which the author may submit a changed text.
REVISABLE = {"draft", "queued", "scanning", "in_review", "approved", "rejected", "scan_failed"}
WITHDRAWABLE = {"draft", "queued", "scanning", "in_review", "approved", "rejected", "scan_failed"}


def is_author(user: User, draft: Draft) -> bool:
    return draft.author_id == user.id


def is_channel_leader(user: User, channel: Channel) -> bool:
    return user.has_role("leader") and channel.leader_id == user.id


def can_view_draft(user: User, draft: Draft, channel: Channel) -> bool:
    if is_author(user, draft) or is_channel_leader(user, channel) or user.has_role("auditor"):
        return True
    from review import chains

    session = object_session(draft)
    return session is not None and chains.may_review_channel(session, user, channel)


def can_edit(user: User, draft: Draft) -> bool:
    return is_author(user, draft) and user.has_role("editor") and draft.status in REVISABLE


def can_decide(user: User, draft: Draft, channel: Channel) -> bool:
    """谁发布、谁负责: the reviewer of the chain's pending step (or their deputy), never on their own draft."""
    return decide_as(user, draft, channel) is not None


def decide_as(user: User, draft: Draft, channel: Channel):
    """(step state, actor) when this user may decide the draft now, else None."""
    if is_author(user, draft):
        return None
    from review import chains

    session = object_session(draft)
    if session is None:
        return None
    return chains.pending_actor(session, user, draft, channel)


def can_publish(user: User, draft: Draft) -> bool:
    return is_author(user, draft) and user.has_role("editor") and draft.status == "approved"


def can_retract(user: User, draft: Draft, channel: Channel) -> bool:
    return is_channel_leader(user, channel) and draft.status == "published"


def can_withdraw(user: User, draft: Draft) -> bool:
    return is_author(user, draft) and draft.status in WITHDRAWABLE


def can_retry_scan(user: User, draft: Draft) -> bool:
    return is_author(user, draft) and draft.status == "scan_failed"
