"""The quarterly report: the page (charts and tables, printable on A4) and
its XLSX and CSV exports. Leaders see their own channels only."""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_login import current_user

from review import reports
from review import report_export
from review.errors import DomainError
from review.web.context import db_session
from review.web.guards import role_required

bp = Blueprint("reports", __name__, url_prefix="/reports")
READERS = ("auditor", "registrar", "leader")


def _report():
    """(report, all channels the user may choose from, error) from the query string."""
    session = db_session()
    a = request.args
    choices = reports.scope_channels(session, current_user)
    year, quarter = reports.parse_period(a.get("year"), a.get("quarter"))
    unit = (a.get("unit") or "").strip()[:128]
    channels = reports.scope_channels(session, current_user, a.get("channel_id"), unit)
    label = "、".join(c.name for c in channels) if a.get("channel_id") and channels else (unit or "全部渠道")
    if not current_user.has_role("auditor", "registrar") and not a.get("channel_id"):
        label = f"{current_user.display_name}分管的渠道" if not unit else label
    return reports.build(session, year, quarter, channels, label), choices


@bp.get("/quarterly")
@role_required(*READERS)
def quarterly():
    try:
        report, choices = _report()
    except DomainError as exc:
        year, quarter = reports.current_quarter()
        return render_template("report.html", report=None, choices=[], units=[], error=exc,
                               year=year, quarter=quarter), exc.status
    units = sorted({c.unit for c in choices if c.unit})
    return render_template("report.html", report=report, choices=choices, units=units,
                           year=report.year, quarter=report.quarter, duration=reports.duration_label,
                           median_label=reports.MEDIAN_LABEL, p90_label=reports.P90_LABEL)


@bp.get("/quarterly.<fmt>")
@role_required(*READERS)
def export(fmt: str):
    try:
        report, _ = _report()
    except DomainError as exc:
        return Response(exc.message, status=exc.status, mimetype="text/plain")
    name = f"report-{report.year}Q{report.quarter}.{fmt}"
    if fmt == "xlsx":
        body = report_export.to_xlsx(report)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        body, mimetype = report_export.to_csv(report), "text/csv; charset=utf-8"
    else:
        return Response("不支持的格式", status=404, mimetype="text/plain")
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename={name}"})
