"""The cyclic garbage collector is off while a scan runs and back as it was
after it: with scans in several threads at once, after a scan that raised,
and when it was off before the scan (then it stays off)."""
from __future__ import annotations

import gc
import threading

import pytest

from review.scanning import ScanEngine, Term, WordLists


@pytest.fixture()
def engine():
    return ScanEngine(WordLists(terms=(Term("大麻", "drugs", "high"),), allow=(), version="t"))


@pytest.fixture(autouse=True)
def collector_restored():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def _spy_on_matching(engine, during):
    """Call *during* (with the text) inside the scan, between matching and the rest."""
    find = engine._matcher.find

    def spying(text, *rest):
        during(text)
        return find(text, *rest)

    engine._matcher.find = spying


def test_collector_is_off_during_a_scan_and_on_after(engine):
    seen = []
    _spy_on_matching(engine, lambda text: seen.append(gc.isenabled()))
    gc.enable()
    assert [h.term for h in engine.scan("买大麻")] == ["大麻"]
    assert seen == [False]
    assert gc.isenabled()


def test_collector_stays_off_if_it_was_off(engine):
    gc.disable()
    engine.scan("买大麻")
    assert not gc.isenabled()


def test_collector_is_back_after_a_scan_that_raised(engine):
    def boom(text):
        raise RuntimeError("matching failed")

    _spy_on_matching(engine, boom)
    gc.enable()
    with pytest.raises(RuntimeError):
        engine.scan("买大麻")
    assert gc.isenabled()


def test_overlapping_scans_in_threads_turn_it_back_on_only_when_the_last_ends(engine):
    first_inside, second_done = threading.Event(), threading.Event()
    seen = {}

    def during(text):
        if text == "first 大麻":
            first_inside.set()
            assert second_done.wait(10)
            seen["first, after the second ended"] = gc.isenabled()

    _spy_on_matching(engine, during)
    gc.enable()
    first = threading.Thread(target=engine.scan, args=("first 大麻",))
    first.start()
    assert first_inside.wait(10)
    engine.scan("second 大麻")
    seen["between"] = gc.isenabled()
    second_done.set()
    first.join(10)
    assert seen == {"first, after the second ended": False, "between": False}
    assert gc.isenabled()
