"""Does the scan's confidence agree with jieba over a whole real text? Prints counts, asserts nothing.

    .venv/bin/python bench/confidence_check.py [--text FILE] [--sizes 2000,50000]

The engine works jieba's verdict out from the few characters around each
match (review/scanning/confidence.py). Here jieba itself (default mode, HMM
on, the engine's dictionary: jieba's with the terms added) cuts the whole
text the engine's confidence reads, and each match that is not disguised
(no noise inside) gets jieba's verdict: ``high`` if the match's ends are
token boundaries and nothing inside is, ``low`` if a boundary falls inside,
else ``medium``. The figures are how many of the engine's verdicts are
jieba's, by verdict. Same text and term sets as bench/scan_benchmark.py;
jieba takes about 5 s per pass over the 1.86 M characters.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scan_benchmark import corpus, term_set  # noqa: E402
from review.scanning import ScanEngine, dictionary, load_wordlists, normalize  # noqa: E402
from review.scanning.engine import CLEAN  # noqa: E402


def check(text: str, size: int) -> None:
    terms = term_set(size)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bench.txt").write_text("\n".join(terms) + "\n", encoding="utf-8")
        engine = ScanEngine(load_wordlists(tmp))
    folded = normalize.fold(text)
    found = engine._matcher.find(text, folded)
    tok = normalize.confidence_text(text, folded)
    clean = found.clean == CLEAN
    starts, ends = found.starts[clean], found.ends[clean]
    keys = [key for key, ok in zip(found.keys, clean.tolist()) if ok]
    verdicts = engine._judge.verdicts(tok, starts, ends, keys, found.clean[clean])

    t0 = time.process_time()
    tokenizer = dictionary.private_tokenizer(list(engine._terms))
    bounds = {0} | {end for _, _, end in tokenizer.tokenize(tok)}
    jieba_s = time.process_time() - t0

    agree: Counter = Counter()
    differ: Counter = Counter()
    examples = []
    for start, end, verdict in zip(starts.tolist(), ends.tolist(), verdicts):
        if verdict is None:  # not what jieba reads there after all (cannot happen for a clean match)
            differ["none", "?"] += 1
            continue
        if any(q in bounds for q in range(start + 1, end)):
            expected = "low"
        elif start in bounds and end in bounds:
            expected = "high"
        else:
            expected = "medium"
        if verdict == expected:
            agree[verdict] += 1
        else:
            differ[verdict, expected] += 1
            if len(examples) < 5:
                examples.append((tok[max(0, start - 8):end + 8], tok[start:end], verdict, expected))
    total = sum(agree.values()) + sum(differ.values())
    print(f"\n== {size:,} terms: {total:,} matches without noise inside (jieba cut the text in {jieba_s:.1f} s)")
    print(f"  jieba's verdict:  {sum(agree.values()):,} of {total:,}"
          f"  ({', '.join(f'{v} {n:,}' for v, n in sorted(agree.items()))})")
    if differ:
        print("  differ (engine, jieba): " + ", ".join(f"{a}/{b} {n:,}" for (a, b), n in sorted(differ.items())))
        for context, key, verdict, expected in examples:
            print(f"    {key!r} in {context!r}: {verdict}, jieba {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text", help="a UTF-8 text instead of the People's Daily corpus")
    parser.add_argument("--sizes", default="2000,50000", help="term-set sizes, comma-separated")
    args = parser.parse_args()
    text = Path(args.text or corpus()).read_text(encoding="utf-8")
    print(f"{len(text):,} characters")
    for size in (int(n) for n in args.sizes.split(",")):
        check(text, size)


if __name__ == "__main__":
    main()
