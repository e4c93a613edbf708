"""The role × action matrix: every web route and API endpoint, tried by every
kind of user, and what each is allowed to do.

MATRIX below has 62 routes (56 web, 6 API; every rule of app.url_map but
`static`, each method of a GET/POST rule separately, the CSV and XLSX of an
`.<fmt>` export each) × 7 actors = 434 (route, actor) pairs, each its own
test; test_nobody_decides_on_own_draft adds 2 more (web and API): 436 pairs
in all. test_matrix_covers_every_route fails when a rule of the app has no
row (or a row names no rule), so a new route cannot slip through untested.

The actors: `anonymous` (no session / no token); `editor`, the author of the
draft under test; `editor2`, another editor; `leader`, the supervising leader
of the draft's channel; `leader2`, the leader of another channel;
`registrar`; `auditor`. Cells:

- "ok"     allowed; the route's own check asserts the visible effect
- "→/path" allowed; a redirect to that page
- "403"    forbidden: 403, and nothing in the database changes (row counts
           of every table the routes write, the draft's status and version,
           the channel, the users, unread notifications, e-mail addresses,
           delegations, review-chain steps and word-list terms are compared
           before and after)
- "login"  anonymous web request: 302 to /login, nothing changes
- "401"    anonymous API request: 401 with a JSON error object

Each test builds its own small world on a fresh database. The draft is moved
to the state in which the action under test makes sense (approved for
publish, published for retract, ...) with the real workflow functions; the
scan that takes a draft to `in_review` is `workflow.scan_version`, the very
function the worker's job runs, with the real engine, in process (running an
RQ worker per test would make the matrix slow). For the same reason (argon2
costs a quarter of a second a call) users are stored with one hash computed
once per process, and a browser is signed in by putting the user's id in its
Flask-Login session instead of posting the password: everything after that
(session, user loading, role guards, CSRF) is the application's own code.
The login form itself is exercised by test_flow_web.py.
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from sqlalchemy import func, select

from openpyxl import load_workbook

from review import delegation, notifications, terms, workflow
from tests.factories import PASSWORD, WebUser
from review.models import (ApiToken, AuditEvent, ChainStep, Channel, ChannelWebhook, Decision, DecisionRecord,
                           Delegation, Delivery, Draft, DraftVersion, Escalation, FilingEvent, Flag,
                           Notification, NotificationAddress, Publication, ScanResult, User, WordListTerm)

ACTORS = ("anonymous", "editor", "editor2", "leader", "leader2", "registrar", "auditor")

MATRIX = {
    #  route                              anonymous   editor      editor2     leader      leader2     registrar           auditor
    "GET /":                             ("login",    "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    "GET /drafts":                       ("login",    "ok",       "ok",       "403",      "403",      "403",              "403"),
    "GET /drafts/all":                   ("login",    "403",      "403",      "403",      "403",      "403",              "ok"),
    "GET /drafts/new":                   ("login",    "ok",       "ok",       "403",      "403",      "403",              "403"),
    "POST /drafts/new":                  ("login",    "ok",       "ok",       "403",      "403",      "403",              "403"),
    "GET /drafts/<id>":                  ("login",    "ok",       "403",      "ok",       "403",      "403",              "ok"),
    "GET /drafts/<id>/panel":            ("login",    "ok",       "403",      "ok",       "403",      "403",              "ok"),
    "GET /drafts/<id>/edit":             ("login",    "ok",       "403",      "403",      "403",      "403",              "403"),
    "POST /drafts/<id>/edit":            ("login",    "ok",       "403",      "403",      "403",      "403",              "403"),
    "POST /drafts/<id>/publish":         ("login",    "ok",       "403",      "403",      "403",      "403",              "403"),
    "POST /drafts/<id>/withdraw":        ("login",    "ok",       "403",      "403",      "403",      "403",              "403"),
    "POST /drafts/<id>/retry":           ("login",    "ok",       "403",      "403",      "403",      "403",              "403"),
    "GET /drafts/<id>/decision":         ("login",    "ok",       "403",      "ok",       "403",      "403",              "ok"),
    "POST /drafts/<id>/decision":        ("login",    "403",      "403",      "ok",       "403",      "403",              "403"),
    "POST /drafts/<id>/retract":         ("login",    "403",      "403",      "ok",       "403",      "403",              "403"),
    "GET /review":                       ("login",    "403",      "403",      "ok",       "ok",       "403",              "403"),
    "GET /audit":                        ("login",    "403",      "403",      "403",      "403",      "ok",               "ok"),
    "GET /audit.csv":                    ("login",    "403",      "403",      "403",      "403",      "ok",               "ok"),
    "GET /admin/channels":               ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "GET /admin/channels/new":           ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/channels/new":          ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "GET /admin/channels/<id>/edit":     ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/channels/<id>/edit":    ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "GET /admin/users":                  ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "GET /admin/users/new":              ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/users/new":             ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "GET /admin/users/<id>/edit":        ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/users/<id>/edit":       ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /api/v1/drafts":               ("401",      "ok",       "ok",       "403",      "403",      "403",              "403"),
    "GET /api/v1/drafts/<id>":           ("401",      "ok",       "403",      "ok",       "403",      "403",              "ok"),
    "POST /api/v1/drafts/<id>/decision": ("401",      "403",      "403",      "ok",       "403",      "403",              "403"),
    "POST /api/v1/scan":                 ("401",      "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    "GET /api/v1/channels":              ("401",      "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    "GET /api/v1/openapi.json":          ("ok",       "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    # sign in / out
    "GET /login":                        ("ok",       "→/",       "→/",       "→/",       "→/",       "→/",               "→/"),
    "POST /login":                       ("ok",       "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    "POST /logout":                      ("login",    "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    # the printable review form: whoever may read the draft, except the registrar (not a draft reader)
    "GET /drafts/<id>/form":             ("login",    "ok",       "403",      "ok",       "403",      "403",              "ok"),
    # review chains: the registrar keeps them
    "GET /admin/channels/<id>/chain":    ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/channels/<id>/chain":   ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    # delegation: reviewers only (with the default chains: the leaders); a grant is revoked by its giver
    "GET /delegations":                  ("login",    "403",      "403",      "ok",       "ok",       "403",              "403"),
    "POST /delegations":                 ("login",    "403",      "403",      "ok",       "ok",       "403",              "403"),
    "POST /delegations/<id>/revoke":     ("login",    "403",      "403",      "ok",       "403",      "403",              "403"),
    # notifications: everyone signed in, each their own
    "GET /notifications":                ("login",    "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    "POST /notifications/read":          ("login",    "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    "POST /notifications/email":         ("login",    "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
    # the registry: registrar keeps it, auditor reads all, leaders read their own channels
    "GET /registry":                     ("login",    "403",      "403",      "ok",       "ok",       "ok",               "ok"),
    "GET /registry/<id>":                ("login",    "403",      "403",      "ok",       "403",      "ok",               "ok"),
    "GET /registry/export.csv":          ("login",    "403",      "403",      "ok",       "ok",       "ok",               "ok"),
    "GET /registry/export.xlsx":         ("login",    "403",      "403",      "ok",       "ok",       "ok",               "ok"),
    "GET /registry/import":              ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /registry/import":             ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    # quarterly reports: auditor and registrar all channels, leaders their own
    "GET /reports/quarterly":            ("login",    "403",      "403",      "ok",       "ok",       "ok",               "ok"),
    "GET /reports/quarterly.csv":        ("login",    "403",      "403",      "ok",       "ok",       "ok",               "ok"),
    "GET /reports/quarterly.xlsx":       ("login",    "403",      "403",      "ok",       "ok",       "ok",               "ok"),
    # word lists: the registrar keeps them
    "GET /admin/terms":                  ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/terms/add":             ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/terms/import":          ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/terms/listed":          ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/terms/<id>/enabled":    ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    "POST /admin/terms/<id>/severity":   ("login",    "403",      "403",      "403",      "403",      "ok",               "403"),
    # monitors call it without a session; it names no user or draft
    "GET /healthz":                      ("ok",       "ok",       "ok",       "ok",       "ok",       "ok",               "ok"),
}

DRAFT_TITLE = "城南街道停水通知"
DRAFT_BODY = "因管道检修，本周六上午八点至十二点城南街道停水，请居民提前储水。"
PUBLISHED_URL = "https://www.example.gov.cn/notice/1"


# ----------------------------------------------------------------- the world

@dataclass
class World:
    users: dict[str, User]
    channel: Channel
    other_channel: Channel
    draft_id: int | None = None
    version_id: int | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    grant_id: int | None = None
    term_id: int | None = None
    client: object = None  # the browser or API client of the request under test

    def id(self, actor: str) -> int:
        return self.users[actor].id


def build_world(db, rt, make, state: str | None, needs: tuple = ()) -> World:
    people = make.users(("editor", "editor", "张编辑"), ("editor2", "editor", "李编辑"),
                    ("leader", "leader", "王领导"), ("leader2", "leader", "赵领导"),
                    ("registrar", "registrar", "周管理"), ("auditor", "auditor", "陈督查"))
    users = {u.username: u for u in people}
    world = World(users, make.channel(users["leader"], "城南发布", platform="website"),
                  make.channel(users["leader2"], "城北发布"))
    with db.transaction() as s:
        if "notes" in needs:  # one unread notification for everyone
            for user in people:
                notifications.notify(s, [user], "submitted", f"给{user.display_name}的通知")
        if "grant" in needs:  # the leader has named leader2 as deputy for a week
            today = delegation.today_local()
            world.grant_id = delegation.create(s, users["leader"], users["leader2"].id, today.isoformat(),
                                               (today + timedelta(days=7)).isoformat(), "出差").id
        if "term" in needs:
            world.term_id = terms.add_term(s, users["registrar"], "违规词样例", "custom", "medium").id
    if state is None:
        return world
    draft, version = make.submit(users["editor"], world.channel, DRAFT_TITLE, DRAFT_BODY)
    world.draft_id, world.version_id = draft.id, version.id
    if state == "scan_failed":  # what the worker's failure callback does after the last retry
        with db.transaction() as s:
            assert workflow.mark_scan_failed(s, version.id, "检测服务故障")
    if state in ("in_review", "approved", "published"):
        make.scanned(rt, version.id)
    if state in ("approved", "published"):
        with db.transaction() as s:
            workflow.decide(s, users["leader"], draft.id, "approve", version=1)
            if state == "published":
                workflow.publish(s, users["editor"], draft.id, PUBLISHED_URL, None)
    assert draft_status(db, draft.id) == state
    return world


def snapshot(db, world: World) -> dict:
    """Everything a forbidden request must leave as it was."""
    with db.transaction() as s:
        counts = {model.__name__: s.scalar(select(func.count()).select_from(model))
                  for model in (Draft, DraftVersion, ScanResult, Flag, Decision, Publication, Channel, User,
                                AuditEvent, ApiToken, ChainStep, DecisionRecord, Delegation, Escalation,
                                Notification, NotificationAddress, ChannelWebhook, Delivery, FilingEvent,
                                WordListTerm)}
        draft = s.get(Draft, world.draft_id) if world.draft_id else None
        channel = s.get(Channel, world.channel.id)
        people = {u.username: (u.display_name, u.roles, u.active) for u in s.execute(select(User)).scalars()}
        return {
            "counts": counts,
            "draft": (draft.status, draft.current_version_id, draft.title) if draft else None,
            "channel": (channel.name, channel.platform, channel.leader_id, channel.filing_status),
            "people": people,
            "unread": {u: s.scalar(select(func.count()).select_from(Notification).join(User)
                                   .where(User.username == u, Notification.read_at.is_(None)))
                       for u in people},
            "addresses": sorted((a.user_id, a.email) for a in s.execute(select(NotificationAddress)).scalars()),
            "grants": sorted((g.id, g.principal_id, g.deputy_id, g.ends_on, g.revoked_at is None)
                             for g in s.execute(select(Delegation)).scalars()),
            "steps": sorted((c.channel_id, c.position, c.name, c.kind, c.user_id, c.role)
                            for c in s.execute(select(ChainStep)).scalars()),
            "terms": sorted((t.id, t.term, t.category, t.severity, t.enabled)
                            for t in s.execute(select(WordListTerm)).scalars()),
        }


def draft_status(db, draft_id: int) -> str:
    with db.transaction() as s:
        return s.get(Draft, draft_id).status


# ----------------------------------------------------------------- the routes

@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {draft}, {channel}, {user} are filled in from the world
    state: str | None = None  # the draft's status before the request (None: no draft)
    form: dict | None = None  # web POST form / API JSON body; may use the same placeholders
    ok: str = "200"  # what "allowed" looks like: a status code ("200|503": either)
    check: str = ""  # name of the effect check below
    needs: tuple = ()  # extra world: "notes" (a notification each), "grant" (a delegation), "term" (a db term)
    upload: tuple | None = None  # (form field, file name, bytes) sent as a multipart file

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")


ROUTES = {
    "GET /": Route("GET", "/", check="dashboard"),
    "GET /drafts": Route("GET", "/drafts", "queued", check="own_list"),
    "GET /drafts/all": Route("GET", "/drafts/all", "queued", check="all_list"),
    "GET /drafts/new": Route("GET", "/drafts/new", check="form"),
    "POST /drafts/new": Route("POST", "/drafts/new", form={
        "channel_id": "{channel}", "title": "新稿件", "body": "一篇新的通知。", "body_format": "text",
        "action": "submit"}, ok="302", check="created"),
    "GET /drafts/<id>": Route("GET", "/drafts/{draft}", "in_review", check="draft_page"),
    "GET /drafts/<id>/panel": Route("GET", "/drafts/{draft}/panel", "in_review", check="panel"),
    "GET /drafts/<id>/edit": Route("GET", "/drafts/{draft}/edit", "queued", check="edit_form"),
    "POST /drafts/<id>/edit": Route("POST", "/drafts/{draft}/edit", "in_review", form={
        "channel_id": "{channel}", "title": DRAFT_TITLE, "body": DRAFT_BODY + "（已更正时间）",
        "body_format": "text", "action": "submit"}, ok="302", check="revised"),
    "POST /drafts/<id>/publish": Route("POST", "/drafts/{draft}/publish", "approved", form={
        "url": "https://www.example.gov.cn/notice/2", "published_at": ""}, ok="302", check="published"),
    "POST /drafts/<id>/withdraw": Route("POST", "/drafts/{draft}/withdraw", "in_review", form={},
                                        ok="302", check="withdrawn"),
    "POST /drafts/<id>/retry": Route("POST", "/drafts/{draft}/retry", "scan_failed", form={},
                                     ok="302", check="retried"),
    "GET /drafts/<id>/decision": Route("GET", "/drafts/{draft}/decision", "in_review", ok="302",
                                       check="to_draft_page"),
    "POST /drafts/<id>/decision": Route("POST", "/drafts/{draft}/decision", "in_review", form={
        "decision": "approve", "version": "1", "comment": "同意"}, ok="302", check="approved"),
    "POST /drafts/<id>/retract": Route("POST", "/drafts/{draft}/retract", "published", form={
        "reason": "停水时间有变"}, ok="302", check="retracted"),
    "GET /review": Route("GET", "/review", "in_review", check="queue"),
    "GET /audit": Route("GET", "/audit", "queued", check="audit"),
    "GET /audit.csv": Route("GET", "/audit.csv", "queued", check="audit_csv"),
    "GET /admin/channels": Route("GET", "/admin/channels", check="channel_list"),
    "GET /admin/channels/new": Route("GET", "/admin/channels/new", check="form"),
    "POST /admin/channels/new": Route("POST", "/admin/channels/new", form={
        "name": "城东发布", "platform": "weibo", "leader_id": "{leader}", "filing_status": "filed"},
        ok="302", check="channel_created"),
    "GET /admin/channels/<id>/edit": Route("GET", "/admin/channels/{channel}/edit", check="channel_form"),
    "POST /admin/channels/<id>/edit": Route("POST", "/admin/channels/{channel}/edit", form={
        "name": "城南发布（新）", "platform": "website", "leader_id": "{leader}", "filing_status": "filed"},
        ok="302", check="channel_renamed"),
    "GET /admin/users": Route("GET", "/admin/users", check="user_list"),
    "GET /admin/users/new": Route("GET", "/admin/users/new", check="form"),
    "POST /admin/users/new": Route("POST", "/admin/users/new", form={
        "username": "newcomer", "password": "long-enough-pass", "roles": "editor", "display_name": "新同事"},
        ok="302", check="user_created"),
    "GET /admin/users/<id>/edit": Route("GET", "/admin/users/{user}/edit", check="user_form"),
    "POST /admin/users/<id>/edit": Route("POST", "/admin/users/{user}/edit", form={
        "display_name": "李编辑（借调）", "roles": "editor", "active": "on", "unit": ""},
        ok="302", check="user_renamed"),
    "POST /api/v1/drafts": Route("POST", "/api/v1/drafts", form={
        "channel_id": "{channel}", "title": "接口稿件", "body": "经接口提交的通知。"}, ok="201",
        check="api_created"),
    "GET /api/v1/drafts/<id>": Route("GET", "/api/v1/drafts/{draft}", "in_review", check="api_draft"),
    "POST /api/v1/drafts/<id>/decision": Route("POST", "/api/v1/drafts/{draft}/decision", "in_review", form={
        "decision": "approve", "version": 1, "comment": "同意"}, check="api_approved"),
    "POST /api/v1/scan": Route("POST", "/api/v1/scan", form={"text": "凡是刷单都是诈骗"}, check="api_scan"),
    "GET /api/v1/channels": Route("GET", "/api/v1/channels", check="api_channels"),
    "GET /api/v1/openapi.json": Route("GET", "/api/v1/openapi.json", check="openapi"),
    "GET /login": Route("GET", "/login", check="login_form"),
    "POST /login": Route("POST", "/login", form={"username": "{me}", "password": PASSWORD}, ok="302",
                         check="logged_in"),
    "POST /logout": Route("POST", "/logout", form={}, ok="302", check="logged_out"),
    "GET /drafts/<id>/form": Route("GET", "/drafts/{draft}/form", "in_review", check="review_form"),
    "GET /admin/channels/<id>/chain": Route("GET", "/admin/channels/{channel}/chain", check="chain_page"),
    "POST /admin/channels/<id>/chain": Route("POST", "/admin/channels/{channel}/chain", form={
        "name1": "初审", "kind1": "user", "user1": "{editor2}", "name2": "终审", "kind2": "leader"},
        ok="302", check="chain_set"),
    "GET /delegations": Route("GET", "/delegations", check="delegations_page"),
    "POST /delegations": Route("POST", "/delegations", form={
        "deputy_id": "{editor2}", "starts_on": "{today}", "ends_on": "{week}", "reason": "休假"},
        ok="302", check="delegated"),
    "POST /delegations/<id>/revoke": Route("POST", "/delegations/{grant}/revoke", form={}, ok="302",
                                           check="revoked", needs=("grant",)),
    "GET /notifications": Route("GET", "/notifications", check="notices", needs=("notes",)),
    "POST /notifications/read": Route("POST", "/notifications/read", form={}, ok="302", check="notes_read",
                                      needs=("notes",)),
    "POST /notifications/email": Route("POST", "/notifications/email", form={"email": "me@example.gov.cn"},
                                       ok="302", check="email_set"),
    "GET /registry": Route("GET", "/registry", check="registry_list"),
    "GET /registry/<id>": Route("GET", "/registry/{channel}", check="registry_account"),
    "GET /registry/export.csv": Route("GET", "/registry/export.csv", check="registry_csv"),
    "GET /registry/export.xlsx": Route("GET", "/registry/export.xlsx", check="registry_xlsx"),
    "GET /registry/import": Route("GET", "/registry/import", check="upload_form"),
    "POST /registry/import": Route("POST", "/registry/import", form={}, ok="302", check="registry_imported",
                                   upload=("file", "registry.csv",
                                           "账号名称,平台类型,分管领导,分管领导账号,备案状态\n"
                                           "城东发布,weibo,王领导,leader,filed\n".encode())),
    "GET /reports/quarterly": Route("GET", "/reports/quarterly", check="report"),
    "GET /reports/quarterly.csv": Route("GET", "/reports/quarterly.csv", check="report_csv"),
    "GET /reports/quarterly.xlsx": Route("GET", "/reports/quarterly.xlsx", check="report_xlsx"),
    "GET /admin/terms": Route("GET", "/admin/terms", check="terms_page", needs=("term",)),
    "POST /admin/terms/add": Route("POST", "/admin/terms/add", form={
        "term": "新增敏感词", "category": "custom", "severity": "high"}, ok="302", check="term_added"),
    "POST /admin/terms/import": Route("POST", "/admin/terms/import", form={"category": "custom", "severity": "low"},
                                      ok="302", check="terms_imported",
                                      upload=("file", "custom.txt", "导入词一\n导入词二\n".encode())),
    "POST /admin/terms/listed": Route("POST", "/admin/terms/listed", form={
        "term": "百家乐", "category": "gambling", "severity": "high", "action": "disable"}, ok="302",
        check="listed_term_disabled"),
    "POST /admin/terms/<id>/enabled": Route("POST", "/admin/terms/{term}/enabled", form={"enabled": "0"},
                                            ok="302", check="term_disabled", needs=("term",)),
    "POST /admin/terms/<id>/severity": Route("POST", "/admin/terms/{term}/severity", form={"severity": "high"},
                                             ok="302", check="term_severity", needs=("term",)),
    "GET /healthz": Route("GET", "/healthz", ok="200|503", check="health"),
}

assert set(ROUTES) == set(MATRIX)
assert all(len(row) == len(ACTORS) for row in MATRIX.values())

PAIRS = [pytest.param(route, actor, id=f"{route} by {actor}")
         for route, row in MATRIX.items() for actor in ACTORS]
assert len(MATRIX) == 62 and len(PAIRS) == 434  # as the docstring says


def _fill(value, world: World, actor: str):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        key = value[1:-1]
        today = delegation.today_local()
        return {"draft": world.draft_id, "channel": world.channel.id, "user": world.id("editor2"),
                "leader": world.id("leader"), "editor2": world.id("editor2"), "today": today.isoformat(),
                "week": (today + timedelta(days=7)).isoformat(),
                "me": "editor" if actor == "anonymous" else actor}[key]
    return value


def _path(route: Route, world: World) -> str:
    return route.path.format(draft=world.draft_id, channel=world.channel.id, user=world.id("editor2"),
                             grant=world.grant_id, term=world.term_id)


# ----------------------------------------------------------------- requests

def send(app, route: Route, world: World, actor: str):
    path = _path(route, world)
    body = {k: _fill(v, world, actor) for k, v in (route.form or {}).items()}
    if route.api:
        headers = {}
        if actor != "anonymous":
            headers["Authorization"] = f"Bearer {world.tokens[actor]}"
        client = world.client = app.test_client()
        if route.method == "GET":
            return client.get(path, headers=headers)
        return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)
    browser = world.client = WebUser.signed_in(app, None if actor == "anonymous" else world.users[actor])
    if route.upload:
        name, filename, data = route.upload
        body[name] = (io.BytesIO(data), filename)
    return browser.get(path) if route.method == "GET" else browser.post(path, body)


# ----------------------------------------------------------------- effects of allowed requests

def _html(response) -> str:
    return response.get_data(as_text=True)


def _location(response) -> str:
    return urlparse(response.headers.get("Location", "")).path


def check_allowed(name: str, response, db, world: World, before: dict, actor: str) -> None:
    after = snapshot(db, world)
    html = _html(response) if response.mimetype.startswith(("text/", "application/json")) else ""
    grew = {k: after["counts"][k] - before["counts"][k] for k in after["counts"]}
    if response.status_code in (200, 201) and not response.is_json:
        assert "Content-Security-Policy" in response.headers
    if name == "dashboard":  # each role's dashboard, under the signed-in user's name
        assert world.users[actor].display_name in html and "<h1" in html
    elif name in ("own_list",):
        if actor == "editor":
            assert DRAFT_TITLE in html
        else:  # another editor's list does not show someone else's draft
            assert "我的稿件" in html and DRAFT_TITLE not in html
    elif name == "all_list":
        assert "全部稿件" in html and DRAFT_TITLE in html
    elif name == "form":
        assert 'name="csrf_token"' in html and "<form" in html
    elif name == "created":
        assert grew["Draft"] == 1 and grew["DraftVersion"] == 1 and grew["AuditEvent"] == 1
        assert _location(response).startswith("/drafts/")
    elif name == "draft_page":
        assert DRAFT_TITLE in html and "待审核" in html
        # The decision form is on the page only for the channel's leader.
        assert ('name="decision"' in html) == (actor == "leader")
    elif name == "panel":
        assert 'id="draft-main"' in html and DRAFT_TITLE in html and "<html" not in html
    elif name == "edit_form":
        assert DRAFT_TITLE in html and 'name="body"' in html
    elif name == "revised":
        assert after["draft"][0] == "queued" and grew["DraftVersion"] == 1
        assert after["draft"][1] != before["draft"][1]
    elif name == "published":
        assert after["draft"][0] == "published" and grew["Publication"] == 1
    elif name == "withdrawn":
        assert after["draft"][0] == "withdrawn" and grew["AuditEvent"] == 1
    elif name == "retried":
        assert after["draft"][0] == "queued" and grew["AuditEvent"] == 1
    elif name == "approved":
        assert after["draft"][0] == "approved" and grew["Decision"] == 1
    elif name == "retracted":
        assert after["draft"][0] == "retracted" and grew["AuditEvent"] == 1
    elif name == "queue":
        assert "待我审核" in html
        # Only drafts of channels this leader supervises are in the queue.
        assert (DRAFT_TITLE in html) == (actor == "leader")
    elif name == "audit":
        assert "审计记录" in html and "#" + str(world.draft_id) in html
    elif name == "audit_csv":
        rows = list(csv.reader(io.StringIO(html.lstrip("\ufeff"))))
        assert rows[0][:2] == ["序号", "时间"] and ["draft.submitted", str(world.draft_id)] in [r[5:7] for r in rows]
    elif name == "channel_list":
        assert "城南发布" in html and "城北发布" in html
    elif name == "channel_form":
        assert 'value="城南发布"' in html
    elif name == "channel_created":
        assert grew["Channel"] == 1 and _location(response) == "/registry"
    elif name == "channel_renamed":
        assert after["channel"][0] == "城南发布（新）" and grew["AuditEvent"] == 1
    elif name == "user_list":
        assert "李编辑" in html and "陈督查" in html
    elif name == "user_form":
        assert "editor2" in html and 'value="李编辑"' in html
    elif name == "user_created":
        assert grew["User"] == 1 and "newcomer" in after["people"]
    elif name == "user_renamed":
        assert after["people"]["editor2"][0] == "李编辑（借调）"
    elif name == "api_created":
        data = response.get_json()
        assert data["status"] == "queued" and data["version"] == 1 and grew["Draft"] == 1
    elif name == "api_draft":
        data = response.get_json()
        assert data["id"] == world.draft_id and data["status"] == "in_review" and data["version"] == 1
    elif name == "api_approved":
        data = response.get_json()
        assert data["status"] == "approved" and after["draft"][0] == "approved" and grew["Decision"] == 1
    elif name == "api_scan":
        assert any(f["term"] == "刷单" for f in response.get_json()["flags"])
    elif name == "api_channels":
        names = {c["name"] for c in response.get_json()["channels"]}
        assert names == {"城南发布", "城北发布"}
    elif name == "openapi":
        assert "/drafts/{draft_id}/decision" in response.get_json()["paths"]
    elif name == "login_form":
        assert 'name="password"' in html and 'name="csrf_token"' in html
    elif name == "logged_in":
        me = "editor" if actor == "anonymous" else actor
        assert _location(response) == "/"
        assert world.users[me].display_name in _html(world.client.get("/"))
    elif name == "logged_out":
        assert _location(response) == "/login"
        assert _location(world.client.get("/")) == "/login"  # the session is gone
    elif name == "review_form":
        assert "信息发布审核表" in html and DRAFT_TITLE in html
    elif name == "chain_page":
        assert "审核链 · 城南发布" in html and 'name="name1"' in html
    elif name == "chain_set":
        assert grew["ChainStep"] == 2 and grew["AuditEvent"] == 1
        assert [step[2:4] for step in after["steps"]] == [("初审", "user"), ("终审", "leader")]
    elif name == "delegations_page":
        assert "代审委托" in html and 'name="deputy_id"' in html
    elif name == "delegated":
        assert grew["Delegation"] == 1 and grew["AuditEvent"] == 1 and _location(response) == "/delegations"
        assert after["grants"][0][1:3] == (world.id(actor), world.id("editor2"))
        assert after["unread"]["editor2"] == before["unread"]["editor2"] + 1  # the deputy is told
    elif name == "revoked":
        assert [g[-1] for g in after["grants"]] == [False] and grew["AuditEvent"] == 1
    elif name == "notices":
        mine = f"给{world.users[actor].display_name}的通知"
        assert mine in html and sum(f"给{u.display_name}的通知" in html for u in world.users.values()) == 1
        assert after == before
    elif name == "notes_read":
        assert _location(response) == "/notifications"
        assert after["unread"] == {**before["unread"], actor: 0} and before["unread"][actor] == 1
    elif name == "email_set":
        assert grew["NotificationAddress"] == 1 and after["addresses"] == [(world.id(actor), "me@example.gov.cn")]
    elif name in ("registry_list", "registry_csv", "registry_xlsx", "report", "report_csv", "report_xlsx"):
        if name.endswith("xlsx"):
            book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
            text = "\n".join(str(cell) for sheet in book.worksheets
                             for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None)
        elif name.endswith("csv"):
            text = "\n".join(",".join(row) for row in csv.reader(io.StringIO(response.get_data(as_text=True)
                                                                              .lstrip("\ufeff"))))
        else:
            text = html
        assert ("发布管理报告" if name.startswith("report") else "城") in text
        # Auditor and registrar see every channel; a leader only the channels they supervise.
        sees = {"leader": {"城南发布"}, "leader2": {"城北发布"}}.get(actor, {"城南发布", "城北发布"})
        assert {n for n in ("城南发布", "城北发布") if n in text} == sees, text[:3000]
    elif name == "registry_account":
        assert "城南发布" in html and "王领导" in html and "城北发布" not in html
    elif name == "upload_form":
        assert 'type="file"' in html and 'name="csrf_token"' in html
    elif name == "registry_imported":
        assert grew["Channel"] == 1 and _location(response) == "/registry", _html(response)
    elif name == "terms_page":
        assert "词库管理" in html and "违规词样例" in html and 'name="term"' in html
    elif name == "term_added":
        assert grew["WordListTerm"] == 1 and grew["AuditEvent"] == 1
        assert after["terms"][0][1:] == ("新增敏感词", "custom", "high", True)
    elif name == "to_draft_page":
        assert _location(response) == f"/drafts/{world.draft_id}" and after == before
    elif name == "listed_term_disabled":
        assert grew["WordListTerm"] == 1 and grew["AuditEvent"] == 1
        assert after["terms"][0][1:] == ("百家乐", "gambling", "high", False)
    elif name == "terms_imported":
        assert grew["WordListTerm"] == 2 and {t[1] for t in after["terms"]} == {"导入词一", "导入词二"}
    elif name == "term_disabled":
        assert after["terms"] == [(world.term_id, "违规词样例", "custom", "medium", False)]
    elif name == "term_severity":
        assert after["terms"] == [(world.term_id, "违规词样例", "custom", "high", True)]
    elif name == "health":
        data = response.get_json()
        assert data["database"]["ok"] and data["redis"]["ok"]
        assert data["status"] == ("ok" if response.status_code == 200 else "fail")
        assert response.headers["Cache-Control"] == "no-store"
    else:
        assert not name, name
    if name in ("own_list", "all_list", "form", "draft_page", "panel", "edit_form", "queue", "audit",
                "channel_list", "channel_form", "user_list", "user_form", "api_draft", "api_scan",
                "api_channels", "openapi", "", "audit_csv", "login_form", "review_form", "chain_page", "delegations_page",
                "notices", "registry_list", "registry_csv", "registry_xlsx", "registry_account", "upload_form",
                "report", "report_csv", "report_xlsx", "terms_page", "health"):
        assert after == before, "a read changed something"


# ----------------------------------------------------------------- the tests

@pytest.mark.parametrize("route_name, actor", PAIRS)
def test_matrix(app, db, rt, make, route_name, actor):
    route = ROUTES[route_name]
    expected = MATRIX[route_name][ACTORS.index(actor)]
    world = build_world(db, rt, make, route.state, route.needs)
    if route.api and actor != "anonymous":
        world.tokens[actor] = make.token(actor)
    before = snapshot(db, world)

    response = send(app, route, world, actor)

    if expected == "ok":
        assert str(response.status_code) in route.ok.split("|"), _html(response)[:2000]
        check_allowed(route.check, response, db, world, before, actor)
    elif expected.startswith("→"):
        assert response.status_code == 302
        assert _location(response) == expected[1:]
        assert snapshot(db, world) == before
    elif expected == "login":
        assert response.status_code == 302, _html(response)[:2000]
        assert _location(response) == "/login"
        assert snapshot(db, world) == before
    elif expected == "401":
        assert response.status_code == 401
        error = response.get_json()["error"]
        assert error["code"] == "unauthorized" and error["message"]
        assert snapshot(db, world) == before
    else:
        assert expected == "403"
        assert response.status_code == 403, _html(response)[:2000]
        if route.api:
            error = response.get_json()["error"]
            assert error["code"] == "forbidden" and error["message"]
        else:
            assert any(word in _html(response) for word in ("权限", "只有", "只能")), _html(response)[:2000]
        assert snapshot(db, world) == before
        if world.draft_id:
            assert draft_status(db, world.draft_id) == (route.state or "queued")


def _rule_pattern(rule) -> re.Pattern:
    """A url_map rule as MATRIX names it: <int:...> is written <id>, any other part a literal (export.csv)."""
    parts = re.split(r"(<[^>]+>)", rule.rule)
    return re.compile("".join("<id>" if p.startswith("<int:") else "[^/<>]+" if p.startswith("<") else re.escape(p)
                              for p in parts))


def test_matrix_covers_every_route(app):
    """Every rule of the app (but static), each method, has a row; every row names a real rule."""
    rules = [(method, rule) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    missing = [f"{method} {rule.rule}" for method, rule in rules
               if not any(key.split(" ", 1)[0] == method and _rule_pattern(rule).fullmatch(key.split(" ", 1)[1])
                          for key in MATRIX)]
    assert not missing, f"routes missing from MATRIX: {missing}"
    adapter = app.url_map.bind("localhost")
    for key in MATRIX:
        method, path = key.split(" ", 1)
        endpoint, _ = adapter.match(path.replace("<id>", "1"), method=method)
        assert endpoint != "static", key


@pytest.mark.parametrize("via", ["web", "api"])
def test_nobody_decides_on_own_draft(app, db, rt, make, login, via):
    """An editor who is also the channel's leader cannot approve their own draft."""
    world = build_world(db, rt, make, None)
    boss, = make.users(("boss", "editor leader", "钱主任"))
    channel = make.channel(boss, "主任信箱")
    draft, version = make.submit(boss, channel, "主任的稿件", DRAFT_BODY)
    make.scanned(rt, version.id)
    world.draft_id = draft.id
    token = make.token("boss")
    before = snapshot(db, world)

    if via == "web":
        browser = login("boss")
        page = browser.get(f"/drafts/{draft.id}").get_data(as_text=True)
        assert "主任的稿件" in page and 'name="decision"' not in page  # no approve button
        assert "主任的稿件" not in browser.get("/review").get_data(as_text=True)
        response = browser.post(f"/drafts/{draft.id}/decision", {"decision": "approve", "version": "1"})
        assert response.status_code == 403
        assert "不能审核自己撰写的稿件" in response.get_data(as_text=True)
    else:
        response = app.test_client().post(f"/api/v1/drafts/{draft.id}/decision",
                                          json={"decision": "approve", "version": 1},
                                          headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"
        assert "自己" in response.get_json()["error"]["message"]

    assert snapshot(db, world) == before
    assert draft_status(db, draft.id) == "in_review"
