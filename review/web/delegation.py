"""A leader names a deputy for a date range, and can revoke it."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from review import delegation
from review.errors import DomainError
from review.models import User
from review.web.context import db_session
from review.web.guards import role_required

bp = Blueprint("delegation", __name__)


def _page(*, status=200, error=None):
    session = db_session()
    candidates = [u for u in session.execute(select(User).where(User.active.is_(True))
                                             .order_by(User.display_name)).scalars()
                  if u.id != current_user.id and u.has_role("leader", "editor")]
    return render_template("delegations.html", grants=delegation.for_user(session, current_user),
                           candidates=candidates, today=delegation.today_local(), form=request.form,
                           error=error), status


@bp.route("/delegations", methods=["GET", "POST"])
@role_required("leader")
def index():
    if request.method == "GET":
        return _page()
    session = db_session()
    f = request.form
    try:
        grant = delegation.create(session, current_user, f.get("deputy_id"), f.get("starts_on"), f.get("ends_on"),
                                  f.get("reason", ""))
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _page(status=exc.status, error=exc)
    flash(f"已委托代审：{grant.starts_on} 至 {grant.ends_on}", "success")
    return redirect(url_for("delegation.index"))


@bp.post("/delegations/<int:grant_id>/revoke")
@role_required("leader")
def revoke(grant_id: int):
    session = db_session()
    try:
        delegation.revoke(session, current_user, grant_id)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _page(status=exc.status, error=exc)
    flash("委托已撤销", "success")
    return redirect(url_for("delegation.index"))
