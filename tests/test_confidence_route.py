"""confidence.route() is jieba's own maximum-probability route (get_DAG and
calc), ties and all, over pieces of block characters; route_and_ties() says
when a choice on it was a tie up to rounding."""
from __future__ import annotations

from math import log

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from review.scanning import dictionary
from review.scanning.confidence import route, route_and_ties

TERMS = ["家家", "大麻", "麻烦", "公共", "场所", "中友"]
ALPHABET = list("家中国人民大麻烦公共场所友好协会的了是在风云变幻ab1")


@pytest.fixture(scope="module")
def tokenizer():
    return dictionary.private_tokenizer(TERMS)


def _jiebas_route(tokenizer, piece: str) -> list[int]:
    dag = tokenizer.get_DAG(piece)
    chosen: dict = {}
    tokenizer.calc(piece, dag, chosen)
    out, x = [0], 0
    while x < len(piece):
        x = chosen[x][1] + 1
        out.append(x)
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=12).map("".join))
def test_route_is_jiebas(tokenizer, piece):
    logtotal = log(tokenizer.total)
    assert route(piece, tokenizer.FREQ, logtotal) == _jiebas_route(tokenizer, piece)
    assert route(piece, tokenizer.FREQ, logtotal, 5) == [5 + q for q in _jiebas_route(tokenizer, piece)]


def test_a_tie_up_to_rounding_is_reported(tokenizer):
    """家家家: 家/家家 and 家家/家 have the same probability but for rounding."""
    logtotal = log(tokenizer.total)
    bounds, tied = route_and_ties("家家家", tokenizer.FREQ, logtotal)
    assert bounds == _jiebas_route(tokenizer, "家家家")
    assert tied
    assert route_and_ties("公共场所", tokenizer.FREQ, logtotal)[1] is False
