"""Page latency under concurrent users with 100,000 drafts in the database.

Generates the data set of bench/report_data.py (100,000 drafts, 1,000,000
flags) into a fresh database, serves the app with gunicorn, and has USERS
concurrent signed-in clients (keep-alive connections on loopback) request
the leader's queue, a review page and the editor's list (each after one
untimed request, so templates are compiled and caches warm). The baseline,
measured the same way in the same run and server, is a trivial page of the
same app (the login form). The pages take turns in --rounds rounds, so load
from elsewhere on the machine falls on all of them alike. Prints p50/p95 per
page, the p95 ratio to the baseline (target <= 3x), the load average, and the server's
CPU time per request of each page (the gunicorn processes' user + system time from /proc
over that page's rounds: a figure that load from elsewhere moves far less than latency).
bench/pages_profile.py gives the in-process CPU ms and SQL statements per page.

--floor serves bench/pages_floor.py's app (the same app with two more routes) and adds
four floors to the table, measured the same way in the same run: a signed-in page with
nothing in it, and each of the three pages rendered from a context its view built once
(the page's HTML with no SQL of its own). What lies between a page and its floor is its
data access.

    .venv/bin/python bench/pages_load.py [--database-url URL] [--drafts 100000] [--users 20] [--requests 30]
        [--rounds 3] [--workers 2] [--threads 4] [--worker-class gthread] [--dir DIR | --reuse] [--floor]

--dir DIR keeps the SQLite data set in DIR/imprimatur.db and uses it again on the next run
(bench/pages_profile.py --dir DIR shares it); --reuse does the same for --database-url's
bench database. Either way a kept data set of another size is generated afresh.
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


BENCH_DB = "imprimatur_pages_bench"


def bench_database(url: str) -> str:
    """The URL of the bench database on url's server, created (empty) if it does not exist."""
    from sqlalchemy import create_engine, text

    from review.config import normalise_database_url

    url = normalise_database_url(url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": BENCH_DB}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{BENCH_DB}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + BENCH_DB


def kept_size(db) -> int:
    """How many drafts a kept data set holds (0: empty or no schema yet)."""
    from sqlalchemy import func, inspect

    if not inspect(db.engine).has_table("draft"):
        return 0
    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Draft)).scalar_one()


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


SERVER_PIDS: list[int] = []  # the gunicorn master and its workers


def process_cpu(pids) -> dict[int, float]:
    """CPU seconds (user + system) each of these processes has used so far, from /proc: unlike
    latency, load from elsewhere on the machine hardly moves it."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return out


def server_cpu() -> float:
    return sum(process_cpu(SERVER_PIDS).values())


class DatabaseCpu:
    """A local PostgreSQL's backends serving the bench database (their CPU is the database's
    share of a page; on 2 cores it competes with the server's). None of this for SQLite or a
    server on another host."""

    def __init__(self, url: str | None):
        self.engine = None
        if url and url.startswith("postgresql") and any(h in url for h in ("@127.0.0.1", "@localhost")):
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            from review.config import normalise_database_url

            self.engine = create_engine(normalise_database_url(url), poolclass=NullPool)

    def snapshot(self) -> dict[int, float]:
        if self.engine is None:
            return {}
        from sqlalchemy import text

        with self.engine.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND pid <> pg_backend_pid()")).scalars().all()
        return process_cpu(pids)

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU between two snapshots (backends started in between count from zero)."""
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


DB_CPU = DatabaseCpu(None)


def server_pids(master: int) -> list[int]:
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return pids


class Users:
    """USERS signed-in browsers (or anonymous ones) requesting one page, kept across rounds."""

    def __init__(self, port: int, users: int, username: str | None, path: str):
        self.path = path
        self.browsers = [Browser(port).login(username) if username else Browser(port) for _ in range(users)]
        self.latencies: list[float] = []
        self.warm = False
        self.served = 0  # requests, the untimed ones included
        self.server_cpu = 0.0  # seconds of CPU the gunicorn processes spent in this page's rounds
        self.db_cpu = 0.0  # and a local PostgreSQL's backends

    def round(self, requests: int) -> None:
        """Every browser requests the page REQUESTS times at once (after one untimed request the
        first time: every gunicorn process has compiled the page's templates and warmed its
        caches, as a server that has been up a while has)."""
        lock = threading.Lock()
        barrier = threading.Barrier(len(self.browsers))

        def run(browser: Browser):
            if not self.warm:
                status, _ = browser.request("GET", self.path)
                assert status == 200, f"{self.path}: {status}"
            barrier.wait()
            mine = []
            for _ in range(requests):
                started = time.perf_counter()
                status, _ = browser.request("GET", self.path)
                mine.append(time.perf_counter() - started)
                assert status == 200, f"{self.path}: {status}"
            with lock:
                self.latencies.extend(mine)

        threads = [threading.Thread(target=run, args=(b,)) for b in self.browsers]
        cpu, db = server_cpu(), DB_CPU.snapshot()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.server_cpu += server_cpu() - cpu
        self.db_cpu += DB_CPU.used(db, DB_CPU.snapshot())
        self.served += len(self.browsers) * (requests + (0 if self.warm else 1))
        self.warm = True


def check_floor_pages(port: int, cases) -> None:
    """A floor page must be its page: the same HTML (but for CSRF tokens), or its figure means nothing."""
    def html(browser, path):
        status, page = browser.request("GET", path)
        assert status == 200, f"{path}: {status}"
        return re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value=""', page)

    for name, user, path in cases:
        if path.startswith("/floor/page?path="):
            browser = Browser(port).login(user)
            real = html(browser, path.split("=", 1)[1])
            for _ in range(2):  # the first request builds the context, the next ones reuse it
                assert html(browser, path) == real, f"{name}: not the same HTML as the page"
    print("floor pages: the same HTML as their pages (CSRF tokens aside)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=30, help="per user and page")
    parser.add_argument("--rounds", type=int, default=3, help="the pages take turns this many times")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (flask serve runs 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (flask serve runs 4)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn -k (gthread keeps connections alive "
                                                                  "with one thread too; sync does not)")
    parser.add_argument("--dir", default=None, help="SQLite: keep the data set in DIR and reuse it")
    parser.add_argument("--reuse", action="store_true", help="--database-url: reuse the bench database if it "
                                                             "holds a data set of --drafts")
    parser.add_argument("--floor", action="store_true", help="also the floors of bench/pages_floor.py: a signed-in "
                                                             "empty page, and each page with no SQL of its own")
    args = parser.parse_args()
    if args.dir and args.database_url:
        parser.error("--dir is for SQLite; use --reuse with --database-url")
    instance = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="imprimatur-pages-"))
    instance.mkdir(parents=True, exist_ok=True)
    settings = {"INSTANCE_PATH": str(instance)}
    if args.dir:
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'imprimatur.db'}"
    if args.database_url:  # a database of its own on that server, fresh each run unless --reuse
        settings["DATABASE_URL"] = (bench_database(args.database_url) if args.reuse
                                    else fresh_postgres(args.database_url, BENCH_DB))
    rt = create_app(settings).extensions["imprimatur"]
    if (args.dir or args.reuse) and kept_size(rt.db) != args.drafts:  # none, another size, or half made
        rt.db.engine.dispose()
        if args.dir:
            (instance / "imprimatur.db").unlink(missing_ok=True)
        else:
            fresh_postgres(args.database_url, BENCH_DB)
        rt = create_app(settings).extensions["imprimatur"]
    rt.db.upgrade()
    if kept_size(rt.db) == args.drafts:
        print(f"reusing the data set of {args.drafts:,} drafts ({rt.db.engine.dialect.name})")
    else:
        started = time.perf_counter()
        generate(rt.db, args.drafts, 10, log=lambda line: None)
        print(f"generated {args.drafts:,} drafts and {args.drafts * 10:,} flags in "
              f"{time.perf_counter() - started:.0f} s ({rt.db.engine.dialect.name})")
    with rt.db.transaction() as s:
        draft_id = s.execute(select(Draft.id).join(Channel, Channel.id == Draft.channel_id)
                             .where(Draft.status == "in_review", Channel.leader_id == 10)
                             .order_by(Draft.id.desc()).limit(1)).scalar_one()
        queue_size = s.execute(select(Draft.id).join(Channel, Channel.id == Draft.channel_id)
                               .where(Draft.status == "in_review", Channel.leader_id == 10)).all()
    env = {**os.environ, "INSTANCE_PATH": str(instance), "DATABASE_URL": rt.settings["DATABASE_URL"],
           "REDIS_URL": rt.redis_url, "SECRET_KEY": "pages-bench"}
    port = free_port()
    # One server for the baseline and the pages alike.
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
                               "--threads", str(args.threads), "-k", args.worker_class,
                               "bench.pages_floor:floor_app()" if args.floor else "app:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        cases = [
            ("trivial page (login form, baseline)", None, "/login"),
            (f"leader's queue ({len(queue_size)} drafts waiting)", "leader0", "/review"),
            ("review page of one draft", "leader0", f"/drafts/{draft_id}"),
            (f"editor's list ({args.drafts:,} drafts of theirs)", "editor", "/drafts"),
        ]
        if args.floor:
            cases += [("floor: signed-in empty page (base.html)", "leader0", "/floor/signed-in")]
            cases += [(f"floor: {name.split(' (')[0]}, no SQL of its own", user, f"/floor/page?path={path}")
                      for name, user, path in cases[1:4]]
        warm = Users(port, 4, None, "/login")
        warm.round(5)  # both gunicorn workers up
        if args.floor:
            check_floor_pages(port, cases)
        SERVER_PIDS[:] = server_pids(server.pid)
        global DB_CPU
        DB_CPU = DatabaseCpu(rt.settings["DATABASE_URL"])
        load_before = os.getloadavg()
        groups = [(name, Users(port, args.users, user, path)) for name, user, path in cases]
        # The pages take turns in rounds, so a burst of load from elsewhere on the machine
        # falls on all of them, baseline included, rather than on whichever ran then.
        per_round = [args.requests // args.rounds + (i < args.requests % args.rounds) for i in range(args.rounds)]
        for n in per_round:
            for _, group in groups:
                group.round(n)
        load_after = os.getloadavg()
        results = [(name, group.latencies, group.server_cpu / group.served, group.db_cpu / group.served)
                   for name, group in groups]
    finally:
        server.terminate()
        server.wait(15)
        if not rt.settings.get("REDIS_URL"):
            redis_server.stop(instance)
        rt.db.engine.dispose()
        if DB_CPU.engine is not None:
            DB_CPU.engine.dispose()
    base = percentile(results[0][1], 0.95)
    print(f"{args.users} concurrent users x {args.requests} requests per page in {args.rounds} rounds; "
          f"gunicorn {args.workers} {args.worker_class} workers x {args.threads} threads; {os.cpu_count()} cores; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    with_db = DB_CPU.engine is not None
    print(f"{'page':48} {'p50':>8} {'p95':>8} {'p95 / baseline':>15} {'server CPU/request':>19}"
          + (f" {'PostgreSQL CPU/request':>22}" if with_db else ""))
    for name, latencies, cpu, db_cpu in results:
        p95 = percentile(latencies, 0.95)
        print(f"{name:48} {percentile(latencies, .5) * 1000:6.0f}ms {p95 * 1000:6.0f}ms {p95 / base:14.1f}x "
              f"{cpu * 1000:9.2f}ms {cpu / results[0][2]:5.1f}x" + (f" {db_cpu * 1000:21.2f}ms" if with_db else ""))
    print("target: p95 <= 3x the baseline's p95 (server CPU/request: the gunicorn processes' CPU time per "
          "request, over the page's rounds)")


if __name__ == "__main__":
    main()
