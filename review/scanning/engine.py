"""The scan engine: word-list matching, jieba confidence, allow-list, PII.

One :class:`ScanEngine` is built from one :class:`WordLists` and is then
read-only, so it can be shared by threads.  :class:`EngineCache` keeps the
engine of a word-list directory current (hot reload).

Matching lives in :class:`_Matcher` alone: the later normalisation against
disguises (full width, traditional characters, noise between characters)
replaces that class and nothing else, as long as it keeps reporting spans
into the original text.
"""
from __future__ import annotations

import bisect
import gc
import re
import threading
import time
from itertools import chain, compress, repeat
from operator import attrgetter, itemgetter, ne
from typing import Callable, Iterable, NamedTuple

import ahocorasick_rs
import numpy as np

from review.scanning import detectors, dictionary, normalize
from review.scanning.confidence import Judge, trigram_bitmap
from review.scanning.wordlists import (
    Term, WordLists, load_wordlists, wordlist_fingerprint,
)

PII_CATEGORY = "pii"
HIDDEN_CATEGORY = "hidden"  # characters that change what is seen (detectors.direction_controls)

# A disguised match is judged on the clause around it with the noise taken
# out: up to this many characters on each side, cut earlier at clause punctuation.
WINDOW_MARGIN = 10
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
_CLAUSE_BREAKS = frozenset("。！？!?；;，,、：:\n\r\t…")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A text shorter than this maps its matches one by one (_Matcher.find): there numpy's fixed
# cost is as much as the mapping; on longer texts numpy maps them several times as fast.
ONE_BY_ONE_BELOW = 2_000  # characters


class Hit(NamedTuple):
    """One finding; ``start``/``end`` are character offsets into the original text.

    Immutable (a named tuple: a scan dense with matches makes 100,000 of
    them, and a frozen dataclass costs several times as much to build).
    """

    term: str
    category: str
    severity: str
    confidence: str
    rule: str
    start: int
    end: int
    text: str

    def as_dict(self) -> dict:
        """The JSON shape of the scan contract (DESIGN.md)."""
        return self._asdict()


# --- matching ---------------------------------------------------------------

CLEAN, NOISY, NOT_KNOWN = 1, 0, -1  # Found.clean


class Found(NamedTuple):
    """What _Matcher.find() found, as columns (numpy, but for the keys): a row
    per term match, spans into the original text; and the allow-list phrases."""

    starts: np.ndarray  # int64
    ends: np.ndarray
    keys: list[str]
    # CLEAN: no noise was dropped inside the match (the text jieba reads holds the key
    # there); NOISY: some was; NOT_KNOWN: a text with characters that fold to several
    clean: np.ndarray  # int8
    allowed: list[tuple[int, int]]

    @classmethod
    def of_rows(cls, rows: list[tuple[int, int, str, bool | None]], allowed: list[tuple[int, int]]) -> "Found":
        starts, ends, keys, clean = zip(*rows) if rows else ((), (), (), ())
        return cls(np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64), list(keys),
                   np.array([NOT_KNOWN if c is None else int(c) for c in clean], dtype=np.int8), allowed)

    def rows(self) -> list[tuple[int, int, str, bool | None]]:
        """``(start, end, key, clean)`` of each match, *clean* True, False or None (not known)."""
        return [(start, end, key, None if clean == NOT_KNOWN else clean == CLEAN) for start, end, key, clean
                in zip(self.starts.tolist(), self.ends.tolist(), self.keys, self.clean.tolist())]

    def __len__(self) -> int:  # the matches (a NamedTuple's length would be its fields)
        return len(self.keys)


_HIT_ORDER = attrgetter("start", "end", "term", "category", "rule")
_LISTED_ORDER = itemgetter(0, 1, 3)  # (term, category, rule)


class _Matcher:
    """Every occurrence of every folded key, overlapping ones included.

    The text is folded first (normalize.fold): disguises are undone and noise
    between characters dropped; each match is reported with its span in the
    original text.  A key that begins (ends) with a Latin letter or digit
    only matches where the original text does not continue with one before
    (after) it, so ``av`` is not found inside ``have``.

    The automaton is ahocorasick_rs (Rust): one call returns every match of a
    text as a list, 0.14 s for 1.86 M characters and 50,000 keys where
    stepping through pyahocorasick's iterator took 0.37 s.  It reads UTF-8, so a lone surrogate (valid in
    a Python str, not in UTF-8) is replaced by BARRIER in what it reads (no
    key holds BARRIER); the rare key holding one is found by str.find.
    """

    def __init__(self, terms: Iterable[str], allow: Iterable[str]):
        terms, allow = set(terms), set(allow)
        keys = sorted(terms | allow)
        edges = {k[0] for k in keys} | {k[-1] for k in keys}
        latin = {ch: _is_word(ch) for ch in edges}
        odd = set(_SURROGATE.findall("".join(keys)))
        self._odd = [(k, len(k)) for k in keys if odd and any(ch in odd for ch in k)]
        plain = [k for k in keys if not (odd and any(ch in odd for ch in k))]
        # By the automaton's pattern index: (Latin head, Latin tail, allow-list phrase, key if a term key)
        self._info = [(latin[k[0]], latin[k[-1]], k in allow, k if k in terms else None) for k in plain]
        self._odd_info = [(latin[k[0]], latin[k[-1]], k in allow, k if k in terms else None) for k, _ in self._odd]
        # By pattern index, the odd keys' after the automaton's (as _raw() numbers them)
        self._bits = np.array([_pattern_bits(*facts) for facts in self._info + self._odd_info], dtype=np.uint8)
        self._automaton = ahocorasick_rs.AhoCorasick(plain) if plain else None
        self.active = bool(plain or self._odd)  # False: there is nothing to find

    def _raw(self, folded: str) -> list[tuple[int, int, int]]:
        """(pattern index, start, end) of every key in *folded*, in the order of their end."""
        found: list = []
        if self._automaton is not None:
            try:
                found = self._automaton.find_matches_as_indexes(folded, overlapping=True)
            except UnicodeEncodeError:  # a lone surrogate: one character for one, so spans stay
                found = self._automaton.find_matches_as_indexes(
                    _SURROGATE.sub(normalize.BARRIER, folded), overlapping=True)
        if self._odd:
            base = len(self._info)
            for i, (key, length) in enumerate(self._odd):
                at = folded.find(key)
                while at >= 0:
                    found.append((base + i, at, at + length))
                    at = folded.find(key, at + 1)
            found.sort(key=itemgetter(2))
        return found

    def find(self, text: str, folded: normalize.Folded | None = None) -> Found:
        """Every term key and allow-list phrase in *text*, spans into the
        original *text*, in the order of their end in the folded text
        (*folded*: normalize.fold(text), if the caller has it)."""
        rows: list = []
        allowed: list = []
        if not self.active or not text:
            return Found.of_rows(rows, allowed)
        if folded is None:
            folded = normalize.fold(text)
        found = self._raw(folded.text)
        if not found:
            return Found.of_rows(rows, allowed)
        info = self._info + self._odd_info if self._odd else self._info
        last = len(text)
        is_word_char = normalize.is_word_char
        # A short text: map each match by itself (Folded.span, a cursor that
        # counts dropped characters from match to match) rather than find every
        # dropped character of the text first (normalize.span_arrays).
        mapped = None
        if len(text) >= ONE_BY_ONE_BELOW:
            columns = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=3 * len(found))
            index, s, e = columns[0::3], columns[1::3], columns[2::3]
            mapped = normalize.span_arrays(folded, s, e)
        if mapped is None:
            # Known one for one (a Folded with no dense form, from tests, tells nothing).
            plain = folded.expands is False
            for (index, s, e), (start, end) in zip(found, folded.spans(found)):
                latin_head, latin_tail, is_allow, key = info[index]
                if latin_head and start > 0 and is_word_char(text[start - 1]):
                    continue
                if latin_tail and end < last and is_word_char(text[end]):
                    continue
                if is_allow:
                    allowed.append((start, end))
                if key is not None:
                    # Noise dropped inside the match iff it is longer in the original.
                    rows.append((start, end, key, (end - start == e - s) if plain else None))
            return Found.of_rows(rows, allowed)

        starts, ends, one_for_one = mapped
        bits = self._bits[index]  # a copy (fancy indexing)
        latin = np.flatnonzero(bits & (_LATIN_HEAD | _LATIN_TAIL))
        if latin.size:  # a Latin key matches whole words only
            for i, flags, start, end in zip(latin.tolist(), bits[latin].tolist(), starts[latin].tolist(),
                                            ends[latin].tolist()):
                if ((flags & _LATIN_HEAD and start > 0 and is_word_char(text[start - 1]))
                        or (flags & _LATIN_TAIL and end < last and is_word_char(text[end]))):
                    bits[i] = 0
        allow = np.flatnonzero(bits & _ALLOW)
        if allow.size:
            allowed = list(zip(starts[allow].tolist(), ends[allow].tolist()))
        term = np.flatnonzero(bits & _TERM)
        keys = list(map(itemgetter(3), map(info.__getitem__, index[term].tolist())))
        return Found(starts[term], ends[term], keys, one_for_one[term].astype(np.int8), allowed)


# _Matcher's facts about a pattern, as bits (the dense path reads them for every match at once)
_LATIN_HEAD, _LATIN_TAIL, _ALLOW, _TERM = 1, 2, 4, 8


def _pattern_bits(latin_head: bool, latin_tail: bool, is_allow: bool, key: str | None) -> int:
    return (latin_head * _LATIN_HEAD) | (latin_tail * _LATIN_TAIL) | (is_allow * _ALLOW) | ((key is not None) * _TERM)


def _is_word(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ("\u00c0" <= ch <= "\u024f" and ch.isalpha())


# --- jieba confidence -------------------------------------------------------

_base = dictionary.base  # jieba's default dictionary, once per process
_private_tokenizer = dictionary.private_tokenizer  # the engine's dictionary as a jieba tokenizer (tests)


def preload() -> None:
    """Load now what every engine in this process shares (about a second, once).

    jieba's dictionary, the cut-point filter of it (from its cache file, see
    review.scanning.dictionary), the folding tables and the detectors' patterns
    over full-width text; otherwise the first
    engine built loads them.
    """
    dictionary.base_bitmap(dictionary.base())
    normalize.warm_up()
    detectors.warm_up()


def _window(text: str, start: int, end: int) -> tuple[int, int]:
    """The clause around ``text[start:end]``, at most WINDOW_MARGIN chars each side."""
    lo = max(0, start - WINDOW_MARGIN)
    while start > lo and text[start - 1] not in _CLAUSE_BREAKS:
        start -= 1
    hi = min(len(text), end + WINDOW_MARGIN)
    while end < hi and text[end] not in _CLAUSE_BREAKS:
        end += 1
    return start, end


# --- the engine -------------------------------------------------------------

class ScanEngine:
    """Scans texts against one set of word lists; immutable once built."""

    def __init__(self, wordlists: WordLists):
        self.wordlists = wordlists
        self.version = wordlists.version
        # folded key -> (term, category, severity, rule) of each listed term it stands for
        self._terms: dict[str, list[tuple[str, str, str, str]]] = {}
        terms = wordlists.terms
        for term, key in zip(terms, normalize.fold_terms([t.term for t in terms])):
            listed = self._terms.get(key)
            entry = (term.term, term.category, term.severity, "wordlist:" + term.category)
            if listed is None:
                self._terms[key] = [entry]
            else:
                listed.append(entry)
                listed.sort(key=_LISTED_ORDER)  # the order hits are reported in
        self._allow = frozenset(normalize.fold_terms(wordlists.allow))
        base = dictionary.base()
        self._matcher = _Matcher(self._terms, self._allow)
        freq, total = dictionary.add_terms(self._terms)  # jieba reads folded text
        bitmap = trigram_bitmap(self._terms, bytearray(dictionary.base_bitmap(base)))
        self._judge = Judge(freq, total, bitmap)

    def scan(self, text: str, include_low: bool = False) -> list[Hit]:
        """Every finding in *text*, sorted by (start, end, term).

        ``low`` confidence hits are left out unless *include_low*.
        """
        if not isinstance(text, str):
            raise TypeError(f"scan() needs str, not {type(text).__name__}")
        if len(text) < PAUSE_FROM:
            return self._scan(text, include_low)
        _collector_pause()
        try:
            return self._scan(text, include_low)
        finally:
            _collector_resume()

    def _scan(self, text: str, include_low: bool) -> list[Hit]:
        folded = normalize.fold(text) if text and self._matcher.active else None
        matched = self._matcher.find(text, folded)
        suppressed = _Suppressor(matched.allowed)
        hits: list[Hit] = []
        shared_span = False
        if len(matched):
            shared_span = self._term_hits(text, folded, matched, suppressed, include_low, hits)
        full_width = _FULL_WIDTH.search(text) is not None

        # Full-width digits and letters are read as ASCII; offsets stay (one for one).
        # detect_folded() is detect(normalize.token_text(text)), translating only around candidates.
        pii = False
        for rule, start, end in (detectors.detect_folded(text) if full_width else detectors.detect(text)):
            if not suppressed(start, end):
                number = text[start:end]
                hits.append(Hit(number, PII_CATEGORY, "high", "high", rule, start, end, number))
                pii = True

        for rule, start, end in detectors.direction_controls(text):
            controls = text[start:end]
            hits.append(Hit(detectors.code_points(controls), HIDDEN_CATEGORY, "high", "high", rule, start, end,
                            controls))
            pii = True  # out of order too

        if pii or shared_span:
            hits.sort(key=_HIT_ORDER)
        return hits

    def _term_hits(self, text: str, folded: normalize.Folded, matched: Found, suppressed: "_Suppressor",
                   include_low: bool, hits: list[Hit]) -> bool:
        """Append the hits of the term matches, in order; True if two keys
        matched one span (then the hits may need sorting by term)."""
        starts, ends, keys, clean = matched.starts, matched.ends, matched.keys, matched.clean
        if matched.allowed:
            keep = ~suppressed.spans(starts, ends)
            starts, ends, clean = starts[keep], ends[keep], clean[keep]
            keys = list(compress(keys, keep.tolist()))
        # The order hits are reported in (then no sort of the hits themselves).
        order = np.lexsort((ends, starts))
        starts, ends, clean = starts[order], ends[order], clean[order]
        keys = list(map(keys.__getitem__, order.tolist()))
        # Two keys over one span stand side by side now (their order is not yet the terms').
        shared_span = bool(((starts[1:] == starts[:-1]) & (ends[1:] == ends[:-1])).any())

        # What jieba reads, where confidence can tell (from the folded text: no second pass).
        tok = normalize.confidence_text(text, folded) if keys else text
        verdicts = self._judge.verdicts(tok, starts, ends, keys, clean)
        starts, ends = starts.tolist(), ends.tolist()
        if None in verdicts:  # noise inside some matches
            self._judge_disguised(text, tok, starts, ends, keys, verdicts)
        terms = self._terms
        append = hits.append
        new = tuple.__new__
        shown = zip(starts, ends, keys, verdicts)
        if not include_low:
            shown = compress(shown, map(ne, verdicts, repeat("low")))
        for start, end, key, confidence in shown:
            found = text[start:end]
            for term, category, severity, rule in terms[key]:  # sorted by term, category, rule
                append(new(Hit, (term, category, severity, confidence, rule, start, end, found)))
        return shared_span

    def forget_memos(self) -> None:
        """Forget what earlier scans taught the engine (benchmarks: the next scan runs cold)."""
        self._judge.forget()

    def _judge_disguised(self, text: str, tok: str, starts: list, ends: list, keys: list, verdicts: list) -> None:
        """Judge each disguised match (verdict None: noise inside it) on its
        clause with the noise taken out, in place.

        ``百*家*乐`` is read as ``百家乐``. Every other match is judged
        against jieba's segmentation of the text itself: jieba reads the
        folded text (traditional characters simplified, full width undone),
        one character for one, so token offsets are original offsets
        (:mod:`review.scanning.confidence` works out jieba's verdict from the
        few characters around the match).

        The clauses are judged together, joined by a line break: it is no
        character of jieba's blocks, so a cut point no route or search
        crosses, and each clause gets the verdict it would get alone.
        """
        clauses: list[str] = []
        where, at_start, at_end, clause_keys = [], [], [], []
        at = 0
        i = verdicts.index(None)
        while True:
            start, end, key = starts[i], ends[i], keys[i]
            lo, hi = _window(text, start, end)
            left, right = tok[lo:start], tok[end:hi]
            clauses.append(left + key + right)
            at_start.append(at + len(left))
            at_end.append(at + len(left) + len(key))
            clause_keys.append(key)
            at += len(left) + len(key) + len(right) + 1
            where.append(i)
            try:
                i = verdicts.index(None, i + 1)
            except ValueError:
                break
        judged = self._judge.verdicts("\n".join(clauses), np.array(at_start, dtype=np.int64),
                                      np.array(at_end, dtype=np.int64), clause_keys,
                                      np.full(len(where), CLEAN, dtype=np.int8))
        for i, verdict in zip(where, judged):
            verdicts[i] = verdict


# --- the cyclic garbage collector during a scan -------------------------------
#
# A scan makes no reference cycles, but it makes one long-lived tracked object
# per hit (a Hit is a tuple subclass, which the collector never untracks), and
# their number sets off full collections that walk the whole heap: two per
# scan of 1.86 M characters at 50,000 terms, 0.2 s of its 1.6 s.  So the
# collector is off while a long text is scanned (a count shared by threads);
# what was allocated meanwhile is seen by the next collection as usual.  Short
# texts (web requests, most drafts) make too few hits to set off a full
# collection and leave it alone; should long scans overlap for more than
# PAUSE_AT_MOST seconds, the one ending collects (the rest of the process may
# make cycles meanwhile).

PAUSE_FROM = 20_000   # characters
PAUSE_AT_MOST = 10.0  # seconds
_collector_lock = threading.Lock()
_collector = {"scans": 0, "was_enabled": False, "since": 0.0}


def _collector_pause() -> None:
    with _collector_lock:
        if _collector["scans"] == 0:
            _collector["was_enabled"] = gc.isenabled()
            _collector["since"] = time.monotonic()
            gc.disable()
        _collector["scans"] += 1


def _collector_resume() -> None:
    collect = False
    with _collector_lock:
        _collector["scans"] -= 1
        if _collector["scans"] == 0:
            if _collector["was_enabled"]:
                gc.enable()
        elif _collector["was_enabled"] and time.monotonic() - _collector["since"] > PAUSE_AT_MOST:
            _collector["since"] = time.monotonic()
            collect = True
    if collect:
        gc.collect()


class _Suppressor:
    """Answers "does an allow-list occurrence contain this span?" in O(log n)."""

    def __init__(self, spans: list[tuple[int, int]]):
        spans = sorted(spans)
        self._starts = [s for s, _ in spans]
        self._max_end: list[int] = []
        best = -1
        for _, e in spans:
            best = max(best, e)
            self._max_end.append(best)

    def __call__(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and self._max_end[i] >= end

    def spans(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The same for each span of the columns, as a bool array."""
        if not self._starts:
            return np.zeros(len(starts), dtype=bool)
        i = np.searchsorted(np.array(self._starts), starts, side="right") - 1
        return (i >= 0) & (np.array(self._max_end)[np.maximum(i, 0)] >= ends)


# --- hot reload -------------------------------------------------------------

class EngineCache:
    """Holds one engine for a word-list directory and rebuilds it when the files change.

    A worker calls :meth:`get` before each job.  A rebuild is done in full
    before the new engine replaces the old one, so :meth:`get` never returns a
    half-built engine.  If the changed lists are broken, :meth:`get` raises
    :class:`WordListError` (and tries again on the next call) rather than
    scanning quietly with stale lists.
    """

    def __init__(self, directory, extra_terms_loader: Callable[[], Iterable[Term]] | None = None,
                 extra_terms_revision: Callable[[], object] | None = None):
        self.directory = directory
        self._loader = extra_terms_loader
        # A cheap stamp of the extra terms (the database's term revision): when
        # given, the terms themselves are read only after it changes, not per job.
        self._revision = extra_terms_revision
        self._lock = threading.Lock()
        # (key, engine), replaced as one object so that a reader never pairs a
        # new engine with an old key or vice versa.
        self._state: tuple[tuple, ScanEngine] | None = None

    def _extra(self) -> frozenset:
        return frozenset(self._loader() or ()) if self._loader is not None else frozenset()

    def get(self) -> ScanEngine:
        """The current engine, rebuilt first if the files or database terms changed."""
        # Stamp before loading: a change made during the load is seen next time.
        fingerprint = wordlist_fingerprint(self.directory)
        if self._revision is not None:
            key, extra = (fingerprint, self._revision()), None
        else:
            extra = self._extra()
            key = (fingerprint, extra)
        state = self._state
        if state is not None and state[0] == key:
            return state[1]
        with self._lock:
            state = self._state
            if state is not None and state[0] == key:
                return state[1]  # another thread rebuilt it meanwhile
            wordlists = load_wordlists(self.directory, self._extra() if extra is None else extra)
            if state is not None and wordlists.version == state[1].version:
                engine = state[1]  # touched but unchanged: keep the engine we have
            else:
                engine = ScanEngine(wordlists)
            self._state = (key, engine)
            return engine


__all__ = ["EngineCache", "HIDDEN_CATEGORY", "Hit", "PII_CATEGORY", "ScanEngine", "preload"]
