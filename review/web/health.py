"""GET /healthz: is the database answering, is Redis answering, is a scan
worker alive. JSON; 200 when all three are, 503 otherwise. No login (load
balancers and monitors call it) and nothing in it names a user or a draft."""
from __future__ import annotations

import time

from flask import Blueprint, jsonify
from sqlalchemy import text

from review.web.context import runtime

bp = Blueprint("health", __name__)


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check() or {}
        ok = detail.pop("ok", True)
        result = {"ok": ok, **detail}
    except Exception as exc:  # any failure of a dependency is a finding, not a 500
        result = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database():
    with runtime().db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis():
    runtime().redis.ping()


def _workers():
    from workers.status import workers

    alive = workers(runtime())
    return {"ok": bool(alive), "count": len(alive),
            "heartbeats": [{"state": w.state, "last_heartbeat": w.last_heartbeat, "age_s": w.heartbeat_age_s}
                           for w in alive]}


@bp.get("/healthz")
def healthz():
    checks = {"database": _timed(_database), "redis": _timed(_redis)}
    checks["workers"] = _timed(_workers) if checks["redis"]["ok"] else {"ok": False, "error": "Redis 不可用"}
    ok = all(c["ok"] for c in checks.values())
    response = jsonify({"status": "ok" if ok else "fail", **checks})
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response
