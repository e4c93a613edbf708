"""``flask scan [--wordlists DIR] [--all] PATH...`` — the stable scan contract.

One JSON object per input, one line each::

    {"path": ..., "wordlist_version": ..., "flags": [{term, category, severity,
     confidence, rule, start, end, text}, ...]}

Offsets are character offsets into the input exactly as read (UTF-8,
newlines untouched).  Exit 0 whether or not anything was flagged; exit 2 with
a one-line message on stderr for an unreadable or non-UTF-8 input or a bad
word list.  All inputs are read before anything is printed, so a bad input
never leaves half of the output behind.

Register it with ``app.cli.add_command(scan_command)``; ``flask`` then runs it
inside an app context and the configured lists and database terms are used.
"""
from __future__ import annotations

import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import click
from flask import current_app, has_app_context
from flask.cli import NoAppException, ScriptInfo

from review.scanning.engine import ScanEngine
from review.scanning.wordlists import WordListError, load_wordlists

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DB_TERMS_EXTENSION = "imprimatur_db_terms"


class _BadInput(Exception):
    """An input or word list that makes the command exit with status 2."""


@click.command("scan")
@click.option("--wordlists", "wordlist_dir", metavar="DIR", default=None,
              help="Word-list directory to use instead of the configured one (files only).")
@click.option("--all", "include_low", is_flag=True,
              help="Also report low-confidence flags.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def scan_command(wordlist_dir: str | None, include_low: bool, paths: tuple[str, ...]) -> None:
    """Scan files ('-' for standard input) and print one JSON line per input."""
    try:
        with _app_context():
            engine = _engine(wordlist_dir)
        texts = [(path, _read(path)) for path in paths]
    except (_BadInput, WordListError) as exc:
        _fail(str(exc))
        return

    for path, text in texts:
        record = {
            "path": path,
            "wordlist_version": engine.version,
            "flags": [hit.as_dict() for hit in engine.scan(text, include_low=include_low)],
        }
        # Bytes, so the output is UTF-8 whatever the locale says.
        click.echo(json.dumps(record, ensure_ascii=False).encode("utf-8"))


def _app_context():
    """The active app context, or one for the app a ``flask`` CLI runner supplies.

    ``flask scan`` already runs inside an app context; ``app.test_cli_runner()``
    only hands over a :class:`ScriptInfo`, so the app is loaded from that.
    """
    if has_app_context():
        return nullcontext()
    info = click.get_current_context().find_object(ScriptInfo)
    if info is None:
        return nullcontext()
    try:
        app = info.load_app()
    except NoAppException:
        return nullcontext()  # no app: fall back to $WORDLIST_DIR / ./wordlists
    return app.app_context()


def _engine(wordlist_dir: str | None) -> ScanEngine:
    """Build the engine from --wordlists, the app's config, $WORDLIST_DIR or ./wordlists."""
    if wordlist_dir is not None:
        return ScanEngine(load_wordlists(wordlist_dir))
    extra = ()
    directory = None
    if has_app_context():
        directory = current_app.config.get("WORDLIST_DIR")
        loader = current_app.extensions.get(DB_TERMS_EXTENSION)
        if loader is not None:
            try:
                extra = tuple(loader())
            except Exception as exc:  # the contract promises one line, not a traceback
                raise _BadInput(f"cannot load database terms: {exc}") from None
    directory = directory or os.environ.get("WORDLIST_DIR") or PROJECT_ROOT / "wordlists"
    return ScanEngine(load_wordlists(directory, extra))


def _read(path: str) -> str:
    """The whole input as text; bytes are decoded directly so "\\r\\n" stays two characters."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        raise _BadInput(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _BadInput(f"{path}:{line}: not valid UTF-8") from None


def _fail(message: str) -> None:
    """One line on stderr, exit status 2."""
    click.echo(f"scan: error: {' '.join(message.split())}", err=True)
    click.get_current_context().exit(2)


__all__ = ["scan_command"]
