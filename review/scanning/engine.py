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
import logging
import re
import threading
from operator import attrgetter
from typing import Callable, Iterable, Iterator, NamedTuple

import ahocorasick
import jieba

from review.scanning import detectors, normalize
from review.scanning.confidence import Judge, base_bitmap, trigram_bitmap
from review.scanning.wordlists import (
    Term, WordLists, fold_key, load_wordlists, wordlist_fingerprint,
)

PII_CATEGORY = "pii"

# A disguised match is judged on the clause around it with the noise taken
# out: up to this many characters on each side, cut earlier at clause punctuation.
WINDOW_MARGIN = 10
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
_CLAUSE_BREAKS = frozenset("。！？!?；;，,、：:\n\r\t…")


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

_HIT_ORDER = attrgetter("start", "end", "term", "category", "rule")


class _Matcher:
    """Every occurrence of every folded key, overlapping ones included.

    The text is folded first (normalize.fold): disguises are undone and noise
    between characters dropped; each match is reported with its span in the
    original text.  A key that begins (ends) with a Latin letter or digit
    only matches where the original text does not continue with one before
    (after) it, so ``av`` is not found inside ``have``.
    """

    def __init__(self, keys: Iterable[str]):
        self._automaton = ahocorasick.Automaton()
        for key in keys:
            self._automaton.add_word(key, (key, len(key), _is_word(key[0]), _is_word(key[-1])))
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def find(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Yield ``(start, end, key)`` spans into the original *text*."""
        if self._empty or not text:
            return
        folded = normalize.fold(text)
        span = folded.span
        last = len(text)
        for end_index, (key, length, latin_head, latin_tail) in self._automaton.iter(folded.text):
            start, end = span(end_index + 1 - length, end_index + 1)
            if latin_head and start > 0 and normalize.is_word_char(text[start - 1]):
                continue
            if latin_tail and end < last and normalize.is_word_char(text[end]):
                continue
            yield start, end, key


def _is_word(ch: str) -> bool:
    return (ch.isascii() and ch.isalnum()) or ("\u00c0" <= ch <= "\u024f" and ch.isalpha())


# --- jieba confidence -------------------------------------------------------

_base_lock = threading.Lock()
_base_tokenizer: jieba.Tokenizer | None = None


def _base() -> jieba.Tokenizer:
    """jieba's default dictionary, loaded once per process (~0.7 s) and never modified."""
    global _base_tokenizer
    with _base_lock:
        if _base_tokenizer is None:
            logger = logging.getLogger("jieba")
            level = logger.level
            logger.setLevel(logging.WARNING)  # silence "Building prefix dict..." on stderr
            try:
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
            finally:
                logger.setLevel(level)
            _base_tokenizer = tokenizer
        return _base_tokenizer


def preload() -> None:
    """Load now what every engine in this process shares (about a second, once).

    jieba's dictionary, the trigram index of it (confidence.base_bitmap) and
    the folding tables; otherwise the first engine built loads them.
    """
    base_bitmap(_base())
    normalize.warm_up()


def _private_tokenizer(terms: Iterable[str]) -> jieba.Tokenizer:
    """A tokenizer with its own copy of the base dictionary plus *terms*.

    The copy (~15 ms) keeps the global ``jieba`` dictionary and other
    engines untouched.  Each term gets the larger of its dictionary frequency
    and jieba's ``suggest_freq`` — just enough to make the term one token
    when it stands on its own — so that in context jieba still prefers a
    better segmentation: 大/麻烦 stays 大/麻烦, and 大麻 is then a low
    confidence match.
    """
    base = _base()
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ = dict(base.FREQ)
    tokenizer.total = base.total
    tokenizer.initialized = True
    for term in sorted(set(terms)):  # sorted: suggest_freq depends on earlier additions
        freq = max(base.FREQ.get(term) or 0, tokenizer.suggest_freq(term, tune=False))
        tokenizer.add_word(term, freq=max(freq, 1))
    return tokenizer


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
        for term in wordlists.terms:
            self._terms.setdefault(fold_key(term.term), []).append(
                (term.term, term.category, term.severity, f"wordlist:{term.category}"))
        for listed in self._terms.values():
            listed.sort(key=lambda t: (t[0], t[1], t[3]))  # the order hits are reported in
        self._allow = frozenset(fold_key(p) for p in wordlists.allow)
        self._matcher = _Matcher(self._terms.keys() | self._allow)
        tokenizer = _private_tokenizer(self._terms)  # jieba reads folded text
        bitmap = trigram_bitmap(self._terms, bytearray(base_bitmap(_base())))
        self._judge = Judge(tokenizer.FREQ, tokenizer.total, bitmap)

    def scan(self, text: str, include_low: bool = False) -> list[Hit]:
        """Every finding in *text*, sorted by (start, end, term).

        ``low`` confidence hits are left out unless *include_low*.
        """
        if not isinstance(text, str):
            raise TypeError(f"scan() needs str, not {type(text).__name__}")
        allowed: list[tuple[int, int]] = []
        matches: list[tuple[int, int, str]] = []
        allow, terms = self._allow, self._terms
        for match in self._matcher.find(text):
            key = match[2]
            if key in allow:
                allowed.append(match[:2])
            if key in terms:
                matches.append(match)
        suppressed = _Suppressor(allowed)

        full_width = _FULL_WIDTH.search(text) is not None
        tok = normalize.token_text(text) if matches or full_width else text
        judge = self._judge.judge
        hits: list[Hit] = []
        append = hits.append
        new = tuple.__new__
        matches.sort()  # the order hits are reported in: then no sort of the hits themselves
        shared_span = False  # two keys over one span: only then may key order differ from term order
        previous_start = previous_end = -1
        for start, end, key in matches:
            if allowed and suppressed(start, end):
                continue
            if tok[start:end] == key:
                confidence = judge(tok, start, end)
            else:
                confidence = self._disguised_confidence(text, tok, start, end, key)
            if confidence == "low" and not include_low:
                continue
            if start == previous_start and end == previous_end:
                shared_span = True
            previous_start, previous_end = start, end
            found = text[start:end]
            for term, category, severity, rule in terms[key]:  # sorted by term, category, rule
                append(new(Hit, (term, category, severity, confidence, rule, start, end, found)))

        # Full-width digits and letters are read as ASCII; offsets stay (one for one).
        digits = tok if full_width else text
        pii = False
        for rule, start, end in detectors.detect(digits):
            if not suppressed(start, end):
                found = text[start:end]
                hits.append(Hit(found, PII_CATEGORY, "high", "high", rule, start, end, found))
                pii = True

        if pii or shared_span:
            hits.sort(key=_HIT_ORDER)
        return hits

    def _disguised_confidence(self, text: str, tok: str, start: int, end: int, key: str) -> str:
        """Judge a disguised match (noise inside it) on its clause with the noise taken out.

        ``百*家*乐`` is read as ``百家乐``. Every other match is judged
        against jieba's segmentation of the text itself: jieba reads the
        folded text (traditional characters simplified, full width undone),
        one character for one, so token offsets are original offsets
        (:mod:`review.scanning.confidence` works out jieba's verdict from the
        few characters around the match).
        """
        lo, hi = _window(text, start, end)
        left, right = tok[lo:start], tok[end:hi]
        return self._judge.judge(left + key + right, len(left), len(left) + len(key))


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


__all__ = ["EngineCache", "Hit", "PII_CATEGORY", "ScanEngine", "preload"]
