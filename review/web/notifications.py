"""The in-app notification centre and a person's e-mail address for copies."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from review import notifications
from review.errors import DomainError
from review.validation import as_int
from review.web.context import db_session

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index():
    session = db_session()
    return render_template("notifications.html", items=notifications.recent(session, current_user),
                           labels=notifications.KIND_LABELS, email=notifications.email_of(session, current_user),
                           form=request.form)


@bp.post("/notifications/read")
@login_required
def read():
    session = db_session()
    notifications.mark_read(session, current_user, as_int(request.form.get("id")))
    session.commit()
    target = request.form.get("open")
    if target and as_int(target):
        return redirect(url_for("drafts.show", draft_id=as_int(target)))
    return redirect(url_for("notifications.index"))


@bp.post("/notifications/email")
@login_required
def email():
    session = db_session()
    try:
        notifications.set_email(session, current_user, request.form.get("email", ""))
        session.commit()
    except DomainError as exc:
        session.rollback()
        return render_template("notifications.html", items=notifications.recent(session, current_user),
                               labels=notifications.KIND_LABELS, email=request.form.get("email", ""),
                               form=request.form, error=exc), exc.status
    flash("通知邮箱已保存", "success")
    return redirect(url_for("notifications.index"))
