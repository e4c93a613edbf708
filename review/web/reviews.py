"""Reviewer pages: the queue of chain steps waiting for me, decisions and retraction."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from review import chains, queries, workflow
from review.web import auth
from review.web.context import db_session
from review.web.drafts import act_on_draft, load_viewable
from review.web.guards import role_required

bp = Blueprint("reviews", __name__)


@bp.get("/review")
@login_required
def queue():
    session = db_session()
    user = current_user._get_current_object()  # not the proxy: the queue checks the user per draft
    # Once for the queue and the glance below it; without the delegation query when load_user
    # found that the user stands in for nobody today.
    scope = chains.reviewer_scope(session, user, grants=auth.known_grants())
    if not scope.channels and not chains.is_reviewer_anywhere(session, user):
        abort(403)
    recent, scanning = queries.recent_and_scanning(session, user, limit=10)
    return render_template("review_queue.html", queue=queries.review_queue_page(session, user, scope=scope),
                           waiting=queries.waiting_on_others_page(session, user, scope=scope),
                           scanning=scanning, recent=recent)


@bp.post("/drafts/<int:draft_id>/decision")
@login_required
def decide(draft_id: int):
    """Any signed-in user may try: the workflow decides whether they are on the chain (403 if not).
    Afterwards the reviewer goes straight to the next draft waiting for them (or the empty queue)."""
    f = request.form
    decision = f.get("decision", "")

    outcome = []

    def perform(session, draft):
        workflow.decide(session, current_user, draft.id, decision, f.get("comment", ""),
                        version=f.get("version"), acknowledged=f.getlist("ack"))
        session.commit()
        outcome.append(workflow.decision_notice(session, draft.id))
        following = queries.review_queue(session, current_user._get_current_object(), limit=1)
        target = (url_for("drafts.show", draft_id=following[0].draft.id, _anchor="decide") if following
                  else url_for("reviews.queue"))
        return redirect(target)

    return act_on_draft(draft_id, perform, lambda: outcome[0])


@bp.get("/drafts/<int:draft_id>/decision")
@role_required("editor", "leader", "auditor")
def decision_address(draft_id: int):
    """A refused decision's page stays at this address; opened again (a reload, a bookmark)
    it is the draft's page at its decision form, for whoever may see the draft."""
    load_viewable(draft_id)
    return redirect(url_for("drafts.show", draft_id=draft_id, _anchor="decide"))


@bp.post("/drafts/<int:draft_id>/retract")
@role_required("leader")
def retract(draft_id: int):
    return act_on_draft(draft_id, lambda s, d: workflow.retract(s, current_user, d.id, request.form.get("reason", ""))
                   and None, "已撤稿")
