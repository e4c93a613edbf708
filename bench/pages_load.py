"""Page latency under concurrent users with 100,000 drafts in the database.

Generates the data set of bench/report_data.py (100,000 drafts, 1,000,000
flags) into a fresh database, serves the app with gunicorn, and has USERS
concurrent signed-in clients (keep-alive connections on loopback) request
the leader's queue, a review page and the editor's list (each after one
untimed request, so templates are compiled and caches warm). The baseline,
measured the same way in the same run, is a trivial page of the same app
(the login form). Prints p50/p95 per page and the p95 ratio to the baseline
(target <= 3x).

    .venv/bin/python bench/pages_load.py [--database-url URL] [--users 20] [--requests 30]
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from app import create_app  # noqa: E402
from bench.common import free_port, fresh_postgres, percentile, wait_for_port  # noqa: E402
from bench.report_data import generate  # noqa: E402
from review.models import Channel, Draft  # noqa: E402
from workers import redis_server  # noqa: E402

PASSWORD = "bench-pass-1"  # set by bench/report_data.py


class Browser:
    """One keep-alive connection with a session cookie."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.conn.close()  # gunicorn closed an idle keep-alive connection: reconnect, as a browser does
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        data = response.read().decode("utf-8", "replace")
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data

    def login(self, username: str) -> "Browser":
        _, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        status, _ = self.request("POST", "/login", urlencode({"username": username, "password": PASSWORD,
                                                              "csrf_token": token}))
        assert status == 302, f"login of {username} failed: {status}"
        return self


def hammer(port: int, users: int, requests: int, username: str | None, path: str) -> list[float]:
    """USERS clients each request PATH REQUESTS times; returns every latency."""
    latencies: list[float] = []
    lock = threading.Lock()
    browsers = [Browser(port).login(username) if username else Browser(port) for _ in range(users)]
    barrier = threading.Barrier(users)

    def run(browser: Browser):
        # One untimed request first: every gunicorn process has compiled the
        # page's templates and warmed its caches, as a server that has been up a while has.
        status, _ = browser.request("GET", path)
        assert status == 200, f"{path}: {status}"
        barrier.wait()
        mine = []
        for _ in range(requests):
            started = time.perf_counter()
            status, _ = browser.request("GET", path)
            mine.append(time.perf_counter() - started)
            assert status == 200, f"{path}: {status}"
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(b,)) for b in browsers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="per user and page")
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="imprimatur-pages-"))
    settings = {"INSTANCE_PATH": str(instance)}
    if args.database_url:  # a database of its own on that server, fresh each run
        settings["DATABASE_URL"] = fresh_postgres(args.database_url, "imprimatur_pages_bench")
    rt = create_app(settings).extensions["imprimatur"]
    rt.db.upgrade()
    started = time.perf_counter()
    generate(rt.db, args.drafts, 10, log=lambda line: None)
    print(f"generated {args.drafts:,} drafts and {args.drafts * 10:,} flags in {time.perf_counter() - started:.0f} s "
          f"({rt.db.engine.dialect.name})")
    with rt.db.transaction() as s:
        draft_id = s.execute(select(Draft.id).join(Channel, Channel.id == Draft.channel_id)
                             .where(Draft.status == "in_review", Channel.leader_id == 10)
                             .order_by(Draft.id.desc()).limit(1)).scalar_one()
        queue_size = s.execute(select(Draft.id).join(Channel, Channel.id == Draft.channel_id)
                               .where(Draft.status == "in_review", Channel.leader_id == 10)).all()
    env = {**os.environ, "INSTANCE_PATH": str(instance), "DATABASE_URL": rt.settings["DATABASE_URL"],
           "REDIS_URL": rt.redis_url, "SECRET_KEY": "pages-bench"}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2",
                               "--threads", "8", "app:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        cases = [
            ("trivial page (login form, baseline)", None, "/login"),
            (f"leader's queue ({len(queue_size)} drafts waiting)", "leader0", "/review"),
            ("review page of one draft", "leader0", f"/drafts/{draft_id}"),
            (f"editor's list ({args.drafts:,} drafts of theirs)", "editor", "/drafts"),
        ]
        hammer(port, 4, 5, None, "/login")  # warm up both gunicorn workers
        results = [(name, hammer(port, args.users, args.requests, user, path)) for name, user, path in cases]
    finally:
        server.terminate()
        server.wait(15)
        if not rt.settings.get("REDIS_URL"):
            redis_server.stop(instance)
    base = percentile(results[0][1], 0.95)
    print(f"{args.users} concurrent users x {args.requests} requests per page; gunicorn 2x8 threads; 2 cores")
    print(f"{'page':48} {'p50':>8} {'p95':>8} {'p95 / baseline':>15}")
    for name, latencies in results:
        p95 = percentile(latencies, 0.95)
        print(f"{name:48} {percentile(latencies, .5) * 1000:6.0f}ms {p95 * 1000:6.0f}ms {p95 / base:14.1f}x")
    print("target: p95 <= 3x the baseline's p95")


if __name__ == "__main__":
    main()
