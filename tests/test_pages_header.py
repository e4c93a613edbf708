"""The header every page shows: the unread badge and whether 待我审核 is offered.
Both ride along with the query that loads the signed-in user (review/web/auth.py);
they are held here to the per-user rules they replace, and followed through
POSTs that change them before a page renders."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from review import chains, delegation, notifications
from review.models import ChainStep, Channel, Delegation, User
from tests.factories import WebUser

QUEUE_LINK = '<a href="/review">待我审核</a>'


def reference_is_reviewer(session, user: User) -> bool:
    """The rule the navigation follows, checked in Python over every chain step and delegation."""
    if user.has_role("leader"):
        return True
    for step, channel in session.execute(select(ChainStep, Channel).join(Channel, Channel.id == ChainStep.channel_id)):
        if step.kind == "user" and step.user_id == user.id:
            return True
        if step.kind == "role" and step.role in user.role_set and user.unit and channel.unit == user.unit:
            return True
    today = delegation.today_local()
    for grant in session.execute(select(Delegation).where(Delegation.deputy_id == user.id)).scalars():
        principal = session.get(User, grant.principal_id)
        if grant.revoked_at is None and grant.starts_on <= today <= grant.ends_on and principal.active:
            return True
    return False


def badge(html: str) -> int:
    match = re.search(r'class="badge" aria-label="未读">(\d+)<', html)
    return int(match.group(1)) if match else 0


def test_queue_link_follows_chains_roles_units_and_delegations(app, make, db):
    editor, named, unit_editor, elsewhere, no_unit, deputy, lapsed, principal, leader, registrar = make.users(
        ("editor", "editor"), ("named", "editor"), ("unit_editor", "editor auditor"), ("elsewhere", "editor"),
        ("no_unit", "editor"), ("deputy", "editor"), ("lapsed", "editor"), ("principal", "leader"),
        ("leader", "leader"), ("registrar", "registrar"))
    with db.transaction() as s:
        s.execute(update(User).where(User.id.in_([unit_editor.id, principal.id])).values(unit="城南街道"))
        s.execute(update(User).where(User.id == elsewhere.id).values(unit="城北街道"))
    plain = make.channel(leader, "默认渠道")
    unit = make.channel(leader, "单位渠道", unit="城南街道")
    people = [editor, named, unit_editor, elsewhere, no_unit, deputy, lapsed, principal, leader, registrar]

    def check(label, expected: set[str]):
        with db.transaction() as s:
            for user in people:
                user = s.get(User, user.id)
                if not user.active:
                    continue
                html = WebUser.signed_in(app, user).get("/drafts" if user.has_role("editor") else "/").get_data(
                    as_text=True)
                shown = QUEUE_LINK in html
                assert shown == reference_is_reviewer(s, user) == chains.is_reviewer_anywhere(s, user), (
                    label, user.username)
                assert shown == (user.username in expected | {"principal", "leader"}), (label, user.username)

    check("no chains", set())
    with db.transaction() as s:
        chains.set_chain(s, registrar, plain, [chains.Step(1, "初审", "user", named.id), chains.Step(2, "终审", "leader")])
        chains.set_chain(s, registrar, unit, [chains.Step(1, "单位审", "role", role="auditor"),
                                              chains.Step(2, "终审", "leader")])
    check("a named step and a role step", {"named", "unit_editor"})

    today = delegation.today_local()
    with db.transaction() as s:
        delegation.create(s, s.get(User, principal.id), deputy.id, today, today + timedelta(days=2))
        old = delegation.create(s, s.get(User, principal.id), lapsed.id, today, today)
    with db.transaction() as s:  # the lapsed grant ended yesterday
        s.execute(update(Delegation).where(Delegation.id == old.id).values(
            starts_on=today - timedelta(days=3), ends_on=today - timedelta(days=1)))
    check("a deputy today, one whose grant lapsed", {"named", "unit_editor", "deputy"})

    with db.transaction() as s:
        s.execute(update(User).where(User.id == principal.id).values(active=False))
    check("the principal left", {"named", "unit_editor"})
    with db.transaction() as s:
        s.execute(update(User).where(User.id == unit_editor.id).values(unit="城北街道"))
        s.execute(update(User).where(User.id == elsewhere.id).values(roles="editor auditor"))
    check("the role holder moved out, another with the role is in the wrong unit", {"named"})


def test_badge_counts_unread_notifications_and_a_post_that_reads_them_is_shown_at_once(app, make, db, rt):
    editor, leader, channel, auditor, registrar = make.team()
    web = WebUser.signed_in(app, leader)
    assert badge(web.get("/review").get_data(as_text=True)) == 0
    for title in ("防汛通知", "停水通知", "停电通知"):
        _, version = make.submit(editor, channel, title=title)
        make.scanned(rt, version.id)
    for path in ("/review", "/", "/notifications"):
        assert badge(web.get(path).get_data(as_text=True)) == 3, path
    with db.transaction() as s:
        assert notifications.unread_count(s, s.get(User, leader.id)) == 3
        first = notifications.recent(s, s.get(User, leader.id))[-1]
    # A POST that reads one and redirects: the next page counts two.
    response = web.post("/notifications/read", {"id": first.id})
    assert response.status_code == 302
    assert badge(web.get("/notifications").get_data(as_text=True)) == 2
    # A POST that renders a page itself (a refused e-mail address) counts at render time too.
    response = web.post("/notifications/email", {"email": "not an address"})
    assert response.status_code == 422 and badge(response.get_data(as_text=True)) == 2
    web.post("/notifications/read", {})
    assert badge(web.get("/").get_data(as_text=True)) == 0
    # Another user's notifications are not counted.
    assert badge(WebUser.signed_in(app, editor).get("/drafts").get_data(as_text=True)) == 0


def test_a_delegation_made_through_the_page_gives_the_deputy_the_queue_link_and_a_badge(app, make, db):
    editor, leader, channel, auditor, registrar = make.team()
    deputy = make.user("deputy", "editor")
    web = WebUser.signed_in(app, leader)
    assert QUEUE_LINK not in WebUser.signed_in(app, deputy).get("/drafts").get_data(as_text=True)
    today = delegation.today_local()
    response = web.post("/delegations", {"deputy_id": deputy.id, "starts_on": today.isoformat(),
                                         "ends_on": (today + timedelta(days=1)).isoformat()})
    assert response.status_code in (200, 302)
    html = WebUser.signed_in(app, deputy).get("/drafts").get_data(as_text=True)
    assert QUEUE_LINK in html and badge(html) == 1  # told of the delegation


def test_signed_out_and_inactive_users_get_no_header(app, make, db):
    editor, leader, channel, auditor, registrar = make.team()
    web = WebUser.signed_in(app, editor)
    assert "张编辑" in web.get("/drafts").get_data(as_text=True)
    with db.transaction() as s:
        s.execute(update(User).where(User.id == editor.id).values(active=False))
    response = web.get("/drafts")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    html = web.get("/login").get_data(as_text=True)
    assert "张编辑" not in html and QUEUE_LINK not in html and 'class="badge"' not in html
