"""The cut tests read which characters stand side by side in a word (the
neighbour tables): terms whose characters stand together in no dictionary
word still make the positions between them crossed, and the verdicts stay
jieba's; a segment that must be widened for the HMM is remembered as such."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.scanning import ScanEngine, dictionary, load_wordlists, normalize
from review.scanning.confidence import Neighbours, neighbour_tables, word_neighbours
from review.scanning.engine import _private_tokenizer

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


def test_the_terms_pairs_are_in_the_engines_tables(engine):
    judge = engine._judge
    for term in RARE_TERMS:
        for a, b in zip(term, term[1:]):
            assert a in judge._before[b][0] and b in judge._after[a][0]
            assert a not in dictionary.base_neighbours().sides[0].get(b, ("",))[0]  # the dictionary has none


def test_tables_from_pairs_are_the_tables_word_by_word():
    words = ["中国", "中国人", "国人", "a1", "鱻龘靐", "Ｔ恤", "家"]
    built = word_neighbours(words)
    assert {c: set(two) for c, (two, _) in built[0].items() if two} == {"国": {"中"}, "人": {"国"}, "1": {"a"}}
    assert {c: set(longer) for c, (_, longer) in built[1].items() if longer} == {
        "中": {"国"}, "国": {"人"}, "鱻": {"龘"}, "龘": {"靐"}}  # Ｔ is no block character
    more = neighbour_tables((set(), {ord("靐") << 21 | ord("中")}))
    assert more == ({"中": ("", "靐")}, {"靐": ("", "中")})
    before, after = Neighbours(built).joined(more)
    assert set(before["中"][0]) == {"靐"} and before["中"][1] == ""
    assert set(after["中"][0]) == {"国"} and set(before["国"][0]) == {"中"} and before["国"][1] == "中"
    assert set(before["龘"][0]) == {"鱻"} and before["龘"][1] == ""


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
