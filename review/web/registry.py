"""The registry of new-media accounts (登记备案): the list with its reminders,
a page per account, export and import. Registrars keep it; auditors read all
of it, leaders their own channels."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from review import channels as registry
from review import queries, registry_io
from review.errors import DomainError
from review.models import Channel, Draft, Publication, User
from review.models.channels import local_today
from review.web.context import db_session
from review.web.guards import role_required

bp = Blueprint("registry", __name__, url_prefix="/registry")
READERS = ("registrar", "auditor", "leader")


@bp.get("")
@role_required(*READERS)
def index():
    session = db_session()
    rows = registry.visible_channels(session, current_user)
    leaders = queries.users_by_id(session, [c.leader_id for c in rows])
    return render_template("registry_list.html", channels=rows, leaders=leaders, today=local_today())


@bp.get("/<int:channel_id>")
@role_required(*READERS)
def account(channel_id: int):
    session = db_session()
    channel = session.get(Channel, channel_id) or abort(404)
    if not registry.can_read(current_user, channel):
        abort(403)
    history = registry.filing_history(session, channel.id)
    people = queries.users_by_id(session, [channel.leader_id, *(h.actor_id for h in history)])
    drafts = queries.draft_rows(session, Draft.channel_id == channel.id, order_by=[Draft.updated_at.desc()],
                                limit=100)
    publications = session.execute(
        select(Publication, Draft).join(Draft, Draft.id == Publication.draft_id)
        .where(Draft.channel_id == channel.id).order_by(Publication.published_at.desc()).limit(100)).all()
    return render_template("registry_account.html", channel=channel, history=history, people=people,
                           leader=people.get(channel.leader_id), drafts=drafts, publications=publications,
                           twins=registry.same_unit_platform(session, channel), today=local_today())


@bp.get("/export.<fmt>")
@role_required(*READERS)
def export(fmt: str):
    session = db_session()
    rows = registry.visible_channels(session, current_user)
    stamp = local_today().strftime("%Y%m%d")
    if fmt == "csv":
        body, mimetype = registry_io.to_csv(session, rows), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body = registry_io.to_xlsx(session, rows)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        abort(404)
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=registry-{stamp}.{fmt}"})


@bp.route("/import", methods=["GET", "POST"])
@role_required("registrar")
def import_file():
    if request.method == "GET":
        return render_template("registry_import.html")
    session = db_session()
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise DomainError("请选择要导入的文件", field="file")
        rows = registry_io.read_table(upload.filename, upload.read())
        result = registry_io.import_table(session, rows, current_user)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return render_template("registry_import.html", error=exc, cell_errors=getattr(exc, "errors", [])), exc.status
    flash(f"导入完成：新登记{len(result.created)}个，更新{len(result.updated)}个，未变{result.unchanged}个", "success")
    for warning in result.warnings:
        flash(warning, "warning")
    return redirect(url_for("registry.index"))
