"""Answers in the question's Chinese script: detection, phrase-aware conversion, streaming."""

import random

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeStreamingListLLM
from langchain_core.retrievers import BaseRetriever

from rag.chains import NOT_FOUND_REPLIES, QAChain
from rag.chains.not_found import Refusals
from rag.chains.processors import ProcessorTools, build_processors
from rag.chains.script import ScriptConverter, answer_script, kept_characters
from rag.settings import load_settings


@pytest.fixture(scope="module")
def converter() -> ScriptConverter:
    return ScriptConverter()


class ListRetriever(BaseRetriever):
    documents: list[Document]

    def _get_relevant_documents(self, query, *, run_manager):
        return self.documents


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("在徵兵時若是不接受入伍則會導致什麼後果?", "traditional"),
        ("这家公司是哪一年成立的？", "simplified"),
        ("杜林在哪", "neutral"),  # no script-specific character
        ("What is the capital?", "neutral"),
    ],
)
def test_script_of(converter, text, script):
    assert converter.script_of(text) == script


def test_conversion_is_phrase_aware_and_taiwan_standard(converter):
    assert converter.to_traditional("头发的发展后来") == "頭髮的發展後來"
    assert converter.to_traditional("归类为亚热带气候") == "歸類為亞熱帶氣候"  # 為, not 爲
    assert converter.to_simplified("臺灣的經濟發展") == "台湾的经济发展"
    assert converter.convert_to("neutral", "头发") == "头发"


def test_a_neutral_question_follows_the_context(converter):
    assert answer_script(converter, "杜林在哪", "[1] 杜林是義大利北部的城市") == "traditional"
    assert (
        answer_script(converter, "杜林在哪", "[1] 杜林是意大利北部城市，经济发达") == "simplified"
    )
    assert answer_script(converter, "杜林在哪", "") == "neutral"


@pytest.mark.parametrize("seed", range(20))
def test_streamed_conversion_equals_whole_conversion(converter, seed):
    text = (
        "潮州可以被归类为亚热带海洋性季风气候，头发发展后来。里面的皇后说：“这是什么？” Hello [1]。"
    )
    rng = random.Random(seed)
    pieces, i = [], 0
    while i < len(text):
        size = rng.randint(1, 5)
        pieces.append(text[i : i + size])
        i += size
    streamed = list(converter.stream_to("traditional", pieces))
    assert "".join(streamed) == converter.to_traditional(text)
    assert len(streamed) > 1  # it streams, not one piece at the end


def test_streaming_holds_back_only_a_few_characters(converter):
    pieces = ["这是", "一个", "很长", "的回", "答，", "里面", "有很", "多字"]
    emitted = 0
    stream = converter.stream_to("traditional", iter(pieces))
    for fed, piece in enumerate(stream, 1):
        emitted += len(piece)
        if fed < 4:
            assert sum(len(p) for p in pieces[: fed + 1]) - emitted <= 4


def make_chain(answer: str, convert: bool) -> QAChain:
    settings = load_settings(env={})
    llm = FakeStreamingListLLM(responses=[answer])
    converter = ScriptConverter()
    names = ["question_script"] if convert else []
    processors = build_processors(names, ProcessorTools(converter, Refusals()))
    return QAChain(
        llm, settings.answer.prompt_template, 2000, 3, converter=converter, processors=processors
    )


def test_chain_answers_a_traditional_question_in_traditional():
    chain = make_chain("潮州属于亚热带海洋性季风气候 [1]", convert=True)
    retriever = ListRetriever(documents=[Document("潮州屬於亞熱帶海洋性季風氣候", metadata={})])
    answer = chain.answer("潮州屬於什麼氣候？", retriever)
    assert answer.text == "潮州屬於亞熱帶海洋性季風氣候 [1]"


def test_chain_leaves_english_and_unconverted_answers_alone():
    retriever = ListRetriever(documents=[Document("Turin is in Italy.", metadata={})])
    english = make_chain("Italy 头发 [1]", convert=True).answer("Where is Turin?", retriever)
    assert english.text == "Italy 头发 [1]"  # neutral question, neutral context
    off = make_chain("潮州属于亚热带 [1]", convert=False).answer("潮州屬於什麼氣候？", retriever)
    assert off.text == "潮州属于亚热带 [1]"


def test_nothing_found_is_said_in_the_question_script():
    chain = make_chain("unused", convert=True)
    answer = chain.answer("潮州屬於什麼氣候？", ListRetriever(documents=[]))
    assert answer.text == NOT_FOUND_REPLIES["zh-Hant"]
    assert "沒有" in answer.text


@pytest.mark.parametrize(
    ("pieces", "context", "expected"),
    [
        (["岳", "飛", " [2]"], "建炎三年，岳飛收復常州。", "岳飛 [2]"),  # OpenCC alone: 嶽飛
        (["福建范汝为", "之乱"], "鎮壓福建范汝為之亂不力", "福建范汝為之亂"),  # alone: 範
        (["以「约瑟夫·朴」", "名义"], "以「約瑟夫·朴」名義", "以「約瑟夫·朴」名義"),  # alone: 樸
        (
            ["头发", "发展"],
            "這是繁體的來源。",
            "頭髮發展",
        ),  # Simplified-only characters still convert
    ],
)
def test_characters_the_sources_use_are_kept(converter, pieces, context, expected):
    keep = kept_characters(converter, "traditional", context)
    assert "".join(converter.stream_to("traditional", pieces, keep)) == expected


def test_sources_in_the_other_script_keep_nothing(converter):
    assert kept_characters(converter, "traditional", "头发在这里发展") == frozenset()
    assert kept_characters(converter, "neutral", "岳飛") == frozenset()
    assert "岳" in kept_characters(converter, "traditional", "岳飛收復常州")
