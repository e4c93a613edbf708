"""The landing page: a dashboard for each role the user holds."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from review import dashboard, reports
from review.web.context import db_session

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    board = dashboard.build(db_session(), current_user)
    return render_template("home.html", board=board, duration=reports.duration_label)
