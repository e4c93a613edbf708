"""The registry of new-media channels (新媒体登记备案)."""
from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from review.timeutil import now, to_local

PLATFORM_LABELS = {
    "wechat_official": "微信公众号",
    "wechat_group": "微信群",
    "qq_group": "QQ群",
    "weibo": "微博",
    "website": "网站",
    "app": "客户端",
    "video": "视频号/抖音",
    "bulletin_board": "公告栏",
    "other": "其他",
}
CATEGORY_LABELS = {"government": "政务", "social": "社会", "commercial": "商业"}
FILING_LABELS = {
    "unfiled": "未备案",
    "filing": "备案中",
    "filed": "已备案",
    "refiling": "变更待备案",  # a filed account whose leader or administrator changed
    "suspended": "暂停",
    "closed": "注销",
}
# Channels that may not receive drafts at all.
BLOCKED_FILING = {"suspended", "closed"}
REFILING_DAYS = 30  # a changed filed account must be refiled within this many days
ANNUAL_CHECK_DAYS = 365  # an annual check older than this is overdue


def local_today() -> date:
    return to_local(now()).date()


class Channel(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=128, index=True)
    platform: str = Field(max_length=32)
    category: str = Field(default="government", max_length=16)
    identifier: str = Field(default="", max_length=256)  # account ID, URL or group number
    unit: str = Field(default="", max_length=128)  # 主办单位
    administrator: str = Field(default="", max_length=64)  # 管理员
    leader_id: int = Field(foreign_key="user.id", index=True)  # 分管领导
    filing_authority: str = Field(default="", max_length=128)
    filing_status: str = Field(default="unfiled", max_length=16)
    filing_number: str = Field(default="", max_length=64)
    filing_date: date | None = None
    last_annual_check: date | None = None
    notes: str = ""
    purpose: str = ""  # 用途及发布范围
    status_since: date | None = None  # the day filing_status last changed
    refiling_due: date | None = None  # set while filing_status is "refiling"
    urgent_deadline_minutes: int = 30
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    @property
    def platform_label(self) -> str:
        return PLATFORM_LABELS.get(self.platform, self.platform)

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category)

    @property
    def filing_label(self) -> str:
        return FILING_LABELS.get(self.filing_status, self.filing_status)

    @property
    def accepts_drafts(self) -> bool:
        return self.filing_status not in BLOCKED_FILING

    @property
    def unfiled_warning(self) -> bool:
        return self.filing_status in {"unfiled", "filing"}

    def reminders(self, today: date | None = None) -> list[str]:
        """What the registrar still owes for this account (empty when nothing)."""
        today = today or local_today()
        out = []
        if self.filing_status in ("unfiled", "filing"):
            out.append(self.filing_label)
        if self.filing_status == "refiling":
            if self.refiling_due and self.refiling_due < today:
                out.append(f"变更备案已逾期（应于{self.refiling_due.isoformat()}前）")
            else:
                due = f"，{self.refiling_due.isoformat()}前" if self.refiling_due else ""
                out.append(f"变更待备案{due}")
        if self.filing_status in ("filed", "refiling"):
            checked = self.last_annual_check or self.filing_date
            if checked is None or (today - checked).days > ANNUAL_CHECK_DAYS:
                out.append("年检超过12个月")
        return out

    @property
    def reminder_labels(self) -> list[str]:
        return self.reminders()
