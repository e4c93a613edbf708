"""Review chains: which steps a channel's drafts pass, who may act on each,
and where a draft stands in its chain.

A chain is an ordered list of steps; each is the channel's supervising
leader, a named user, or a role within the channel's unit. A channel with no
steps stored has the default chain: one step, its supervising leader. A
draft passes when every step has approved its current version, in order;
decisions are bound to a version, so a new version starts the chain again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlmodel import Session

from review import audit, delegation
from review.errors import Forbidden, ValidationError
from review.models import ChainStep, Channel, Decision, Draft, User
from review.models.chains import STEP_KINDS
from review.models.people import ROLE_LABELS, ROLES
from review.timeutil import now

MAX_STEPS = 6
DEFAULT_STEP_NAME = "终审"


@dataclass(frozen=True)
class Step:
    position: int
    name: str
    kind: str  # leader | user | role
    user_id: int | None = None
    role: str = ""

    def describe(self, people: dict[int, User], channel: Channel) -> str:
        if self.kind == "leader":
            who = people.get(channel.leader_id)
            return f"分管领导（{who.display_name if who else '未指定'}）"
        if self.kind == "user":
            who = people.get(self.user_id)
            return who.display_name if who else "（用户已删除）"
        return f"{channel.unit or '本单位'}的{ROLE_LABELS.get(self.role, self.role)}"


def chains_by_channel(session: Session, channel_ids=None) -> dict[int, list[Step]]:
    """The defined chains of many channels in one query (channels without one are absent)."""
    stmt = select(ChainStep).order_by(ChainStep.channel_id, ChainStep.position)
    if channel_ids is not None:
        stmt = stmt.where(ChainStep.channel_id.in_(list(channel_ids)))
    out: dict[int, list[Step]] = {}
    for r in session.execute(stmt).scalars():
        out.setdefault(r.channel_id, []).append(Step(r.position, r.name, r.kind, r.user_id, r.role))
    return out


def chain_for(session: Session, channel: Channel, chains: dict[int, list[Step]] | None = None) -> list[Step]:
    """The channel's steps; `chains` (from chains_by_channel) spares a query per channel in lists."""
    if chains is None:
        chains = chains_by_channel(session, [channel.id])
    return chains.get(channel.id) or [Step(1, DEFAULT_STEP_NAME, "leader")]


def is_default(session: Session, channel: Channel) -> bool:
    return session.execute(select(ChainStep.id).where(ChainStep.channel_id == channel.id).limit(1)).first() is None


def direct_reviewers(session: Session, step: Step, channel: Channel) -> list[User]:
    """The people a step names (not their deputies)."""
    if step.kind == "leader":
        user = session.get(User, channel.leader_id)
        return [user] if user and user.active and user.has_role("leader") else []
    if step.kind == "user":
        user = session.get(User, step.user_id) if step.user_id else None
        return [user] if user and user.active else []
    users = session.execute(select(User).where(User.active.is_(True), User.unit == channel.unit)).scalars()
    return [u for u in users if u.has_role(step.role)] if channel.unit else []


def is_direct_reviewer(user: User, step: Step, channel: Channel) -> bool:
    if not user.active:
        return False
    if step.kind == "leader":
        return user.has_role("leader") and channel.leader_id == user.id
    if step.kind == "user":
        return step.user_id == user.id
    return bool(channel.unit) and user.unit == channel.unit and user.has_role(step.role)


@dataclass
class Actor:
    """Who acts on a step: the user, and whom they stand in for (if a deputy)."""

    user: User
    principal: User | None = None
    delegation_id: int | None = None


def actor_for(session: Session, user: User, step: Step, channel: Channel, draft: Draft,
              at: datetime | None = None, grants=None) -> Actor | None:
    """May `user` act on `step` of this draft? Directly, or as a deputy. Never on their own draft.
    `grants` (delegation.active_for_deputy) may be passed in when checking many drafts."""
    if draft.author_id == user.id:
        return None
    if is_direct_reviewer(user, step, channel):
        return Actor(user)
    if grants is None:
        grants = delegation.active_for_deputy(session, user, at or now())
    for grant, principal in grants:
        if principal.id != draft.author_id and is_direct_reviewer(principal, step, channel):
            return Actor(user, principal, grant.id)
    return None


@dataclass
class StepState:
    step: Step
    decision: Decision | None = None
    reviewers: list[User] = field(default_factory=list)

    @property
    def approved(self) -> bool:
        return self.decision is not None and self.decision.decision == "approve"


@dataclass
class ChainState:
    steps: list[StepState]

    @property
    def pending(self) -> StepState | None:
        """The first step without an approval, unless a step rejected (then nothing is pending)."""
        for state in self.steps:
            if state.decision is not None and state.decision.decision == "reject":
                return None
            if not state.approved:
                return state
        return None

    @property
    def approvals(self) -> list[StepState]:
        return [s for s in self.steps if s.approved]


def decisions_by_version(session: Session, version_ids) -> dict[int, dict[int, Decision]]:
    """Decisions of many versions in one query: {version_id: {step: decision}}."""
    out: dict[int, dict[int, Decision]] = {}
    ids = [v for v in version_ids if v]
    if ids:
        for d in session.execute(select(Decision).where(Decision.version_id.in_(ids))).scalars():
            out.setdefault(d.version_id, {})[d.step] = d
    return out


def state(session: Session, draft: Draft, channel: Channel, *, with_reviewers: bool = False,
          chains: dict[int, list[Step]] | None = None,
          decisions: dict[int, Decision] | None = None) -> ChainState:
    """Where the draft's current version stands in its channel's chain. Lists pass
    `chains` and `decisions` loaded for all their drafts at once."""
    if decisions is None:
        decisions = decisions_by_version(session, [draft.current_version_id]).get(draft.current_version_id, {})
    steps = []
    for step in chain_for(session, channel, chains):
        st = StepState(step, decisions.get(step.position))
        if with_reviewers:
            st.reviewers = direct_reviewers(session, step, channel)
        steps.append(st)
    return ChainState(steps)


def pending_actor(session: Session, user: User, draft: Draft, channel: Channel) -> tuple[StepState, Actor] | None:
    """The step this user may decide now (the chain's next one), with how they act."""
    if draft.status != "in_review":
        return None
    pending = state(session, draft, channel).pending
    if pending is None:
        return None
    actor = actor_for(session, user, pending.step, channel, draft)
    return (pending, actor) if actor else None


def may_review_channel(session: Session, user: User, channel: Channel) -> bool:
    """Does any step of the channel's chain name this user, directly or as a deputy? (Viewing drafts.)"""
    principals = [user] + [p for _, p in delegation.active_for_deputy(session, user, now())]
    steps = chain_for(session, channel)
    return any(is_direct_reviewer(p, s, channel) for p in principals for s in steps)


def reviewer_channel_ids(session: Session, user: User) -> set[int]:
    """Channels where this user (or someone they deputise for) is on the chain."""
    principals = [user] + [p for _, p in delegation.active_for_deputy(session, user, now())]
    ids: set[int] = set()
    chains = chains_by_channel(session)
    for channel in session.execute(select(Channel)).scalars():
        steps = chain_for(session, channel, chains)
        if any(is_direct_reviewer(p, s, channel) for p in principals for s in steps):
            ids.add(channel.id)
    return ids


def is_reviewer_anywhere(session: Session, user: User) -> bool:
    """Cheap check for the navigation: could this user have anything to review?"""
    if user.has_role("leader"):
        return True
    if session.execute(select(ChainStep.id).where(ChainStep.kind == "user", ChainStep.user_id == user.id)
                       .limit(1)).first():
        return True
    if user.unit and session.execute(
            select(ChainStep.id).join(Channel, Channel.id == ChainStep.channel_id)
            .where(ChainStep.kind == "role", ChainStep.role.in_(sorted(user.role_set)), Channel.unit == user.unit)
            .limit(1)).first():
        return True
    return bool(delegation.active_for_deputy(session, user, now()))


# ---------------------------------------------------------------- editing

def parse_steps(rows: list[dict], session: Session) -> list[Step]:
    """Validate the rows a registrar submitted: [{name, kind, user_id, role}, ...] (empty rows dropped)."""
    steps: list[Step] = []
    for row in rows:
        name = (row.get("name") or "").strip()
        kind = (row.get("kind") or "").strip()
        if not name and not kind:
            continue
        n = len(steps) + 1
        if not name:
            raise ValidationError(f"第{n}步请填写名称（如初审、复审、终审）", field="name")
        if len(name) > 32:
            raise ValidationError(f"第{n}步的名称不能超过32字", field="name")
        if kind not in STEP_KINDS:
            raise ValidationError(f"第{n}步请选择由谁审核", field="kind")
        user_id, role = None, ""
        if kind == "user":
            raw = str(row.get("user_id") or "").strip()
            user = session.get(User, int(raw)) if raw.isdigit() else None
            if user is None or not user.active:
                raise ValidationError(f"第{n}步请选择一位在用的审核人", field="user_id")
            user_id = user.id
        elif kind == "role":
            role = (row.get("role") or "").strip()
            if role not in ROLES:
                raise ValidationError(f"第{n}步请选择角色", field="role")
        steps.append(Step(n, name, kind, user_id, role))
    if len(steps) > MAX_STEPS:
        raise ValidationError(f"审核链最多{MAX_STEPS}步", field="name")
    return steps


def set_chain(session: Session, actor: User, channel: Channel, steps: list[Step]) -> list[Step]:
    """Replace a channel's chain (registrars). No steps: back to the default chain."""
    if not actor.has_role("registrar"):
        raise Forbidden("只有管理员可以设置审核链")
    if any(s.kind == "role" for s in steps) and not channel.unit:
        raise ValidationError("该渠道没有登记主办单位，不能按单位内角色指定审核人", field="kind")
    session.execute(delete(ChainStep).where(ChainStep.channel_id == channel.id))
    for s in steps:
        session.add(ChainStep(channel_id=channel.id, position=s.position, name=s.name, kind=s.kind,
                              user_id=s.user_id, role=s.role))
    session.flush()
    audit.record(session, "chain.updated", actor, channel_id=channel.id,
                 steps=[{"name": s.name, "kind": s.kind, "user_id": s.user_id, "role": s.role} for s in steps])
    return steps or chain_for(session, channel)
