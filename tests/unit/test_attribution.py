"""Citations added to answers that cite nothing (rag.chains.attribution, "cite_sources")."""

from rag.chains import NOT_FOUND_REPLIES
from rag.chains.attribution import CitationAppender, drawn_from, words
from rag.chains.not_found import Refusals
from rag.chains.processors import CiteSources, ProcessorTools, build_processors
from rag.chains.script import ScriptConverter
from rag.chains.turn import Source, Turn

FRUIT = "非洲猴面包树的果实长约15至20厘米。钙含量比菠菜高50％以上。"
POLLEN = "研究人员认为狐蝠科是它们主要授粉者。猴面包树的花在夜间开放。"
MILL = "The mill was rebuilt in 1820 by the Ward family after the fire."
SOURCES = (
    Source(1, "fruit.txt", None, FRUIT, 0.8),
    Source(2, "pollen.txt", None, POLLEN, 0.7),
    Source(3, "mill.txt", None, MILL, 0.6),
)


def appended(answer: str | list[str], question: str, sources=SOURCES) -> str:
    pieces = [answer] if isinstance(answer, str) else answer
    return "".join(CitationAppender(Refusals()).stream(iter(pieces), question, sources))


def test_words_are_chinese_character_pairs_and_lowercased_words():
    assert words("猴面包 Tree") == {"猴面", "面包", "tree"}
    assert words("树") == {"树"}


def test_the_source_the_answer_was_drawn_from_is_cited():
    question = "研究人员认为猴面包树的主要授粉者是谁？"
    assert appended("狐蝠科是它们主要授粉者。", question) == "狐蝠科是它们主要授粉者。 [2]"
    assert appended(["The Ward ", "family."], "Who rebuilt the mill?") == "The Ward family. [3]"


def test_words_of_the_question_do_not_choose_the_source():
    # "猴面包树" is in the question and in both Chinese sources; "15至20厘米" only in one
    assert drawn_from("猴面包树的果实长约15至20厘米", "猴面包树的果实多长？", SOURCES) == 1


def test_an_answer_that_only_restates_the_question_still_gets_its_source():
    assert drawn_from("研究人员认为", "研究人员认为什么？", SOURCES) == 2


def test_no_citation_for_a_citing_answer_a_refusal_or_an_unsupported_answer():
    question = "研究人员认为猴面包树的主要授粉者是谁？"
    assert appended("狐蝠科 [1]", question) == "狐蝠科 [1]"
    assert appended(NOT_FOUND_REPLIES["zh-Hans"], question) == NOT_FOUND_REPLIES["zh-Hans"]
    assert appended("蜜蜂和蝴蝶在白天传粉。", question) == "蜜蜂和蝴蝶在白天传粉。"
    assert appended("", question) == ""
    assert appended("狐蝠科\n", question) == "狐蝠科\n[2]"


def test_the_processor_is_registered_and_leaves_plain_chat_alone():
    tools = ProcessorTools(ScriptConverter(), Refusals())
    (processor,) = build_processors(["cite_sources"], tools)
    assert isinstance(processor, CiteSources)
    asked = Turn.asked("谁是授粉者？", "谁是授粉者？", "zh-Hans", SOURCES)
    assert "".join(processor.process(iter(["狐蝠科。"]), asked)) == "狐蝠科。 [2]"
    chat = Turn.asked("谁是授粉者？", "谁是授粉者？", "zh-Hans")
    assert "".join(processor.process(iter(["狐蝠科。"]), chat)) == "狐蝠科。"
