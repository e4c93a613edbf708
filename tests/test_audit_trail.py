"""The audit trail page (filters, CSV) and `flask audit verify` with its
witness outside the database: edited, deleted and truncated events."""
from __future__ import annotations

import csv
import io

from sqlalchemy import func, select, text

from review import audit
from review.models import AuditEvent, AuditHead
from review.timeutil import now, to_local
from tests.factories import WebUser


def world(make, rt):
    editor, leader, channel, auditor, registrar = make.team()
    other = make.channel(leader, "城北发布")
    d1, v1 = make.submit(editor, channel, title="甲稿")
    d2, v2 = make.submit(editor, other, title="乙稿")
    make.scanned(rt, v1.id)
    return editor, leader, channel, other, auditor, registrar, d1, d2


def test_filters_and_csv_export(app, rt, make, db):
    editor, leader, channel, other, auditor, registrar, d1, d2 = world(make, rt)
    web = WebUser.signed_in(app, auditor)
    page = web.get(f"/audit?channel={other.id}").get_data(as_text=True)
    assert f"#{d2.id}" in page and f">#{d1.id}<" not in page
    page = web.get(f"/audit?draft={d1.id}&action=scan.completed").get_data(as_text=True)
    assert "检测完成" in page and "提交审核</td>" not in page
    page = web.get("/audit?actor=张编辑").get_data(as_text=True)
    assert ">提交审核</td>" in page and ">创建用户</td>" not in page
    today = to_local(now()).date().isoformat()
    assert ">提交审核</td>" in web.get(f"/audit?from={today}&to={today}").get_data(as_text=True)
    assert "暂无记录" in web.get("/audit?to=2000-01-01").get_data(as_text=True)
    response = web.get("/audit?from=yesterday")
    assert response.status_code == 422 and "日期格式应为" in response.get_data(as_text=True)

    response = web.get(f"/audit.csv?channel={channel.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:5] == ["序号", "时间", "操作人", "操作人ID", "操作"]
    body = rows[1:]
    assert body and all(r[7] == str(channel.id) for r in body)
    assert [r[5] for r in body][:2] == ["channel.created", "draft.submitted"]
    with db.transaction() as s:
        expected = s.execute(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.channel_id == channel.id)).scalar_one()
    assert len(body) == expected
    assert WebUser.signed_in(app, editor).get("/audit.csv").status_code == 403
    assert WebUser.signed_in(app, registrar).get("/audit").status_code == 200


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(app, rt, make, db):
    editor, leader, channel, auditor, registrar = make.team()
    evil, = make.users(("evil", "editor", "=HYPERLINK(\"http://x\")"))
    make.submit(evil, channel, title="标题")
    response = WebUser.signed_in(app, auditor).get("/audit.csv?action=draft.submitted")
    assert "'=HYPERLINK" in response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert all(not cell.startswith("=") for row in rows for cell in row)


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def test_verify_detects_edited_deleted_and_truncated_events(app, rt, make, db, runner):
    world(make, rt)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    with db.transaction() as s:
        count = s.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    witness = audit.read_witness(rt.settings["INSTANCE_PATH"] + "/" + audit.WITNESS_FILE)
    assert witness[0] == count

    # Truncating the tail and rewinding the head row to match: only the witness notices.
    with db.transaction() as s:
        last = s.execute(select(AuditEvent).where(AuditEvent.seq == count - 2)).scalars().one()
        s.execute(text("DELETE FROM auditevent WHERE seq > :seq"), {"seq": count - 2})
        s.execute(text("UPDATE audithead SET seq = :seq, last_hash = :h WHERE id = 1"),
                  {"seq": count - 2, "h": last.hash})
    result = verify(runner)
    assert result.exit_code == 1 and f"witness records seq {count}" in result.output

    # Sealing again (an operator who restored a backup) makes it pass; then an edit is caught...
    assert runner.invoke(args=["audit", "seal"]).exit_code == 0
    assert verify(runner).exit_code == 0
    with db.transaction() as s:
        s.execute(text("UPDATE auditevent SET actor_name = '别人' WHERE seq = 3"))
    result = verify(runner)
    assert result.exit_code == 1 and "seq 3" in result.output and "altered" in result.output
    assert runner.invoke(args=["audit", "seal"]).exit_code == 1  # never seals a broken chain


def test_verify_detects_a_deleted_event_and_a_missing_witness(app, rt, make, db, runner):
    world(make, rt)
    with db.transaction() as s:
        s.execute(text("DELETE FROM auditevent WHERE seq = 4"))
    result = verify(runner)
    assert result.exit_code == 1 and "seq 4 is missing" in result.output


def test_verify_requires_the_witness(app, rt, make, db, runner, tmp_path):
    world(make, rt)
    from pathlib import Path

    Path(rt.settings["INSTANCE_PATH"], audit.WITNESS_FILE).unlink()
    result = verify(runner)
    assert result.exit_code == 1 and "witness file" in result.output
    with db.transaction() as s:
        head = s.get(AuditHead, 1)
    assert runner.invoke(args=["audit", "seal"]).exit_code == 0
    assert audit.read_witness(Path(rt.settings["INSTANCE_PATH"], audit.WITNESS_FILE)) == (head.seq, head.last_hash)


def test_every_action_the_code_records_has_a_chinese_label():
    """The audit page shows actions by their labels; an unlabelled one shows as code (term.added)."""
    import re
    from pathlib import Path

    from review.audit import ACTION_LABELS

    root = Path(__file__).resolve().parent.parent
    recorded = set()
    for path in [*root.joinpath("review").rglob("*.py"), *root.joinpath("workers").rglob("*.py")]:
        source = path.read_text(encoding="utf-8")
        recorded |= set(re.findall(r'record\(\s*\w+,\s*"([a-z_]+\.[a-z_]+)"', source))
        # actions chosen by a condition: record(session, "a" if x else "b", ...) and action = (...)
        for expression in re.findall(r'(?:record\(\s*\w+,|action =)\s*\(?("[a-z_.]+" if [^\n]*)', source):
            recorded |= set(re.findall(r'"([a-z_]+\.[a-z_]+)"', expression))
    assert len(recorded) > 20, recorded
    assert recorded - set(ACTION_LABELS) == set()


def test_the_page_shows_details_in_words_and_the_csv_keeps_them_as_recorded(app, rt, make, db):
    editor, leader, channel, other, auditor, registrar, d1, d2 = world(make, rt)
    web = WebUser.signed_in(app, auditor)
    page = web.get(f"/audit?draft={d1.id}&action=draft.submitted").get_data(as_text=True)
    assert "版本：1；加急：否；内容指纹：" in page  # a first submission: no earlier status
    assert "内容指纹：" in page and '"sha256"' not in page and "{" not in page.split("<tbody>")[1]
    page = web.get(f"/audit?draft={d1.id}&action=scan.completed").get_data(as_text=True)
    assert "标记数：" in page and "检测用时（毫秒）：" in page
    rows = list(csv.reader(io.StringIO(web.get(f"/audit.csv?draft={d1.id}").get_data(as_text=True).lstrip("\ufeff"))))
    assert any('"sha256"' in cell for row in rows for cell in row)  # the export keeps the JSON for tools


def test_details_in_words_name_codes_and_changes():
    described = audit.describe(audit._canonical({
        "changes": {"filing_status": ["unfiled", "filed"], "filing_number": [None, "A-1"], "leader_id": ["3", "5"]},
        "note": "备案完成"}))
    assert described == "变更：备案编号 （空） → A-1，备案状态 未备案 → 已备案，分管领导 #3 → #5；说明：备案完成"
    assert audit.describe(audit._canonical({"term": "百家乐", "category": "gambling", "severity": "high",
                                            "term_id": 4})) == "词条：百家乐；类别：赌博；严重程度：高"
    assert audit.describe(audit._canonical({"roles": ["leader", "editor"], "username": "wang"})) == \
        "用户名：wang；角色：分管领导、编辑"
    assert audit.describe("not json") == "not json" and audit.describe("{}") == ""
