"""A real server for browser tests: gunicorn and a scan worker as separate
processes on a free 127.0.0.1 port, a migrated SQLite file, the test Redis
(a queue of its own), and one headless Chromium for the whole session.

Chromium is Debian's (/usr/bin/chromium), driven by the playwright package;
no browser is ever downloaded. Without it the tests are skipped with the
reason (`.ci/run` installs it).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.request import urlopen

import pytest

from review.db import Database
from tests.factories import PASSWORD, Factories

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "test-output" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Every browser test watches for script that should never run: a payload that
# ran calls alert/confirm/prompt (hooked here and by Playwright's dialog event)
# or trips the CSP (securitypolicyviolation).
HOOK = """
(() => {
  window.__xss = [];
  for (const name of ["alert", "confirm", "prompt", "print"]) {
    const real = window[name];
    window[name] = function (...args) { window.__xss.push(name + ":" + args.join(",")); return real.apply(this, args); };
  }
  document.addEventListener("securitypolicyviolation",
    (e) => window.__xss.push("csp:" + e.violatedDirective + ":" + (e.sample || e.blockedURI)));
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class LiveServer:
    def __init__(self, base_url: str, db: Database, settings: dict, worker: subprocess.Popen):
        self.base_url = base_url
        self.db = db
        self.settings = settings
        self.make = Factories(db)
        self.worker = worker

    @contextmanager
    def worker_paused(self):
        """Freeze the scan worker (SIGSTOP), so a page is seen before its scan is done."""
        os.kill(self.worker.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.worker.pid, signal.SIGCONT)

    def url(self, path: str) -> str:
        return self.base_url + path

    def enqueue_scan(self, version_id: int) -> None:
        from review import config
        from workers.queue import enqueue_scan
        from workers.runtime import Runtime

        enqueue_scan(Runtime(config.load(self.settings)), version_id)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, redis_url):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does this)")
    base = tmp_path_factory.mktemp("live")
    db_url = f"sqlite:///{base / 'live.db'}"
    db = Database(db_url)
    db.upgrade()
    settings = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": str(base / "instance"),
        "SECRET_KEY": "browser-" + uuid.uuid4().hex,
        "WORDLIST_DIR": str(ROOT / "wordlists"),
        "SCAN_QUEUE": f"browser-{uuid.uuid4().hex[:12]}",
    }
    env = {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}
    port = _free_port()
    logs = base / "logs"
    logs.mkdir()
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--name", f"browser-{uuid.uuid4().hex[:8]}"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT)
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8",
         "app:create_app()"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=open(logs / "web.log", "w"), stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/login", web)
        yield LiveServer(f"http://127.0.0.1:{port}", db, settings, worker)
    finally:
        _stop(web)
        _stop(worker)
        db.dispose()


@pytest.fixture(scope="session")
def browser(live_server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Watch:
    """What a context's pages did that script-free pages never do."""

    def __init__(self, context):
        self.events: list[str] = []
        context.add_init_script(HOOK)
        context.on("dialog", self._dialog)
        context.on("console", self._console)
        context.on("weberror", lambda e: self.events.append(f"page error: {e.error}"))
        # An <img src=/xss…> that became markup would be fetched: no script needed to notice.
        context.on("request", lambda r: "/xss" in r.url and self.events.append(f"request {r.url}"))

    def _console(self, message):
        # A page answered with 4xx (a refused form) logs "Failed to load resource": not script.
        if message.type in ("error", "warning") and not message.text.startswith("Failed to load resource"):
            self.events.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog):
        self.events.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    def check(self, page) -> list[str]:
        """Everything seen so far, including what the page's own hook recorded."""
        try:
            found = page.evaluate("window.__xss || []")
        except Exception as exc:  # a page that navigated away mid-check is a finding too
            found = [f"evaluate failed: {exc}"]
        return self.events + [f"in page: {x}" for x in found]


class Session:
    """One signed-in browser context per user, reused by every test."""

    def __init__(self, browser, server: LiveServer):
        self.browser = browser
        self.server = server
        self.contexts: dict[tuple, tuple] = {}

    def context(self, username: str, *, phone: bool = False):
        key = (username, phone)
        if key not in self.contexts:
            options = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
                       "has_touch": True} if phone else {"viewport": {"width": 1280, "height": 900}}
            context = self.browser.new_context(base_url=self.server.base_url, locale="zh-CN", **options)
            context.set_default_timeout(10_000)
            watch = Watch(context)
            page = context.new_page()
            login(page, username)
            self.contexts[key] = (context, watch, page)
        return self.contexts[key]

    def page(self, username: str, *, phone: bool = False):
        """The user's page (the same tab every time) and its watcher."""
        context, watch, page = self.context(username, phone=phone)
        return page, watch

    def close(self):
        for context, _, _ in self.contexts.values():
            context.close()


def login(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/login" not in page.url, f"{username} could not log in"


@pytest.fixture(scope="session")
def sessions(browser, live_server):
    s = Session(browser, live_server)
    yield s
    s.close()


def shot(page, name: str) -> None:
    """Full-page screenshot under test-output/browser/."""
    page.screenshot(path=str(SHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"), full_page=True)


def csrf_token(page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value")
