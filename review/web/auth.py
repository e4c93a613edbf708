"""Login and logout."""
from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from review import accounts
from review.web.context import db_session, runtime
from review.web.ratelimit import LoginLimiter

bp = Blueprint("auth", __name__)


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
