"""The landing page: each role starts where its work is."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from review import queries
from review.web.context import db_session

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    user = current_user
    session = db_session()
    queue = queries.review_queue(session, user) if user.has_role("leader") else []
    mine = queries.editor_drafts(session, user, limit=10) if user.has_role("editor") else []
    if user.has_role("leader") and not user.has_role("editor"):
        return redirect(url_for("reviews.queue"))
    if user.has_role("editor") and not user.has_role("leader"):
        return redirect(url_for("drafts.mine"))
    if user.has_role("registrar") and not user.has_role("editor", "leader", "auditor"):
        return redirect(url_for("admin.channels"))
    if user.has_role("auditor") and not user.has_role("editor", "leader"):
        return redirect(url_for("drafts.all_drafts"))
    return render_template("home.html", queue=queue, mine=mine)
