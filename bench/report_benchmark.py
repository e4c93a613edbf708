"""Quarterly report speed with 100,000 drafts and 1,000,000 flags.

Generates the data (bench/report_data.py) into a fresh SQLite file, or into a
fresh database `imprimatur_report_bench` on the PostgreSQL server named by
--database-url / DATABASE_URL, then times through the real app (test client,
auditor signed in): the report page and its XLSX export for the busiest
quarter and for one channel. Baseline measured in the same run: the home page
of a user with no dashboards, and a full `count(*)` over the flags.

    .venv/bin/python bench/report_benchmark.py [--database-url postgresql://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from bench.common import fresh_postgres  # noqa: E402
from bench.report_data import generate  # noqa: E402

BENCH_DB = "imprimatur_report_bench"


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--flags-per-draft", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="imprimatur-report-bench-"))
    if args.database_url.startswith("postgres"):
        url = fresh_postgres(args.database_url, BENCH_DB)
    else:
        url = f"sqlite:///{instance / 'report.db'}"
    app = create_app({"INSTANCE_PATH": str(instance), "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "WTF_CSRF_ENABLED": False})
    rt = app.extensions["imprimatur"]
    rt.db.upgrade()
    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{backend}: generating {args.drafts:,} drafts with {args.drafts * args.flags_per_draft:,} flags ...")
    started = time.perf_counter()
    generate(rt.db, args.drafts, args.flags_per_draft, log=lambda line: None)
    print(f"  generated in {time.perf_counter() - started:.1f}s")

    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "2"  # auditor + registrar
        session["_fresh"] = True
    plain = app.test_client()
    with plain.session_transaction() as session:
        session["_user_id"] = "1"  # the editor: a small page, the baseline
        session["_fresh"] = True

    def get(c, url):
        def run():
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:500])
            return response
        return run

    def count_flags():
        with rt.db.engine.connect() as conn:
            conn.execute(text("SELECT count(*) FROM flag")).scalar_one()

    cases = [
        ("baseline: editor home page", get(plain, "/")),
        ("baseline: SELECT count(*) FROM flag", count_flags),
        ("report page, 2026 Q2, all channels", get(client, "/reports/quarterly?year=2026&quarter=2")),
        ("report XLSX, 2026 Q2, all channels", get(client, "/reports/quarterly.xlsx?year=2026&quarter=2")),
        ("report CSV,  2026 Q2, all channels", get(client, "/reports/quarterly.csv?year=2026&quarter=2")),
        ("report page, 2026 Q2, one channel", get(client, "/reports/quarterly?year=2026&quarter=2&channel_id=7")),
        ("registrar/auditor home (dashboard)", get(client, "/")),
    ]
    get(client, "/reports/quarterly?year=2026&quarter=2")()  # warm caches and templates
    html = client.get("/reports/quarterly?year=2026&quarter=2").get_data(as_text=True)
    assert "<svg" in html
    base = None
    print(f"{'case':44s} {'best':>8s} {'median':>8s}  ratio to editor home")
    for name, fn in cases:
        best, median = timed(fn, args.runs)
        base = base or median
        print(f"{name:44s} {best * 1000:7.0f}ms {median * 1000:7.0f}ms  {median / base:6.1f}x")
    rt.db.dispose()


if __name__ == "__main__":
    main()
