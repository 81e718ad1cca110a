"""Which questions after the first are rewritten to stand alone (`rag.chains.follow_up`),
alone and in the chain, and CONDENSE_EVERY_FOLLOW_UP."""

import pytest

from rag.chains.follow_up import FollowUps
from rag.factory import build_qa_chain
from rag.settings import load_settings
from tests.unit.test_chain import KeywordRetriever, doc, make_chain
from tests.unit.test_llm_base import FakeLLM

HISTORY = [("杜林是哪一年成為首都的？", "1563年 [1]")]


@pytest.mark.parametrize(
    "question",
    [
        "它是哪一年建的？",
        "該教堂在哪裡？",
        "那第二个呢？",
        "为什么？",  # too short to stand alone
        "When did it open?",
        "What about the second one?",
        "Why?",
    ],
)
def test_a_question_pointing_back_or_too_short_is_rewritten(question):
    assert FollowUps().needs_rewrite(question)


@pytest.mark.parametrize(
    "question",
    [
        "浮龙化石是什么时候发现的？",
        "薊農民在哪一年的時候獲得了耕地?",
        "When did Warsaw start to rebuild?",
    ],
)
def test_a_question_that_stands_alone_is_searched_as_asked(question):
    assert not FollowUps().needs_rewrite(question)
    assert FollowUps(rewrite_every_question=True).needs_rewrite(question)


@pytest.mark.parametrize(
    ("question", "rewritten", "kept"),
    [
        ("它是哪一年建的？", "杜林大教堂是哪一年建的？", True),
        ("那第二个呢？", "米兰的人口是多少？", True),  # short: all pointers
        ("When did it open?", "When did the Zephyr Observatory open?", True),
        ("該教堂在哪一個國王統治時期建成？", "What king ruled when the church was built?", False),
        ("该书最初由哪一位古生物学家命名为什么？", "浮龙最初由谁命名？", False),
        ("它是哪一年建的？", "", False),
    ],
)
def test_a_rewrite_in_another_language_or_without_the_question_is_dropped(
    question, rewritten, kept
):
    assert FollowUps().keeps(question, rewritten) is kept


def test_the_chain_searches_a_question_that_stands_alone_without_a_rewrite_call():
    chain, llm = make_chain(["In 1962 [1]"])
    retriever = KeywordRetriever(documents=[doc("Zephyr Observatory opened in 1962.", "z.txt")])
    result = chain.answer("When did Zephyr Observatory open?", retriever, HISTORY)
    assert result.rewritten is None and len(llm.prompts) == 1
    assert result.text == "In 1962 [1]"


def test_the_chain_drops_a_rewrite_that_loses_the_question():
    chain, llm = make_chain(["What king ruled then?", "1563年 [1]"])
    retriever = KeywordRetriever(documents=[doc("該教堂 1563年 建成。", "t.txt")])
    result = chain.answer("該教堂 是哪一年建成的？", retriever, HISTORY)
    assert len(llm.prompts) == 2  # asked for a rewrite, then answered the question as asked
    assert result.rewritten is None
    assert "該教堂 是哪一年建成的？" in llm.prompts[1]


def test_condense_every_follow_up_switches_the_rule():
    default = build_qa_chain(load_settings(env={}), FakeLLM(model="fake"))
    assert default.follow_ups.rewrite_every_question is False
    every = load_settings(env={"ZHIKU_CONDENSE_EVERY_FOLLOW_UP": "true"})
    assert build_qa_chain(every, FakeLLM(model="fake")).follow_ups.rewrite_every_question
