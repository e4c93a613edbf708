"""Generate a large data set for the quarterly report: 100,000 drafts with
1,000,000 flags (default sizes) over one year, inserted in bulk (Core
executemany, explicit ids). Used by bench/report_benchmark.py.

    .venv/bin/python bench/report_data.py --database-url sqlite:////tmp/report.db
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from review import accounts  # noqa: E402
from review.models import (Channel, Decision, Draft, DraftVersion, Flag, Publication, ScanResult,  # noqa: E402
                           User)

TERMS = [("百家乐", "gambling", "high"), ("赌球", "gambling", "high"), ("最佳", "advertising", "medium"),
         ("第一", "advertising", "low"), ("大麻", "drugs", "high"), ("刷单", "fraud", "high"),
         ("手机号", "pii", "medium"), ("身份证", "pii", "high"), ("傻瓜", "vulgar", "low"), ("国家级", "advertising", "medium")]
YEAR = 2026


def generate(db, drafts: int = 100_000, flags_per_draft: int = 10, channels: int = 50, seed: int = 7,
             batch: int = 20_000, log=print) -> None:
    rng = random.Random(seed)
    started = time.perf_counter()
    pw = accounts.hash_password("bench-pass-1")
    with db.engine.begin() as conn:
        users = [dict(id=1, username="editor", display_name="编辑", password_hash=pw, roles="editor"),
                 dict(id=2, username="auditor", display_name="督查", password_hash=pw, roles="auditor registrar")]
        users += [dict(id=10 + i, username=f"leader{i}", display_name=f"领导{i}", password_hash=pw, roles="leader")
                  for i in range(20)]
        conn.execute(insert(User), [{**u, "unit": "", "active": True, "created_at": datetime.now(timezone.utc)} for u in users])
        statuses = ["filed"] * 7 + ["unfiled", "refiling", "suspended"]
        conn.execute(insert(Channel), [dict(
            id=i + 1, name=f"渠道{i + 1:03d}", platform=rng.choice(["wechat_official", "weibo", "website", "video"]),
            category="government", identifier=f"acct{i}", unit=f"单位{i % 12}", administrator="管理员",
            leader_id=10 + i % 20, filing_authority="宣传部", filing_status=statuses[i % 10], filing_number=f"备{i}",
            filing_date=date(2025, 1, 1), last_annual_check=date(2025, 6, 1) if i % 4 else None, notes="", purpose="",
            status_since=date(2025, 1, 1), refiling_due=date(2026, 1, 1) if statuses[i % 10] == "refiling" else None,
            urgent_deadline_minutes=30, created_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
            updated_at=datetime(2025, 1, 1, tzinfo=timezone.utc)) for i in range(channels)])
    start = datetime(YEAR, 1, 1, tzinfo=timezone.utc) - timedelta(hours=8)
    span = 365 * 86400
    flag_id = 0
    for lo in range(0, drafts, batch):
        d_rows, v_rows, s_rows, f_rows, dec_rows, p_rows = [], [], [], [], [], []
        for i in range(lo + 1, min(drafts, lo + batch) + 1):
            submitted = start + timedelta(seconds=rng.randrange(span))
            urgent = rng.random() < 0.05
            deadline = submitted + timedelta(minutes=30) if urgent else None
            roll = rng.random()
            review = timedelta(seconds=int(rng.lognormvariate(7.5, 1.0)))
            decided = submitted + review
            status = "in_review"
            if roll < 0.75:
                status = "approved"
            elif roll < 0.9:
                status = "rejected"
            published = status == "approved" and rng.random() < 0.8
            retracted = published and rng.random() < 0.03
            if published:
                status = "retracted" if retracted else "published"
            d_rows.append(dict(id=i, channel_id=1 + i % channels, author_id=1, title=f"稿件{i}", body="正文",
                               body_format="text", status=status, urgent=urgent, deadline_at=deadline,
                               current_version_id=i, created_at=submitted, updated_at=decided, submitted_at=submitted))
            v_rows.append(dict(id=i, draft_id=i, number=1, title=f"稿件{i}", body="正文", body_format="text", text="正文",
                               content_sha256="0" * 64, created_by_id=1, created_at=submitted, scan_attempts=0))
            s_rows.append(dict(id=i, version_id=i, wordlist_version="bench", flag_count=flags_per_draft,
                               duration_ms=5, created_at=submitted))
            for _ in range(flags_per_draft):
                flag_id += 1
                term, category, severity = TERMS[min(int(rng.expovariate(0.4)), len(TERMS) - 1)]
                f_rows.append(dict(id=flag_id, scan_result_id=i, version_id=i, field="body", term=term,
                                   category=category, severity=severity,
                                   confidence=rng.choice(("high", "high", "medium", "low")), rule="bench",
                                   start=0, end=len(term), text=term))
            if status != "in_review":
                dec_rows.append(dict(id=i, draft_id=i, version_id=i, version_number=1, content_sha256="0" * 64,
                                     step=1, decision="reject" if status == "rejected" else "approve", comment="",
                                     flags_acknowledged="", decided_by_id=10 + (i % channels) % 20, decided_at=decided))
            if published:
                at = decided + timedelta(minutes=rng.randrange(5, 600))
                p_rows.append(dict(id=i, draft_id=i, version_id=i, content_sha256="0" * 64, url=f"https://e.org/{i}",
                                   published_at=at, recorded_by_id=1, recorded_at=at,
                                   retracted_at=at + timedelta(days=2) if retracted else None,
                                   retracted_by_id=10 if retracted else None, retract_reason=""))
        with db.engine.begin() as conn:
            for model, rows in ((Draft, d_rows), (DraftVersion, v_rows), (ScanResult, s_rows), (Flag, f_rows),
                                (Decision, dec_rows), (Publication, p_rows)):
                if rows:
                    conn.execute(insert(model), rows)
        log(f"  {min(drafts, lo + batch):,} drafts, {flag_id:,} flags ({time.perf_counter() - started:.0f}s)")
    if db.is_sqlite:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    else:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        with db.engine.begin() as conn:  # ids were explicit: move the sequences past them
            for table in ("user", "channel", "draft", "draftversion", "scanresult", "flag", "decision", "publication"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                     f"(SELECT coalesce(max(id), 1) FROM \"{table}\"))")


if __name__ == "__main__":
    from review.db import Database

    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--flags-per-draft", type=int, default=10)
    args = parser.parse_args()
    database = Database(args.database_url)
    database.upgrade()
    generate(database, args.drafts, args.flags_per_draft)
