"""The web layer: blueprints over review/, wired by `init_app`."""
from __future__ import annotations

from flask import Flask, g
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from review import timeutil
from review.models import User
from review.models.channels import CATEGORY_LABELS, FILING_LABELS, PLATFORM_LABELS
from review.models.drafts import (CONFIDENCE_LABELS, FIELD_LABELS, FLAG_CATEGORY_LABELS, SEVERITY_LABELS,
                                  STATUS_LABELS)
from review.models.people import ROLE_LABELS
from review.web.context import db_session, runtime

csrf = CSRFProtect()
login_manager = LoginManager()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@login_manager.user_loader
def _load_user(user_id: str):
    try:
        user = db_session().get(User, int(user_id))
    except ValueError:
        return None
    return user if user and user.active else None


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _close_session(_exc):
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()  # anything not committed by the handler is dropped
        session.close()


def init_app(app: Flask) -> None:
    from review.web import admin, api, audit_pages, auth, drafts, errors, home, reviews

    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_session)
    if app.config.get("PREFERRED_URL_SCHEME") == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    app.jinja_env.filters["localtime"] = timeutil.fmt
    app.jinja_env.globals.update(
        STATUS_LABELS=STATUS_LABELS, SEVERITY_LABELS=SEVERITY_LABELS, CONFIDENCE_LABELS=CONFIDENCE_LABELS,
        FIELD_LABELS=FIELD_LABELS, ROLE_LABELS=ROLE_LABELS, PLATFORM_LABELS=PLATFORM_LABELS,
        CATEGORY_LABELS=CATEGORY_LABELS, FILING_LABELS=FILING_LABELS, FLAG_CATEGORY_LABELS=FLAG_CATEGORY_LABELS,
    )

    for module in (auth, home, drafts, reviews, admin, audit_pages):
        app.register_blueprint(module.bp)
    api.init_app(app, csrf)
    errors.init_app(app)
