"""In-process cost of the pages bench/pages_load.py serves: CPU ms and SQL
statements per request, through Flask's test client (no HTTP server, no
concurrency), so two versions of the code can be compared on a loaded machine.

Uses (or generates once) the bench/report_data.py data set in DIR/imprimatur.db:

    .venv/bin/python bench/pages_profile.py --dir /tmp/pages-100k [--drafts 100000] [--requests 400] [--rounds 8]
    .venv/bin/python bench/pages_profile.py --dir /tmp/pages-100k --profile /review   # pyinstrument, text
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from app import create_app  # noqa: E402
from bench.report_data import generate  # noqa: E402
from review.models import Channel, Draft, User  # noqa: E402

PASSWORD = "bench-pass-1"  # set by bench/report_data.py

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, help="where the SQLite data set is kept (generated if missing)")
    parser.add_argument("--database-url", default=None, help="instead of DIR/imprimatur.db (already generated)")
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400, help="per page")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--profile", default=None, help="a path to profile with pyinstrument instead")
    parser.add_argument("--sql", action="store_true", help="print the statements of one request per page")
    args = parser.parse_args()
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{directory / 'imprimatur.db'}"
    app = create_app({"INSTANCE_PATH": str(directory), "DATABASE_URL": url, "REDIS_URL": args.redis_url,
                      "SECRET_KEY": "pages-profile"})
    rt = app.extensions["imprimatur"]
    rt.db.upgrade()
    with rt.db.transaction() as s:
        empty = s.execute(select(User.id).limit(1)).first() is None
    if empty:
        started = time.perf_counter()
        generate(rt.db, args.drafts, 10, log=lambda line: None)
        print(f"generated {args.drafts:,} drafts in {time.perf_counter() - started:.0f} s")
    with rt.db.transaction() as s:
        draft_id = s.execute(select(Draft.id).join(Channel, Channel.id == Draft.channel_id)
                             .where(Draft.status == "in_review", Channel.leader_id == 10)
                             .order_by(Draft.id.desc()).limit(1)).scalar_one()

    statements: list[str] = []

    @event.listens_for(rt.db.engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def client(username: str | None):
        """A test client signed in through the login form, as bench/pages_load.py's browsers are."""
        c = app.test_client()
        page = c.get("/login").get_data(as_text=True)
        if username is not None:
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            response = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
            assert response.status_code == 302, f"login of {username} failed"
        return c

    cases = [("login form (baseline)", None, "/login"), ("leader's queue", "leader0", "/review"),
             ("review page", "leader0", f"/drafts/{draft_id}"), ("editor's list", "editor", "/drafts")]
    if args.profile:
        from pyinstrument import Profiler

        user = next((u for _, u, p in cases if p == args.profile), "leader0")
        c = client(user)
        for _ in range(5):
            c.get(args.profile)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(args.requests):
            c.get(args.profile)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        return
    print(f"{rt.db.engine.dialect.name}; {args.requests} requests per page in {args.rounds} rounds, pages "
          f"taking turns; the fastest round counts (the machine is shared)")
    clients, counts = [], []
    for name, user, path in cases:
        c = client(user)
        for _ in range(5):
            response = c.get(path)
            assert response.status_code == 200, (path, response.status_code)
        statements.clear()
        c.get(path)
        counts.append(len(statements))
        if args.sql:
            print(f"--- {path}")
            for s in statements:
                print("   ", " ".join(s.split())[:200])
        clients.append(c)
    per_round = max(args.requests // args.rounds, 1)
    best = [float("inf")] * len(cases)
    for _ in range(args.rounds):
        for i, (c, (_, _, path)) in enumerate(zip(clients, cases)):
            cpu0 = time.process_time()
            for _ in range(per_round):
                c.get(path)
            best[i] = min(best[i], (time.process_time() - cpu0) / per_round * 1000)
    print(f"{'page':24} {'CPU ms/request':>15} {'ratio':>6} {'SQL':>4}")
    for (name, _, _), ms, count in zip(cases, best, counts):
        print(f"{name:24} {ms:15.2f} {ms / best[0]:5.1f}x {count:4d}")

if __name__ == "__main__":
    main()
