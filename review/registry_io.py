"""The registry in and out as CSV and XLSX, in the layout of a filing form
(新媒体账号登记备案表) with Chinese column headers.

Import checks every row first and names each bad cell by row and column;
nothing is imported unless every row is valid. A row updates the account of
the same name on the same platform, or registers a new one.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from sqlmodel import Session, select

from review import channels as registry
from review.errors import DomainError, ValidationError
from review.models import Channel, User
from review.models.channels import CATEGORY_LABELS, FILING_LABELS, PLATFORM_LABELS, local_today

TITLE = "新媒体账号登记备案表"
MAX_ROWS = 5000
# (header, field). Fields starting with "_" are export-only and ignored on import.
COLUMNS = (
    ("序号", "_index"),
    ("账号名称", "name"),
    ("平台类型", "platform"),
    ("账号类别", "category"),
    ("账号/网址/群号", "identifier"),
    ("主办单位", "unit"),
    ("管理员", "administrator"),
    ("分管领导", "leader"),
    ("分管领导账号", "leader_username"),
    ("备案机关", "filing_authority"),
    ("备案状态", "filing_status"),
    ("备案编号", "filing_number"),
    ("备案日期", "filing_date"),
    ("最近年检日期", "last_annual_check"),
    ("用途及发布范围", "purpose"),
    ("备注", "notes"),
    ("变更备案期限", "_refiling_due"),
    ("提醒事项", "_reminders"),
)
HEADERS = [h for h, _ in COLUMNS]
FIELD_HEADER = {f: h for h, f in COLUMNS}
FIELD_HEADER["leader_id"] = "分管领导"
REQUIRED_HEADERS = ("账号名称", "平台类型", "分管领导")
FORMULA_START = ("=", "+", "-", "@")


@dataclass
class CellError:
    row: int  # the row number as the spreadsheet shows it
    column: str  # the column header
    message: str

    def __str__(self) -> str:
        return f"第{self.row}行“{self.column}”：{self.message}"


class ImportRejected(ValidationError):
    """Some rows are invalid; nothing was imported."""

    def __init__(self, errors: list[CellError]):
        super().__init__(f"导入未执行：{len(errors)}处错误，请修改后重新导入", field="file")
        self.errors = errors


@dataclass
class ImportResult:
    created: list[Channel] = field(default_factory=list)
    updated: list[Channel] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- export

def _safe(value) -> str:
    """A cell's text that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_rows(session: Session, channels: list[Channel]) -> list[list[str]]:
    leaders = {u.id: u for u in session.exec(select(User).where(User.id.in_({c.leader_id for c in channels})))}
    today = local_today()
    rows = []
    for i, c in enumerate(channels, 1):
        leader = leaders.get(c.leader_id)
        values = {
            "_index": str(i), "name": c.name, "platform": c.platform_label, "category": c.category_label,
            "identifier": c.identifier, "unit": c.unit, "administrator": c.administrator,
            "leader": leader.display_name if leader else "", "leader_username": leader.username if leader else "",
            "filing_authority": c.filing_authority, "filing_status": c.filing_label,
            "filing_number": c.filing_number,
            "filing_date": c.filing_date.isoformat() if c.filing_date else "",
            "last_annual_check": c.last_annual_check.isoformat() if c.last_annual_check else "",
            "purpose": c.purpose, "notes": c.notes,
            "_refiling_due": c.refiling_due.isoformat() if c.refiling_due else "",
            "_reminders": "；".join(c.reminders(today)),
        }
        rows.append([_safe(values[f]) for _, f in COLUMNS])
    return rows


def to_csv(session: Session, channels: list[Channel]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    writer.writerows(export_rows(session, channels))
    return out.getvalue().encode("utf-8-sig")  # the BOM makes Excel read UTF-8


def to_xlsx(session: Session, channels: list[Channel]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "登记备案表"
    ws.append([TITLE])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([f"导出日期：{local_today().isoformat()}", "", "", f"共{len(channels)}个账号"])
    ws.append(HEADERS)
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for row in export_rows(session, channels):
        ws.append(row)
        for cell in ws[ws.max_row]:
            cell.data_type = "s"  # text, never a formula
    for letter, width in zip("ABCDEFGHIJKLMNOPQR", (6, 20, 12, 8, 24, 20, 10, 10, 12, 18, 10, 18, 12, 12, 30, 20, 12, 30)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "B4"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- import

def read_table(filename: str, data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(row number, {header: text}) for each non-empty data row of a CSV or XLSX file."""
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds on a damaged file
            raise ValidationError("无法读取该XLSX文件", field="file") from None
        rows = [[_text(v) for v in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
        wb.close()
    elif name.endswith(".csv"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")
            except UnicodeDecodeError:
                raise ValidationError("CSV文件编码无法识别（请使用UTF-8或GBK）", field="file") from None
        rows = [[c.strip() for c in row] for row in csv.reader(io.StringIO(text))]
    else:
        raise ValidationError("请上传 .csv 或 .xlsx 文件", field="file")
    for at, row in enumerate(rows[:10]):
        if "账号名称" in row:
            header, start = row, at + 1
            break
    else:
        raise ValidationError("未找到表头（应有“账号名称”“平台类型”“分管领导”等列）", field="file")
    missing = [h for h in REQUIRED_HEADERS if h not in header]
    if missing:
        raise ValidationError("缺少列：" + "、".join(missing), field="file")
    out = []
    for number, row in enumerate(rows[start:], start + 1):
        if not any(row):
            continue
        out.append((number, {h: (row[i] if i < len(row) else "") for i, h in enumerate(header) if h}))
    if len(out) > MAX_ROWS:
        raise ValidationError(f"一次最多导入{MAX_ROWS}行", field="file")
    return out


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _code(value: str, labels: dict[str, str]) -> str | None:
    if value in labels:
        return value
    return {label: code for code, label in labels.items()}.get(value)


def _date(value: str) -> str:
    value = value.replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat("-".join(p.zfill(2) for p in value.split("-"))).isoformat() if value else ""
    except ValueError:
        raise ValidationError("日期格式应为 YYYY-MM-DD") from None


def _unsafe(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


class _Leaders:
    def __init__(self, session: Session):
        people = [u for u in session.exec(select(User).where(User.active == True)) if u.has_role("leader")]  # noqa: E712
        self.by_username = {u.username: u for u in people}
        self.by_name: dict[str, list[User]] = {}
        for u in people:
            self.by_name.setdefault(u.display_name, []).append(u)

    def find(self, username: str, name: str) -> tuple[User | None, str, str]:
        """(leader, column, error)"""
        if username:
            user = self.by_username.get(username)
            return (user, "", "") if user else (None, "分管领导账号", f"没有在职的分管领导账号“{username}”")
        matches = self.by_name.get(name, [])
        if len(matches) == 1:
            return matches[0], "", ""
        if not name:
            return None, "分管领导", "不能为空"
        if matches:
            return None, "分管领导", f"有{len(matches)}位同名领导，请填写“分管领导账号”"
        return None, "分管领导", f"没有在职的分管领导“{name}”"


def _parse_row(number: int, row: dict[str, str], leaders: _Leaders, errors: list[CellError]) -> dict:
    def err(column, message):
        errors.append(CellError(number, column, message))

    data = {f: _unsafe(row.get(h, "")) for h, f in COLUMNS if not f.startswith("_")}
    if not data["name"]:
        err("账号名称", "不能为空")
    for f, labels, default in (("platform", PLATFORM_LABELS, None), ("category", CATEGORY_LABELS, "government"),
                               ("filing_status", FILING_LABELS, "unfiled")):
        value = data[f]
        code = _code(value, labels) if value else default
        if code is None:
            err(FIELD_HEADER[f], f"“{value}”无效，应为：" + "、".join(labels.values()) if value else "不能为空")
        data[f] = code
    for f in ("filing_date", "last_annual_check"):
        try:
            data[f] = _date(data[f])
        except ValidationError as exc:
            err(FIELD_HEADER[f], exc.message)
    leader, column, message = leaders.find(data.pop("leader_username"), data.pop("leader"))
    if message:
        err(column, message)
    data["leader_id"] = leader.id if leader else None
    return data


def import_table(session: Session, rows: list[tuple[int, dict[str, str]]], actor: User | None) -> ImportResult:
    """Validate every row, then apply them all; on any error raise ImportRejected
    (the caller rolls back, so nothing is kept)."""
    if not rows:
        raise ValidationError("文件中没有数据行", field="file")
    errors: list[CellError] = []
    leaders = _Leaders(session)
    parsed, seen = [], {}
    for number, row in rows:
        before = len(errors)
        data = _parse_row(number, row, leaders, errors)
        key = (data["name"], data["platform"])
        if data["name"] and key in seen:
            errors.append(CellError(number, "账号名称", f"与第{seen[key]}行重复（同一平台同名账号）"))
        seen.setdefault(key, number)
        if len(errors) == before:
            parsed.append((number, data))
    existing = {(c.name, c.platform): c for c in session.exec(select(Channel))}
    result = ImportResult()
    for number, data in parsed:
        channel = existing.get((data["name"], data["platform"]))
        try:
            if channel is None:
                result.created.append(registry.create_channel(session, data, actor))
            else:
                data["urgent_deadline_minutes"] = channel.urgent_deadline_minutes
                stamp = channel.updated_at
                registry.update_channel(session, channel, data, actor)
                if channel.updated_at != stamp:
                    result.updated.append(channel)
                else:
                    result.unchanged += 1
        except DomainError as exc:
            errors.append(CellError(number, FIELD_HEADER.get(exc.field or "", "账号名称"), exc.message))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, HEADERS.index(e.column))))
    for channel in result.created + result.updated:
        twins = registry.same_unit_platform(session, channel)
        if twins:
            names = "、".join(sorted({channel.name, *(t.name for t in twins)}))
            warning = f"“{channel.unit}”在{channel.platform_label}上有多个账号：{names}（应一个单位一个平台一个账号）"
            if warning not in result.warnings:
                result.warnings.append(warning)
    return result
