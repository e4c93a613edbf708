"""The cut tests: numpy's (cutpoints.CutTest, every match edge at once) are
the Python ones (one position at a time), bit for bit; terms whose characters
stand together in no dictionary word still make the positions between them
crossed, and the verdicts stay jieba's; a segment that must be widened for
the HMM is remembered as such."""
from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.scanning import ScanEngine, dictionary, load_wordlists, normalize
from review.scanning.confidence import BLOCK_CHARS, REACH, Judge, _crossing_test
from review.scanning.cutpoints import check_hash, tuple_hash
from review.scanning.engine import _private_tokenizer, _window

# Characters that stand side by side in no word of jieba's dictionary (鱻龘, 龘靐, ...).
RARE_TERMS = ["鱻龘", "龘靐", "鱻龘靐", "靐鱻", "中龘", "龘国", "家靐家"]
COMMON_TERMS = ["中国", "国人", "人民", "大家", "家", "的", "新年", "快乐"]
PIECES = list("鱻龘靐中国人民大家的新年快乐，。a1 ") + RARE_TERMS


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("lists")
    (directory / "words.txt").write_text("\n".join(RARE_TERMS + COMMON_TERMS) + "\n", encoding="utf-8")
    return ScanEngine(load_wordlists(directory))


@pytest.fixture(scope="module")
def jiebas(engine):
    tokenizer = _private_tokenizer(list(engine._terms))

    def verdict(tok: str, start: int, end: int) -> str:
        bounds = {0} | {e for _, _, e in tokenizer.tokenize(tok)}
        if any(q in bounds for q in range(start + 1, end)):
            return "low"
        return "high" if {start, end} <= bounds else "medium"

    return verdict


def test_the_terms_make_the_positions_inside_them_crossed(engine):
    base_only = _crossing_test(bytearray(dictionary.base_bitmap()))
    crossed = engine._judge._crossed
    for term in RARE_TERMS:
        for q in range(1, len(term)):
            assert crossed(term, q)
            assert not base_only(term, q)  # the dictionary has no word with the two side by side


def test_numpys_tuple_hash_is_pythons():
    assert check_hash()
    rnd = random.Random(11)
    for width in (2, 3):
        rows = [tuple(rnd.choice([rnd.randrange(0x110000), rnd.randrange(0x4E00, 0x9FD6), 0])
                      for _ in range(width)) for _ in range(2000)]
        columns = [np.array(column, dtype=np.uint32) for column in zip(*rows)]
        assert tuple_hash(*columns).tolist() == [hash(row) & (2**64 - 1) for row in rows]


def _codes(tok: str) -> np.ndarray:
    return normalize.utf32_codes("\0" + tok + "\0")


ALPHABET = list("鱻龘靐中国人民大麻烦家的新年快乐我们，。ab1c+. ") + ["\u200b", "\ud800", "\U00020000"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(ALPHABET + RARE_TERMS), max_size=40).map("".join))
def test_numpys_cut_test_is_the_python_one(engine, tok):
    judge = engine._judge
    positions = np.arange(len(tok) + 1, dtype=np.int64)
    crossed = judge._cuts.crossed(_codes(tok), positions).tolist()
    assert crossed == [0 < q < len(tok) and judge._crossed(tok, q) for q in range(len(tok) + 1)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(ALPHABET + RARE_TERMS + COMMON_TERMS), min_size=1, max_size=60).map("".join),
       st.data())
def test_the_nearest_cuts_are_those_judge_finds(engine, tok, data):
    judge = engine._judge
    spans = data.draw(st.lists(st.tuples(st.integers(0, len(tok) - 1), st.integers(1, 4)), min_size=1, max_size=8))
    spans = [(s, min(s + length, len(tok))) for s, length in spans]
    starts, ends = (np.array(column, dtype=np.int64) for column in zip(*spans))
    found = [x.tolist() for x in judge._cuts.nearest_cuts(_codes(tok), starts, ends, REACH)]
    crossed = judge._crossed
    for i, (start, end) in enumerate(spans):
        lo, hi = max(start - REACH, 0), min(end + REACH, len(tok))
        left = start
        if start > lo and crossed(tok, start):  # judge()'s search (_settle), one position at a time
            left -= 1
            while left > lo and crossed(tok, left):
                left -= 1
        right = end
        if end < hi and crossed(tok, end):
            right += 1
            while right < hi and crossed(tok, right):
                right += 1
        open_left = left > lo and tok[left - 1] in BLOCK_CHARS
        open_right = right < hi and tok[right] in BLOCK_CHARS
        assert [column[i] for column in found] == [left, right, open_left, open_right], (tok, start, end)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join))
def test_confidence_with_rare_pairs_is_jiebas(engine, jiebas, text):
    tok = normalize.token_text(text)
    for hit in engine.scan(text, include_low=True):
        if tok[hit.start:hit.end] != hit.term:
            continue  # disguised (noise inside): judged on its clause without the noise
        assert hit.confidence == jiebas(tok, hit.start, hit.end), (text, hit)


def test_a_segment_widened_for_the_hmm_gives_the_same_verdict_from_the_memo(engine):
    # One-character terms between one-character tokens: the HMM may join them with what follows.
    text = "我祝大家新年快乐，在郭家和闫家的" * 3
    first = engine.scan(text, include_low=True)
    assert engine._judge._widen  # some segment had to be widened
    assert engine.scan(text, include_low=True) == first
    engine.forget_memos()
    assert engine.scan(text, include_low=True) == first


NOISY = PIECES + ["*", "\u200b", " - ", "，"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(NOISY), min_size=1, max_size=14).map("".join))
def test_disguised_matches_judged_together_get_their_verdicts_alone(engine, text):
    """The clauses of disguised matches are judged in one joined text: each as judge() sees it alone."""
    folded = normalize.fold(text)
    found = engine._matcher.find(text, folded)
    if not len(found):
        return
    tok = normalize.confidence_text(text, folded)
    verdicts = [None] * len(found)  # every match judged on its clause, as a disguised one is
    engine._judge_disguised(text, tok, found.starts.tolist(), found.ends.tolist(), found.keys, verdicts)
    freq, total = dictionary.add_terms(list(engine._terms))
    alone = Judge(freq, total, engine._judge._bitmap)
    for (start, end, key, _), verdict in zip(found.rows(), verdicts):
        lo, hi = _window(text, start, end)
        left, right = tok[lo:start], tok[end:hi]
        assert verdict == alone.judge(left + key + right, len(left), len(left) + len(key)), (text, key)
