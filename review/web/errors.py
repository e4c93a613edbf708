"""Error pages in Chinese, and the mapping from domain errors to HTTP."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

MESSAGES = {
    400: "请求无效",
    401: "请先登录",
    403: "您没有权限执行此操作",
    404: "页面不存在",
    405: "不支持此操作",
    409: "操作冲突：内容已被他人更新",
    413: "提交的内容过大",
    429: "操作过于频繁，请稍后再试",
    500: "服务器出错了，请稍后再试",
}


def wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    from review.web.api import json_error

    def page(status: int, message: str | None = None):
        message = message or MESSAGES.get(status, "出错了")
        if wants_json():
            return json_error(status, message)
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return page(400, "页面已过期或来源不明（CSRF 校验失败），请返回刷新后重试")

    @app.errorhandler(413)
    def too_large(exc):
        limit = app.config["MAX_CONTENT_LENGTH"] / (1024 * 1024)
        return page(413, f"提交的内容过大（上限 {limit:g} MB），请删减后再提交")

    for status in (400, 401, 403, 404, 405, 409, 429, 500):
        app.register_error_handler(status, lambda exc, status=status: page(status))
