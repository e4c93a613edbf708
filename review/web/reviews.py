"""Leader pages: the review queue, decisions and retraction."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from review import queries, workflow
from review.web.context import db_session
from review.web.drafts import act_on_draft
from review.web.guards import role_required

bp = Blueprint("reviews", __name__)


@bp.get("/review")
@role_required("leader")
def queue():
    session = db_session()
    rows = queries.review_queue(session, current_user)
    return render_template("review_queue.html", rows=rows,
                           scanning=queries.pending_scan_count(session, current_user),
                           recent=queries.recent_decisions(session, current_user, limit=10))


@bp.post("/drafts/<int:draft_id>/decision")
@role_required("leader")
def decide(draft_id: int):
    f = request.form
    decision = f.get("decision", "")

    def perform(session, draft):
        workflow.decide(session, current_user, draft.id, decision, f.get("comment", ""),
                        version=f.get("version"), acknowledged=f.getlist("ack"))

    return act_on_draft(draft_id, perform, "已审核通过" if decision == "approve" else "已退回编辑")


@bp.post("/drafts/<int:draft_id>/retract")
@role_required("leader")
def retract(draft_id: int):
    return act_on_draft(draft_id, lambda s, d: workflow.retract(s, current_user, d.id, request.form.get("reason", ""))
                   and None, "已撤稿")
