"""Login and logout; who is signed in, and what the header shows about them."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, select

from review import accounts, chains, delegation, notifications
from review.models import User
from review.web.context import db_session, runtime
from review.web.ratelimit import LoginLimiter

bp = Blueprint("auth", __name__)

# The signed-in user with what every page's header shows of them: the unread badge and
# whether 待我审核 is offered; and whether they stand in for anyone today, so that the queue
# does not ask for their delegations when there are none. One statement per request.
_SIGNED_IN = (select(User, notifications.unread_sql(), chains.reviews_anywhere_sql(), delegation.stands_in_sql())
              .where(User.id == bindparam("user_id")))


def load_user(user_id: str):
    """Flask-Login's user_loader: an active user, else None (signed out)."""
    try:
        key = int(user_id)
    except ValueError:
        return None
    row = db_session().execute(_SIGNED_IN, {"user_id": key, "day": delegation.today_local()}).first()
    if row is None or not row[0].active:
        return None
    user, unread, reviewer, stands_in = row
    if request.method in ("GET", "HEAD"):
        # A GET changes nothing before its page renders, so the header may use these. After a
        # POST (a notification read, a delegation made) header_counts asks again at render time.
        g.header = {"unread_count": unread, "is_reviewer": bool(reviewer)}
        g.stands_in = bool(stands_in)
    return user


def known_grants() -> list | None:
    """The delegations in force for the signed-in user, when load_user found that there are
    none ([]); None when it is not known (after a POST), for the caller to look them up."""
    return [] if g.get("stands_in") is False else None


def header_counts() -> dict:
    """For base.html (a context processor): the unread badge and whether 待我审核 is shown."""
    if not current_user.is_authenticated:
        return {}
    if "header" not in g:
        try:
            session = db_session()
            g.header = {"unread_count": notifications.unread_count(session, current_user),
                        "is_reviewer": chains.is_reviewer_anywhere(session, current_user)}
        except Exception:  # an error page must still render
            g.header = {"unread_count": 0, "is_reviewer": current_user.has_role("leader")}
    return g.header


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never bounce a user to another host after login.
    if target and target.startswith("/") and not target.startswith("//") and not urlparse(target).netloc:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("home.index"))
    username = request.form.get("username", "")
    if request.method == "POST":
        limiter = LoginLimiter(runtime().redis, current_app.config)
        refusal = limiter.check(username, request.remote_addr)
        if refusal is not None:
            # Checked before any password: the same answer, in the same time, for every name.
            flash(refusal.message, "error")
            response = make_response(render_template("login.html", username=username), 429)
            response.headers["Retry-After"] = str(refusal.retry_after)
            return response
        user = accounts.authenticate(db_session(), username, request.form.get("password", ""))
        if user is None:
            limiter.failed(username, request.remote_addr)
            # One message for unknown user and wrong password: no enumeration.
            flash("用户名或密码错误", "error")
            return render_template("login.html", username=username), 401
        limiter.succeeded(username)
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", username=username)


@bp.post("/logout")
def logout():
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login"))
