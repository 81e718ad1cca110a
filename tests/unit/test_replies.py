"""A reply is either an answer or the "not found" reply, never both (rag.chains.replies)."""

import random

import pytest

from rag.chains.not_found import Refusals
from rag.chains.replies import TrailingRefusal, as_not_found

REMOVER = TrailingRefusal(Refusals())


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "It was founded in 1962 [1] (I could not find the answer in the documents)",
            "It was founded in 1962 [1]",
        ),
        (
            "成立于1987年 [1]。资料中没有找到答案 (I could not find the answer in the documents)。",
            "成立于1987年 [1]。",
        ),
        ("成立於1987年 [1]，資料中沒有找到答案。", "成立於1987年 [1]，"),
        (
            "Helen Marsh [1]. I could not find the answer in the documents.\nMore",
            "Helen Marsh [1].\nMore",
        ),
        # what follows the refusal's clause stays: no word of an answer is lost
        ("In 1962 I could not find the answer, but it was Helen.", "In 1962 but it was Helen."),
        ("资料显示，1987年。", "资料显示，1987年。"),
        ("I", "I"),
    ],
)
def test_a_refusal_after_the_answer_is_removed(answer, expected):
    assert REMOVER.remove(answer) == expected


def test_a_reply_that_is_the_refusal_is_left_to_not_found_reply():
    refusal = "资料中没有找到答案 (I could not find the answer in the documents)."
    assert REMOVER.remove(refusal) == refusal
    assert REMOVER.remove("资料中没有找到答案。但是 1962") == "资料中没有找到答案。但是 1962"


def test_streamed_pieces_join_to_the_whole_answer():
    answer = "成立于1987年 [1]。资料中没有找到答案 (I could not find the answer)。In 1962 I see."
    whole = REMOVER.remove(answer)
    assert whole == "成立于1987年 [1]。In 1962 I see."
    rng = random.Random(0)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(answer)), 8))
        pieces = [answer[a:b] for a, b in zip([0, *cuts], [*cuts, len(answer)], strict=True)]
        assert "".join(REMOVER.stream(pieces)) == whole


def test_an_answer_streams_as_it_comes():
    shown = list(REMOVER.stream(iter(["岳飛", "派二千人", "駐守", "吉州"])))
    assert shown == ["岳飛", "派二千人", "駐守", "吉州"]


def test_a_reply_beginning_with_the_refusal_becomes_the_given_reply_and_stops():
    closed: list[bool] = []

    def model():
        try:
            yield from ["资料中", "没有找到答案", " (I could not find", " the answer)", "但是1962"]
        finally:
            closed.append(True)

    stream = as_not_found(model(), Refusals(), "I could not find the answer in the documents.")
    assert list(stream) == ["I could not find the answer in the documents."]
    assert closed == [True]
    assert list(as_not_found(iter(["资料", "显示"]), Refusals(), "X")) == ["资料显示"]
