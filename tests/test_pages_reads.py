"""The pages' merged and faster reads, held to the plain ones they replace: the queue
page's recent decisions with its count of drafts being scanned (one statement), the
draft page's versions, scans and flags (one statement), whether the signed-in user
stands in for anyone (with the user's own query), and the time format."""
from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from review import delegation, queries, timeutil, workflow
from review.models import Draft, DraftVersion, Flag, User
from review.timeutil import now
from review.web import auth
from tests.factories import WebUser


def reference_fmt(dt):
    """The format as it was: China time by astimezone and strftime."""
    if dt is None:
        return ""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timeutil.CST).strftime("%Y-%m-%d %H:%M")


def test_fmt_matches_astimezone_and_strftime_for_every_kind_of_time():
    zones = [None, timezone.utc, timezone(timedelta(hours=-5)), timezone(timedelta(hours=8, minutes=30)),
             zoneinfo.ZoneInfo("UTC"), zoneinfo.ZoneInfo("Asia/Shanghai"), zoneinfo.ZoneInfo("Europe/Berlin")]
    start = datetime(2025, 12, 31, 15, 59, 59, 999_999)
    # Across a year's end in China time, month ends, Berlin's DST switches, seconds and microseconds.
    moments = [start + timedelta(minutes=37 * i, seconds=i % 61, microseconds=i) for i in range(0, 20_000, 7)]
    moments += [datetime(2026, 3, 29, 1, 30), datetime(2026, 10, 25, 2, 30), datetime(2028, 2, 29, 16, 0)]
    for zone in zones:
        for m in moments:
            dt = m if zone is None else m.replace(tzinfo=zone)
            assert timeutil.fmt(dt) == reference_fmt(dt), dt
    assert timeutil.fmt(None) == ""


def test_recent_and_scanning_is_recent_decisions_and_pending_scan_count(app, make, db, rt):
    editor, leader, channel, _, _ = make.team()
    other_leader = make.user("other", "leader")
    other = make.channel(other_leader, "别的渠道")

    def check(user):
        with db.transaction() as s:
            user = s.get(User, user.id)
            for limit in (1, 3, 10):
                assert queries.recent_and_scanning(s, user, limit=limit) == (
                    queries.recent_decisions(s, user, limit=limit), queries.pending_scan_count(s, user))

    check(leader)  # no decisions, nothing scanning: no rows to join to
    ids = [make.submit(editor, channel, title=f"稿{i}")[0].id for i in range(5)]
    make.submit(editor, other, title="别处的稿")
    check(leader)  # five queued, no decisions
    for i, draft_id in enumerate(ids[:4]):
        with db.transaction() as s:
            version = s.get(DraftVersion, s.get(Draft, draft_id).current_version_id)
            make.scanned(rt, version.id)
    with db.transaction() as s:
        for i, draft_id in enumerate(ids[:3]):
            workflow.decide(s, s.get(User, leader.id), draft_id, "approve" if i % 2 == 0 else "reject",
                            "" if i % 2 == 0 else "请修改", version=1)
    check(leader)  # one still queued, three decided (more and fewer than the limit)
    check(other_leader)  # one queued, no decisions
    with db.transaction() as s:
        recent, scanning = queries.recent_and_scanning(s, s.get(User, leader.id), limit=10)
    assert scanning == 1
    assert [t.id for _, t in recent] == list(reversed(ids[:3]))
    assert [d.decision for d, _ in recent] == ["approve", "reject", "approve"]


def test_draft_view_holds_every_version_its_scan_and_only_the_current_versions_flags(app, make, db, rt):
    editor, leader, channel, _, _ = make.team()
    body = "百家乐和赌球都不能写。联系13800138000。"
    draft, version = make.submit(editor, channel, title="第一稿", body=body)
    make.scanned(rt, version.id)
    with db.transaction() as s:
        workflow.decide(s, s.get(User, leader.id), draft.id, "reject", "再改改", version=1)
    with db.transaction() as s:
        _, second, _ = workflow.submit(s, s.get(User, editor.id), channel.id, "第二稿", body + "还有百家乐。",
                                       draft_id=draft.id)
    make.scanned(rt, second.id)
    with db.transaction() as s:
        _, third, _ = workflow.submit(s, s.get(User, editor.id), channel.id, "第三稿", "赌球" + body,
                                      draft_id=draft.id)
    for current in (third.id, None):  # unscanned current version, then scanned
        if current is None:
            make.scanned(rt, third.id)
        with db.transaction() as s:
            d = s.get(Draft, draft.id)
            view = queries.draft_view(s, d)
            assert [v.number for v in view.versions] == [3, 2, 1]
            assert view.version.id == third.id and view.previous.number == 2
            expected = list(s.execute(select(Flag).where(Flag.version_id == third.id)
                                      .order_by(Flag.field, Flag.start, Flag.end)).scalars())
            assert [f.id for f in view.flags] == [f.id for f in expected]
            assert (view.scan is None) == (current is not None)
            assert all(f.version_id == third.id for f in view.flags)
    assert len(view.flags) >= 4  # the flags of versions 1 and 2 stay out


def test_stands_in_agrees_with_active_for_deputy_and_the_queue_still_shows_deputised_drafts(app, make, db, rt):
    """load_user's stands_in (review/web/auth.py) lets the queue skip the delegation query;
    it must say "none" exactly when delegation.active_for_deputy finds none."""
    editor, leader, channel, _, _ = make.team()
    deputy, future, revoked, lapsed, idle, dormant = make.users(
        ("deputy", "leader", "张三"), ("future", "leader"), ("revoked", "leader"), ("lapsed", "leader"),
        ("idle", "leader"), ("dormant_principal", "leader"))
    dormant_channel = make.channel(dormant, "停用人的渠道")
    today = delegation.today_local()
    with db.transaction() as s:
        lead, sleeper = s.get(User, leader.id), s.get(User, dormant.id)
        delegation.create(s, lead, deputy.id, today, today + timedelta(days=2))
        delegation.create(s, lead, future.id, today + timedelta(days=1), today + timedelta(days=3))
        gone = delegation.create(s, lead, revoked.id, today, today + timedelta(days=3))
        delegation.create(s, sleeper, lapsed.id, today, today + timedelta(days=3))
    with db.transaction() as s:
        delegation.revoke(s, s.get(User, leader.id), gone.id)
        s.execute(update(User).where(User.id == dormant.id).values(active=False))
    assert dormant_channel.id  # a channel whose leader may no longer decide
    draft, version = make.submit(editor, channel, title="代审的稿")
    make.scanned(rt, version.id)
    for user in (deputy, future, revoked, lapsed, idle, leader, editor):
        with db.transaction() as s:
            expected = bool(delegation.active_for_deputy(s, s.get(User, user.id), now()))
            found = s.execute(select(delegation.stands_in_sql()).select_from(User).where(User.id == user.id),
                              {"day": delegation.today_local()}).scalar()
        assert bool(found) == expected, user.username
        assert expected == (user is deputy)
        with app.test_request_context("/review"):
            auth.load_user(str(user.id))
            assert auth.known_grants() == (None if expected else [])
    assert "代 王领导" in WebUser.signed_in(app, deputy).get("/review").get_data(as_text=True)
    assert "代审的稿" not in WebUser.signed_in(app, future).get("/review").get_data(as_text=True)
