"""Registrars set a channel's review chain and its webhook on the channel's own page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from review import chains, notifications, queries
from review.errors import DomainError
from review.models import Channel, ChannelWebhook, User
from review.models.chains import STEP_KINDS
from review.models.people import ROLE_LABELS
from review.web.context import db_session
from review.web.guards import role_required

bp = Blueprint("chains", __name__)
FORM_ROWS = chains.MAX_STEPS


def _page(channel: Channel, *, status=200, error=None, rows=None):
    session = db_session()
    steps = chains.chain_for(session, channel)
    people = {u.id: u for u in session.execute(select(User).where(User.active.is_(True))
                                                .order_by(User.username)).scalars()}
    if rows is None:
        rows = [{"name": s.name, "kind": s.kind, "user_id": str(s.user_id or ""), "role": s.role} for s in steps]
        if chains.is_default(session, channel):
            rows = []
    rows = rows + [{}] * (FORM_ROWS - len(rows))
    # Drafts in review go on under the new chain from the step their approvals reach: say so first.
    in_review = queries.in_review_count(session, channel.id)
    return render_template("channel_chain.html", channel=channel, steps=steps, rows=rows, people=people,
                           in_review=in_review,
                           kinds=STEP_KINDS, roles=ROLE_LABELS, hook=session.get(ChannelWebhook, channel.id),
                           default=chains.is_default(session, channel), error=error), status


@bp.route("/admin/channels/<int:channel_id>/chain", methods=["GET", "POST"])
@role_required("registrar")
def edit(channel_id: int):
    session = db_session()
    channel = session.get(Channel, channel_id) or abort(404)
    if request.method == "GET":
        return _page(channel)
    f = request.form
    rows = [{"name": f.get(f"name{i}", ""), "kind": f.get(f"kind{i}", ""), "user_id": f.get(f"user{i}", ""),
             "role": f.get(f"role{i}", "")} for i in range(1, FORM_ROWS + 1)]
    try:
        if f.get("action") == "webhook":
            notifications.set_webhook(session, current_user, channel, f.get("webhook_url", ""),
                                      f.get("webhook_secret", ""))
            message = "通知地址已保存" if f.get("webhook_url", "").strip() else "已删除通知地址"
        else:
            steps = chains.parse_steps(rows if f.get("action") != "default" else [], session)
            chains.set_chain(session, current_user, channel, steps)
            message = "审核链已保存" if steps else "已恢复默认审核链（分管领导一步终审）"
        session.commit()
    except DomainError as exc:
        session.rollback()
        return _page(channel, status=exc.status, error=exc,
                     rows=[r for r in rows if r.get("name") or r.get("kind")])
    flash(message, "success")
    return redirect(url_for("chains.edit", channel_id=channel.id))


def chain_summary(channel) -> str:
    """For the channel pages' include: "初审（张三）→ 复审（…）→ 终审（分管领导）"."""
    session = db_session()
    people = {u.id: u for u in session.execute(select(User)).scalars()}
    return " → ".join(f"{s.name}（{s.describe(people, channel)}）" for s in chains.chain_for(session, channel))
