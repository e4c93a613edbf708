"""The quarterly report as XLSX (one sheet per table) and CSV (the tables one
after another). Both are built from the same tables, so they always agree
with each other and with the page."""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font

from review.models.channels import FILING_LABELS
from review.models.drafts import FLAG_CATEGORY_LABELS, SEVERITY_LABELS
from review.reports import MEDIAN_LABEL, P90_LABEL, QuarterReport, duration_label

FIGURE_HEADERS = ["渠道", "平台", "主办单位", "备案状态", "提交", "通过", "退回", "发布", "撤稿", "标记",
                  "已审核", "超时审核", f"{MEDIAN_LABEL}（分钟）", f"{P90_LABEL}（分钟）"]


def _minutes(seconds: float | None):
    return round(seconds / 60, 1) if seconds is not None else None


def _figures(f) -> list:
    return [f.submitted, f.approved, f.rejected, f.published, f.retracted, f.flags, f.decided, f.overdue,
            _minutes(f.median_s), _minutes(f.p90_s)]


def tables(report: QuarterReport) -> list[tuple[str, list[str], list[list]]]:
    """(title, headers, rows) for every table of the report."""
    per_channel = [[c.channel.name, c.channel.platform_label, c.channel.unit, c.channel.filing_label,
                    *_figures(c.figures)] for c in report.channels]
    per_channel.append(["合计", "", "", "", *_figures(report.total)])
    flags = [[FLAG_CATEGORY_LABELS.get(cat, cat), sev.get("high", 0), sev.get("medium", 0), sev.get("low", 0), n]
             for cat, sev, n in report.flag_categories]
    terms = [[term, FLAG_CATEGORY_LABELS.get(cat, cat), n] for term, cat, n in report.top_terms]
    reg = report.registry
    registry = [[label, reg.get(code, 0)] for code, label in FILING_LABELS.items()]
    registry += [["变更备案逾期", reg.get("refiling_overdue", 0)], ["年检超过12个月", reg.get("annual_overdue", 0)],
                 ["需提醒账号", reg.get("needs_reminder", 0)]]
    summary = [["期间", f"{report.first_day.isoformat()} 至 {report.last_day.isoformat()}"],
               ["范围", report.scope_label],
               [MEDIAN_LABEL, duration_label(report.total.median_s)],
               [P90_LABEL, duration_label(report.total.p90_s)]]
    return [
        (f"{report.title}发布管理报告", ["项目", "内容"], summary),
        ("各渠道情况", FIGURE_HEADERS, per_channel),
        ("标记分类", ["类别", f"风险{SEVERITY_LABELS['high']}", f"风险{SEVERITY_LABELS['medium']}",
                    f"风险{SEVERITY_LABELS['low']}", "合计"], flags),
        ("高频标记词", ["词条", "类别", "次数"], terms),
        ("登记备案状态", ["状态", "账号数"], registry),
    ]


SHEET_NAMES = ("概要", "各渠道", "标记分类", "高频词", "备案状态")


def to_xlsx(report: QuarterReport) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for sheet_name, (title, headers, rows) in zip(SHEET_NAMES, tables(report)):
        ws = wb.create_sheet(sheet_name)
        ws.append([title])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(headers)
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append(row)
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # names typed by people are never formulas
        ws.column_dimensions["A"].width = 24
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def to_csv(report: QuarterReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    for title, headers, rows in tables(report):
        writer.writerow([title])
        writer.writerow(headers)
        for row in rows:
            writer.writerow(["'" + v if isinstance(v, str) and v.startswith(("=", "+", "-", "@")) else
                             ("" if v is None else v) for v in row])
        writer.writerow([])
    return out.getvalue().encode("utf-8-sig")
