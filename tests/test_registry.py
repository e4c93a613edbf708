"""The registry: lifecycle and the refiling rule, reminders, import and export."""
from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func, select, update

from review import channels as registry
from review import registry_io
from review.errors import ValidationError
from review.models import AuditEvent, Channel, FilingEvent
from review.models.channels import local_today
from tests.factories import WebUser


def _count(db, model):
    with db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def _edit(db, channel_id, actor=None, **changes):
    with db.transaction() as s:
        channel = s.get(Channel, channel_id)
        data = {f: getattr(channel, f) for f in registry.EDITABLE}
        data.update(changes)
        return registry.update_channel(s, channel, data, actor)


def test_lifecycle_and_refiling_rule(db, make):
    leader, other = make.users(("lead1", "leader", "王领导"), ("lead2", "leader", "李领导"))
    channel = make.channel(leader, "城南发布", filing_status="unfiled", administrator="小张")
    today = local_today()
    events = _count(db, AuditEvent)

    with pytest.raises(ValidationError) as refused:  # 未备案 cannot jump to 已备案
        _edit(db, channel.id, filing_status="filed")
    assert refused.value.field == "filing_status"
    _edit(db, channel.id, filing_status="filing")
    filed = _edit(db, channel.id, filing_status="filed", filing_number="宣备2026-001")
    assert (filed.filing_status, filed.filing_date, filed.status_since) == ("filed", today, today)
    assert _count(db, AuditEvent) == events + 2  # the refused change left nothing

    # A new supervising leader on a filed account: 变更待备案, due in 30 days.
    changed = _edit(db, channel.id, leader_id=other.id)
    assert changed.filing_status == "refiling" and changed.refiling_due == today + timedelta(days=30)
    assert changed.reminders(today) == [f"变更待备案，{(today + timedelta(days=30)).isoformat()}前"]
    # A second change (the administrator) does not move the deadline; the form saying "filed" does not undo it.
    again = _edit(db, channel.id, administrator="小李", filing_status="filed")
    assert again.filing_status == "refiling" and again.refiling_due == today + timedelta(days=30)
    # Overdue once the deadline has passed.
    assert again.reminders(today + timedelta(days=31))[0].startswith("变更备案已逾期")
    refiled = _edit(db, channel.id, filing_status="filed")
    assert (refiled.filing_status, refiled.refiling_due) == ("filed", None)
    _edit(db, channel.id, filing_status="suspended")
    _edit(db, channel.id, filing_status="closed")
    with pytest.raises(ValidationError):
        _edit(db, channel.id, filing_status="filed")  # 注销 is final

    with db.transaction() as s:
        steps = [(h.from_status, h.to_status, h.note) for h in registry.filing_history(s, channel.id)]
        audited = s.execute(select(AuditEvent.action).where(AuditEvent.channel_id == channel.id)).scalars().all()
    assert steps == [("", "unfiled", "登记"), ("unfiled", "filing", ""), ("filing", "filed", ""),
                     ("filed", "refiling", "分管领导变更"), ("refiling", "filed", "变更备案完成"),
                     ("filed", "suspended", ""), ("suspended", "closed", "")]
    assert audited == ["channel.created"] + ["channel.updated"] * 7


def test_reminders_on_dashboard_and_pages(app, db, make):
    leader, registrar, editor = make.users(("lead1", "leader", "王领导"), ("reg", "registrar", "周管理"),
                                           ("ed", "editor", "张编辑"))
    today = local_today()
    make.channel(leader, "未备案号", filing_status="unfiled")
    old_check = make.channel(leader, "老账号", platform="weibo", filing_date=today - timedelta(days=900),
                             last_annual_check=today - timedelta(days=400))
    overdue = make.channel(leader, "逾期号", platform="website")
    make.channel(leader, "正常号", platform="app", last_annual_check=today - timedelta(days=30))
    _edit(db, overdue.id, administrator="新管理员")
    with db.transaction() as s:
        s.execute(update(Channel).where(Channel.id == overdue.id).values(refiling_due=today - timedelta(days=1)))
        listed = {c.name: c.reminders(today) for c in registry.reminder_channels(s)}
    assert listed == {"未备案号": ["未备案"], "老账号": ["年检超过12个月"],
                      "逾期号": [f"变更备案已逾期（应于{(today - timedelta(days=1)).isoformat()}前）"]}

    home = WebUser.signed_in(app, registrar).get("/").get_data(as_text=True)
    assert "备案提醒" in home and all(name in home for name in listed) and "正常号" not in home
    page = WebUser.signed_in(app, registrar).get("/registry").get_data(as_text=True)
    assert page.count('class="needs-filing"') == 3
    for url in ("/registry", "/admin/channels", "/"):  # its status says 未备案 once, not again as a reminder
        html = WebUser.signed_in(app, registrar).get(url).get_data(as_text=True)
        row = html.split("未备案号</a>")[-1].split("</tr>")[0]
        assert row.count("未备案") == 1, (url, row)
    # The editor is warned when writing for one of them, and on the draft page after submitting.
    web = WebUser.signed_in(app, editor)
    assert "年检超过12个月" in web.get("/drafts/new").get_data(as_text=True)
    draft, _ = make.submit(editor, old_check)
    assert "备案提醒：年检超过12个月" in web.get(f"/drafts/{draft.id}").get_data(as_text=True)


def test_second_account_of_a_unit_on_a_platform_is_warned_not_refused(app, db, make):
    leader, registrar = make.users(("lead1", "leader", "王领导"), ("reg", "registrar", "周管理"))
    make.channel(leader, "城南发布", unit="城南街道", platform="weibo")
    web = WebUser.signed_in(app, registrar)
    response = web.post("/admin/channels/new", {"name": "城南街道二号", "platform": "weibo", "unit": "城南街道",
                                                "leader_id": leader.id, "filing_status": "unfiled"})
    assert response.status_code == 302
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "一个单位在一个平台只开设一个账号" in page and _count(db, Channel) == 2


def _csv(*rows) -> bytes:
    lines = [",".join(registry_io.HEADERS[:16]), *rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_import_with_a_bad_row_imports_nothing_and_names_row_and_column(app, db, make):
    leader, registrar = make.users(("lead1", "leader", "王领导"), ("reg", "registrar", "周管理"))
    good = "1,城南发布,微信公众号,政务,gh_1,城南街道,小张,王领导,,宣传部,已备案,宣备001,2026-01-05,,发布政务信息,"
    good2 = "2,城南微博,微博,政务,@cn,城南街道,小张,,lead1,宣传部,未备案,,,,,"
    bad = "3,城北号,抖音号,政务,x,城北街道,小王,王领导,,宣传部,已备案,宣备002,2026-13-01,,,"
    before = (_count(db, Channel), _count(db, AuditEvent), _count(db, FilingEvent))
    web = WebUser.signed_in(app, registrar)
    response = web.post("/registry/import", {"file": (io.BytesIO(_csv(good, good2, bad)), "表.csv")},
                        content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<td>第4行</td><td>平台类型</td>" in html and "<td>第4行</td><td>备案日期</td>" in html
    assert "第2行" not in html and "第3行" not in html
    assert (_count(db, Channel), _count(db, AuditEvent), _count(db, FilingEvent)) == before

    # A row that fails only when applied (an illegal lifecycle step) also stops the whole import.
    with db.transaction() as s:
        rows = registry_io.read_table("t.csv", _csv(good, good2))
        assert len(registry_io.import_table(s, rows, None).created) == 2
    closing = "1,城南发布,微信公众号,政务,gh_1,城南街道,小张,王领导,,宣传部,注销,宣备001,2026-01-05,,,"
    reopen = "2,城南微博,微博,政务,@cn,城南街道,小张,,lead1,宣传部,已备案,,,,,"
    with pytest.raises(registry_io.ImportRejected) as rejected, db.transaction() as s:
        registry_io.import_table(s, registry_io.read_table("t.csv", _csv(closing, reopen)), None)
    assert [(e.row, e.column) for e in rejected.value.errors] == [(3, "备案状态")]
    with db.transaction() as s:
        assert s.execute(select(Channel.filing_status).where(Channel.name == "城南发布")).scalar_one() == "filed"


def test_export_then_import_round_trip(app, db, make):
    leader, registrar, auditor = make.users(("lead1", "leader", "王领导"), ("reg", "registrar", "周管理"),
                                            ("aud", "auditor", "陈督查"))
    make.channel(leader, "=城南发布", unit="城南街道", administrator="小张", identifier="gh_1",
                 filing_authority="区委宣传部", filing_number="宣备001", filing_date=local_today() - timedelta(days=10),
                 purpose="发布政务信息，回应群众关切", notes="换行\n备注", category="social")
    make.channel(leader, "城南工作群", platform="wechat_group", filing_status="unfiled")
    fields = ("name", "platform", "category", "identifier", "unit", "administrator", "leader_id", "filing_authority",
              "filing_status", "filing_number", "filing_date", "last_annual_check", "purpose", "notes")
    with db.transaction() as s:
        stored = {c.name: tuple(getattr(c, f) for f in fields) for c in s.execute(select(Channel)).scalars()}
    web = WebUser.signed_in(app, auditor)  # auditors may export (read-only)
    for fmt in ("xlsx", "csv"):
        response = web.get(f"/registry/export.{fmt}")
        assert response.status_code == 200
        data = response.get_data()
        if fmt == "xlsx":
            sheet = openpyxl.load_workbook(io.BytesIO(data)).active
            assert sheet["A1"].value == "新媒体账号登记备案表" and sheet["B3"].value == "账号名称"
            assert sheet["B4"].value == "'=城南发布" and sheet["B4"].data_type == "s"  # never a formula
        with db.transaction() as s:
            rows = registry_io.read_table(f"registry.{fmt}", data)
            result = registry_io.import_table(s, rows, None)
            assert (len(result.created), len(result.updated), result.unchanged) == (0, 0, 2)
            parsed = {}
            for number, row in rows:
                values = registry_io._parse_row(number, row, registry_io._Leaders(s), errors := [])
                assert errors == []
                parsed[values["name"]] = values
        for name, values in stored.items():
            again = parsed[name]
            assert tuple(str(again[f] or "") if f not in ("leader_id",) else again[f] for f in fields) == \
                tuple(str(v or "") if f not in ("leader_id",) else v for f, v in zip(fields, values))
    assert WebUser.signed_in(app, registrar).get("/registry/import").status_code == 200
    assert web.get("/registry/import").status_code == 403


def test_a_filed_channel_saved_without_its_number_or_date_is_pointed_out(app, db, make):
    leader, registrar = make.users(("lead1", "leader", "王领导"), ("reg", "registrar", "周管理"))
    web = WebUser.signed_in(app, registrar)
    page = web.post("/admin/channels/new", {"name": "城南发布", "platform": "wechat_official", "leader_id": leader.id,
                                            "filing_status": "filed"}, follow_redirects=True).get_data(as_text=True)
    assert "已备案的渠道还没有填写备案编号" in page and f"已按{local_today().isoformat()}记录，请核对" in page
    page = web.post("/admin/channels/new", {"name": "城北发布", "platform": "weibo", "leader_id": leader.id,
                                            "filing_status": "filed", "filing_number": "网宣备2024-001",
                                            "filing_date": "2024-03-15"}, follow_redirects=True).get_data(as_text=True)
    assert "渠道“城北发布”已保存" in page and "请补填" not in page and "请核对" not in page
    # Saved, the registrar is back on 登记备案, the one menu item for the channels.
    assert "<h1>新媒体账号登记备案" in page and ">登记备案</a>" in page and ">渠道登记</a>" not in page
