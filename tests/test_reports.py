"""The quarterly report against a hand-built data set, on the page and in its exports."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from types import SimpleNamespace

import openpyxl
import pytest
from sqlalchemy import select, update

from review import reports, workflow
from review.models import Decision, Draft, DraftVersion, Publication
from review.timeutil import CST
from tests.factories import WebUser

MIN = 60.0


def hit(term, category, severity, confidence="high"):
    return SimpleNamespace(term=term, category=category, severity=severity, confidence=confidence,
                           rule="test", start=0, end=len(term), text=term)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=CST)


@pytest.fixture
def world(db, make):
    """2026 Q2. Channel A (leader 王): A1 approved 10 min, published, retracted; A2 rejected 30 min;
    A3 urgent, approved 60 min, past its 30-min deadline. Channel B (leader 李): B1 approved 20 min
    and published; B2 submitted in Q1, approved 120 min later in Q2; B3 submitted in Q3."""
    editor, lead_a, lead_b, auditor = make.users(
        ("ed", "editor", "张编辑"), ("wang", "leader", "王领导"), ("li", "leader", "李领导"), ("aud", "auditor", "陈督查"))
    a = make.channel(lead_a, "城南发布", unit="城南街道")
    b = make.channel(lead_b, "城北发布", unit="城北街道", platform="weibo")
    plan = [  # (channel, leader, submitted, minutes to decision, decision, hits, urgent)
        ("A1", a, lead_a, "2026-04-10 10:00", 10, "approve",
         [hit("百家乐", "gambling", "high"), hit("百家乐", "gambling", "high"), hit("13800138000", "pii", "medium"),
          hit("大麻", "drugs", "high", confidence="low")], False),
        ("A2", a, lead_a, "2026-04-11 09:00", 30, "reject", [], False),
        ("A3", a, lead_a, "2026-05-01 08:00", 60, "approve", [], True),
        ("B1", b, lead_b, "2026-06-01 12:00", 20, "approve", [hit("刷单", "fraud", "high")], False),
        ("B2", b, lead_b, "2026-03-31 23:30", 120, "approve", [], False),
        ("B3", b, lead_b, "2026-07-01 00:30", 5, "approve", [hit("百家乐", "gambling", "high")], False),
    ]
    drafts = {}
    for name, channel, leader, submitted, minutes, decision, hits, urgent in plan:
        draft, version = make.submit(editor, channel, title=name, urgent=urgent)
        with db.transaction() as s:
            workflow.record_scan(s, version.id, "test", {"title": [], "body": hits})
            flags = [f.id for f in workflow.must_acknowledge(s, version.id)]
            workflow.decide(s, leader, draft.id, decision, "请修改" if decision == "reject" else "",
                            version=1, acknowledged=flags)
            when = at(submitted)
            s.execute(update(DraftVersion).where(DraftVersion.id == version.id).values(created_at=when))
            s.execute(update(Draft).where(Draft.id == draft.id).values(
                submitted_at=when, deadline_at=when + timedelta(minutes=30) if urgent else None))
            s.execute(update(Decision).where(Decision.draft_id == draft.id).values(
                decided_at=when + timedelta(minutes=minutes)))
        drafts[name] = draft
    for name, published, retracted in (("A1", "2026-04-10 11:00", "2026-04-20 09:00"), ("B1", "2026-06-01 13:00", None),
                                       ("B2", "2026-04-01 08:00", None)):
        with db.transaction() as s:
            workflow.publish(s, editor, drafts[name].id, "https://example.org/p/" + name, None)
            if retracted:
                workflow.retract(s, lead_a, drafts[name].id, "内容有误")
            s.execute(update(Publication).where(Publication.draft_id == drafts[name].id).values(
                published_at=at(published), retracted_at=at(retracted) if retracted else None))
    return SimpleNamespace(a=a, b=b, lead_a=lead_a, lead_b=lead_b, auditor=auditor)


def test_figures_match_the_hand_built_data(db, world):
    with db.transaction() as s:
        report = reports.build(s, 2026, 2, reports.scope_channels(s, world.auditor))
    per = {c.channel.name: c.figures for c in report.channels}
    a, b, t = per["城南发布"], per["城北发布"], report.total
    assert (a.submitted, a.approved, a.rejected, a.published, a.retracted, a.flags, a.overdue) == (3, 2, 1, 1, 1, 3, 1)
    assert (b.submitted, b.approved, b.rejected, b.published, b.retracted, b.flags, b.overdue) == (1, 2, 0, 2, 0, 1, 0)
    assert (t.submitted, t.approved, t.rejected, t.published, t.retracted, t.flags, t.decided) == (4, 4, 1, 3, 1, 4, 5)
    # Nearest rank: A [10, 30, 60] -> 30, 60; B [20, 120] -> 20, 120; all [10, 20, 30, 60, 120] -> 30, 120.
    assert (round(a.median_s), round(a.p90_s)) == (30 * MIN, 60 * MIN)
    assert (round(b.median_s), round(b.p90_s)) == (20 * MIN, 120 * MIN)
    assert (round(t.median_s), round(t.p90_s)) == (30 * MIN, 120 * MIN)
    assert report.flags_by == {("gambling", "high"): 2, ("pii", "medium"): 1, ("fraud", "high"): 1}
    assert report.top_terms[0] == ("百家乐", "gambling", 2) and len(report.top_terms) == 3
    assert report.registry["filed"] == 2 and report.registry["needs_reminder"] == 0
    with db.transaction() as s:  # Q3 sees only B3
        q3 = reports.build(s, 2026, 3, reports.scope_channels(s, world.auditor))
    assert (q3.total.submitted, q3.total.approved, q3.total.flags) == (1, 1, 1)


def test_leaders_see_their_channels_only_and_filters(app, db, world):
    with db.transaction() as s:
        assert [c.name for c in reports.scope_channels(s, world.lead_b)] == ["城北发布"]
        assert [c.name for c in reports.scope_channels(s, world.auditor, unit="城南街道")] == ["城南发布"]
    page = WebUser.signed_in(app, world.lead_b).get("/reports/quarterly?year=2026&quarter=2")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "城北发布" in html and "城南发布" not in html and "<svg" in html
    # The review times are named as office staff read them, not as statisticians do.
    assert "九成稿件审核用时不超过" in html and "半数稿件审核用时不超过" in html and "P90" not in html
    bad = WebUser.signed_in(app, world.auditor).get("/reports/quarterly?year=2026&quarter=5")
    assert bad.status_code == 422 and "季度应为1到4" in bad.get_data(as_text=True)


def test_xlsx_and_csv_exports_carry_the_figures(app, db, world):
    web = WebUser.signed_in(app, world.auditor)
    response = web.get("/reports/quarterly.xlsx?year=2026&quarter=2")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    rows = {r[0]: r for r in book["各渠道"].iter_rows(min_row=3, values_only=True)}
    assert rows["城南发布"][4:12] == (3, 2, 1, 1, 1, 3, 2 + 1, 1)
    assert rows["合计"][4:14] == (4, 4, 1, 3, 1, 4, 5, 1, 30.0, 120.0)
    terms = list(book["高频词"].iter_rows(min_row=3, values_only=True))
    assert terms[0] == ("百家乐", "赌博", 2)
    flags = {r[0]: r[1:] for r in book["标记分类"].iter_rows(min_row=3, values_only=True)}
    assert flags["赌博"] == (2, 0, 0, 2) and flags["个人信息"] == (0, 1, 0, 1)

    text = web.get("/reports/quarterly.csv?year=2026&quarter=2").get_data().decode("utf-8-sig")
    total = next(r for r in csv.reader(io.StringIO(text)) if r and r[0] == "合计")
    assert total[4:14] == ["4", "4", "1", "3", "1", "4", "5", "1", "30.0", "120.0"]
    assert "九成稿件审核用时不超过（分钟）" in text and "P90" not in text


def test_filters_that_match_no_channel_give_an_empty_report_not_an_error(app, db, world):
    web = WebUser.signed_in(app, world.auditor)
    # Both from the page's dropdowns, but no channel is both: 城北发布 belongs to 城北街道.
    query = f"year=2026&quarter=2&channel_id={world.b.id}&unit=城南街道"
    page = web.get(f"/reports/quarterly?{query}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:300]
    assert "没有符合条件的渠道" in html and "城南街道" in html  # the filter is still shown, to be changed
    for fmt in ("csv", "xlsx"):
        assert web.get(f"/reports/quarterly.{fmt}?{query}").status_code == 200


def test_review_times_are_rounded_not_cut_down():
    label = reports.duration_label
    assert [label(x) for x in (None, 44.6, 60, 174, 179.6, 599.6, 12 * MIN + 31, 59 * MIN + 45)] == \
        ["—", "45秒", "1分", "2分54秒", "3分", "10分", "13分", "1小时"]
    assert [label(x) for x in (3 * 3600 + 5 * MIN + 29, 23 * 3600 + 59 * MIN + 40, 2 * 86400 + 4 * 3600 + 31 * MIN)] == \
        ["3小时5分", "1天", "2天5小时"]
