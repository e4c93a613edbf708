"""Request-scoped access to the runtime and a database session."""
from __future__ import annotations

from flask import current_app, g
from sqlmodel import Session


def runtime():
    return current_app.extensions["imprimatur"]


def db_session() -> Session:
    """One session per request, closed (and rolled back if uncommitted) at teardown."""
    if "db_session" not in g:
        g.db_session = runtime().db.session()
    return g.db_session
