"""The JSON API under /api/v1, end to end with bearer tokens: submit, a real
RQ worker scans, reject, revise, approve (bound to the version), conflicts,
synchronous scans, channels, the OpenAPI document, tokens and JSON errors,
and a submission made while Redis is down."""
from __future__ import annotations

import hashlib
import re

from sqlalchemy import func, select, text

from app import create_app
from review import audit, workflow
from review.models import AuditEvent, Decision, Draft, DraftVersion
from review.workflow import content_sha256
from workers.queue import enqueue_scan, sweep

FLAG_KEYS = {"term", "category", "severity", "confidence", "rule", "start", "end", "text"}
TITLE = "防诈骗提示"
BODY = "警惕刷单诈骗：凡是刷单都是诈骗，请勿相信“网络赌场”的广告。"
REVISED = "警惕刷单诈骗：凡是刷单都是诈骗。"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def error_of(response, status: int) -> dict:
    """The response is `status` with the API's JSON error shape; returns the error object."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def counts(db) -> tuple[int, int, int, int]:
    """(drafts, versions, decisions, audit events): what an error must not change."""
    with db.transaction() as s:
        return tuple(s.execute(select(func.count()).select_from(model)).scalar_one()
                     for model in (Draft, DraftVersion, Decision, AuditEvent))


def submit(client, token, channel_id, title=TITLE, body=BODY, urgent=False):
    return client.post("/api/v1/drafts", headers=bearer(token),
                       json={"channel_id": channel_id, "title": title, "body": body, "urgent": urgent})


def scanned_draft(client, make, run_worker, body=BODY):
    """A team, tokens, and a draft of `body` scanned by a real worker and waiting for review."""
    editor, leader, channel, auditor, registrar = make.team()
    tokens = {name: make.token(name) for name in ("editor", "leader", "auditor")}
    created = submit(client, tokens["editor"], channel.id, body=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    run_worker()
    return created.get_json()["id"], tokens, channel


# ---------------------------------------------------------------- the whole flow

def test_whole_flow_through_the_api(app, client, make, run_worker, db, rt):
    editor, leader, channel, auditor, registrar = make.team()
    editor_token, leader_token = make.token("editor"), make.token("leader")

    response = submit(client, editor_token, channel.id, urgent=True)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["status"] == "queued" and created["version"] == 1
    assert isinstance(created["id"], int)
    assert not created.get("scan_delayed")
    draft_id = created["id"]

    # Before the worker has run: queued, no flags yet.
    before = client.get(f"/api/v1/drafts/{draft_id}", headers=bearer(editor_token)).get_json()
    assert (before["status"], before["flags"]) == ("queued", [])

    run_worker()

    response = client.get(f"/api/v1/drafts/{draft_id}", headers=bearer(leader_token))
    assert response.status_code == 200
    draft = response.get_json()
    assert draft["status"] == "in_review" and draft["version"] == 1 and draft["urgent"] is True
    v1_sha = content_sha256(TITLE, "text", BODY)
    assert draft["content_sha256"] == v1_sha
    assert draft["flags"], "the text has 刷单 and 赌场: it must be flagged"
    for flag in draft["flags"]:
        assert FLAG_KEYS <= set(flag), flag
        assert flag["confidence"] != "low"  # hidden by default
        if flag.get("field", "body") == "body":
            assert BODY[flag["start"]:flag["end"]] == flag["text"]
    found = {(f["text"], f["category"], f["severity"]) for f in draft["flags"]}
    assert {("刷单", "fraud", "high"), ("赌场", "gambling", "high")} <= found
    assert sum(1 for f in draft["flags"] if f["text"] == "刷单") == 2  # every occurrence

    # Rejecting needs a comment; without one nothing is recorded.
    before_counts = counts(db)
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(leader_token),
                           json={"decision": "reject", "version": 1})
    error_of(response, 422)
    assert counts(db) == before_counts
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(leader_token),
                           json={"decision": "reject", "version": 1, "comment": "请删去赌场字样"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "rejected"
    assert client.get(f"/api/v1/drafts/{draft_id}", headers=bearer(editor_token)).get_json()["status"] == "rejected"

    # Resubmission is not in the API: the editor revises through the domain function.
    with db.transaction() as s:
        _, version, created_new = workflow.submit(s, editor, channel.id, TITLE, REVISED, draft_id=draft_id)
        version_id = version.id
    assert created_new
    enqueue_scan(rt, version_id)
    run_worker()

    draft = client.get(f"/api/v1/drafts/{draft_id}", headers=bearer(leader_token)).get_json()
    v2_sha = content_sha256(TITLE, "text", REVISED)
    assert (draft["status"], draft["version"], draft["content_sha256"]) == ("in_review", 2, v2_sha)
    assert v2_sha != v1_sha
    assert {f["text"] for f in draft["flags"]} == {"刷单"}
    for flag in draft["flags"]:
        if flag.get("field", "body") == "body":
            assert REVISED[flag["start"]:flag["end"]] == flag["text"]

    # High-severity flags must each be acknowledged. (The ids come from the
    # database here: see test_high_flags_can_be_acknowledged_with_what_the_api_returns.)
    with db.transaction() as s:
        high = [f.id for f in workflow.must_acknowledge(s, version_id)]
    assert len(high) == 2
    before_counts = counts(db)
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(leader_token),
                           json={"decision": "approve", "version": 2})
    assert error_of(response, 422).get("field") == "acknowledged"
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(leader_token),
                           json={"decision": "approve", "version": 2, "acknowledged": high[:1]})
    error_of(response, 422)
    assert counts(db) == before_counts

    # A decision on the stale version 1: 409, nothing recorded.
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(leader_token),
                           json={"decision": "approve", "version": 1, "acknowledged": high})
    assert error_of(response, 409)["code"] == "conflict"
    assert counts(db) == before_counts
    assert client.get(f"/api/v1/drafts/{draft_id}", headers=bearer(leader_token)).get_json()["status"] == "in_review"

    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(leader_token),
                           json={"decision": "approve", "version": 2, "acknowledged": high})
    assert response.status_code == 200, response.get_data(as_text=True)
    approved = response.get_json()
    assert approved == {"id": draft_id, "status": "approved", "decision": "approve",
                        "version": 2, "content_sha256": v2_sha}

    # A second approval: 409, still exactly one approval.
    after_approval = counts(db)
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(leader_token),
                           json={"decision": "approve", "version": 2, "acknowledged": high})
    error_of(response, 409)
    assert counts(db) == after_approval

    with db.transaction() as s:
        decisions = s.execute(select(Decision).where(Decision.draft_id == draft_id)
                              .order_by(Decision.id)).scalars().all()
        assert [(d.decision, d.version_number, d.content_sha256) for d in decisions] == [
            ("reject", 1, v1_sha), ("approve", 2, v2_sha)]
        assert decisions[1].decided_by_id == leader.id
        actions = [e.action for e in s.execute(select(AuditEvent).where(AuditEvent.draft_id == draft_id)
                                               .order_by(AuditEvent.seq)).scalars()]
        assert actions == ["draft.submitted", "scan.completed", "draft.rejected",
                           "draft.resubmitted", "scan.completed", "draft.approved"]
        assert audit.verify(s).ok
    assert client.get(f"/api/v1/drafts/{draft_id}", headers=bearer(editor_token)).get_json()["status"] == "approved"


def test_high_flags_can_be_acknowledged_with_what_the_api_returns(app, client, make, run_worker):
    """An API client must be able to approve a draft with high-severity flags
    using only what the API gives it: each flag needs the id that
    `acknowledged` refers to."""
    draft_id, tokens, _ = scanned_draft(client, make, run_worker)
    draft = client.get(f"/api/v1/drafts/{draft_id}", headers=bearer(tokens["leader"])).get_json()
    high = [f for f in draft["flags"] if f["severity"] == "high"]
    assert high
    assert all(isinstance(f.get("id"), int) for f in high), \
        f"flags carry no id, so `acknowledged` cannot be filled in: {high[0]}"
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(tokens["leader"]),
                           json={"decision": "approve", "version": 1, "acknowledged": [f["id"] for f in high]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "approved"


def test_only_the_channel_leader_decides(app, client, make, run_worker, db):
    draft_id, tokens, _ = scanned_draft(client, make, run_worker, body="本周六社区义诊，欢迎参加。")
    make.user("other_leader", "leader")  # a leader, but not of this channel
    tokens["other_leader"] = make.token("other_leader")
    before = counts(db)
    for who in ("editor", "auditor"):  # not leaders at all
        response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(tokens[who]),
                               json={"decision": "approve", "version": 1})
        assert error_of(response, 403)["code"] == "forbidden"
    response = client.post(f"/api/v1/drafts/{draft_id}/decision", headers=bearer(tokens["other_leader"]),
                           json={"decision": "approve", "version": 1})
    error_of(response, 403)
    assert counts(db) == before
    with db.transaction() as s:
        assert s.get(Draft, draft_id).status == "in_review"


# ---------------------------------------------------------------- scan, channels, OpenAPI

def test_scan_is_synchronous_and_all_adds_low_confidence(app, client, make):
    make.user("writer", "editor")
    token = make.token("writer")
    sample = "这下大麻烦了。警惕刷单诈骗！"
    response = client.post("/api/v1/scan", headers=bearer(token), json={"text": sample})
    assert response.status_code == 200, response.get_data(as_text=True)
    default = response.get_json()
    assert isinstance(default["wordlist_version"], str) and default["wordlist_version"]
    assert [(f["text"], f["category"], f["severity"], f["confidence"]) for f in default["flags"]] == [
        ("刷单", "fraud", "high", "high")]

    everything = client.post("/api/v1/scan", headers=bearer(token), json={"text": sample, "all": True}).get_json()
    assert [(f["text"], f["confidence"]) for f in everything["flags"]] == [("大麻", "low"), ("刷单", "high")]
    for flag in everything["flags"]:
        assert FLAG_KEYS <= set(flag)
        assert sample[flag["start"]:flag["end"]] == flag["text"]

    clean = client.post("/api/v1/scan", headers=bearer(token), json={"text": "今天天气很好。"}).get_json()
    assert clean["flags"] == []

    error_of(client.post("/api/v1/scan", headers=bearer(token), json={"text": 5}), 422)
    error_of(client.post("/api/v1/scan", headers=bearer(token), json={"text": "好" * 100_001}), 422)
    error_of(client.post("/api/v1/scan", json={"text": sample}), 401)


def test_channels_list_with_filing_status(app, client, make):
    leader = make.user("chief", "leader")
    filed = make.channel(leader, "城南发布", filing_status="filed")
    unfiled = make.channel(leader, "城南工会微博", platform="weibo", filing_status="unfiled")
    suspended = make.channel(leader, "旧版官网", platform="website", filing_status="suspended")
    response = client.get("/api/v1/channels", headers=bearer(make.token("chief")))
    assert response.status_code == 200
    listed = {c["id"]: c for c in response.get_json()["channels"]}
    assert set(listed) == {filed.id, unfiled.id, suspended.id}
    assert {(c["name"], c["platform"], c["filing_status"], c["leader_id"]) for c in listed.values()} == {
        ("城南发布", "wechat_official", "filed", leader.id),
        ("城南工会微博", "weibo", "unfiled", leader.id),
        ("旧版官网", "website", "suspended", leader.id)}
    assert listed[suspended.id]["accepts_drafts"] is False and listed[filed.id]["accepts_drafts"] is True
    error_of(client.get("/api/v1/channels"), 401)


def test_openapi_documents_every_api_path(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.is_json
    doc = response.get_json()
    assert re.fullmatch(r"3\.\d+\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert any(scheme.get("scheme") == "bearer" for scheme in doc["components"]["securitySchemes"].values())
    base = doc["servers"][0]["url"].rstrip("/") if doc.get("servers") else ""

    served = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue  # the document need not describe itself
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        path = path[len(base):] if base and path.startswith(base) else path
        served.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    assert served, "no API rules found"
    documented = {path: {m for m in item if m in {"get", "post", "put", "patch", "delete"}}
                  for path, item in doc["paths"].items()}
    assert documented == served

    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (path, method)
            assert any(code.startswith("2") for code in operation["responses"]), (path, method)
            for name in re.findall(r"{([^}]+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in operation.get("parameters", [])), (path, name)
    # Every $ref resolves.
    for ref in re.findall(r'"\$ref":\s*"#/components/schemas/([^"]+)"', response.get_data(as_text=True)):
        assert ref in schemas


# ---------------------------------------------------------------- tokens and errors

def test_missing_wrong_or_revoked_token_is_401(app, client, make, db):
    make.user("writer", "editor")
    token = make.token("writer")
    assert client.get("/api/v1/channels", headers=bearer(token)).status_code == 200

    cases = {
        "missing": {},
        "wrong": bearer("imp_" + "x" * 43),
        "not bearer": {"Authorization": f"Basic {token}"},
        "empty": {"Authorization": "Bearer "},
    }
    for case, headers in cases.items():
        response = client.get("/api/v1/channels", headers=headers)
        assert error_of(response, 401)["code"] == "unauthorized", case
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), case

    with db.transaction() as s:
        s.execute(text("UPDATE apitoken SET revoked_at = CURRENT_TIMESTAMP"))
    response = client.get("/api/v1/channels", headers=bearer(token))
    error_of(response, 401)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    # A revoked token cannot submit either.
    before = counts(db)
    error_of(submit(client, token, 1), 401)
    assert counts(db) == before


def test_database_stores_only_a_hash_of_the_token(app, client, make, db):
    make.user("writer", "editor")
    token = make.token("writer")
    assert client.get("/api/v1/channels", headers=bearer(token)).status_code == 200
    with db.transaction() as s:
        rows = s.execute(text("SELECT * FROM apitoken")).mappings().all()
        events = [e.detail for e in s.execute(select(AuditEvent)).scalars()]
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0].values())
    assert token not in stored
    assert token[4:] not in stored  # nor the secret part without its prefix
    assert hashlib.sha256(token.encode()).hexdigest() in stored  # a one-way digest is what is kept
    assert rows[0]["last_used_at"] is not None  # and it was found through that digest
    assert not any(token in detail for detail in events)  # the audit trail does not leak it


def test_every_error_is_json(app, client, make, db):
    editor, leader, channel, auditor, registrar = make.team()
    editor_token, leader_token = make.token("editor"), make.token("leader")
    suspended = make.channel(leader, "旧版官网", platform="website", filing_status="suspended")
    before = counts(db)

    # 400: malformed JSON, or JSON that is not an object
    error_of(client.post("/api/v1/drafts", headers={**bearer(editor_token), "Content-Type": "application/json"},
                         data="{not json"), 400)
    error_of(client.post("/api/v1/drafts", headers=bearer(editor_token), json=[1, 2]), 400)
    # 401
    error_of(client.post("/api/v1/drafts", json={"channel_id": channel.id, "title": "t", "body": "b"}), 401)
    # 403: a leader is not an editor
    error_of(submit(client, leader_token, channel.id), 403)
    # 404: unknown draft, unknown channel, unknown API path
    error_of(client.get("/api/v1/drafts/999999", headers=bearer(editor_token)), 404)
    error_of(submit(client, editor_token, 999999), 404)
    error_of(client.get("/api/v1/no-such-thing", headers=bearer(editor_token)), 404)
    # 405
    error_of(client.get("/api/v1/scan", headers=bearer(editor_token)), 405)
    # 413: more than the request size limit
    error_of(client.post("/api/v1/scan", headers={**bearer(editor_token), "Content-Type": "application/json"},
                         data=b'{"text": "' + b"a" * (3 * 1024 * 1024) + b'"}'), 413)
    # 422: empty title, empty body, body too long, suspended channel, bad decision
    assert error_of(submit(client, editor_token, channel.id, title="  "), 422).get("field") == "title"
    error_of(submit(client, editor_token, channel.id, body=""), 422)
    error_of(submit(client, editor_token, channel.id, body="好" * 100_001), 422)
    error_of(submit(client, editor_token, suspended.id), 422)
    assert counts(db)[:2] == before[:2]  # no draft, no version

    created = submit(client, editor_token, channel.id, body="本周六社区义诊，欢迎参加。").get_json()
    response = client.post(f"/api/v1/drafts/{created['id']}/decision", headers=bearer(leader_token),
                           json={"decision": "maybe", "version": 1})
    assert error_of(response, 422).get("field") == "decision"
    response = client.post(f"/api/v1/drafts/{created['id']}/decision", headers=bearer(leader_token),
                           json={"decision": "approve"})
    assert error_of(response, 422).get("field") == "version"
    # Not scanned yet, so not in review: a conflict.
    response = client.post(f"/api/v1/drafts/{created['id']}/decision", headers=bearer(leader_token),
                           json={"decision": "approve", "version": 1})
    error_of(response, 409)
    # An editor of another channel may not read the draft.
    make.user("stranger", "editor")
    error_of(client.get(f"/api/v1/drafts/{created['id']}", headers=bearer(make.token("stranger"))), 403)


# ---------------------------------------------------------------- Redis down

def test_submit_while_redis_is_down_is_saved_and_scanned_after_a_sweep(app, client, make, rt, run_worker, db,
                                                                       tmp_path):
    editor, leader, channel, auditor, registrar = make.team()
    editor_token, leader_token = make.token("editor"), make.token("leader")
    down = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance-redis-down"),
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": "redis://127.0.0.1:1/0",  # nothing listens there
        "SECRET_KEY": "test-secret",
        "WORDLIST_DIR": app.config["WORDLIST_DIR"],
    })
    try:
        response = submit(down.test_client(), editor_token, channel.id)
        assert response.status_code == 201, response.get_data(as_text=True)
        created = response.get_json()
    finally:
        down.extensions["imprimatur"].db.dispose()
    assert created["scan_delayed"] is True
    assert (created["status"], created["version"]) == ("queued", 1)

    # Saved: the working app sees it, waiting for its scan.
    draft = client.get(f"/api/v1/drafts/{created['id']}", headers=bearer(editor_token)).get_json()
    assert (draft["status"], draft["content_sha256"]) == ("queued", content_sha256(TITLE, "text", BODY))

    with db.transaction() as s:
        version_id = s.get(Draft, created["id"]).current_version_id
    assert sweep(rt) == [version_id]
    run_worker()

    draft = client.get(f"/api/v1/drafts/{created['id']}", headers=bearer(leader_token)).get_json()
    assert draft["status"] == "in_review"
    assert {"刷单", "赌场"} <= {f["text"] for f in draft["flags"]}
    assert sweep(rt) == []  # nothing left waiting


def test_submitting_for_an_unfiled_channel_is_warned_not_refused(app, make, client):
    editor, leader, *_ = make.team()
    unfiled = make.channel(leader, "未备案的微博", platform="weibo", filing_status="unfiled")
    token = make.token("editor")
    response = client.post("/api/v1/drafts", json={"channel_id": unfiled.id, "title": "通知", "body": "正文"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert "未备案" in response.get_json()["warnings"]
