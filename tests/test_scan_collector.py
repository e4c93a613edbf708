"""The cyclic garbage collector is off while a long text is scanned and back
as it was after it: with scans in several threads at once, after a scan that
raised, and when it was off before the scan (then it stays off). A short text
leaves it alone; long scans overlapping for too long collect as they end."""
from __future__ import annotations

import gc
import threading

import pytest

from review.scanning import ScanEngine, Term, WordLists
from review.scanning import engine as engine_module

LONG = "买大麻" + "。" * engine_module.PAUSE_FROM


@pytest.fixture()
def engine():
    return ScanEngine(WordLists(terms=(Term("大麻", "drugs", "high"),), allow=(), version="t"))


@pytest.fixture(autouse=True)
def collector_restored():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def _spy_on_matching(engine, during):
    """Call *during* (with the text) inside the scan, before matching."""
    find = engine._matcher.find

    def spying(text, *rest):
        during(text)
        return find(text, *rest)

    engine._matcher.find = spying


def test_collector_is_off_during_a_long_scan_and_on_after(engine):
    seen = []
    _spy_on_matching(engine, lambda text: seen.append(gc.isenabled()))
    gc.enable()
    assert [h.term for h in engine.scan(LONG)] == ["大麻"]
    assert seen == [False]
    assert gc.isenabled()


def test_a_short_text_leaves_the_collector_alone(engine):
    seen = []
    _spy_on_matching(engine, lambda text: seen.append(gc.isenabled()))
    gc.enable()
    engine.scan("买大麻")
    assert seen == [True]


def test_collector_stays_off_if_it_was_off(engine):
    gc.disable()
    engine.scan(LONG)
    assert not gc.isenabled()


def test_collector_is_back_after_a_scan_that_raised(engine):
    def boom(text):
        raise RuntimeError("matching failed")

    _spy_on_matching(engine, boom)
    gc.enable()
    with pytest.raises(RuntimeError):
        engine.scan(LONG)
    assert gc.isenabled()


def _overlapping_scans(engine, second_text):
    """A first long scan still runs while a second one, on *second_text*, starts and ends."""
    first_inside, second_done = threading.Event(), threading.Event()
    seen = {}

    def during(text):
        if text.startswith("first"):
            first_inside.set()
            assert second_done.wait(10)
            seen["first, after the second ended"] = gc.isenabled()

    _spy_on_matching(engine, during)
    gc.enable()
    first = threading.Thread(target=engine.scan, args=("first " + LONG,))
    first.start()
    assert first_inside.wait(10)
    engine.scan(second_text)
    seen["between"] = gc.isenabled()
    second_done.set()
    first.join(10)
    return seen


def test_overlapping_scans_in_threads_turn_it_back_on_only_when_the_last_ends(engine):
    assert _overlapping_scans(engine, "second " + LONG) == {"first, after the second ended": False, "between": False}
    assert gc.isenabled()


def test_scans_overlapping_too_long_collect_as_one_ends(engine, monkeypatch):
    monkeypatch.setattr(engine_module, "PAUSE_AT_MOST", 0.0)
    collections = []  # full collections while a scan held the collector off

    def record(phase, info):
        if phase == "start" and info["generation"] == 2 and engine_module._collector["scans"]:
            collections.append(info)

    gc.callbacks.append(record)
    try:
        _overlapping_scans(engine, "second " + LONG)
    finally:
        gc.callbacks.remove(record)
    assert collections
    assert gc.isenabled()
