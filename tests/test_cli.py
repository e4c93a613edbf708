"""The operators' CLI through Flask's test runner (the app context pushed),
and `flask scan` through the real `flask` executable."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, inspect, select, text

from app import create_app
from review import accounts, audit
from review.models import AuditEvent, Channel, Draft, User
from review.models.drafts import STATUS_LABELS
from review.models.people import ROLES

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")
FLAG_KEYS = {"term", "category", "severity", "confidence", "rule", "start", "end", "text"}


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def user_count(db) -> int:
    with db.transaction() as s:
        return s.execute(select(func.count(User.id))).scalar_one()


# ---------------------------------------------------------------- users, tokens, channels

def test_users_create_makes_a_user_who_can_log_in(app, runner, db, login):
    result = invoke(runner, "users", "create", "wangqiang", "--role", "editor", "--role", "leader",
                    "--password", "long-enough-1")
    assert result.exit_code == 0, result.output
    assert "wangqiang" in result.output
    with db.transaction() as s:
        user = accounts.find_user(s, "wangqiang")
        assert user is not None and user.role_set == {"editor", "leader"}
        assert "long-enough-1" not in user.password_hash  # hashed
    session = login("wangqiang", "long-enough-1")  # asserts the login redirects
    assert session.get("/").status_code in (200, 302)
    # And a wrong password does not get in.
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": "wangqiang", "password": "wrong-password",
                                           "csrf_token": csrf})
    assert response.status_code != 302


def test_users_create_refuses_bad_role_and_short_password(runner, db):
    before = user_count(db)
    result = invoke(runner, "users", "create", "lina", "--role", "boss", "--password", "long-enough-1")
    assert result.exit_code != 0
    assert "boss" in result.output and "--role" in result.output

    result = invoke(runner, "users", "create", "lina", "--role", "editor", "--password", "short")
    assert result.exit_code != 0
    assert "密码至少8位" in result.output
    assert result.output.strip().splitlines()[-1] and "Traceback" not in result.output

    result = invoke(runner, "users", "create", "lina", "--password", "long-enough-1")
    assert result.exit_code != 0  # a role is required
    assert invoke(runner, "users", "create", "taken", "--role", "editor", "--password", "long-enough-1").exit_code == 0
    result = invoke(runner, "users", "create", "taken", "--role", "leader", "--password", "long-enough-2")
    assert result.exit_code != 0 and "已存在" in result.output
    before += 1
    assert user_count(db) == before
    with db.transaction() as s:
        assert accounts.find_user(s, "lina") is None


def test_tokens_create_prints_a_working_token_last(app, runner, make, client):
    make.user("zhangwei", "editor")
    result = invoke(runner, "tokens", "create", "zhangwei")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1].strip()
    assert token and " " not in token
    response = client.get("/api/v1/channels", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"channels": []}
    # A made-up token is refused, so the 200 above is the printed token's doing.
    assert client.get("/api/v1/channels", headers={"Authorization": f"Bearer {token}x"}).status_code == 401

    result = invoke(runner, "tokens", "create", "nobody")
    assert result.exit_code != 0 and "nobody" in result.output


def test_channels_create_prints_the_id(runner, make, db):
    leader = make.user("wangqiang", "leader")
    result = invoke(runner, "channels", "create", "城南街道发布", "--platform", "wechat_official",
                    "--leader", "wangqiang")
    assert result.exit_code == 0, result.output
    channel_id = int(result.output.strip().splitlines()[-1])
    with db.transaction() as s:
        channel = s.get(Channel, channel_id)
        assert channel is not None
        assert (channel.name, channel.platform, channel.leader_id) == ("城南街道发布", "wechat_official", leader.id)
    second = invoke(runner, "channels", "create", "城南工会微博", "--platform", "weibo", "--leader", "wangqiang")
    assert second.exit_code == 0, second.output
    assert int(second.output.strip().splitlines()[-1]) != channel_id


def test_channels_create_refuses_unknown_leader_and_platform(runner, make, db):
    make.user("editor_only", "editor")
    for leader, platform in (("nosuchuser", "wechat_official"), ("editor_only", "wechat_official"),
                             ("nosuchuser", "myspace")):
        result = invoke(runner, "channels", "create", "某渠道", "--platform", platform, "--leader", leader)
        assert result.exit_code != 0, (leader, platform, result.output)
        assert result.output.strip(), "an error message is expected"
        assert "Traceback" not in result.output
    assert "nosuchuser" in invoke(runner, "channels", "create", "某渠道", "--platform", "weibo",
                                  "--leader", "nosuchuser").output
    with db.transaction() as s:
        assert s.execute(select(func.count(Channel.id))).scalar_one() == 0


# ---------------------------------------------------------------- audit verify

def _trail(make, runner) -> int:
    """A few real events; returns how many there are. The chain verifies."""
    editor, leader, channel, auditor, registrar = make.team()
    make.submit(editor, channel)
    result = invoke(runner, "audit", "verify")
    assert result.exit_code == 0, result.output
    with make.db.transaction() as s:
        count = s.execute(select(func.count(AuditEvent.id))).scalar_one()
    assert count >= 6
    assert str(count) in result.output
    return count


def test_audit_verify_passes_an_intact_trail(runner, make, login):
    _trail(make, runner)
    login("editor")  # reading pages and logging in keep it intact too
    result = invoke(runner, "audit", "verify")
    assert result.exit_code == 0, result.output


def test_audit_verify_catches_an_edited_event(runner, make, db):
    count = _trail(make, runner)
    seq = count // 2
    with db.transaction() as s:
        s.execute(text("UPDATE auditevent SET detail = :d WHERE seq = :seq"),
                  {"d": '{"username":"someone-else"}', "seq": seq})
    result = invoke(runner, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"seq {seq}" in result.output


def test_audit_verify_catches_a_deleted_event(runner, make, db):
    count = _trail(make, runner)
    seq = count // 2
    with db.transaction() as s:
        s.execute(text("DELETE FROM auditevent WHERE seq = :seq"), {"seq": seq})
    result = invoke(runner, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"seq {seq}" in result.output


def test_audit_verify_catches_a_truncated_trail(runner, make, db):
    count = _trail(make, runner)
    with db.transaction() as s:
        s.execute(text("DELETE FROM auditevent WHERE seq = :seq"), {"seq": count})
    result = invoke(runner, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"seq {count}" in result.output


# ---------------------------------------------------------------- scan (the real executable)

def _flask(tmp_path, *args, input: bytes | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "WORDLIST_DIR")}
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    return subprocess.run([str(FLASK), "--app", "app", *args], cwd=ROOT, env=env, input=input,
                          capture_output=True, timeout=120)


def test_flask_scan_prints_one_json_line_per_input(tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "drugs.txt").write_text("# severity: high\n大麻\n", encoding="utf-8")
    (lists / "fraud.txt").write_text("# severity: high\n套现\n刷单\n", encoding="utf-8")
    content = "第一行很正常。\n他吸食大麻被抓。\r\n警惕刷单，联系13812345678\n"
    path = tmp_path / "post.txt"
    path.write_bytes(content.encode("utf-8"))
    stdin = "这下大麻烦了，信用卡套现"

    done = _flask(tmp_path, "scan", "--wordlists", str(lists), str(path), "-", input=stdin.encode("utf-8"))
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode("utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"path", "wordlist_version", "flags"}
    assert (first["path"], second["path"]) == (str(path), "-")
    assert first["wordlist_version"] == second["wordlist_version"] and first["wordlist_version"]
    assert [(f["text"], f["category"], f["severity"], f["confidence"], f["rule"]) for f in first["flags"]] == [
        ("大麻", "drugs", "high", "high", "wordlist:drugs"), ("刷单", "fraud", "high", "high", "wordlist:fraud"),
        ("13812345678", "pii", "high", "high", "pii:mobile")]
    for flag in first["flags"]:
        assert set(flag) == FLAG_KEYS
        assert content[flag["start"]:flag["end"]] == flag["text"]  # offsets into the input as read
    # Without --all the low-confidence 大麻 (inside 大麻烦) is left out.
    assert [(f["text"], f["start"], f["end"]) for f in second["flags"]] == [("套现", 10, 12)]
    assert stdin[10:12] == "套现"
    assert done.stderr.decode().strip() == ""


def test_flask_scan_unreadable_file_exits_2_with_one_line(tmp_path):
    readable = tmp_path / "ok.txt"
    readable.write_text("今天天气很好。", encoding="utf-8")
    missing = tmp_path / "missing.txt"
    done = _flask(tmp_path, "scan", "--wordlists", str(ROOT / "wordlists"), str(readable), str(missing))
    assert done.returncode == 2
    stderr = done.stderr.decode("utf-8")
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "missing.txt" in stderr
    assert done.stdout.decode().strip() == ""  # no half output


# ---------------------------------------------------------------- demo and init-db

def test_demo_creates_every_role_and_status_once(app, runner, db):
    # `demo` and `init-db` are plain click commands: the `flask` executable
    # pushes the app context for them, the test runner does not.
    with app.app_context():
        result = invoke(runner, "demo")
    assert result.exit_code == 0, result.output
    with db.transaction() as s:
        users = s.execute(select(User)).scalars().all()
        roles = set().union(*(u.role_set for u in users))
        channels = s.execute(select(func.count(Channel.id))).scalar_one()
        statuses = set(s.execute(select(Draft.status)).scalars())
        drafts = s.execute(select(func.count(Draft.id))).scalar_one()
        assert audit.verify(s).ok
    assert roles == set(ROLES)
    assert channels >= 2
    assert statuses == set(STATUS_LABELS) - {"scanning"}
    for user in users:  # every demo login is printed
        assert user.username in result.output

    with app.app_context():
        again = invoke(runner, "demo")
    assert again.exit_code == 0, again.output
    with db.transaction() as s:
        assert s.execute(select(func.count(User.id))).scalar_one() == len(users)
        assert s.execute(select(func.count(Channel.id))).scalar_one() == channels
        assert s.execute(select(func.count(Draft.id))).scalar_one() == drafts


def test_init_db_is_idempotent(app, tmp_path):
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'fresh.db'}"  # a brand-new, empty database
    fresh = create_app({**{k: app.config[k] for k in ("TESTING", "SECRET_KEY", "WORDLIST_DIR", "REDIS_URL")},
                        "INSTANCE_PATH": str(tmp_path / "fresh-instance"), "DATABASE_URL": url})
    runner = fresh.test_cli_runner()
    db = fresh.extensions["imprimatur"].db
    try:
        with fresh.app_context():
            first = invoke(runner, "init-db")
        assert first.exit_code == 0, first.output
        assert {"user", "channel", "draft", "auditevent", "apitoken"} <= set(inspect(db.engine).get_table_names())
        created = invoke(runner, "users", "create", "keeper", "--role", "auditor", "--password", "long-enough-1")
        assert created.exit_code == 0, created.output
        with db.transaction() as s:
            head = s.execute(text("SELECT version_num FROM alembic_version")).scalars().all()

        with fresh.app_context():
            second = invoke(runner, "init-db")
        assert second.exit_code == 0, second.output
        with db.transaction() as s:
            assert s.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == head
            assert accounts.find_user(s, "keeper") is not None  # data kept
            assert audit.verify(s).ok
    finally:
        db.dispose()
