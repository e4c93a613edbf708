"""The scan engine's shortcuts agree with the plain ways they replace:
bulk folding, offsets mapped back with numpy, jieba's frequencies for
added terms, the batch verdicts, and the dictionary cache on disk."""
from __future__ import annotations

import random

import jieba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from review.scanning import dictionary, normalize
from review.scanning.confidence import Judge, trigram_bitmap
from review.scanning.engine import Found

PIECES = list("中国人民大麻家的了是在ab1Z，。 *\u200b\tⅡ⑵⑩Ａ１①İ") + ["    ", "\U0001F600", "\r\n", "\x00"]


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=8).map("".join), max_size=12))
def test_fold_terms_is_fold_term_of_each(terms):
    assert normalize.fold_terms(terms) == [normalize.fold_term(t) for t in terms]


def test_fold_terms_with_a_newline_inside_a_term():
    terms = ["大\n麻", "冰毒"]
    assert normalize.fold_terms(terms) == [normalize.fold_term(t) for t in terms]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=20).map("".join))
def test_span_arrays_map_every_span_as_folded_span_does(text):
    folded = normalize.fold(text)
    n = len(folded.text)
    spans = [(i, j + 1) for i in range(n) for j in range(i, n)]
    if not spans:
        return
    firsts, ends = (np.array(column, dtype=np.int64) for column in zip(*spans))
    starts, original_ends, one_for_one = normalize.span_arrays(folded, firsts, ends)
    seen = normalize.token_text(text)
    for (i, j), start, end, plain in zip(spans, starts.tolist(), original_ends.tolist(), one_for_one.tolist()):
        assert (start, end) == folded.span(i, j)
        # One for one: what jieba reads there is the folded text (a key never holds a barrier).
        assert plain == (end - start == j - i and not any(
            len(normalize.fold_term(ch)) > 1 for ch in text[start:end]))
        if plain and normalize.BARRIER not in folded.text[i:j]:
            assert seen[start:end] == folded.text[i:j]


def _jieba_reference(terms):
    """What the engine did before: a jieba.Tokenizer, suggest_freq and add_word term by term."""
    base = dictionary.base()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ = dict(base.FREQ)
    tokenizer.total = base.total
    tokenizer.initialized = True
    for term in sorted(set(terms)):
        freq = max(base.FREQ.get(term) or 0, tokenizer.suggest_freq(term, tune=False))
        tokenizer.add_word(term, freq=max(freq, 1))
    return tokenizer.FREQ, tokenizer.total


def test_added_terms_get_jiebas_frequencies():
    rnd = random.Random(7)
    chars = list("中国人民大麻家的了是在烦哈鱼abcxyz019") + ["ア", "가", "é", "Ω", " "]
    terms = {"".join(rnd.choice(chars) for _ in range(rnd.randrange(1, 6))) for _ in range(600)}
    terms |= {"大麻", "麻烦", "ab", "a1", "中国人民", "家家"}
    freq, total = dictionary.add_terms(terms)
    ref_freq, ref_total = _jieba_reference(terms)
    assert total == ref_total
    assert freq == ref_freq


def _judge(terms) -> Judge:
    """A Judge as the engine makes one (the base dictionary's filter, the terms added)."""
    freq, total = dictionary.add_terms(terms)
    return Judge(freq, total, trigram_bitmap(terms, bytearray(dictionary.base_bitmap())))


def _verdicts(judge: Judge, tok: str, matches) -> list:
    """judge.verdicts() of ``(start, end, key, clean)`` rows."""
    found = Found.of_rows(matches, [])
    return judge.verdicts(tok, found.starts, found.ends, found.keys, found.clean)


def test_batch_verdicts_are_judges_one_by_one():
    """verdicts() (the scan's batch path) and judge() (one match at a time) agree."""
    terms = ["大麻", "麻烦", "中国", "人民", "国人", "家", "的", "新年", "快乐", "ab"]
    freq, total = dictionary.add_terms(terms)
    judge = _judge(terms)
    rnd = random.Random(3)
    alphabet = list("中国人民大麻烦家的新年快乐我们，。ab1 ")
    for _ in range(300):
        tok = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 40)))
        matches = sorted((i, i + len(t), t, True) for t in terms for i in range(len(tok)) if tok.startswith(t, i))
        fresh = Judge(freq, total, judge._bitmap)
        assert _verdicts(judge, tok, matches) == [fresh.judge(tok, s, e) for s, e, _, _ in matches]


# --- the dictionary cache ---------------------------------------------------

@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(dictionary.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(dictionary, "_bitmap", None)
    return tmp_path


def test_the_cut_point_filter_is_built_once_then_read_back(cache_dir, monkeypatch):
    built = dictionary.base_bitmap()
    assert dictionary.last_load()["bitmap"] == "built+saved"
    (path,) = cache_dir.glob("dict-facts-*.bin")
    monkeypatch.setattr(dictionary, "_bitmap", None)
    assert dictionary.base_bitmap() == built
    assert dictionary.last_load()["bitmap"] == "cache"
    base = dictionary.base()
    assert built == bytes(trigram_bitmap(w for w, f in base.FREQ.items() if f))


def test_a_damaged_or_foreign_cache_file_is_not_used(cache_dir, monkeypatch):
    built = dictionary.base_bitmap()
    (path,) = cache_dir.glob("dict-facts-*.bin")
    key = dictionary.dictionary_key(dictionary.base())
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # one bit of the payload
    path.write_bytes(bytes(data))
    assert dictionary._read(path, key) is None
    path.write_bytes(b"0" * 64 + path.read_bytes()[64:])  # another dictionary's key
    assert dictionary._read(path, key) is None
    path.write_bytes(path.read_bytes()[:1000])  # cut short
    assert dictionary._read(path, key) is None
    monkeypatch.setattr(dictionary, "_bitmap", None)
    assert dictionary.base_bitmap() == built
    assert dictionary.last_load()["bitmap"] == "built+saved"  # rebuilt, and the file replaced
    assert dictionary._read(path, key).startswith(built)


def test_the_key_follows_the_dictionary(tmp_path):
    base = dictionary.base()
    other = jieba.Tokenizer()
    other.FREQ = dict(base.FREQ)
    other.total = base.total + 1  # what jieba loaded differs
    other.get_dict_file = base.get_dict_file
    assert dictionary.dictionary_key(other) != dictionary.dictionary_key(base)
    custom = tmp_path / "dict.txt"
    custom.write_text("中国 10 ns\n", encoding="utf-8")
    other = jieba.Tokenizer(str(custom))
    other.FREQ, other.total = dict(base.FREQ), base.total
    assert dictionary.dictionary_key(other) != dictionary.dictionary_key(base)


def test_an_unwritable_cache_directory_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(dictionary.CACHE_ENV, str(blocker / "sub"))
    monkeypatch.setattr(dictionary, "_bitmap", None)
    bitmap = dictionary.base_bitmap()
    assert dictionary.last_load()["bitmap"] == "built"
    assert len(bitmap) == len(trigram_bitmap([]))


# --- the text confidence reads, taken from the folded text ------------------

JIEBA_BLOCK_SYMBOLS = "+#&._%-"


def test_confidence_text_differs_from_token_text_only_where_jieba_sees_no_block():
    """Every BMP character: the folded one-for-one form (what confidence_text
    starts from) holds the token text's character wherever that is a jieba
    block character, except the seven ASCII symbols it puts back, and a
    non-block character wherever the token text has one."""
    from review.scanning.confidence import BLOCK_CHARS

    match_table, token_table, _, _ = normalize._tables()
    restored = set()
    for cp in range(0x10000):
        token, match = token_table[cp], match_table[cp]
        if token in BLOCK_CHARS:
            if match != token:
                assert match == normalize.BARRIER
                restored.add(chr(cp))
        else:
            assert match not in BLOCK_CHARS, hex(cp)
    assert restored == set(JIEBA_BLOCK_SYMBOLS)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES + list(JIEBA_BLOCK_SYMBOLS) + ["-----", "1.5%", "C++", "a_b"]),
                max_size=20).map("".join))
def test_confidence_text_agrees_with_token_text_on_jiebas_blocks(text):
    from review.scanning.confidence import BLOCK_CHARS

    seen = normalize.confidence_text(text, normalize.fold(text))
    tok = normalize.token_text(text)
    assert len(seen) == len(tok)
    for a, b in zip(seen, tok):
        assert a == b if b in BLOCK_CHARS else a not in BLOCK_CHARS


def test_verdicts_on_confidence_text_are_those_on_token_text():
    terms = ["大麻", "麻烦", "中国", "人民", "国人", "家", "的", "新年", "快乐", "ab", "c++", "1.5"]
    freq, total = dictionary.add_terms(terms)
    judge = _judge(terms)
    bitmap = judge._bitmap
    rnd = random.Random(5)
    alphabet = list("中国人民大麻烦家的新年快乐我们，。ab1c ") + list(JIEBA_BLOCK_SYMBOLS) + ["\u200b", "----", "++"]
    for _ in range(400):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 40)))
        tok = normalize.token_text(text)
        seen = normalize.confidence_text(text, normalize.fold(text))
        matches = sorted((i, i + len(t), t, None) for t in terms for i in range(len(tok)) if tok.startswith(t, i))
        assert _verdicts(judge, seen, matches) == _verdicts(Judge(freq, total, bitmap), tok, matches)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "中", normalize.BARRIER, normalize.BARRIER * 3, normalize.BARRIER * 4,
                                 normalize.BARRIER * 9]), max_size=15).map("".join))
def test_long_runs_are_marked_at_their_first_barrier(translated):
    """The head of every run of more than MAX_GAP barriers, and nothing else, is marked."""
    import re

    b, gap = normalize.BARRIER, normalize.MAX_GAP
    reference = re.sub(f"(?<!{b}){b}(?={b}{{{gap}}})", normalize._KEPT_BARRIER, translated)
    assert normalize._mark_long_runs(translated) == reference
