"""The review queue, the glance at drafts waiting on others, the review page's
decision form and the editor's list, held to the slow, per-draft rules they
replace (chains.state + chains.actor_for for every draft in review) through
real flows: multi-step chains, a role step, deputies, rejection and
resubmission, withdrawal, publication, chain changes and revoked delegations."""
from __future__ import annotations

import random
import re
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select, update

from review import chains, dashboard, delegation, highlight, permissions, queries, workflow
from review.models import Channel, Draft, DraftVersion, User
from review.timeutil import now
from tests.factories import WebUser


def slow_queue(session, user):
    """What the queue must list: every draft in review whose pending step this user may
    decide, checked one by one; overdue first, then urgent, then oldest (newest id first on ties)."""
    out = []
    for draft in session.execute(select(Draft).where(Draft.status == "in_review")).scalars():
        channel = session.get(Channel, draft.channel_id)
        state = chains.state(session, draft, channel)
        pending = state.pending
        actor = chains.actor_for(session, user, pending.step, channel, draft) if pending else None
        if actor is not None:
            out.append((draft, (draft.id, pending.step.name, f"第{pending.step.position}步/共{len(state.steps)}步",
                                actor.principal.display_name if actor.principal else "")))
    out.sort(key=lambda x: (-x[0].id,))
    out.sort(key=lambda x: (not queries.is_overdue(x[0]), not x[0].urgent, x[0].submitted_at))
    return [row for _, row in out]


def slow_waiting(session, user):
    """Drafts of multi-step chains in this user's channels at a step this user may not decide."""
    mine = chains.reviewer_channel_ids(session, user)
    out = []
    for draft in session.execute(select(Draft).where(Draft.status == "in_review", Draft.channel_id.in_(mine),
                                                     Draft.author_id != user.id)).scalars():
        channel = session.get(Channel, draft.channel_id)
        state = chains.state(session, draft, channel)
        pending = state.pending
        if pending is None or len(state.steps) == 1:
            continue
        if chains.actor_for(session, user, pending.step, channel, draft):
            continue
        out.append((draft, (draft.id, pending.step.name)))
    out.sort(key=lambda x: (x[0].submitted_at, -x[0].id))
    return [row for _, row in out]


def fast_queue(session, user, limit=queries.PAGE_SIZE):
    return [(r.draft.id, r.step_name, r.step_of, r.acting_for)
            for r in queries.review_queue(session, user, limit=limit)]


def fast_waiting(session, user):
    return [(r.draft.id, r.step_name) for r in queries.waiting_on_others(session, user)]


class World:
    """Editors, leaders, a deputy, a unit with a role step; three channels with different chains."""

    def __init__(self, make, db, rt):
        self.make, self.db, self.rt = make, db, rt
        (self.editor, self.writer_leader, self.named, self.second, self.leader_b, self.unit_leader,
         self.deputy, self.registrar) = make.users(
            ("editor", "editor", "张编辑"), ("lw", "leader editor", "李领导"), ("named", "editor", "初审赵"),
            ("second", "leader", "复审钱"), ("lb", "leader", "王领导"), ("unitl", "leader", "孙主任"),
            ("deputy", "leader editor", "周代审"), ("registrar", "registrar", "吴管理"))
        with db.transaction() as s:
            s.execute(update(User).where(User.id == self.unit_leader.id).values(unit="城南街道"))
        self.plain = make.channel(self.writer_leader, "默认渠道")  # default chain: 李领导
        self.three = make.channel(self.leader_b, "三审渠道")
        self.unit = make.channel(self.leader_b, "单位渠道", unit="城南街道")
        with db.transaction() as s:
            chains.set_chain(s, self.registrar, self.three, [
                chains.Step(1, "初审", "user", self.named.id), chains.Step(2, "复审", "user", self.second.id),
                chains.Step(3, "终审", "leader")])
            chains.set_chain(s, self.registrar, self.unit, [
                chains.Step(1, "单位审", "role", role="leader"), chains.Step(2, "终审", "leader")])
        # 周代审 stands in for 李领导 and for 王领导.
        today = delegation.today_local()
        with db.transaction() as s:
            delegation.create(s, self.writer_leader, self.deputy.id, today, today + timedelta(days=3))
            self.grant_b = delegation.create(s, self.leader_b, self.deputy.id, today, today + timedelta(days=3)).id
        self.reviewers = [self.writer_leader, self.named, self.second, self.leader_b, self.unit_leader,
                          self.deputy, self.editor]

    def submitted(self, author, channel, title, urgent=False, scan=True):
        draft, version = self.make.submit(author, channel, title=title, body=f"{title}的正文，一篇普通的通知。",
                                          urgent=urgent)
        if scan:
            self.make.scanned(self.rt, version.id)
        return draft.id

    def decide(self, user, draft_id, decision="approve", comment=""):
        with self.db.transaction() as s:
            number = s.get(DraftVersion, s.get(Draft, draft_id).current_version_id).number
            workflow.decide(s, s.get(User, user.id), draft_id, decision, comment or ("退回" if decision == "reject" else ""),
                            version=number)

    def check(self, label):
        with self.db.transaction() as s:
            for user in self.reviewers:
                user = s.get(User, user.id)
                expected = slow_queue(s, user)
                assert fast_queue(s, user) == expected, (label, user.username)
                overdue = sum(queries.is_overdue(s.get(Draft, row[0])) for row in expected)
                for limit in range(1, len(expected)):  # the database ranks and cuts, not Python
                    assert fast_queue(s, user, limit) == expected[:limit], (label, user.username, limit)
                    # The counts are of the whole queue, whatever the page holds.
                    page = queries.review_queue_page(s, user, limit=limit)
                    assert (page.total, page.overdue, page.more) == (len(expected), overdue, len(expected) - limit), \
                        (label, user.username, limit)
                page = queries.review_queue_page(s, user)
                assert (page.total, page.overdue, page.more) == (len(expected), overdue, 0), (label, user.username)
                waiting = slow_waiting(s, user)
                assert fast_waiting(s, user) == waiting, (label, user.username)
                for limit in range(1, len(waiting) + 1):
                    page = queries.waiting_on_others_page(s, user, limit=limit)
                    assert (page.total, len(page.rows)) == (len(waiting), limit), (label, user.username, limit)


def test_queue_and_glance_match_the_per_draft_rules_through_real_flows(app, make, db, rt):
    w = World(make, db, rt)
    w.check("empty")
    ids = {
        "plain": w.submitted(w.editor, w.plain, "默认一"),
        "plain_urgent": w.submitted(w.editor, w.plain, "默认急", urgent=True),
        "plain_by_deputy": w.submitted(w.deputy, w.plain, "代审人自己写的"),
        "plain_by_leader": w.submitted(w.writer_leader, w.plain, "领导自己的稿"),  # nobody may decide it
        "three": w.submitted(w.editor, w.three, "三审一"),
        "three_b": w.submitted(w.editor, w.three, "三审二"),
        "three_by_leader": w.submitted(w.writer_leader, w.three, "领导写的三审稿"),
        "unit": w.submitted(w.editor, w.unit, "单位一"),
        "queued": w.submitted(w.editor, w.plain, "还在排队", scan=False),
    }
    w.check("submitted")
    # An overdue one goes first.
    with db.transaction() as s:
        s.execute(update(Draft).where(Draft.id == ids["plain_urgent"]).values(deadline_at=now() - timedelta(minutes=5)))
    w.check("overdue")

    # Through the chain of 三审渠道: 初审 -> 复审 -> 终审 (王领导, or 周代审 for him).
    w.decide(w.named, ids["three"])
    w.check("three step 1")
    w.decide(w.second, ids["three"])
    w.check("three step 2")
    w.decide(w.named, ids["three_by_leader"])
    w.decide(w.second, ids["three_by_leader"])
    w.check("a leader's own draft at the last step")  # 周代审 may act for 王领导 (not its author)
    w.decide(w.deputy, ids["three"])
    w.check("three approved by the deputy")

    # A rejection at step 2 returns it; the resubmitted version starts again at step 1.
    w.decide(w.named, ids["three_b"])
    w.decide(w.second, ids["three_b"], "reject", "请补充来源")
    w.check("rejected")
    with db.transaction() as s:
        workflow.submit(s, w.editor, w.three.id, "三审二", "三审二的正文，修改后。", draft_id=ids["three_b"])
    w.check("resubmitted, not scanned yet")
    with db.transaction() as s:
        version_id = s.get(Draft, ids["three_b"]).current_version_id
    make.scanned(rt, version_id)
    w.check("resubmitted and scanned")

    # The role step, then the chain of 单位渠道 changes under a draft in the middle of it.
    w.decide(w.unit_leader, ids["unit"])
    w.check("unit step 1")
    with db.transaction() as s:
        chains.set_chain(s, w.registrar, w.unit, [chains.Step(1, "初审", "user", w.named.id),
                                                  chains.Step(2, "复审", "user", w.second.id),
                                                  chains.Step(3, "终审", "leader")])
    w.check("unit chain lengthened")
    with db.transaction() as s:
        chains.set_chain(s, w.registrar, w.three, [])  # back to the default chain: one step
    w.check("three back to the default chain")

    # Withdrawn, approved and published drafts leave every queue; a revoked delegation ends the deputy's.
    with db.transaction() as s:
        workflow.withdraw(s, w.editor, ids["plain"])
    w.decide(w.writer_leader, ids["plain_by_deputy"])
    with db.transaction() as s:
        workflow.publish(s, w.deputy, ids["plain_by_deputy"], "https://example.org/a", None)
    w.check("withdrawn and published")
    with db.transaction() as s:
        delegation.revoke(s, w.leader_b, w.grant_b)
    w.check("delegation revoked")
    with db.transaction() as s:
        s.execute(update(User).where(User.id == w.unit_leader.id).values(unit="城北街道"))
    w.check("the role holder moved to another unit")


def test_queue_page_lists_steps_and_deputies_and_the_page_offers_exactly_the_decision_allowed(app, make, db, rt):
    w = World(make, db, rt)
    first = w.submitted(w.editor, w.three, "三审稿")
    own = w.submitted(w.writer_leader, w.plain, "领导自己的稿")
    plain = w.submitted(w.editor, w.plain, "默认稿", urgent=True)
    w.decide(w.named, first)
    w.decide(w.second, first)

    page = WebUser.signed_in(app, w.deputy).get("/review").get_data(as_text=True)
    assert "三审稿" in page and "终审 · 第3步/共3步" in page and "代 王领导" in page
    assert "默认稿" in page and "代 李领导" in page
    assert "领导自己的稿" not in page  # it is 周代审's principal's own draft
    page = WebUser.signed_in(app, w.named).get("/review").get_data(as_text=True)
    assert "目前没有等待您审核的稿件" in page and "停在“终审”（第3步/共3步）" in page

    with db.transaction() as s:
        for user in w.reviewers:
            web = WebUser.signed_in(app, user)
            for draft_id in (first, own, plain):
                draft = s.get(Draft, draft_id)
                allowed = permissions.can_decide(s.get(User, user.id), draft, s.get(Channel, draft.channel_id))
                shown = 'name="decision"' in web.get(f"/drafts/{draft_id}").get_data(as_text=True)
                assert shown == allowed, (user.username, draft_id)

    # Nobody may decide the leader's own draft on their channel (not even 周代审, their deputy):
    # its page says so, the others' pages do not; nor does anyone once the leader is disabled.
    def warned(user, draft_id):
        return 'id="no-reviewer"' in WebUser.signed_in(app, user).get(f"/drafts/{draft_id}").get_data(as_text=True)

    assert warned(w.writer_leader, own) and not warned(w.editor, plain) and not warned(w.editor, first)
    with db.transaction() as s:
        s.execute(update(User).where(User.id == w.writer_leader.id).values(active=False))
    assert warned(w.editor, plain) and not warned(w.editor, first)


def test_queue_and_home_page_count_every_waiting_draft_not_just_those_listed(app, make, db, rt, monkeypatch):
    w = World(make, db, rt)
    ids = [w.submitted(w.editor, w.plain, f"稿件{i}") for i in range(5)]
    with db.transaction() as s:
        s.execute(update(Draft).where(Draft.id.in_(ids[:2])).values(deadline_at=now() - timedelta(hours=1)))
    monkeypatch.setattr(queries, "PAGE_SIZE", 3)  # a page shorter than the queue
    monkeypatch.setattr(dashboard, "QUEUE_ROWS", 2)
    web = WebUser.signed_in(app, w.writer_leader)
    page = web.get("/review").get_data(as_text=True)
    assert re.search(r'<h1>待我审核 <span class="count">5</span>\s*<span class="tag overdue">超时 2</span>', page)
    assert "共5篇，这里列出最急的3篇" in page and page.count('class="queue-title"') == 3
    home = web.get("/").get_data(as_text=True)
    assert re.search(r'待我审核 <span class="count">5</span>\s*<span class="tag overdue">超时 2</span>', home)

    for draft_id in ids[:3]:
        w.decide(w.writer_leader, draft_id)
    page = web.get("/review").get_data(as_text=True)
    assert '<h1>待我审核 <span class="count">2</span>' in page and "超时" not in page.split("</h1>")[0]
    assert "共" not in page.split('<ul class="queue">')[0].split("</h1>")[1]  # all of them listed: no notice


def test_editor_list_pages_by_update_and_filters_by_status_with_filing_reminders(app, make, db, rt):
    w = World(make, db, rt)
    unfiled = make.channel(w.leader_b, "未备案号", filing_status="unfiled")
    ids = [w.submitted(w.editor, unfiled if i % 2 else w.plain, f"稿件{i:02d}", scan=i % 3 != 0) for i in range(55)]
    web = WebUser.signed_in(app, w.editor)
    first = web.get("/drafts").get_data(as_text=True)
    assert first.count('<tr class=') == 50 and "下一页" in first
    assert first.index("稿件54") < first.index("稿件53")  # newest first
    assert "未备案" in first and f'href="/drafts/{ids[54]}"' in first
    second = web.get("/drafts?page=2").get_data(as_text=True)
    assert second.count('<tr class=') == 5 and "稿件00" in second
    queued = web.get("/drafts?status=queued").get_data(as_text=True)
    assert queued.count('<tr class=') == 19 and "稿件03" in queued and "稿件04" not in queued


def test_highlighting_hundreds_of_flags_cuts_the_text_as_checking_every_flag_per_run_does():
    """highlight.runs sweeps over the cuts; the per-run check of every flag it replaces is the reference."""
    def reference(text, flags):
        flags = [f for f in flags if 0 <= f.start < f.end <= len(text)]
        if not flags:
            return [(text, [])] if text else []
        cuts = sorted({0, len(text), *(f.start for f in flags), *(f.end for f in flags)})
        out = []
        for a, b in zip(cuts, cuts[1:]):
            covering = [f for f in flags if f.start <= a and f.end >= b]
            if out and not covering and not out[-1][1]:
                out[-1] = (out[-1][0] + text[a:b], [])
            else:
                out.append((text[a:b], covering))
        return out

    rng = random.Random(6)
    for trial in range(200):
        text = "".join(rng.choice("通知赌球刷单第一") for _ in range(rng.randrange(0, 300)))
        flags = []
        for _ in range(rng.randrange(0, 120)):
            start = rng.randrange(-2, len(text) + 2)
            flags.append(SimpleNamespace(start=start, end=start + rng.randrange(0, 8), category="gambling",
                                         term=rng.choice("ab"), severity=rng.choice(("high", "medium", "low"))))
        got = [(r.text, r.flags) for r in highlight.runs(text, flags)]
        assert got == reference(text, flags), trial
