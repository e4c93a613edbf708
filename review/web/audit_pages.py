"""The audit trail for auditors and registrars: filter by actor, channel,
draft, action and date; export what is shown as CSV."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from review import audit
from review.models import AuditEvent, Channel
from review.timeutil import parse_local, to_local
from review.validation import as_int
from review.web.context import db_session
from review.web.guards import role_required

bp = Blueprint("audit", __name__)
PAGE = 200
CSV_LIMIT = 100_000


def _filters():
    """The query's conditions from the URL, and the values to show back (with any error)."""
    a = request.args
    where, shown, errors = [], {}, []
    actor = (a.get("actor") or "").strip()
    if actor:
        where.append(AuditEvent.actor_name.contains(actor[:64]))
        shown["actor"] = actor
    for key, column in (("channel", AuditEvent.channel_id), ("draft", AuditEvent.draft_id)):
        raw = (a.get(key) or "").strip().lstrip("#")
        if raw:
            value = as_int(raw)
            if value is None:
                errors.append("稿件编号应为数字" if key == "draft" else "请选择渠道")
            else:
                where.append(column == value)
                shown[key] = value
    action = (a.get("action") or "").strip()
    if action:
        where.append(AuditEvent.action == action)
        shown["action"] = action
    for key, op in (("from", "ge"), ("to", "lt")):
        raw = (a.get(key) or "").strip()
        if not raw:
            continue
        try:
            day = parse_local(raw + " 00:00")
        except ValueError:
            errors.append("日期格式应为 YYYY-MM-DD")
            continue
        if op == "ge":
            where.append(AuditEvent.at >= day)
        else:
            where.append(AuditEvent.at < day + timedelta(days=1))
        shown[key] = raw
    return where, shown, errors


@bp.get("/audit")
@role_required("auditor", "registrar")
def events():
    session = db_session()
    where, shown, errors = _filters()
    rows = session.execute(select(AuditEvent).where(*where).order_by(AuditEvent.seq.desc()).limit(PAGE)) \
        .scalars().all() if not errors else []
    channels = session.execute(select(Channel).order_by(Channel.name)).scalars().all()
    actions = sorted({*audit.ACTION_LABELS, *session.execute(select(AuditEvent.action).distinct()).scalars()})
    return render_template("audit.html", events=rows, labels=audit.ACTION_LABELS, f=shown, channels=channels,
                           actions=actions, draft_id=shown.get("draft"), errors=errors, page=PAGE,
                           query=request.query_string.decode("ascii", "replace")), (422 if errors else 200)


def _cell(value) -> str:
    """Spreadsheets run cells that start with = + - @: quote them."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/audit.csv")
@role_required("auditor", "registrar")
def export():
    session = db_session()
    where, _shown, errors = _filters()
    if errors:
        return Response("；".join(errors), status=422, mimetype="text/plain")
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 with a BOM as Chinese text
    writer = csv.writer(out)
    writer.writerow(["序号", "时间", "操作人", "操作人ID", "操作", "操作代码", "稿件", "渠道", "详情", "哈希", "上一条哈希"])
    stmt = select(AuditEvent).where(*where).order_by(AuditEvent.seq).limit(CSV_LIMIT)
    for e in session.execute(stmt).scalars():
        writer.writerow([_cell(v) for v in (e.seq, to_local(e.at).strftime("%Y-%m-%d %H:%M:%S") if e.at else "", e.actor_name, e.actor_id,
                                            audit.ACTION_LABELS.get(e.action, e.action), e.action, e.draft_id,
                                            e.channel_id, e.detail, e.hash, e.prev_hash)])
    name = "audit-events.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
