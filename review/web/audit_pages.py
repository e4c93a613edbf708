"""The audit trail, read-only (auditors and registrars). Filtering and export come later."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from review import audit
from review.models import AuditEvent
from review.web.context import db_session
from review.web.guards import role_required

bp = Blueprint("audit", __name__)
PAGE = 100


@bp.get("/audit")
@role_required("auditor", "registrar")
def events():
    session = db_session()
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE)
    draft_id = request.args.get("draft", type=int)
    if draft_id:
        stmt = stmt.where(AuditEvent.draft_id == draft_id)
    rows = session.execute(stmt).scalars().all()
    return render_template("audit.html", events=rows, labels=audit.ACTION_LABELS, draft_id=draft_id)
