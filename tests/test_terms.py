"""Database terms (词库管理): the domain, the registrar pages, `flask scan`, and
hot reload seen by a running (non-burst) worker process."""
from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from review import terms
from review.errors import Conflict, ValidationError
from review.models import AuditEvent, Flag, ScanResult, WordListTerm
from review.scanning import Term
from tests.factories import WebUser
from workers.queue import enqueue_scan

ROOT = Path(__file__).resolve().parent.parent


def actions(db) -> list[str]:
    with db.transaction() as s:
        return list(s.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def term_rows(db) -> list[tuple]:
    with db.transaction() as s:
        return [(t.term, t.category, t.severity, t.enabled) for t in terms.list_terms(s)]


# --- domain ---------------------------------------------------------------------

def test_add_disable_enable_and_change_severity_each_audited(db, make):
    registrar = make.user("reg", "registrar")
    with db.transaction() as s:
        row = terms.add_term(s, registrar, " 刷单 ", "fraud", "high")
    assert term_rows(db) == [("刷单", "fraud", "high", True)]
    with db.transaction() as s:
        terms.set_enabled(s, registrar, row.id, False)
        terms.set_enabled(s, registrar, row.id, False)  # no change: no event
        terms.set_severity(s, registrar, row.id, "low")
    with db.transaction() as s:
        assert terms.database_terms(s) == [Term("刷单", "fraud", "low", enabled=False)]
        terms.set_enabled(s, registrar, row.id, True)
        assert terms.database_terms(s) == [Term("刷单", "fraud", "low")]
    assert [a for a in actions(db) if a.startswith("term.")] == [
        "term.added", "term.disabled", "term.severity_changed", "term.enabled"]


@pytest.mark.parametrize("term, category, severity, message", [
    ("", "fraud", "high", "请填写词条"),
    ("a#b", "fraud", "high", "#"),
    ("***", "fraud", "high", "文字"),
    ("刷单", "Fraud!", "high", "类别"),
    ("刷单", "allow", "high", "allow"),
    ("刷单", "fraud", "huge", "严重程度"),
    ("长" * 65, "fraud", "high", "64"),
])
def test_bad_input_is_refused_and_nothing_saved(db, make, term, category, severity, message):
    registrar = make.user("reg", "registrar")
    with pytest.raises(ValidationError, match=message):
        with db.transaction() as s:
            terms.add_term(s, registrar, term, category, severity)
    assert term_rows(db) == []


def test_a_variant_of_an_existing_term_is_a_conflict(db, make):
    registrar = make.user("reg", "registrar")
    with db.transaction() as s:
        terms.add_term(s, registrar, "网络赌场", "gambling", "high")
    with pytest.raises(Conflict):
        with db.transaction() as s:
            terms.add_term(s, registrar, "網絡 賭場", "gambling", "low")
    with db.transaction() as s:  # another category is another term
        terms.add_term(s, registrar, "網絡賭場", "other", "low")


def test_bulk_import_all_or_nothing(db, make):
    registrar = make.user("reg", "registrar")
    with db.transaction() as s:
        terms.add_term(s, registrar, "刷单", "fraud", "high")
    good = "# severity: low\n# 注释\n刷单\n跑分\n\n洗钱 # inline\n".encode()
    with db.transaction() as s:
        assert terms.import_terms(s, registrar, good, "fraud", "high", "f.txt") == (2, 1)
    assert sorted(term_rows(db)) == [("刷单", "fraud", "high", True), ("洗钱", "fraud", "low", True),
                                     ("跑分", "fraud", "low", True)]
    bad = "套现\n" + "长" * 70 + "\n"
    with pytest.raises(ValidationError, match="第 2 行"):
        with db.transaction() as s:
            terms.import_terms(s, registrar, bad.encode(), "fraud", "high", "bad.txt")
    with pytest.raises(ValidationError, match="UTF-8"):
        with db.transaction() as s:
            terms.import_terms(s, registrar, "套现\n".encode("gbk") * 2, "fraud", "high", "gbk.txt")
    assert len(term_rows(db)) == 3
    assert actions(db).count("term.imported") == 1


# --- pages ----------------------------------------------------------------------

def test_registrar_pages(app, db, make):
    registrar = make.user("reg", "registrar")
    editor = make.user("ed", "editor")
    assert WebUser.signed_in(app, editor).get("/admin/terms").status_code == 403
    web = WebUser.signed_in(app, registrar)
    page = web.get("/admin/terms").get_data(as_text=True)
    assert "词库管理" in page and "gambling" in page  # file categories offered

    assert web.post("/admin/terms/add", {"term": "刷单", "category": "fraud", "severity": "high"}).status_code == 302
    bad = web.post("/admin/terms/add", {"term": "", "category": "fraud", "severity": "high"})
    assert bad.status_code == 422 and "请填写词条" in bad.get_data(as_text=True)
    dup = web.post("/admin/terms/add", {"term": "刷单", "category": "fraud", "severity": "low"})
    assert dup.status_code == 409
    assert web.post("/admin/terms/add", {"term": "x"}, csrf=False).status_code == 400

    (row_id,) = [t.id for t in _rows(db)]
    assert web.post(f"/admin/terms/{row_id}/severity", {"severity": "low"}).status_code == 302
    assert web.post(f"/admin/terms/{row_id}/enabled", {"enabled": "0"}).status_code == 302
    assert web.post("/admin/terms/999/enabled", {"enabled": "0"}).status_code == 404
    upload = {"category": "drugs", "severity": "high", "file": (io.BytesIO("冰毒\n摇头丸\n".encode()), "d.txt")}
    response = web.post("/admin/terms/import", upload, content_type="multipart/form-data", follow_redirects=True)
    assert "已导入 2 个词条" in response.get_data(as_text=True)
    missing = web.post("/admin/terms/import", {"category": "drugs", "severity": "high"})
    assert missing.status_code == 422
    assert sorted(term_rows(db)) == [("冰毒", "drugs", "high", True), ("刷单", "fraud", "low", False),
                                     ("摇头丸", "drugs", "high", True)]


def _rows(db):
    with db.transaction() as s:
        return list(s.execute(select(WordListTerm)).scalars())


def test_flask_scan_joins_enabled_database_terms(app, db, make, runner):
    registrar = make.user("reg", "registrar")
    with db.transaction() as s:
        terms.add_term(s, registrar, "自定义词", "custom", "high")
        off = terms.add_term(s, registrar, "停用词", "custom", "high")
        terms.set_enabled(s, registrar, off.id, False)
    result = runner.invoke(args=["scan", "-"], input="这里有自定义词和停用词")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(f["term"], f["category"]) for f in record["flags"]] == [("自定义词", "custom")]
    files_only = runner.invoke(args=["scan", "--wordlists", str(ROOT / "wordlists"), "-"], input="自定义词")
    assert json.loads(files_only.stdout)["flags"] == []


# --- hot reload in a running worker ---------------------------------------------------

WORKER = ("import json, sys; from review import config; from workers import worker; "
          "from workers.runtime import Runtime; "
          "worker.run(Runtime(config.load(json.loads(sys.argv[1]))), burst=False, with_scheduler=False)")


def _scanned(db, version_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction() as s:
            result = s.execute(select(ScanResult).where(ScanResult.version_id == version_id)).scalar_one_or_none()
            if result is not None:
                flags = s.execute(select(Flag.term).where(Flag.scan_result_id == result.id)).scalars()
                return result.wordlist_version, sorted(flags)
        time.sleep(0.1)
    raise AssertionError(f"version {version_id} not scanned")


@pytest.mark.app_config(WORDLIST_DIR="{tmp}/lists")
def test_running_worker_sees_new_list_file_and_database_terms(app, rt, db, make):
    lists = Path(app.config["WORDLIST_DIR"])
    lists.mkdir()
    (lists / "drugs.txt").write_text("# severity: high\n大麻\n", encoding="utf-8")
    editor, leader, channel, _, registrar = make.team()
    keys = ("DATABASE_URL", "REDIS_URL", "INSTANCE_PATH", "WORDLIST_DIR", "SECRET_KEY", "SCAN_QUEUE",
            "SCAN_RETRIES", "SCAN_RETRY_INTERVALS", "WORKER_HEARTBEAT_INTERVAL", "WORKER_HEARTBEAT_GRACE")
    settings = json.dumps({k: app.config[k] for k in keys})
    proc = subprocess.Popen([sys.executable, "-c", WORKER, settings], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    body = "兼职刷单，贩卖冰毒，吸食大麻"
    try:
        _, v1 = make.submit(editor, channel, body=body)
        enqueue_scan(rt, v1.id)
        first, flags = _scanned(db, v1.id)
        assert flags == ["大麻"]

        with db.transaction() as s:  # a registrar adds a term in the web UI's domain function
            terms.add_term(s, registrar, "刷单", "fraud", "high")
        _, v2 = make.submit(editor, channel, body=body + "。")
        enqueue_scan(rt, v2.id)
        second, flags = _scanned(db, v2.id)
        assert flags == ["刷单", "大麻"] and second != first

        (lists / "drugs.txt").write_text("# severity: high\n大麻\n冰毒\n", encoding="utf-8")
        _, v3 = make.submit(editor, channel, body=body + "！")
        enqueue_scan(rt, v3.id)
        third, flags = _scanned(db, v3.id)
        assert flags == ["冰毒", "刷单", "大麻"] and third not in (first, second)
        assert proc.poll() is None  # the same worker process all along: no restart
    finally:
        proc.send_signal(signal.SIGTERM)  # rq's warm shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_import_size_limits_are_refused_with_a_clear_message_and_save_nothing(app, db, make):
    web = WebUser.signed_in(app, make.user("reg", "registrar"))
    too_many = "".join(f"词条{i}\n" for i in range(terms.MAX_IMPORT + 1)).encode()
    upload = {"category": "fraud", "severity": "high", "file": (io.BytesIO(too_many), "many.txt")}
    response = web.post("/admin/terms/import", upload, content_type="multipart/form-data")
    assert response.status_code == 422
    assert f"一次最多导入 {terms.MAX_IMPORT} 个词条" in response.get_data(as_text=True)

    too_big = ("长" * 60 + "\n").encode() * (app.config["MAX_CONTENT_LENGTH"] // 150)  # over the request limit
    assert len(too_big) > app.config["MAX_CONTENT_LENGTH"]
    upload = {"category": "fraud", "severity": "high", "file": (io.BytesIO(too_big), "big.txt")}
    response = web.post("/admin/terms/import", upload, content_type="multipart/form-data")
    assert response.status_code == 413 and "提交的内容过大" in response.get_data(as_text=True)
    assert term_rows(db) == [] and "term.imported" not in actions(db)


def test_a_registrar_switches_off_or_reranks_a_built_in_term_and_the_scan_follows(app, db, make, runner):
    web = WebUser.signed_in(app, make.user("reg", "registrar"))

    def listed_part():
        page = web.get("/admin/terms").get_data(as_text=True)
        return page.split('id="listed-terms"')[1]

    def scan(text):
        result = runner.invoke(args=["scan", "-"], input=text)
        assert result.exit_code == 0, result.output
        return {(f["term"], f["severity"]) for f in json.loads(result.stdout)["flags"]}

    assert scan("百家乐和赌球") == {("百家乐", "high"), ("赌球", "high")}
    assert "<td data-label=\"词条\">百家乐</td>" in listed_part() and "赌博" in listed_part()

    off = web.post("/admin/terms/listed", {"term": "百家乐", "category": "gambling", "severity": "high",
                                           "action": "disable"}, follow_redirects=True)
    assert "已停用内置词条“百家乐”" in off.get_data(as_text=True)
    web.post("/admin/terms/listed", {"term": "赌球", "category": "gambling", "severity": "low", "action": "severity"})
    assert scan("百家乐和赌球") == {("赌球", "low")}
    shown = listed_part()  # both now in the table above
    assert '<td data-label="词条">百家乐</td>' not in shown and '<td data-label="词条">赌球</td>' not in shown
    assert sorted(term_rows(db)) == [("百家乐", "gambling", "high", False), ("赌球", "gambling", "low", True)]
    assert [a for a in actions(db) if a.startswith("term.")] == ["term.disabled", "term.added"]

    (row,) = [t for t in _rows(db) if t.term == "百家乐"]
    web.post(f"/admin/terms/{row.id}/enabled", {"enabled": "1"})  # back on, at the severity chosen
    assert scan("百家乐") == {("百家乐", "high")}
