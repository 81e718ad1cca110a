"""Each answer processor alone, on a turn (rag.chains.processors), and the registry."""

import pytest

from rag.chains import NOT_FOUND_REPLIES
from rag.chains.not_found import Refusals
from rag.chains.processors import (
    PROCESSORS,
    NotFoundReply,
    OneReply,
    ProcessorTools,
    QuestionScript,
    SimplifiedReading,
    SourceNumbers,
    ValidCitations,
    build_processors,
)
from rag.chains.script import ScriptConverter
from rag.chains.turn import Source, Turn
from rag.errors import ConfigError

SOURCE = "岳飛派二千人駐守吉州。後唐莊宗立劉玉娘為皇后。范汝為起兵。"


@pytest.fixture(scope="module")
def converter() -> ScriptConverter:
    return ScriptConverter()


def turn(question: str, text: str = SOURCE, language="zh-Hant", sources: int = 1) -> Turn:
    shown = [Source(i, "a.md", None, text, 0.9) for i in range(1, sources + 1)]
    return Turn.asked(question, question, language, shown)


def run(processor, answer: str | list[str], on: Turn) -> str:
    pieces = [answer] if isinstance(answer, str) else answer
    return "".join(processor.process(iter(pieces), processor.prepare(on)))


def test_source_numbers_write_numbers_as_the_sources_read_do():
    asked = turn("岳飛派多少人駐守吉州？")
    assert run(SourceNumbers(), "岳飛派2000人駐守吉州 [1]", asked) == "岳飛派二千人駐守吉州 [1]"
    assert run(SourceNumbers(), "2000人", Turn.asked("q", "q", "en")) == "2000人"  # plain chat


def test_simplified_reading_gives_the_model_simplified_text(converter):
    reading = SimplifiedReading(converter)
    prepared = reading.prepare(turn("岳飛派多少人駐守吉州？"))
    assert prepared.read_context == "[1] (a.md) " + converter.to_simplified(SOURCE)
    assert prepared.read_question == "岳飞派多少人驻守吉州？"
    assert prepared.context.endswith(SOURCE)  # what was found stays as written
    answer = "岳飞派二千人驻守吉州"
    assert "".join(reading.process(iter([answer]), prepared)) == "岳飛派二千人駐守吉州"


def test_simplified_reading_puts_back_only_for_traditional_answers(converter):
    reading = SimplifiedReading(converter)
    simplified = reading.prepare(turn("岳飞派多少人驻守吉州？", language="zh-Hans"))
    assert "".join(reading.process(iter(["岳飞派二千人"]), simplified)) == "岳飞派二千人"
    english = turn("Who rebuilt it?", "The mill was rebuilt.", "en")
    assert reading.prepare(english) == english
    written = turn("岳飛派多少人駐守吉州？").as_written()  # a second try: nothing to put back
    assert "".join(reading.process(iter(["岳飞派"]), written)) == "岳飞派"


def test_question_script_answers_in_the_question_script(converter):
    script = QuestionScript(converter)
    assert run(script, "潮州属于亚热带 [1]", turn("潮州屬於什麼氣候？", "潮州屬於亞熱帶")) == (
        "潮州屬於亞熱帶 [1]"
    )
    assert run(script, "岳飞 [1]", turn("誰？", "岳飛收復常州")) == "岳飛 [1]"  # kept as written
    assert run(script, "头发", Turn.asked("頭髮是什麼？", "頭髮是什麼？", "zh-Hant")) == "頭髮"
    assert run(script, "Italy 头发", turn("Where is Turin?", "Turin is in Italy.", "en")) == (
        "Italy 头发"
    )


def test_valid_citations_name_only_shown_sources():
    two = turn("q", sources=2)
    assert run(ValidCitations(), ["台北 [", "3]，高雄 [1, ", "4]"], two) == "台北，高雄 [1]"
    assert run(ValidCitations(), "a[1]", Turn.asked("q", "q", "en")) == "a[1]"  # plain chat


def test_one_reply_removes_a_refusal_after_the_answer():
    answer = "In 1962 [1] (I could not find the answer in the documents)"
    assert run(OneReply(Refusals()), answer, turn("When?", "In 1962.", "en")) == "In 1962 [1]"


@pytest.mark.parametrize("language", ["zh-Hans", "zh-Hant", "en"])
def test_not_found_reply_speaks_the_question_language(language):
    refusal = ["资料中没有找到答案 (I could not", " find the answer in the documents)."]
    assert (
        run(NotFoundReply(Refusals()), refusal, turn("q", language=language))
        == (NOT_FOUND_REPLIES[language])
    )
    assert run(NotFoundReply(Refusals()), "资料显示 [1]", turn("q")) == "资料显示 [1]"


def test_the_registry_builds_processors_by_name(converter):
    tools = ProcessorTools(converter, Refusals())
    built = build_processors(list(PROCESSORS), tools)
    assert [p.name for p in built] == list(PROCESSORS)
    assert build_processors([], tools) == []


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["question_scrpt"], r"unknown answer processor 'question_scrpt'; valid: .*one_reply"),
        (["source_numbers", "source_numbers"], "listed twice"),
        (["question_script", "simplified_reading"], "needs 'question_script' after it"),
        (["simplified_reading"], "needs 'question_script' after it"),
    ],
)
def test_the_registry_names_what_is_wrong(converter, names, message):
    with pytest.raises(ConfigError, match=message):
        build_processors(names, ProcessorTools(converter, Refusals()))
