"""jieba's dictionary as the scan engine reads it.

- :func:`base` — jieba's default dictionary, loaded once per process and
  never modified;
- :func:`base_bitmap` — the cut-point filter of that dictionary
  (:func:`review.scanning.confidence.trigram_bitmap`); it depends on the
  dictionary alone: it is built once and kept in a file, as jieba keeps its
  prefix dictionary in a temporary file, under a key that is a hash of the
  dictionary's content and of how the filter is made (a changed dictionary
  or filter never reads an old file; a file whose content does not match
  its recorded digest is rebuilt);
- :func:`add_terms` — an engine's own copy of the dictionary with its terms
  added, with the frequencies jieba's ``add_word``/``suggest_freq`` give,
  computed without jieba's per-word generator machinery.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sys
import tempfile
import threading
from math import log
from pathlib import Path

import jieba

from review.scanning import confidence

log_ = logging.getLogger(__name__)

CACHE_ENV = "IMPRIMATUR_CACHE_DIR"
_FORMAT = b"imprimatur-dict-facts 4"  # 4: the bitmap alone (3 had neighbour tables after it)

_lock = threading.Lock()
_base_tokenizer: jieba.Tokenizer | None = None
_bitmap: tuple[jieba.Tokenizer, bytes] | None = None  # (tokenizer, bitmap)
_last_load: dict = {}  # how the bitmap was obtained last ("cache", "built", "built+saved"), for the benchmark


def base() -> jieba.Tokenizer:
    """jieba's default dictionary, loaded once per process (~0.7 s) and never modified."""
    global _base_tokenizer
    with _lock:
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


def cache_dir() -> Path:
    """Where files derived from the dictionary are kept: $IMPRIMATUR_CACHE_DIR,
    else $XDG_CACHE_HOME/imprimatur (~/.cache/imprimatur)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imprimatur"


def dictionary_key(tokenizer: jieba.Tokenizer) -> str:
    """A hash of everything the bitmap is made from: the dictionary file's
    content (and the size of what jieba loaded from it), the filter's
    parameters and the hash of int tuples it is indexed by."""
    h = hashlib.sha256(_FORMAT)
    with tokenizer.get_dict_file() as fh:
        h.update(fh.read())
    probe = hash((0x4E2D, 0x6587, 0x41))  # tuple hashing is part of the format
    h.update(repr((len(tokenizer.FREQ), tokenizer.total, confidence.MASK, confidence.SHIFT,
                   sys.version_info[:2], probe)).encode())
    return h.hexdigest()


def base_bitmap(tokenizer: jieba.Tokenizer | None = None) -> bytes:
    """The cut-point filter of the base dictionary, shared by the engines of
    the process: read from the cache file when it is there and verified,
    else built (~0.5 s) and written."""
    global _bitmap
    tokenizer = tokenizer or base()
    with _lock:
        if _bitmap is not None and _bitmap[0] is tokenizer:
            return _bitmap[1]
    key = dictionary_key(tokenizer)
    path = cache_dir() / f"dict-facts-{key[:32]}.bin"
    bitmap = _read(path, key)
    how = "cache"
    if bitmap is None or len(bitmap) != confidence.MASK + 1:
        bitmap = bytes(confidence.trigram_bitmap(w for w, f in tokenizer.FREQ.items() if f))
        how = "built+saved" if _write(path, key, bitmap) else "built"
    with _lock:
        _bitmap = (tokenizer, bitmap)
        _last_load["bitmap"] = how
    return bitmap


def _read(path: Path, key: str) -> bytes | None:
    """The payload of a cache file if its header names *key* and its digest matches."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    header, _, payload = data.partition(b"\n")
    fields = header.split(b" ")
    if len(fields) != 3 or fields[0] != key.encode() or fields[1] != str(len(payload)).encode():
        return None
    if hashlib.blake2b(payload, digest_size=32).hexdigest().encode() != fields[2]:
        log_.warning("%s: digest does not match, rebuilding", path)
        return None
    return payload


def _write(path: Path, key: str, payload: bytes) -> bool:
    """Write atomically (a reader sees the old file, no file or the new one)."""
    digest = hashlib.blake2b(payload, digest_size=32).hexdigest()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".dict-facts-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(f"{key} {len(payload)} {digest}\n".encode())
                fh.write(payload)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError as exc:
        log_.info("dictionary cache not written (%s); it is built in each process", exc)
        return False
    return True


def last_load() -> dict:
    """How the process obtained what it loaded ({"bitmap": "cache" | "built" | "built+saved"})."""
    return dict(_last_load)


# --- adding terms -----------------------------------------------------------

_ENG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")  # jieba's re_eng


def add_terms(terms) -> tuple[dict, int]:
    """(FREQ, total) of a copy of the base dictionary with *terms* added.

    Each term gets the larger of its dictionary frequency and jieba's
    ``suggest_freq`` (just enough to make the term one token when it stands
    on its own), added in sorted order as ``add_word`` adds it — the same
    numbers as doing exactly that with a ``jieba.Tokenizer``. A term of block
    characters is worked out here (route over the term alone, no HMM, runs of
    single ASCII letters and digits joined, as ``cut(HMM=False)``), with the
    same arithmetic in the same order; any other term asks jieba itself.
    """
    tokenizer = base()
    base_freq = tokenizer.FREQ
    freq = dict(base_freq)
    total = tokenizer.total
    block = confidence.BLOCK_CHARS
    eng = _ENG
    fallback = None
    get = freq.get
    base_get = base_freq.get
    for term in sorted(set(terms)):
        if len(term) == 2 and block.issuperset(term):
            # The route over two characters: the word, or each character alone.
            a, b = term
            ftotal = float(total)
            logtotal = log(total)
            fa = get(a)
            whole = False
            if fa is not None:
                fab = get(term)
                if fab:
                    if fa:
                        fb = get(b)
                        best1 = (log(fb) - logtotal + 0.0) if fb else (log(1) - logtotal + 0.0)
                        whole = log(fab) - logtotal + 0.0 >= log(fa) - logtotal + best1
                    else:
                        whole = True
            p = 1
            if whole:
                p *= get(term, 1) / ftotal
            elif a in eng and b in eng:
                p *= get(term, 1) / ftotal  # jieba joins single letters and digits into one piece
            else:
                p *= get(a, 1) / ftotal
                p *= get(b, 1) / ftotal
            suggested = max(int(p * total) + 1, get(term, 1))
        elif block.issuperset(term):
            ftotal = float(total)
            p = 1
            for seg in _segments(term, freq, log(total)):
                p *= get(seg, 1) / ftotal
            suggested = max(int(p * total) + 1, get(term, 1))
        else:
            if fallback is None:
                fallback = jieba.Tokenizer()
                fallback.FREQ = freq
                fallback.initialized = True
            fallback.total = total
            suggested = fallback.suggest_freq(term, tune=False)
        f = max(base_get(term) or 0, suggested)
        f = max(f, 1)
        # jieba's add_word(term, freq=f)
        freq[term] = f
        total += f
        for i in range(1, len(term)):
            if term[:i] not in freq:
                freq[term[:i]] = 0
    return freq, total


def _segments(piece: str, freq: dict, logtotal: float) -> list[str]:
    """jieba's ``cut(piece, HMM=False)`` for a piece of block characters:
    confidence.route() without the ties, then single letters and digits joined."""
    n = len(piece)
    if n == 1:
        return [piece]
    get = freq.get
    best = [0.0] * (n + 1)
    step = list(range(1, n + 1))
    alone = log(1) - logtotal
    for k in range(n - 1, -1, -1):
        f = get(piece[k])
        if f is None:
            best[k] = alone + best[k + 1]
            continue
        score = None
        i = k + 1
        while True:
            if f:
                s = log(f) - logtotal + best[i]
                if score is None or s >= score:
                    score, to = s, i
            if i >= n:
                break
            i += 1
            f = get(piece[k:i])
            if f is None:
                break
        if score is None:
            best[k] = alone + best[k + 1]
        else:
            best[k] = score
            step[k] = to
    out: list[str] = []
    buf = ""
    x = 0
    while x < n:
        y = step[x]
        word = piece[x:y]
        if y - x == 1 and word in _ENG:
            buf += word
        else:
            if buf:
                out.append(buf)
                buf = ""
            out.append(word)
        x = y
    if buf:
        out.append(buf)
    return out


def private_tokenizer(terms) -> jieba.Tokenizer:
    """A jieba tokenizer over :func:`add_terms` (tests compare the engine with it)."""
    tokenizer = jieba.Tokenizer()
    tokenizer.FREQ, tokenizer.total = add_terms(terms)
    tokenizer.initialized = True
    return tokenizer


__all__ = ["CACHE_ENV", "add_terms", "base", "base_bitmap", "cache_dir", "dictionary_key", "last_load",
           "private_tokenizer"]
