"""Each retry policy alone, on a turn (rag.chains.retry), and the registry."""

import pytest

from rag.chains.not_found import Refusals
from rag.chains.retry import (
    RETRY_POLICIES,
    EchoRetry,
    RefusalRetry,
    RetryOptions,
    UnsupportedAnswer,
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


def model(pieces: list[str], closed: list[bool]):
    """A model's stream of `pieces` that records, in `closed`, that it was closed."""
    try:
        yield from pieces
    finally:
        closed.append(True)


def test_refusal_retry_holds_a_refusal_back_and_asks_again():
    closed: list[bool] = []
    stream = model(["资料中", "没有找到答案", "，因为"], closed)
    verdict = Verdict()
    assert list(RefusalRetry(OPTIONS).watch(stream, turn("第幾大？"), verdict)) == []
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
        "unsupported_answer",
    ]
    valid = "valid: echo_retry, refusal_retry, unsupported_answer"
    with pytest.raises(ConfigError, match=f"unknown retry policy 'echo'; {valid}"):
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


# ---- unsupported_answer: an answer naming what no source holds -------------------------------

KENYA = "Kenya\nKenya's first president was Jomo Kenyatta, elected in 1964; Nairobi is its capital."


def english_turn(question: str, text: str = KENYA) -> Turn:
    return Turn.asked(question, question, "en", [Source(1, "kenya.md", None, text, 0.4)])


def test_unsupported_answer_withdraws_a_name_no_source_holds_and_stops_the_model():
    closed: list[bool] = []
    pieces = ["The first president of Tanzania was ", "Julius Nyerere [1].", " He"]
    on = english_turn("Who was the first president of Tanzania?")
    verdict = Verdict()
    shown = list(UnsupportedAnswer(OPTIONS).watch(model(pieces, closed), on, verdict))
    assert "".join(shown) == "The first president of Tanzania was "  # then withdrawn
    assert closed == [True]  # judged at the first sentence's end: the model stops there
    assert verdict.withdrawn == "no source holds Julius, Nyerere" and verdict.again is None


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("Who was Kenya's first president?", "Jomo Kenyatta [1]"),  # the source's name
        ("When was he elected?", "He was elected in nineteen sixty-four."),  # no digits
        ("When was Kenyatta elected?", "Kenyatta was elected in 1964 [1]."),
        ("What is the capital?", "Nairobi's the capital [1]."),  # possessive of a held name
        ("How many years after 1950?", "Fourteen years after 1950."),  # the question's number
        # drawn from the source (it holds half its words): a detail the model added stands
        (
            "Who was elected?",
            "Jomo Kenyatta, Kenya's first president, was elected in 1964 and served until 1978.",
        ),
        ("Who?", "I could not find the answer in the documents."),
        # a capitalised word beginning a longer sentence is not taken for a name
        ("Who led Kenya?", "Apparently Jomo Kenyatta led Kenya [1]."),
    ],
)
def test_unsupported_answer_lets_answers_the_sources_hold_through(question, answer):
    shown, verdict = watched(UnsupportedAnswer(OPTIONS), [answer], english_turn(question))
    assert "".join(shown) == answer and verdict.withdrawn is None


def test_numbers_count_as_held_however_the_source_writes_them():
    source = "1949年，國軍撤離。戰後約八十人留守，耗資100,000元，持續二十五年，第十二屆。"
    zh = Turn.asked("何時？", "何時？", "zh-Hant", [Source(1, "a.md", None, source, 0.5)])
    for answer in ("1949年 [1]", "約80人 [1]", "耗資100000元", "25年", "第12屆"):
        assert watched(UnsupportedAnswer(OPTIONS), [answer], zh)[1].withdrawn is None, answer
    _shown, verdict = watched(UnsupportedAnswer(OPTIONS), ["中華民國國軍在1950年撤離。[1]"], zh)
    assert verdict.withdrawn == "no source holds 1950"
    english = english_turn(
        "How long?", "The delay was eighty seconds; it ran for two hundred days."
    )
    for answer in ("80 seconds [1]", "200 days"):
        assert watched(UnsupportedAnswer(OPTIONS), [answer], english)[1].withdrawn is None


def test_unsupported_answer_judges_a_sentence_that_never_ends_at_the_stream_end():
    shown, verdict = watched(
        UnsupportedAnswer(OPTIONS), ["Ven", "era"], english_turn("Which probe?")
    )
    assert shown == ["Ven", "era"] and verdict.withdrawn == "no source holds Venera"


def test_the_first_decision_stands_and_withdrawal_is_held_back_only_for_a_first_sentence():
    verdict = Verdict(withdrawn="earlier")
    policy = UnsupportedAnswer(OPTIONS)
    list(policy.watch(iter(["Venera"]), english_turn("Which probe?"), verdict))
    assert verdict.withdrawn == "earlier"
    assert policy.may_withdraw("The first president was Jul", "q")
    assert not policy.may_withdraw("Julius Nyerere [1]. He", "q")
    assert not policy.may_withdraw("x" * (UnsupportedAnswer.longest_held + 1), "q")
    assert not RefusalRetry(OPTIONS).may_withdraw("资料", "q")


def test_a_question_naming_a_work_no_source_names_is_withdrawn_before_the_model_is_asked():
    asked: list[bool] = []

    def asking_model():
        asked.append(True)
        yield "牛佬 [1]"

    source = "《明報周刊》\n《明報周刊》是一本香港雜誌，由雷煒坡主編。"
    on = Turn.asked(
        "《瞄》是谁主编的？",
        "《瞄》是谁主编的？",
        "zh-Hans",
        [Source(1, "a.md", None, source, 0.6)],
    )
    shown, verdict = watched(UnsupportedAnswer(OPTIONS), asking_model(), on)
    assert shown == [] and asked == [] and verdict.withdrawn == "no source names 《瞄》"
    # the same work in the other script, or in another case, is named
    on = Turn.asked(
        "《瞄準》是誰主編的？",
        "《瞄準》是誰主編的？",
        "zh-Hant",
        [Source(1, "a.md", None, "《瞄准》由王泽主编", 0.6)],
    )
    shown, verdict = watched(UnsupportedAnswer(OPTIONS), ["王澤 [1]"], on)
    assert shown == ["王澤 [1]"] and verdict.withdrawn is None


def test_names_are_checked_only_against_sources_in_latin_script():
    """An English answer from Chinese sources writes their names in letters."""
    source = "马飚\n文化大革命期间，马飚中学毕业后，在广西柳州钢铁厂当工人。1994年出任书记助理。"
    on = Turn.asked(
        "What did Ma Biao do?", "What did Ma Biao do?", "en", [Source(1, "a.md", None, source, 0.6)]
    )
    answer = "He worked at the Liuzhou Iron and Steel Works in Guangxi [1]."
    shown, verdict = watched(UnsupportedAnswer(OPTIONS), [answer], on)
    assert "".join(shown) == answer
    assert verdict.withdrawn is None
    _, verdict = watched(UnsupportedAnswer(OPTIONS), ["In 1996 [1]."], on)
    assert verdict.withdrawn == "no source holds 1996"  # numbers are checked in any script
