"""The printable review form (信息发布审核表) of one draft."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from review import queries
from review.timeutil import now
from review.web.context import db_session
from review.web.drafts import load_viewable
from review.web.guards import role_required

bp = Blueprint("review_form", __name__)


@bp.get("/drafts/<int:draft_id>/form")
@role_required("editor", "leader", "auditor")
def show(draft_id: int):
    draft = load_viewable(draft_id)
    view = queries.draft_view(db_session(), draft)
    return render_template("review_form.html", v=view, rows=queries.flag_handling(view), printed_at=now(),
                           printed_by=current_user)
