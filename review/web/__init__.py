"""The web layer: blueprints over review/, wired by `init_app`."""
from __future__ import annotations

from flask import Flask, g
from flask_login import LoginManager
from werkzeug.middleware.proxy_fix import ProxyFix
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from review import audit, highlight, timeutil
from review.models.channels import CATEGORY_LABELS, FILING_LABELS, PLATFORM_LABELS
from review.models.drafts import (CONFIDENCE_LABELS, FIELD_LABELS, FLAG_CATEGORY_LABELS, SEVERITY_LABELS,
                                  STATUS_LABELS)
from review.models.people import ROLE_LABELS

csrf = CSRFProtect()
login_manager = LoginManager()

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class IdConverter(IntegerConverter):
    """`<int:…>` in this app: a database id, an INTEGER column (at most
    2**31-1 on PostgreSQL); anything larger matches no route (404), not a 500."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


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
    from review.web import registry as registry_pages
    from review.web import reports as report_pages

    app.url_map.converters["int"] = IdConverter  # ids beyond the database's range are 404, not 500
    if int(app.config.get("PROXY_COUNT") or 0):
        # Behind N reverse proxies: the client's address (rate limits) and scheme come from their headers.
        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.user_loader(auth.load_user)  # the user and the header's counts in one query
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.login_message_category = "warning"
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_session)
    if app.config.get("PREFERRED_URL_SCHEME") == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True

    app.jinja_env.filters["localtime"] = timeutil.fmt
    app.jinja_env.filters["audit_detail"] = audit.describe
    app.jinja_env.filters["visible"] = highlight.visible_controls  # direction controls as a sign
    app.jinja_env.globals.update(
        STATUS_LABELS=STATUS_LABELS, SEVERITY_LABELS=SEVERITY_LABELS, CONFIDENCE_LABELS=CONFIDENCE_LABELS,
        FIELD_LABELS=FIELD_LABELS, ROLE_LABELS=ROLE_LABELS, PLATFORM_LABELS=PLATFORM_LABELS,
        CATEGORY_LABELS=CATEGORY_LABELS, FILING_LABELS=FILING_LABELS, FLAG_CATEGORY_LABELS=FLAG_CATEGORY_LABELS,
    )

    for module in (auth, home, drafts, reviews, admin, audit_pages):
        app.register_blueprint(module.bp)
    app.register_blueprint(registry_pages.bp)
    app.register_blueprint(report_pages.bp)
    from review.web import health  # issue 6: GET /healthz

    app.register_blueprint(health.bp)
    _init_review_chains(app)
    _init_terms(app)
    api.init_app(app, csrf)
    errors.init_app(app)


def _init_review_chains(app: Flask) -> None:
    """Issue 4: chains, delegation, notifications, the review form; after-commit hand-off to the workers."""
    from review.web import chains as chain_pages
    from review.web import delegation as delegation_pages
    from review.web import notifications as notification_pages
    from review.web import auth, review_form
    from workers import notify

    for module in (chain_pages, delegation_pages, notification_pages, review_form):
        app.register_blueprint(module.bp)
    app.context_processor(auth.header_counts)
    app.jinja_env.globals["chain_summary"] = chain_pages.chain_summary
    notify.install(app.extensions["imprimatur"])


def _init_terms(app: Flask) -> None:
    """Issue 3: registrars' 词库管理; `flask scan` joins the database terms too."""
    from review.scanning.command import DB_TERMS_EXTENSION
    from review.web import terms as term_pages

    app.register_blueprint(term_pages.bp)
    app.extensions[DB_TERMS_EXTENSION] = app.extensions["imprimatur"].db_terms
