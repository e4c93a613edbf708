"""Registrars' 词库管理: database terms that join the word-list files.

Every change is audited by review/terms.py; workers and the scan API pick up
the new combined list before their next scan (EngineCache)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from review import terms as domain
from review.errors import DomainError
from review.web.context import db_session, runtime
from review.web.guards import role_required

bp = Blueprint("terms", __name__, url_prefix="/admin/terms")


def _page(*, status=200, error=None):
    session = db_session()
    rows = domain.list_terms(session)
    try:
        engine = runtime().engines.get()
        version, listed = engine.version, domain.listed_terms(engine.wordlists, rows)
    except Exception:  # a broken list file must not hide the page that lists terms
        version, listed = None, []
    categories = sorted({t.category for t in listed} | {r.category for r in rows})
    return render_template("admin_terms.html", terms=rows, listed=listed, categories=categories, version=version,
                           form=request.form, error=error, SEVERITY_NAMES=domain.SEVERITY_LABELS), status


def _apply(change, success):
    """Run *change* in one transaction; *success* is a message or a function of change's result."""
    session = db_session()
    try:
        result = change(session)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _page(status=exc.status, error=exc)
    flash(success(result) if callable(success) else success, "success")
    return redirect(url_for("terms.index"))


@bp.get("")
@role_required("registrar")
def index():
    return _page()


@bp.post("/add")
@role_required("registrar")
def add():
    f = request.form
    return _apply(lambda s: domain.add_term(s, current_user, f.get("term", ""), f.get("category", ""),
                                            f.get("severity", "")),
                  f"已添加词条“{f.get('term', '').strip()}”")


@bp.post("/listed")
@role_required("registrar")
def listed():
    """A term of the list files switched off, or given another severity: a database term that
    decides on it (review/terms.add_term)."""
    f = request.form
    term, severity, off = f.get("term", "").strip(), f.get("severity", ""), f.get("action") == "disable"
    done = (f"已停用内置词条“{term}”" if off
            else f"已将内置词条“{term}”的严重程度改为“{domain.SEVERITY_LABELS.get(severity, severity)}”")
    return _apply(lambda s: domain.add_term(s, current_user, term, f.get("category", ""), severity, enabled=not off),
                  done)


@bp.post("/<int:term_id>/enabled")
@role_required("registrar")
def enabled(term_id: int):
    on = request.form.get("enabled") == "1"
    return _apply(lambda s: domain.set_enabled(s, current_user, term_id, on), "已启用词条" if on else "已停用词条")


@bp.post("/<int:term_id>/severity")
@role_required("registrar")
def severity(term_id: int):
    value = request.form.get("severity", "")
    return _apply(lambda s: domain.set_severity(s, current_user, term_id, value), "已修改严重程度")


@bp.post("/import")
@role_required("registrar")
def bulk_import():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(status=422, error=DomainError("请选择要导入的文本文件"))
    data = upload.read(1_000_001)
    if len(data) > 1_000_000:
        return _page(status=422, error=DomainError("文件不能超过 1 MB"))
    f = request.form
    return _apply(lambda s: domain.import_terms(s, current_user, data, f.get("category", ""),
                                                f.get("severity", ""), filename=upload.filename),
                  lambda counts: f"已导入 {counts[0]} 个词条，{counts[1]} 个已存在而跳过")
