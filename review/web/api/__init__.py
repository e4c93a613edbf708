"""The JSON API under /api/v1: bearer tokens, JSON errors, one module per resource."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, g, jsonify, request

from review import accounts
from review.errors import DomainError
from review.web.context import db_session

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_error(status: int, message: str, code: str | None = None, field: str | None = None):
    body = {"error": {"code": code or _CODES.get(status, "error"), "message": message}}
    if field:
        body["error"]["field"] = field
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="imprimatur"'
    return response


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "too_large", 422: "invalid", 500: "server_error"}


def token_required(*roles: str):
    """Authenticate by `Authorization: Bearer <token>`; then require one of `roles` (if given)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            user = accounts.user_for_token(db_session(), token)
            if user is None:
                return json_error(401, "缺少或无效的访问令牌")
            if db_session().dirty:
                db_session().commit()  # the token's last_used_at
            if roles and not user.has_role(*roles):
                return json_error(403, "您没有权限执行此操作")
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(json_error(400, "请求体必须是JSON对象"))
    return data


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db_session().rollback()
    return json_error(exc.status, exc.message, exc.code, exc.field)


def init_app(app, csrf) -> None:
    from review.web.api import channels, drafts, openapi, scan  # noqa: F401  (registers routes)

    csrf.exempt(bp)  # bearer tokens, not cookies: CSRF does not apply
    app.register_blueprint(bp)
