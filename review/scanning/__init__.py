"""Sensitive-term scanning: word lists, the scan engine and built-in PII detectors."""
from review.scanning.engine import EngineCache, Hit, ScanEngine
from review.scanning.wordlists import Term, WordListError, WordLists, load_wordlists, wordlist_fingerprint

__all__ = [
    "EngineCache", "Hit", "ScanEngine", "Term", "WordListError", "WordLists",
    "load_wordlists", "wordlist_fingerprint",
]
