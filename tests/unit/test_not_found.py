"""The "not found" reply: one per language, recognised in either script and any case, and
the language a reply is in (rag.chains.not_found, rag.chains.language)."""

import pytest

from rag.chains import NOT_FOUND_REPLIES, is_not_found, mentions_not_found
from rag.chains.language import per_language, prompt_language, question_language
from rag.chains.not_found import PROMPT_PREFIXES, Refusals, RefusalWatch, fold_refusal
from rag.chains.script import ScriptConverter
from rag.settings import load_settings


@pytest.fixture(scope="module")
def converter() -> ScriptConverter:
    return ScriptConverter()


@pytest.mark.parametrize(
    "reply",
    [
        "资料中没有找到答案 (I could not find the answer in the documents).",
        "資料中沒有找到答案。",
        "資料中没有找到答案",  # the 1.5B mixed the scripts in one reply
        "  i could not find the answer.",
        *NOT_FOUND_REPLIES.values(),
    ],
)
def test_refusals_are_recognised(reply):
    assert is_not_found(reply)
    assert is_not_found(reply, load_settings(env={}).answer)


@pytest.mark.parametrize("answer", ["台北 [1]", "资料显示，台北 [1]", "I could see it [1]", ""])
def test_answers_are_not_refusals(answer):
    assert not is_not_found(answer)


def test_an_answer_with_the_refusal_appended_mentions_it_without_being_it():
    answer = "In 1962 [1] (I could not find the answer in the documents)"
    assert mentions_not_found(answer) and not is_not_found(answer)
    assert not mentions_not_found("In 1962 [1]")


def test_configured_prefixes_are_recognised_besides_the_app_own_replies():
    answer = load_settings(env={}, not_found_prefixes=["無可奉告"]).answer
    assert is_not_found("無可奉告。", answer) and not is_not_found("無可奉告。")
    assert is_not_found(NOT_FOUND_REPLIES["en"], answer)


def test_the_reply_is_written_once_and_the_shipped_prompts_ask_for_it():
    assert load_settings(env={}).answer.not_found_prefixes == ()  # only the app's own wording
    assert PROMPT_PREFIXES == (
        "资料中没有找到答案",
        "資料中沒有找到答案",
        "I could not find the answer",
    )
    assert all(
        NOT_FOUND_REPLIES[lang].startswith(p)
        for lang, p in zip(NOT_FOUND_REPLIES, PROMPT_PREFIXES, strict=True)
    )
    settings = load_settings(env={})
    templates = [settings.answer.prompt_templates, settings.answer.retry_prompt_templates or {}]
    for text in (t for by_language in templates for t in by_language.values()):
        assert any(prefix in text for prefix in PROMPT_PREFIXES)


def test_folding_keeps_positions():
    text = "資料中沒有找到答案 I Could"
    assert len(fold_refusal(text)) == len(text)
    assert fold_refusal(text) == "资料中没有找到答案 i could"


def test_refusal_watch_holds_only_what_may_become_a_refusal():
    watch = RefusalWatch(Refusals())
    assert watch.feed("资料") == ""  # the beginning of the refusal
    assert watch.feed("显示") == "资料显示"  # no longer can be one
    assert watch.feed("台北") == "台北" and not watch.refused

    watch = RefusalWatch(Refusals())
    assert watch.feed(" I could") == "" and watch.feed(" not find the answer") == ""
    assert watch.refused

    watch = RefusalWatch(Refusals())
    for piece in ["資料", "中", "没有", "找到", "答案"]:
        assert watch.feed(piece) == ""
    assert watch.refused

    watch = RefusalWatch(Refusals())
    assert watch.feed("I") == ""  # a one-letter answer is held until the end...
    assert watch.flush() == "I" and not watch.refused  # ...and then given back


@pytest.mark.parametrize(
    ("question", "context", "language"),
    [
        ("星河科技的创始人是谁？", "", "zh-Hans"),
        ("建炎四年在建州起兵的人是誰？", "", "zh-Hant"),
        ("杜林在哪", "[1] 杜林是義大利北部的城市", "zh-Hant"),  # no script of its own
        ("杜林在哪", "", "zh-Hans"),
        ("When was the observatory founded?", "[1] 天文台", "en"),
        ("What is 知库?", "", "en"),
        ("知库的 API 是什么？", "", "zh-Hans"),
        ("¿Dónde está Turín?", "", "en"),
    ],
)
def test_the_reply_language_is_the_question_language(converter, question, context, language):
    assert question_language(question, converter, context) == language


def test_without_a_converter_chinese_replies_are_simplified():
    assert question_language("建炎四年在建州起兵的人是誰？") == "zh-Hans"


def test_templates_per_language():
    assert per_language("T {context} {question}") == {
        "zh": "T {context} {question}",
        "en": "T {context} {question}",
    }
    assert per_language({"zh": "Z", "en": "E"})[prompt_language("zh-Hant")] == "Z"
    assert per_language({"zh": "Z", "en": "E"})[prompt_language("en")] == "E"
