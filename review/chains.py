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
from datetime import date, datetime

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from review import audit, delegation
from review.errors import Forbidden, ValidationError
from review.models import ChainStep, Channel, Decision, Delegation, Draft, User
from review.models.chains import STEP_KINDS
from review.models.channels import FILING_LABELS
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


_CHAIN_OF = select(ChainStep).where(ChainStep.channel_id == bindparam("channel_id")).order_by(ChainStep.position)


def chain_for(session: Session, channel: Channel, chains: dict[int, list[Step]] | None = None) -> list[Step]:
    """The channel's steps; `chains` (from chains_by_channel) spares a query per channel in lists."""
    if chains is None:
        steps = [Step(r.position, r.name, r.kind, r.user_id, r.role)
                 for r in session.execute(_CHAIN_OF, {"channel_id": channel.id}).scalars()]
        return steps or [Step(1, DEFAULT_STEP_NAME, "leader")]
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

    def unreviewable(self, author_id: int) -> StepState | None:
        """The pending step when nobody may decide it: no active reviewer but the draft's author,
        who may not review their own draft nor have a deputy do it (needs with_reviewers)."""
        pending = self.pending
        if pending is not None and not any(u.id != author_id for u in pending.reviewers):
            return pending
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


def pending_actor(session: Session, user: User, draft: Draft, channel: Channel,
                  chain: ChainState | None = None) -> tuple[StepState, Actor] | None:
    """The step this user may decide now (the chain's next one), with how they act.
    `chain` (the draft's state, if the caller has it) spares loading it again."""
    if draft.status != "in_review":
        return None
    pending = (chain or state(session, draft, channel)).pending
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
    return set(reviewer_scope(session, user).channels)


def decided_steps():
    """SQL: how many steps have decided the draft's current version (correlated to Draft).

    While a draft is in review its current version has approvals only (a
    rejection moves the draft out of review in the same transaction), and
    steps approve in order, so its pending step is at position this + 1 -
    what ChainState.pending says, computed by the database for many drafts.
    Served by the (version_id, step) unique index."""
    return (select(func.count(Decision.id)).where(Decision.version_id == Draft.current_version_id)
            .correlate(Draft).scalar_subquery())


@dataclass
class ReviewerScope:
    """What a reviewer may decide, worked out once per request from the chains,
    the channels and the delegations in force: which step of which channel
    they decide themselves, and which only as someone's deputy."""

    user: User
    grants: list  # delegation.active_for_deputy
    channels: dict[int, "ChannelSummary"]  # channels where the user, or a principal of theirs, is on the chain
    chains: dict[int, list[Step]]  # the chain of each of those channels (the default one included)
    direct: dict[int, set[int]] = field(default_factory=dict)  # position -> channels (the user's own step)
    deputised: dict[tuple[int, int], set[int]] = field(default_factory=dict)  # (position, principal) -> channels

    def shape(self) -> tuple:
        """The form of the SQL that says what this user may decide, without the channel ids:
        statements are built once per shape (may_decide_sql), the ids go in as parameters."""
        return tuple(sorted(self.direct)), tuple(sorted(self.deputised))

    def params(self) -> dict:
        """The channel ids for a statement built by may_decide_sql(self.shape(), ...)."""
        out = {f"direct_{pos}": sorted(ids) for pos, ids in self.direct.items()}
        out.update({f"deputy_{pos}_{pid}": sorted(ids) for (pos, pid), ids in self.deputised.items()})
        return out

    def multi_step_channels(self) -> dict[int, set[int]]:
        """Chain length -> channels of this scope with chains longer than one step."""
        out: dict[int, set[int]] = {}
        for channel_id, steps in self.chains.items():
            if len(steps) > 1:
                out.setdefault(len(steps), set()).add(channel_id)
        return out

    def actor(self, session: Session, step: Step, channel: Channel, draft) -> Actor | None:
        return actor_for(session, self.user, step, channel, draft, grants=self.grants)


@dataclass(slots=True)
class ChannelSummary:
    """What deciding who reviews needs of a channel (is_direct_reviewer), and what a list shows of it."""

    id: int
    name: str
    leader_id: int
    unit: str
    filing_status: str
    filing_date: date | None
    last_annual_check: date | None
    refiling_due: date | None

    @property
    def filing_label(self) -> str:
        return FILING_LABELS.get(self.filing_status, self.filing_status)

    reminders = Channel.reminders  # the registry's own rule, over these columns


CHANNEL_COLUMNS = (Channel.id, Channel.name, Channel.leader_id, Channel.unit, Channel.filing_status,
                   Channel.filing_date, Channel.last_annual_check, Channel.refiling_due)

# The channels whose chain may name one of :people (the user and whom they stand in for), with
# their defined steps (none: the default chain), in one query. A coarse filter - the channel's
# leader, a step naming one of them, or a role step in a unit of theirs - that reviewer_scope
# then decides exactly (is_direct_reviewer); it spares reading every channel's chain.
_STEP = aliased(ChainStep)
_CHANNEL_CHAINS = (select(*CHANNEL_COLUMNS, ChainStep.position, ChainStep.name, ChainStep.kind, ChainStep.user_id,
                          ChainStep.role)
                   .outerjoin(ChainStep, ChainStep.channel_id == Channel.id)
                   .where(or_(Channel.leader_id.in_(bindparam("people", expanding=True)),
                              exists().where(_STEP.channel_id == Channel.id, or_(
                                  _STEP.user_id.in_(bindparam("named", expanding=True)),
                                  and_(_STEP.kind == "role", Channel.unit.in_(bindparam("units", expanding=True)))))))
                   .order_by(Channel.id, ChainStep.position))
_N = len(CHANNEL_COLUMNS)


def may_decide_sql(shape: tuple, position):
    """SQL: the scope's user may decide step `position` (an SQL expression) of the Draft row -
    actor_for's rule: directly, or as the deputy of a principal who is not the draft's author
    (the user's own drafts are for the caller to exclude). `shape` is ReviewerScope.shape();
    the channel ids are bound from ReviewerScope.params(). None when nothing can match."""
    direct, deputised = shape
    terms = [and_(Draft.channel_id.in_(bindparam(f"direct_{pos}", expanding=True)), position == pos)
             for pos in direct]
    terms += [and_(Draft.channel_id.in_(bindparam(f"deputy_{pos}_{pid}", expanding=True)), position == pos,
                   Draft.author_id != pid) for pos, pid in deputised]
    return or_(*terms) if terms else None


def reviewer_scope(session: Session, user: User, at: datetime | None = None, grants=None) -> ReviewerScope:
    """Two small queries: the delegations in force (unless the caller passes `grants`, as
    delegation.active_for_deputy gives them), and the chains that may name the user or a principal."""
    if grants is None:
        grants = delegation.active_for_deputy(session, user, at or now())
    principals = [p for _, p in grants if p.id != user.id]
    channels: dict[int, tuple[ChannelSummary, list[Step]]] = {}
    people = [user, *principals]
    ids = sorted({p.id for p in people})
    units = sorted({p.unit for p in people if p.unit})
    for r in session.execute(_CHANNEL_CHAINS, {"people": ids, "named": ids, "units": units}):
        channel, steps = channels.get(r[0]) or channels.setdefault(r[0], (ChannelSummary(*r[:_N]), []))
        position, name, kind, user_id, role = r[_N:]
        if position is not None:
            steps.append(Step(position, name, kind, user_id, role))
    scope = ReviewerScope(user, grants, {}, {})
    for channel, steps in channels.values():
        steps = steps or [Step(1, DEFAULT_STEP_NAME, "leader")]
        on_chain = False
        for step in steps:
            if is_direct_reviewer(user, step, channel):
                scope.direct.setdefault(step.position, set()).add(channel.id)
                on_chain = True
                continue
            for p in principals:
                if is_direct_reviewer(p, step, channel):
                    scope.deputised.setdefault((step.position, p.id), set()).add(channel.id)
                    on_chain = True
        if on_chain:
            scope.chains[channel.id] = steps
            scope.channels[channel.id] = channel
    return scope


_ACTIVE_PRINCIPAL = aliased(User)


def reviews_anywhere_sql():
    """SQL, correlated to the User row of the enclosing select: could this user have anything to
    review? A leader; named in a chain; holding a role a chain asks of the user's unit; or standing
    in for an active principal on the day bound as :day. The navigation's check, so it can ride
    along with the query that loads the signed-in user (review/web/auth.py)."""
    padded_roles = " " + User.roles + " "  # roles are space-separated codes
    return or_(
        padded_roles.contains(" leader "),
        exists().where(ChainStep.kind == "user", ChainStep.user_id == User.id),
        exists().where(ChainStep.kind == "role", ChainStep.role != "",
                       padded_roles.contains(" " + ChainStep.role + " "),
                       Channel.id == ChainStep.channel_id, User.unit != "", Channel.unit == User.unit),
        exists().where(Delegation.deputy_id == User.id, Delegation.revoked_at.is_(None),
                       Delegation.starts_on <= bindparam("day"), Delegation.ends_on >= bindparam("day"),
                       _ACTIVE_PRINCIPAL.id == Delegation.principal_id, _ACTIVE_PRINCIPAL.active.is_(True)),
    )


_REVIEWS_ANYWHERE = select(reviews_anywhere_sql()).where(User.id == bindparam("user_id"))


def is_reviewer_anywhere(session: Session, user: User) -> bool:
    """Cheap check for the navigation: could this user have anything to review? (One query.)"""
    if user.has_role("leader"):
        return True
    return bool(session.execute(_REVIEWS_ANYWHERE, {"user_id": user.id, "day": delegation.today_local()}).scalar())


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
