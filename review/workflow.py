"""The state machine of a draft: submit, scan, decide, publish, retract.

Every function takes an open session and the acting user, checks the rules,
changes the rows and appends exactly one audit event per transition. The
caller commits. Status changes are conditional UPDATEs (`_transition`), so two
people acting at once on the same draft produce exactly one change and the
loser gets `Conflict`.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from sqlalchemy import exists, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from review import audit, chains, deadlines, delegation, notifications, permissions
from review.channels import get_channel
from review.db import bulk_insert
from review.errors import Conflict, Forbidden, NotFound, ValidationError
from review.models import (Channel, Decision, DecisionRecord, Draft, DraftVersion, Flag, Publication, ScanResult,
                           User)
from review.models.drafts import AWAITING_SCAN, STATUS_LABELS
from review.sanitize import clean_html, dropped_text, html_to_text
from review.timeutil import now
from review.validation import as_int

MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 100_000
# Channels with no web address: the editor records where it was posted instead.
OFFLINE_PLATFORMS = {"wechat_group", "qq_group", "bulletin_board", "other"}


# ---------------------------------------------------------------- content

@dataclass(frozen=True)
class Content:
    title: str
    body: str  # as it will be stored and published (HTML already sanitised)
    body_format: str
    text: str  # the plain text that is scanned and reviewed

    @property
    def sha256(self) -> str:
        return content_sha256(self.title, self.body_format, self.body)


def content_sha256(title: str, body_format: str, body: str) -> str:
    """The hash an approval is bound to: title, format and body, exactly."""
    canonical = json.dumps({"title": title, "format": body_format, "body": body},
                           ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def prepare_content(title, body, body_format="text", *, max_body=MAX_BODY_CHARS) -> Content:
    """Validate what an editor typed or pasted; sanitise HTML."""
    if not isinstance(title, str) or not isinstance(body, str):
        raise ValidationError("标题和正文必须是文本")
    body_format = body_format or "text"
    if body_format not in ("text", "html"):
        raise ValidationError("正文格式只能是纯文本或HTML", field="body_format")
    # NUL cannot be stored by PostgreSQL and is never meaningful in a post.
    title = title.replace("\x00", "").strip()
    body = body.replace("\x00", "").replace("\r\n", "\n")
    if not title:
        raise ValidationError("标题不能为空", field="title")
    if len(title) > MAX_TITLE_CHARS:
        raise ValidationError(f"标题不能超过{MAX_TITLE_CHARS}字", field="title")
    if len(body) > max_body:
        raise ValidationError(f"正文不能超过{max_body:,}字（当前{len(body):,}字）", field="body")
    if body_format == "html":
        cleaned = clean_html(body)
        text = html_to_text(cleaned)
        lost = dropped_text(body, text)
        if lost:  # what the leader approves must be what the editor wrote
            raise ValidationError(f"按网页格式（HTML）处理时，正文中“{lost}”一处会被当作网页代码删掉。"
                                  "如果输入的是普通文字，请选择纯文本格式；如果是网页代码，请检查后再提交", field="body")
        body = cleaned
    else:
        text = body
    if not text.strip():
        raise ValidationError("正文不能为空", field="body")
    return Content(title=title, body=body, body_format=body_format, text=text)


# ---------------------------------------------------------------- helpers

def get_draft(session: Session, draft_id) -> Draft:
    key = as_int(draft_id)
    draft = session.get(Draft, key) if key is not None else None
    if draft is None:
        raise NotFound("稿件不存在")
    return draft


def current_version(session: Session, draft: Draft) -> DraftVersion | None:
    return session.get(DraftVersion, draft.current_version_id) if draft.current_version_id else None


def _transition(session: Session, draft: Draft, allowed: set[str] | tuple, new_status: str,
                *, version_id: int | None = None, **values) -> None:
    """Move the draft to new_status only if it is still in an allowed status
    (and still at version_id); otherwise someone got there first."""
    values = {"status": new_status, "updated_at": now(), **values}
    stmt = (update(Draft).where(Draft.id == draft.id, Draft.status.in_(list(allowed)))
            .values(**values).execution_options(synchronize_session=False))
    if version_id is not None:
        stmt = stmt.where(Draft.current_version_id == version_id)
    if session.execute(stmt).rowcount != 1:
        session.refresh(draft)
        raise Conflict(f"稿件状态已变为“{STATUS_LABELS.get(draft.status, draft.status)}”，请刷新后再试")
    for key, value in values.items():
        set_committed_value(draft, key, value)  # already in the row: no second UPDATE at flush


def _require_editor(actor: User):
    if not actor.has_role("editor"):
        raise Forbidden("只有编辑可以撰写和提交稿件")


def _check_channel_open(channel: Channel):
    if not channel.accepts_drafts:
        raise ValidationError(f"渠道“{channel.name}”已{channel.filing_label}，不能提交稿件", field="channel_id")


# ---------------------------------------------------------------- editor

def _form_key(value) -> str | None:
    return str(value)[:32] if value else None


def _sent_before(session: Session, actor: User, form_key: str | None) -> int | None:
    """The draft this new-draft form already made (sent again: Back, then the button), if any."""
    if not form_key:
        return None
    return session.execute(select(Draft.id).where(Draft.author_id == actor.id,
                                                  Draft.form_key == form_key)).scalar()


def _flush_new(session: Session, draft: Draft) -> None:
    """Write the draft; the same form sent twice at once: the second finds the key taken."""
    session.add(draft)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("这份稿件刚刚已经提交，请到“我的稿件”查看，不要重复提交") from None


def save_draft(session: Session, actor: User, channel_id, title, body, body_format="text",
               urgent=False, draft_id=None, form_key=None) -> Draft:
    """Keep an unsubmitted working copy (status `draft`). A new-draft form's `form_key`
    makes one draft however often the form is sent."""
    _require_editor(actor)
    channel = get_channel(session, channel_id)
    _check_channel_open(channel)
    content = prepare_content(title, body, body_format)
    form_key = _form_key(form_key)
    draft_id = draft_id or _sent_before(session, actor, form_key)
    if draft_id:
        draft = get_draft(session, draft_id)
        if not permissions.is_author(actor, draft) or draft.status != "draft":
            raise Forbidden("只能保存自己尚未提交的草稿")
    else:
        draft = Draft(channel_id=channel.id, author_id=actor.id, title=content.title, body="", status="draft",
                      form_key=form_key)
    draft.channel_id = channel.id
    draft.title, draft.body, draft.body_format = content.title, content.body, content.body_format
    draft.urgent = bool(urgent)
    draft.updated_at = now()
    _flush_new(session, draft)
    audit.record(session, "draft.saved", actor, draft_id=draft.id, channel_id=channel.id, title=draft.title)
    return draft


def submit(session: Session, actor: User, channel_id, title, body, body_format="text",
           urgent=False, draft_id=None, form_key=None) -> tuple[Draft, DraftVersion, bool]:
    """Freeze the text into a new version and queue it for scanning.

    Returns (draft, version, created): `created` is False when the text is the
    same as the version already under review, which then stays as it is.
    A new-draft form sent again (its `form_key`) revises the draft it made
    rather than making another. The caller commits, then enqueues the scan:
    the version is in the database before any job can look for it.
    """
    _require_editor(actor)
    channel = get_channel(session, channel_id)
    _check_channel_open(channel)
    content = prepare_content(title, body, body_format)
    form_key = _form_key(form_key)
    draft_id = draft_id or _sent_before(session, actor, form_key)
    if draft_id:
        draft = get_draft(session, draft_id)
        if not permissions.is_author(actor, draft):
            raise Forbidden("只能修改自己撰写的稿件")
        if draft.status not in permissions.REVISABLE:
            raise Conflict(f"稿件已{draft.status_label}，不能再修改")
        if draft.channel_id != channel.id and draft.current_version_id:
            raise ValidationError("已提交的稿件不能更换渠道", field="channel_id")
        previous = current_version(session, draft)
    else:
        draft = Draft(channel_id=channel.id, author_id=actor.id, title=content.title, body="",
                      form_key=form_key)
        previous = None

    if previous is not None and previous.content_sha256 == content.sha256:
        if draft.status in ("queued", "scanning", "in_review", "approved"):
            return draft, previous, False  # nothing changed: the review in progress stands
        raise ValidationError("内容与上一版相同，请修改后再提交", field="body")

    was = draft.status if draft_id else None
    at = now()
    draft.channel_id = channel.id
    draft.title, draft.body, draft.body_format = content.title, content.body, content.body_format
    draft.urgent = bool(urgent)
    draft.deadline_at = deadlines.deadline_for(channel, draft.urgent, at)
    draft.submitted_at = at
    draft.updated_at = at
    _flush_new(session, draft)
    version = DraftVersion(
        draft_id=draft.id,
        number=(previous.number + 1) if previous else 1,
        title=content.title,
        body=content.body,
        body_format=content.body_format,
        text=content.text,
        content_sha256=content.sha256,
        created_by_id=actor.id,
        created_at=at,
    )
    session.add(version)
    session.flush()
    _transition(session, draft, permissions.REVISABLE, "queued", current_version_id=version.id)
    deadlines.start_clock(session, draft, version.id)
    audit.record(
        session, "draft.resubmitted" if previous else "draft.submitted", actor,
        draft_id=draft.id, channel_id=channel.id, version=version.number,
        sha256=version.content_sha256, urgent=draft.urgent, previous_status=was,
    )
    return draft, version, True


def withdraw(session: Session, actor: User, draft_id) -> Draft:
    draft = get_draft(session, draft_id)
    if not permissions.is_author(actor, draft):
        raise Forbidden("只能撤回自己撰写的稿件")
    _transition(session, draft, permissions.WITHDRAWABLE, "withdrawn")
    audit.record(session, "draft.withdrawn", actor, draft_id=draft.id, channel_id=draft.channel_id)
    return draft


def retry_scan(session: Session, actor: User, draft_id) -> DraftVersion:
    """After a failed scan the author asks for another try; caller enqueues."""
    draft = get_draft(session, draft_id)
    if not permissions.is_author(actor, draft):
        raise Forbidden("只能重试自己撰写的稿件")
    version = current_version(session, draft)
    _transition(session, draft, {"scan_failed"}, "queued", version_id=draft.current_version_id)
    version.scan_attempts = 0
    session.add(version)
    audit.record(session, "scan.retried", actor, draft_id=draft.id, channel_id=draft.channel_id,
                 version=version.number)
    return version


def publish(session: Session, actor: User, draft_id, url: str, published_at: datetime | None) -> Publication:
    """Record where and when the approved text went out."""
    draft = get_draft(session, draft_id)
    channel = session.get(Channel, draft.channel_id)
    if not permissions.is_author(actor, draft) or not actor.has_role("editor"):
        raise Forbidden("只有稿件的编辑可以登记发布")
    if draft.status != "approved":
        raise Conflict(f"稿件{draft.status_label}，只有审核通过的稿件可以发布")
    url = (url or "").strip()
    if not url:
        raise ValidationError("请填写发布地址（链接或发布位置）", field="url")
    if len(url) > 1000:
        raise ValidationError("发布地址过长", field="url")
    if channel.platform not in OFFLINE_PLATFORMS:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValidationError("发布链接应以 http:// 或 https:// 开头", field="url")
    at = now()
    published_at = published_at or at
    if published_at > at + timedelta(minutes=5):
        raise ValidationError("发布时间不能晚于现在", field="published_at")
    version = current_version(session, draft)
    approvals = session.execute(
        select(Decision).where(Decision.version_id == version.id, Decision.decision == "approve")
    ).scalars().all()
    # The text going out must be exactly the text every step approved.
    actual = content_sha256(version.title, version.body_format, version.body)
    if (not approvals or any(a.content_sha256 != actual for a in approvals)
            or version.content_sha256 != actual):
        raise Conflict("待发布内容与审核通过的版本不一致，不能发布")
    _transition(session, draft, {"approved"}, "published", version_id=version.id)
    publication = Publication(
        draft_id=draft.id, version_id=version.id, content_sha256=actual, url=url,
        published_at=published_at, recorded_by_id=actor.id, recorded_at=at,
    )
    session.add(publication)
    session.flush()
    audit.record(session, "draft.published", actor, draft_id=draft.id, channel_id=draft.channel_id,
                 version=version.number, sha256=actual, url=url)
    return publication


# ---------------------------------------------------------------- leader

def decide(session: Session, actor: User, draft_id, decision: str, comment: str = "",
           version=None, acknowledged=()) -> Decision:
    """Decide the step of the channel's review chain that is waiting for this
    reviewer (or for the one they deputise for), on exactly one version.

    Steps go in order; each approval is bound to the version's hash. The last
    step's approval approves the draft; a rejection at any step returns it to
    the editor, and everyone who already approved this version is told. A
    stale, early or second decision is a Conflict."""
    draft = get_draft(session, draft_id)
    channel = session.get(Channel, draft.channel_id)
    if permissions.is_author(actor, draft):
        raise Forbidden("不能审核自己撰写的稿件：作者对本稿没有审核权限")
    state = chains.state(session, draft, channel)
    if not any(chains.actor_for(session, actor, s.step, channel, draft) for s in state.steps):
        if chains.is_default(session, channel):
            raise Forbidden("只有该渠道的分管领导可以审核")
        raise Forbidden("您不在该渠道的审核链上，不能审核")
    if decision not in ("approve", "reject"):
        raise ValidationError("审核结论只能是通过或退回", field="decision")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise ValidationError("审核意见不能超过2000字", field="comment")
    if decision == "reject" and not comment:
        raise ValidationError("退回时必须填写审核意见", field="comment")
    current = current_version(session, draft)
    version_number = as_int(version)
    if version_number is None:
        raise ValidationError("请指明审核的版本号", field="version")
    if current is None or draft.status != "in_review":
        raise Conflict(f"稿件{draft.status_label}，当前不能审核")
    if version_number != current.number:
        raise Conflict(f"稿件已更新为第{current.number}版，您审核的是第{version_number}版，请刷新后重新审核")
    pending = state.pending
    acting = chains.actor_for(session, actor, pending.step, channel, draft) if pending else None
    if acting is None:
        if pending is None:
            raise Conflict("该版本已有审核结论")
        done = [s for s in state.approvals if chains.actor_for(session, actor, s.step, channel, draft)]
        if done:
            raise Conflict(f"您已在“{done[0].step.name}”审核过第{current.number}版，正等待“{pending.step.name}”")
        raise Conflict(f"稿件正在等待“{pending.step.name}”，轮到您时会通知您")
    # A form ticks one box per term, carrying all its flag ids ("3,7"); the API sends ids.
    ack = {int(x) for a in acknowledged for x in str(a).split(",") if x.strip().isdigit()}
    if decision == "approve":
        unticked = [f for f in must_acknowledge(session, current.id) if f.id not in ack]
        if unticked:
            terms = "、".join(dict.fromkeys(f.text for f in unticked))
            raise ValidationError(f"有高风险标记未确认已斟酌：{terms}", field="acknowledged")
    step = pending.step
    last = step.position == state.steps[-1].step.position
    new_status = "rejected" if decision == "reject" else ("approved" if last else "in_review")
    # The conditional UPDATE also serialises deciders: a resubmission in between is a Conflict.
    _transition(session, draft, {"in_review"}, new_status, version_id=current.id)
    row = Decision(
        draft_id=draft.id, version_id=current.id, version_number=current.number,
        content_sha256=current.content_sha256, step=step.position, decision=decision, comment=comment,
        flags_acknowledged=" ".join(str(a) for a in sorted(ack)), decided_by_id=actor.id,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("该版本已有审核结论") from None
    principal = acting.principal
    session.add(DecisionRecord(decision_id=row.id, step_name=step.name,
                               on_behalf_of_id=principal.id if principal else None,
                               delegation_id=acting.delegation_id))
    session.flush()
    action = "draft.rejected" if decision == "reject" else ("draft.approved" if last else "draft.step_approved")
    extra = {"on_behalf_of": principal.id, "on_behalf_of_name": principal.display_name} if principal else {}
    audit.record(session, action, actor, draft_id=draft.id, channel_id=draft.channel_id, version=current.number,
                 sha256=current.content_sha256, comment=comment, step=step.position, step_name=step.name, **extra)
    _tell_after_decision(session, draft, channel, current, state, step, decision, actor, principal, comment, last)
    return row


def _who(actor: User, principal: User | None) -> str:
    return f"{actor.display_name} 代 {principal.display_name}" if principal else actor.display_name


def decision_notice(session: Session, draft_id: int) -> str:
    """What the reviewer is told after deciding: approved, returned, or (a chain of several
    steps) passed on to the next step."""
    draft = session.get(Draft, draft_id)
    session.refresh(draft)
    if draft.status == "rejected":
        return f"《{draft.title}》已退回编辑"
    pending = chains.state(session, draft, session.get(Channel, draft.channel_id)).pending
    if draft.status == "in_review" and pending is not None:
        return f"《{draft.title}》本步已通过，转“{pending.step.name}”审核"
    return f"《{draft.title}》已审核通过"


def _tell_after_decision(session, draft, channel, version, state, step, decision, actor, principal, comment, last):
    author = session.get(User, draft.author_id)
    who = _who(actor, principal)
    title = f"《{draft.title}》第{version.number}版"
    if decision == "reject":
        approvers = []
        for s in state.approvals:
            approvers.append(session.get(User, s.decision.decided_by_id))
            record = session.get(DecisionRecord, s.decision.id)
            if record and record.on_behalf_of_id:
                approvers.append(session.get(User, record.on_behalf_of_id))
        notifications.notify(session, [author], "rejected", f"{title}在“{step.name}”被{who}退回：{comment}",
                             draft=draft, channel=channel)
        if approvers:
            notifications.notify(session, approvers, "rejected",
                                 f"您已通过的{title}在“{step.name}”被{who}退回：{comment}", draft=draft)
    elif last:
        notifications.notify(session, [author], "approved", f"{title}已通过全部审核（{step.name}：{who}），可以发布",
                             draft=draft, channel=channel)
    else:
        following = state.steps[state.steps.index(next(s for s in state.steps if s.step == step)) + 1]
        _tell_reviewers(session, draft, channel, following.step,
                        f"{title}已通过“{step.name}”（{who}），请您“{following.step.name}”")


class _StepAudience:
    """Who is told that a step waits: its direct reviewers and their deputies,
    never the draft's author nor the author's deputies. A batch keeps one, so
    each channel's step is looked up once."""

    def __init__(self, session: Session):
        self.session = session
        self._direct: dict[tuple, list[User]] = {}
        self._deputies: dict[tuple, list[User]] = {}

    def of(self, step, channel: Channel, author_id: int) -> list[User]:
        key = (channel.id, step.position)
        if key not in self._direct:
            self._direct[key] = chains.direct_reviewers(self.session, step, channel)
        reviewers = [u for u in self._direct[key] if u.id != author_id]
        ids = tuple(u.id for u in reviewers)
        if ids not in self._deputies:
            self._deputies[ids] = delegation.deputies_of(self.session, reviewers, now())
        return [*reviewers, *(u for u in self._deputies[ids] if u.id != author_id)]


def _tell_reviewers(session, draft, channel, step, text, audience=None, notifier=None):
    users = (audience or _StepAudience(session)).of(step, channel, draft.author_id)
    (notifier or notifications.Notifier(session)).notify(users, "submitted", text, draft=draft, channel=channel)


def must_acknowledge(session: Session, version_id: int) -> list[Flag]:
    """High-severity flags a leader must tick before approving (low-confidence ones are hidden)."""
    return list(session.execute(
        select(Flag).where(Flag.version_id == version_id, Flag.severity == "high", Flag.confidence != "low")
        .order_by(Flag.field, Flag.start)
    ).scalars())


def retract(session: Session, actor: User, draft_id, reason: str) -> Publication:
    draft = get_draft(session, draft_id)
    channel = session.get(Channel, draft.channel_id)
    if not permissions.is_channel_leader(actor, channel):
        raise Forbidden("只有该渠道的分管领导可以撤稿")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("撤稿必须填写原因", field="reason")
    _transition(session, draft, {"published"}, "retracted")
    publication = session.execute(select(Publication).where(Publication.draft_id == draft.id)).scalars().one()
    publication.retracted_at = now()
    publication.retracted_by_id = actor.id
    publication.retract_reason = reason[:2000]
    session.add(publication)
    audit.record(session, "draft.retracted", actor, draft_id=draft.id, channel_id=draft.channel_id, reason=reason)
    notifications.notify(session, [session.get(User, draft.author_id)], "retracted",
                         f"《{draft.title}》已被{actor.display_name}撤稿：{reason}", draft=draft, channel=channel)
    return publication


# ---------------------------------------------------------------- scanning

def record_scan(session: Session, version_id: int, wordlist_version: str, hits: dict,
                duration_ms: int = 0) -> ScanResult | None:
    """Store one version's flags (hits by field: {'title': [...], 'body': [...]})
    and hand the draft to its reviewer. Returns None if already stored."""
    return record_scans(session, wordlist_version, [(version_id, hits, duration_ms)])[version_id]


def record_scans(session: Session, wordlist_version: str, scanned: list[tuple[int, dict, int]]
                 ) -> dict[int, ScanResult | None]:
    """Store the flags of several versions ((version_id, hits, ms) each) and hand
    each draft to its reviewer, with statements shared by the batch where the
    rows allow it. Returns {version_id: result, or None if already stored}."""
    ids = [vid for vid, _, _ in scanned]
    stored = set(session.execute(select(ScanResult.version_id).where(ScanResult.version_id.in_(ids))).scalars())
    todo = [item for item in scanned if item[0] not in stored]
    results: dict[int, ScanResult | None] = {vid: None for vid in stored}
    if not todo:
        return results
    # Not the versions' texts again: only what the hand-over needs.
    versions = {row.id: row for row in session.execute(
        select(DraftVersion.id, DraftVersion.draft_id, DraftVersion.number)
        .where(DraftVersion.id.in_([vid for vid, _, _ in todo])))}
    for vid, hits, ms in todo:
        results[vid] = ScanResult(version_id=vid, wordlist_version=wordlist_version,
                                  flag_count=sum(len(h) for h in hits.values()), duration_ms=ms)
    session.add_all(results[vid] for vid, _, _ in todo)
    session.flush()  # one INSERT ... RETURNING for the batch
    rows = [dict(scan_result_id=results[vid].id, version_id=vid, field=field, term=hit.term[:200],
                 category=hit.category, severity=hit.severity, confidence=hit.confidence, rule=hit.rule,
                 start=hit.start, end=hit.end, text=hit.text[:400])
            for vid, hits, _ in todo for field, field_hits in hits.items() for hit in field_hits]
    bulk_insert(session, Flag.__table__, rows)  # a dense draft has hundreds of flags
    drafts = {d.id: d for d in session.execute(
        select(Draft).where(Draft.id.in_({v.draft_id for v in versions.values()}))).scalars()}
    # Each draft still waiting for exactly this version goes to review; one UPDATE for the batch.
    waiting = {versions[vid].draft_id: vid for vid, _, _ in todo
               if drafts[versions[vid].draft_id].current_version_id == vid
               and drafts[versions[vid].draft_id].status in (*AWAITING_SCAN, "scan_failed")}
    moved = _to_review(session, waiting)
    handover = _Handover(session)
    for vid, hits, _ in todo:
        version = versions[vid]
        draft = drafts[version.draft_id]
        if draft.id not in moved:
            continue  # withdrawn or resubmitted meanwhile: the result is kept, nobody is told
        shown = [h for hs in hits.values() for h in hs if h.confidence != "low"]
        audit.record(session, "scan.completed", None, draft_id=draft.id, channel_id=draft.channel_id,
                     version=version.number, wordlist_version=wordlist_version, flags=len(shown),
                     high=sum(1 for h in shown if h.severity == "high"), scan_ms=results[vid].duration_ms)
        handover.to_first_step(draft, version.number)
    session.flush()
    return results


def _to_review(session: Session, waiting: dict[int, int]) -> set[int]:
    """Move drafts (id -> the version just scanned) to in_review if they are
    still awaiting that version's scan; returns the ids that moved."""
    if not waiting:
        return set()
    at = now()
    awaiting = [*AWAITING_SCAN, "scan_failed"]
    stmt = (update(Draft).where(tuple_(Draft.id, Draft.current_version_id).in_(list(waiting.items())),
                                Draft.status.in_(awaiting))
            .values(status="in_review", updated_at=at).execution_options(synchronize_session=False))
    if session.execute(stmt).rowcount == len(waiting):
        moved = set(waiting)
    else:  # someone withdrew or resubmitted one meanwhile: ask which moved (only this scan moves them to review)
        moved = {row.id for row in session.execute(
            select(Draft.id, Draft.current_version_id).where(Draft.id.in_(list(waiting)), Draft.status == "in_review"))
            if waiting[row.id] == row.current_version_id}
    for draft in session.identity_map.values():
        if isinstance(draft, Draft) and draft.id in moved:
            set_committed_value(draft, "status", "in_review")
            set_committed_value(draft, "updated_at", at)
    return moved


class _Handover:
    """Tells each scanned draft's first reviewers; a batch on one channel looks
    up its channel, chain, reviewers, deputies, addresses and webhook once."""

    def __init__(self, session: Session):
        self.session = session
        self.audience = _StepAudience(session)
        self.notifier = notifications.Notifier(session)
        self.channels: dict[int, Channel] = {}  # held: the session's identity map only holds weakly
        self.chains: dict = {}  # the defined chains of the channels in self.channels

    def to_first_step(self, draft: Draft, number: int) -> None:
        channel = self.channels.get(draft.channel_id)
        if channel is None:
            channel = self.channels[draft.channel_id] = self.session.get(Channel, draft.channel_id)
            self.chains.update(chains.chains_by_channel(self.session, [channel.id]))
        # No decision can exist yet: a version is decided only after its scan is stored.
        first = chains.state(self.session, draft, channel, chains=self.chains, decisions={}).pending
        if first is None:
            return
        label = "紧急稿件" if draft.urgent else "稿件"
        _tell_reviewers(self.session, draft, channel, first.step,
                        f"{label}《{draft.title}》第{number}版等待您“{first.step.name}”", self.audience, self.notifier)


def scan_version(db, version_id: int, engine) -> ScanResult | None:
    """The whole scan of one version (see scan_versions). Idempotent: a second
    run finds the result stored and returns None."""
    return scan_versions(db, [version_id], engine)[version_id]


# A worker stores several waiting drafts in one transaction; this caps the text
# one batch scans, so a batch stays far inside a job's timeout.
BATCH_MAX_CHARS = 200_000


def scan_versions(db, version_ids: list[int], engine, *, max_chars: int = BATCH_MAX_CHARS
                  ) -> dict[int, ScanResult | None]:
    """Scan the first version and as many of the others as fit in max_chars;
    store them all and hand each draft on in one transaction, one commit.

    Reads the texts, then scans outside any transaction. Returns
    {version_id: result, or None if already stored} for the versions it
    handled; the caller runs the others on their own. Only the first version
    may fail the call (missing, or its scan raises); a failure of another is
    left for its own run. (No separate "scanning" mark: it would cost a
    transaction per draft for a state that lasts milliseconds.)"""
    first = version_ids[0]
    with db.session() as session:
        rows = {row.id: row for row in session.execute(
            select(DraftVersion.id, DraftVersion.title, DraftVersion.text)
            .where(DraftVersion.id.in_(version_ids)))}
    if first not in rows:
        raise NotFound(f"draft version {first} does not exist")
    scanned, chars = [], 0
    for version_id in version_ids:
        row = rows.get(version_id)
        if row is None:
            continue  # its own run reports it
        if scanned and chars + len(row.text) > max_chars:
            break
        started = time.perf_counter()
        try:
            hits = {"title": engine.scan(row.title, include_low=True), "body": engine.scan(row.text, include_low=True)}
        except Exception:
            if version_id == first:
                raise
            continue  # its own run fails (and retries) on its own
        scanned.append((version_id, hits, int((time.perf_counter() - started) * 1000)))
        chars += len(row.text)
    try:
        with db.transaction() as session:
            return record_scans(session, engine.version, scanned)
    except IntegrityError:
        pass  # another worker stored one of them a moment before us: store the others one by one
    results = {}
    for vid, hits, ms in scanned:
        try:
            with db.transaction() as session:
                results[vid] = record_scan(session, vid, engine.version, hits, ms)
        except IntegrityError:
            results[vid] = None
    return results


def mark_scan_failed(session: Session, version_id: int, reason: str) -> bool:
    """After the last retry: the editor sees `scan_failed` and can try again."""
    version = session.get(DraftVersion, version_id)
    if version is None:
        return False
    draft = session.get(Draft, version.draft_id)
    if draft.current_version_id != version.id or draft.status not in AWAITING_SCAN:
        return False
    if session.execute(select(exists().where(ScanResult.version_id == version_id))).scalar():
        return False
    _transition(session, draft, set(AWAITING_SCAN), "scan_failed", version_id=version.id)
    audit.record(session, "scan.failed", None, draft_id=draft.id, channel_id=draft.channel_id,
                 version=version.number, reason=reason[:500])
    return True


def versions_awaiting_scan(session: Session) -> list[int]:
    """Current versions of drafts still waiting for a scan result."""
    stmt = (select(Draft.current_version_id)
            .where(Draft.status.in_(AWAITING_SCAN), Draft.current_version_id.is_not(None))
            .where(~exists().where(ScanResult.version_id == Draft.current_version_id))
            .order_by(Draft.urgent.desc(), Draft.submitted_at))
    return [vid for vid in session.execute(stmt).scalars()]


def note_requeue(session: Session, version_id: int, max_attempts: int) -> bool:
    """Count one more re-enqueue by a sweep; past the limit the draft is
    marked scan_failed instead (a text that kills workers must not loop)."""
    version = session.get(DraftVersion, version_id)
    version.scan_attempts += 1
    session.add(version)
    if version.scan_attempts > max_attempts:
        mark_scan_failed(session, version_id, f"gave up after {max_attempts} attempts")
        return False
    return True
