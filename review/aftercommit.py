"""Work that may only happen once a transaction is committed.

The domain says what is owed (`defer(session, "deliver", id)`): a delivery
to enqueue, a deadline to schedule, the audit head to witness. Whoever runs
the process registers a handler per kind for its engine (`register`). After
the outermost commit the handlers get the items; after a rollback they are
dropped. A handler's failure is logged, never raised: the change is already
committed, and sweeps pick up whatever was not handed on.
"""
from __future__ import annotations

import logging
import weakref

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_KEY = "after_commit"
_handlers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # engine -> {kind: handler}


def defer(session: Session, kind: str, item) -> None:
    session.info.setdefault(_KEY, {}).setdefault(kind, []).append(item)


def register(engine, kind: str, handler) -> None:
    _handlers.setdefault(engine, {})[kind] = handler


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    pending = session.info.pop(_KEY, None)
    if not pending:
        return
    handlers = _handlers.get(session.bind, {}) if session.bind is not None else {}
    for kind, items in pending.items():
        handler = handlers.get(kind)
        if handler is None:
            continue
        try:
            handler(items)
        except Exception:  # committed already: never fail the caller
            log.exception("after-commit %s failed for %s", kind, items)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
