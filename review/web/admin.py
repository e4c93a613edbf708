"""Registrar pages: registering and editing channels, and users. The
registry's list, account pages, import and export are in web/registry.py."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from review import accounts
from review import channels as registry
from review.errors import DomainError
from review.models import Channel, User
from review.web.context import db_session
from review.web.guards import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/channels")
@role_required("registrar")
def channels():
    session = db_session()
    rows = registry.list_channels(session)
    leaders = {u.id: u for u in registry.leaders(session)}
    return render_template("admin_channels.html", channels=rows, leaders=leaders,
                           reminders={c.id for c in registry.reminder_channels(session)})


def _channel_form(channel: Channel | None, *, status=200, error=None):
    return render_template("admin_channel_form.html", channel=channel, form=request.form, error=error,
                           leaders=registry.leaders(db_session())), status


@bp.route("/channels/new", methods=["GET", "POST"])
@bp.route("/channels/<int:channel_id>/edit", methods=["GET", "POST"])
@role_required("registrar")
def channel_form(channel_id: int | None = None):
    session = db_session()
    channel = (session.get(Channel, channel_id) or abort(404)) if channel_id else None
    if request.method == "GET":
        return _channel_form(channel)
    try:
        if channel:
            registry.update_channel(session, channel, request.form.to_dict(), current_user)
        else:
            channel = registry.create_channel(session, request.form.to_dict(), current_user)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _channel_form(channel if channel_id else None, status=exc.status, error=exc)
    flash(f"渠道“{channel.name}”已保存", "success")
    if channel.filing_status == "filed":
        missing = [label for field, label in (("filing_number", "备案编号"), ("filing_date", "备案日期"))
                   if not getattr(channel, field)]
        if missing:
            flash(f"已备案的渠道还没有填写{'和'.join(missing)}，请补填", "warning")
        if channel.filing_date and not (request.form.get("filing_date") or "").strip():
            flash(f"没有填写备案日期，已按{channel.filing_date.isoformat()}记录，请核对", "warning")
    if channel.filing_status == "refiling" and channel.refiling_due:
        flash(f"分管领导或管理员已变更：该账号变更待备案，请于{channel.refiling_due.isoformat()}前完成变更备案", "warning")
    twins = registry.same_unit_platform(session, channel)
    if twins:
        flash(f"“{channel.unit}”在{channel.platform_label}上已有账号：" + "、".join(t.name for t in twins)
              + "。按规定一个单位在一个平台只开设一个账号，请核实。", "warning")
    return redirect(url_for("registry.index"))  # 登记备案: the one list of channels in the menu


@bp.get("/users")
@role_required("registrar")
def users():
    rows = db_session().execute(select(User).order_by(User.username)).scalars().all()
    return render_template("admin_users.html", users=rows)


def _user_form(user: User | None, *, status=200, error=None):
    return render_template("admin_user_form.html", edited=user, form=request.form, error=error), status


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@role_required("registrar")
def user_form(user_id: int | None = None):
    session = db_session()
    user = (session.get(User, user_id) or abort(404)) if user_id else None
    if request.method == "GET":
        return _user_form(user)
    f = request.form
    try:
        if user:
            if user.id == current_user.id and "registrar" not in f.getlist("roles"):
                raise DomainError("不能取消自己的管理员角色", field="roles")
            accounts.update_user(session, user, display_name=f.get("display_name", ""), roles=f.getlist("roles"),
                                 unit=f.get("unit", ""), active=f.get("active") == "on",
                                 password=f.get("password", ""), actor=current_user)
        else:
            user = accounts.create_user(session, f.get("username", ""), f.get("password", ""), f.getlist("roles"),
                                        display_name=f.get("display_name", ""), unit=f.get("unit", ""),
                                        actor=current_user)
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _user_form(user if user_id else None, status=exc.status, error=exc)
    flash(f"用户“{user.display_name}”已保存", "success")
    return redirect(url_for("admin.users"))
