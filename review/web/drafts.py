"""Editor pages: my drafts, the new-draft form, the draft page, revise,
publish, withdraw; the auditor's list of all drafts."""
from __future__ import annotations

from uuid import uuid4

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from review import channels as channel_registry
from review import chains, permissions, queries, timeutil, workflow
from review.errors import DomainError, ValidationError
from review.models import Draft
from review.web.context import db_session, runtime
from review.web.guards import role_required
from workers.queue import try_enqueue_scan

bp = Blueprint("drafts", __name__)


def load_head(draft_id: int) -> queries.DraftHead:
    """The draft with its channel, publication and author (one query), if this user may see it."""
    head = queries.draft_head(db_session(), draft_id) or abort(404)
    if not permissions.can_view_draft(current_user, head.draft, head.channel):
        abort(403)
    return head


def load_viewable(draft_id: int) -> Draft:
    return load_head(draft_id).draft


def render_draft(draft: Draft, *, status: int = 200, error: DomainError | None = None, template="draft.html",
                 head: queries.DraftHead | None = None):
    session = db_session()
    user = current_user._get_current_object()
    view = queries.draft_view(session, draft, show_low=request.args.get("low") == "1", head=head)
    # The step this user may decide now, from the chain state the view already holds
    # (what permissions.decide_as says, without loading the chain again).
    turn = (None if permissions.is_author(user, draft)
            else chains.pending_actor(session, user, draft, view.channel, chain=view.chain))
    return render_template(template, v=view, p=permissions, user=user, error=error, turn=turn,
                           form=request.form), status


def enqueue_after_commit(version_id: int) -> None:
    if not try_enqueue_scan(runtime(), version_id):
        flash("检测服务暂时不可用：稿件已保存，服务恢复后将自动检测。", "warning")


@bp.get("/drafts")
@role_required("editor")
def mine():
    status = request.args.get("status") or None
    page = max(request.args.get("page", 1, type=int), 1)
    rows = queries.editor_drafts(db_session(), current_user, status=status, page=page)
    return render_template("drafts_mine.html", rows=rows, status=status, page=page,
                           more=len(rows) == queries.PAGE_SIZE)


@bp.get("/drafts/all")
@role_required("auditor")
def all_drafts():
    session = db_session()
    status = request.args.get("status") or None
    page = max(request.args.get("page", 1, type=int), 1)
    where = [Draft.status == status] if status else []
    rows = queries.draft_rows(session, *where, order_by=[Draft.updated_at.desc()], limit=queries.PAGE_SIZE,
                              offset=(page - 1) * queries.PAGE_SIZE)
    return render_template("drafts_all.html", rows=rows, status=status, page=page,
                           more=len(rows) == queries.PAGE_SIZE)


def _editor_form(draft: Draft | None, *, status: int = 200, error: DomainError | None = None):
    session = db_session()
    open_channels = [c for c in channel_registry.list_channels(session) if c.accepts_drafts]
    rejection = queries.last_rejection(session, draft.id) if draft and draft.status == "rejected" else None
    # A new draft's form carries a key of its own (kept when the form comes back with an error):
    # sent twice, it still makes one draft (workflow.submit).
    form_key = None if draft else (request.form.get("form_key") or uuid4().hex)
    return render_template("draft_form.html", draft=draft, channels=open_channels, form=request.form,
                           error=error, max_body=workflow.MAX_BODY_CHARS, rejection=rejection,
                           form_key=form_key), status


def _save_or_submit(draft: Draft | None):
    """Handle the editor form; on any error show the form again with the text kept."""
    session = db_session()
    f = request.form
    args = (f.get("channel_id") or (draft.channel_id if draft else None), f.get("title", ""),
            f.get("body", ""), f.get("body_format", "text"), f.get("urgent") == "on")
    draft_id = draft.id if draft else None
    form_key = None if draft else f.get("form_key")
    try:
        if f.get("action") == "save":
            saved = workflow.save_draft(session, current_user, *args, draft_id=draft_id, form_key=form_key)
            session.commit()
            flash("草稿已保存", "success")
            return redirect(url_for("drafts.edit", draft_id=saved.id))
        saved, version, created = workflow.submit(session, current_user, *args, draft_id=draft_id, form_key=form_key)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _editor_form(draft, status=exc.status, error=exc)
    if created:
        flash(f"已提交第{version.number}版", "success")  # the scan's progress is shown below, kept up to date
        enqueue_after_commit(version.id)
    else:
        flash("内容没有变化，审核继续进行", "info")
    return redirect(url_for("drafts.show", draft_id=saved.id))


@bp.route("/drafts/new", methods=["GET", "POST"])
@role_required("editor")
def new():
    if request.method == "POST":
        return _save_or_submit(None)
    return _editor_form(None)


@bp.route("/drafts/<int:draft_id>/edit", methods=["GET", "POST"])
@role_required("editor")
def edit(draft_id: int):
    draft = load_viewable(draft_id)
    if not permissions.can_edit(current_user, draft):
        if permissions.is_author(current_user, draft) and request.method == "GET":
            # The author's own draft that can no longer change (withdrawn, published): say why.
            flash(f"稿件{draft.status_label}，不能再修改", "warning")
            return redirect(url_for("drafts.show", draft_id=draft.id))
        abort(403)
    if request.method == "POST":
        return _save_or_submit(draft)
    return _editor_form(draft)


@bp.get("/drafts/<int:draft_id>")
@role_required("editor", "leader", "auditor")
def show(draft_id: int):
    head = load_head(draft_id)
    return render_draft(head.draft, head=head)


@bp.get("/drafts/<int:draft_id>/panel")
@role_required("editor", "leader", "auditor")
def panel(draft_id: int):
    """The part of the draft page that changes when a scan finishes (polled by static/app.js)."""
    head = load_head(draft_id)
    return render_draft(head.draft, head=head, template="_draft_main.html")


def act_on_draft(draft_id: int, perform, success: str):
    session = db_session()
    draft = load_viewable(draft_id)
    try:
        result = perform(session, draft)
        session.commit()
    except DomainError as exc:
        session.rollback()
        session.refresh(draft)
        return render_draft(draft, status=exc.status, error=exc)
    flash(success() if callable(success) else success, "success")  # a callable: worked out after the action
    return result or redirect(url_for("drafts.show", draft_id=draft_id))


@bp.post("/drafts/<int:draft_id>/publish")
@role_required("editor")
def publish(draft_id: int):
    def perform(session, draft):
        raw = request.form.get("published_at", "").strip()
        try:
            at = timeutil.parse_local(raw) if raw else None
        except ValueError:
            raise ValidationError("发布时间格式应为 YYYY-MM-DD HH:MM", field="published_at") from None
        workflow.publish(session, current_user, draft.id, request.form.get("url", ""), at)

    return act_on_draft(draft_id, perform, "已登记发布")


@bp.post("/drafts/<int:draft_id>/withdraw")
@role_required("editor")
def withdraw(draft_id: int):
    return act_on_draft(draft_id, lambda s, d: workflow.withdraw(s, current_user, d.id) and None, "稿件已撤回")


@bp.post("/drafts/<int:draft_id>/retry")
@role_required("editor")
def retry(draft_id: int):
    def perform(session, draft):
        version = workflow.retry_scan(session, current_user, draft.id)
        session.commit()
        enqueue_after_commit(version.id)

    return act_on_draft(draft_id, perform, "已重新提交检测")

