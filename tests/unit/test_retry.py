"""Each retry policy alone, on a turn (rag.chains.retry), and the registry."""

import pytest

from rag.chains.not_found import Refusals
from rag.chains.retry import (
    RETRY_POLICIES,
    EchoRetry,
    RefusalRetry,
    RetryOptions,
    Verdict,
    build_retry_policies,
    repeats_question,
    script_fold,
)
from rag.chains.script import ScriptConverter
from rag.chains.turn import Source, Turn
from rag.errors import ConfigError

CONVERTER = ScriptConverter()
OPTIONS = RetryOptions({"zh": "Z", "en": "E"}, 0.5, Refusals(), script_fold(CONVERTER))


def turn(question: str, score: float = 0.9) -> Turn:
    return Turn.asked(question, question, "zh-Hant", [Source(1, "a.md", None, "港口", score)])


def watched(policy, pieces: list[str], on: Turn) -> tuple[list[str], Verdict]:
    verdict = Verdict()
    return list(policy.watch(iter(pieces), on, verdict)), verdict


def test_refusal_retry_holds_a_refusal_back_and_asks_again():
    closed: list[bool] = []

    def model():
        try:
            yield from ["资料中", "没有找到答案", "，因为"]
        finally:
            closed.append(True)

    verdict = Verdict()
    assert list(RefusalRetry(OPTIONS).watch(model(), turn("第幾大？"), verdict)) == []
    assert closed == [True]  # the model stops generating
    assert verdict.again is not None and not verdict.again.replace
    assert verdict.again.templates == {"zh": "Z", "en": "E"}


def test_refusal_retry_lets_an_answer_through_and_weak_sources_alone():
    shown, verdict = watched(RefusalRetry(OPTIONS), ["资料", "显示", "第二大"], turn("第幾大？"))
    assert shown == ["资料显示", "第二大"] and verdict.again is None
    refusal = ["资料中没有找到答案"]
    shown, verdict = watched(RefusalRetry(OPTIONS), refusal, turn("第幾大？", score=0.2))
    assert shown == refusal and verdict.again is None


def test_echo_retry_asks_again_once_the_answer_ends_and_replaces_it():
    pieces = ["史特拉斯堡港", "是第幾大港口？[1]"]
    shown, verdict = watched(EchoRetry(OPTIONS), pieces, turn("史特拉斯堡港是第幾大港口？"))
    assert shown == pieces  # shown as it came
    assert verdict.again is not None and verdict.again.replace
    shown, verdict = watched(EchoRetry(OPTIONS), ["第二大 [1]"], turn("史特拉斯堡港是第幾大港口？"))
    assert verdict.again is None


def test_the_first_decision_stands():
    verdict = Verdict()
    refusal = RefusalRetry(OPTIONS).watch(iter(["资料中没有找到答案"]), turn("q"), verdict)
    assert list(EchoRetry(OPTIONS).watch(refusal, turn("q"), verdict)) == []
    assert verdict.again is not None and not verdict.again.replace  # the refusal's


def test_the_registry_builds_policies_by_name():
    assert [p.name for p in build_retry_policies(list(RETRY_POLICIES), OPTIONS)] == [
        "refusal_retry",
        "echo_retry",
    ]
    with pytest.raises(ConfigError, match=r"unknown retry policy 'echo'; valid: echo_retry, re"):
        build_retry_policies(["echo"], OPTIONS)
    with pytest.raises(ConfigError, match="listed twice"):
        build_retry_policies(["echo_retry", "echo_retry"], OPTIONS)


@pytest.mark.parametrize(
    ("answer", "question"),
    [
        ("萊茵河沿線的第幾大港口是史特拉斯堡港? [1]", "萊茵河沿線的第幾大港口是史特拉斯堡港?"),
        ("鏡廊中的家具都是純銀打造的 [1]", "在哪一個國王統治時期鏡廊中的家具都是純銀打造的?"),
        ("... [1]", "應當是汝不可謀殺是於十誡中的哪一項中提到?"),
        ("Who rebuilt the mill? [1]", "who rebuilt the mill"),
        ("莱茵河沿线的第几大港口 [1]", "萊茵河沿線的第幾大港口?"),  # in the other script
        # a word changed (許多 for 很多), but still a question
        (
            "許多穆斯林只能看懂阿拉伯字母，卻不認識哪國語言? [1]",
            "很多穆斯林只能看懂阿拉伯字母，卻不認識哪國語言?",
        ),
    ],
)
def test_an_answer_that_only_repeats_the_question_is_recognised(answer, question):
    assert repeats_question(answer, question, script_fold(CONVERTER))


@pytest.mark.parametrize(
    ("answer", "question"),
    [
        ("高雄 [1]", "台北和高雄哪個比較大？"),  # a word of the question that answers it
        ("第二大 [1]", "萊茵河沿線的第幾大港口是史特拉斯堡港?"),
        # the question restated with the answer in it
        ("萊茵河沿線的第二大港口是史特拉斯堡港。[1]", "萊茵河沿線的第幾大港口是史特拉斯堡港?"),
        ("許多穆斯林只能看懂阿拉伯字母。[1]", "很多穆斯林只能看懂阿拉伯字母，卻不認識哪國語言?"),
        ("The Ashford family [1]", "Who rebuilt the mill?"),
    ],
)
def test_an_answer_is_not_taken_for_a_repeated_question(answer, question):
    assert not repeats_question(answer, question, script_fold(CONVERTER))
