"""The QA chain's logic with fake models: budget, numbering, nothing-found, history, and the
stages after generation (answer processors, retry policies) as the factory builds them."""

import pytest
from langchain_core.documents import Document
from langchain_core.language_models import LLM
from langchain_core.language_models.fake import FakeStreamingListLLM
from langchain_core.outputs import GenerationChunk
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from rag.chains import NOT_FOUND_REPLIES, QAChain, build_context, collect_answer
from rag.chains.not_found import Refusals
from rag.chains.processors import ProcessorTools, build_processors
from rag.chains.qa import format_history
from rag.chains.retry import RetryOptions, build_retry_policies, script_fold
from rag.chains.script import ScriptConverter
from rag.factory import build_qa_chain
from rag.settings import load_settings
from tests.unit.test_llm_base import FakeLLM


class ListRetriever(BaseRetriever):
    documents: list[Document]

    def _get_relevant_documents(self, query, *, run_manager):
        return self.documents


def doc(text: str, source: str = "a.txt", score: float = 0.8, page=None) -> Document:
    return Document(page_content=text, metadata={"source": source, "score": score, "page": page})


def test_context_respects_budget_and_numbers_in_order():
    docs = [doc("一" * 120), doc("二" * 120), doc("三" * 50), doc("一" * 120)]
    sources = build_context(docs, char_budget=200)
    assert [s.text[0] for s in sources] == ["一", "三"]  # "二" does not fit; duplicate dropped
    assert [s.index for s in sources] == [1, 2]
    assert sum(len(s.text) for s in sources) <= 200


def test_first_chunk_is_cut_to_budget_rather_than_dropped():
    [only] = build_context([doc("x" * 500)], char_budget=100)
    assert len(only.text) == 100


def test_history_keeps_last_turns():
    text = format_history([("q1", "a1"), ("q2", "a2"), ("q3", "a3")], turns=2)
    assert "q1" not in text and "q2" in text and "a3" in text
    assert format_history([("q", "a")], turns=0) == ""
    quoted = [("q", "当工人 [1]\n\n> 马飚在柳州钢铁厂当工人。 [1]")]
    assert format_history(quoted, turns=1) == "Q: q\nA: 当工人 [1]\n\n"


class RecordingLLM(FakeStreamingListLLM):
    """Answers from `responses` and records every prompt it is given."""

    prompts: list[str] = Field(default_factory=list)

    def _call(self, prompt, stop=None, run_manager=None, **kwargs):
        self.prompts.append(prompt)
        return super()._call(prompt, stop, run_manager, **kwargs)


CONVERTER = ScriptConverter()
RETRY = "RETRY {context} / {question}"


def make_chain(
    responses: list[str],
    processors: tuple[str, ...] = (),
    policies: tuple[str, ...] = (),
    min_score: float = 0.65,
    prompt: str | dict[str, str] | None = None,
) -> tuple[QAChain, RecordingLLM]:
    """A chain with the named processors and retry policies, as the factory builds them."""
    llm = RecordingLLM(responses=responses)
    refusals = Refusals()
    retry = RetryOptions({"zh": RETRY, "en": RETRY}, min_score, refusals, script_fold(CONVERTER))
    chain = QAChain(
        llm,
        prompt or load_settings(env={}).answer.prompt_template,
        2000,
        3,
        converter=CONVERTER,
        processors=build_processors(processors, ProcessorTools(CONVERTER, refusals)),
        retry_policies=build_retry_policies(policies, retry),
    )
    return chain, llm


def test_answer_with_sources_streams_tokens():
    chain, _ = make_chain(["台北 [1]"])
    retriever = ListRetriever(documents=[doc("台灣的首都是台北。", "geo.md")])
    events = list(chain.stream("台灣的首都是哪裡？", retriever))
    assert events[0].kind == "sources"
    assert events[0].sources[0].source == "geo.md"
    tokens = [e.text for e in events[1:]]
    assert len(tokens) > 1 and "".join(tokens) == "台北 [1]"


@pytest.mark.parametrize(
    ("question", "language"),
    [("台灣的首都是哪裡？", "zh-Hant"), ("台湾的首都是哪里？", "zh-Hans"), ("Capital?", "en")],
)
def test_nothing_retrieved_says_so_in_the_question_language(question, language):
    chain, llm = make_chain(["should not be used"])
    result = chain.answer(question, ListRetriever(documents=[]))
    assert result.text == NOT_FOUND_REPLIES[language]
    assert result.sources == []
    assert llm.prompts == []


def test_plain_chat_has_no_sources():
    chain, _ = make_chain(["hello"])
    result = chain.answer("hi", None, [("q", "a")])
    assert result.text == "hello" and result.sources == [] and result.rewritten is None


def test_plain_chat_goes_through_the_script_only():
    processors = ("source_numbers", "question_script", "valid_citations", "not_found_reply")
    chain, llm = make_chain(["头发 [4] 2000"], processors)
    assert chain.answer("頭髮是什麼？", None).text == "頭髮 [4] 2000"
    assert llm.prompts == ["頭髮是什麼？"]


class KeywordRetriever(BaseRetriever):
    """Returns the documents whose text shares a word with the query."""

    documents: list[Document]

    def _get_relevant_documents(self, query, *, run_manager):
        return [d for d in self.documents if any(w in d.page_content for w in query.split())]


def test_follow_up_is_rewritten_before_retrieval():
    chain, llm = make_chain(["Zephyr Observatory founded year?", "In 1962 [1]"])
    docs = [doc("Zephyr Observatory was founded in 1962.", "zephyr.txt")]
    retriever = KeywordRetriever(documents=docs)
    assert retriever.invoke("When did it open?") == []  # the raw follow-up finds nothing
    result = chain.answer("When did it open?", retriever, [("Tell me about Zephyr", "...")])
    assert result.rewritten == "Zephyr Observatory founded year?"
    assert result.sources[0].source == "zephyr.txt"
    assert result.text == "In 1962 [1]"
    assert "When did it open?" in llm.prompts[0] and "Tell me about Zephyr" in llm.prompts[0]
    assert "Zephyr Observatory founded year?" in llm.prompts[1]


def test_no_history_means_no_rewrite_call():
    chain, llm = make_chain(["answer"])
    result = chain.answer("Zephyr", KeywordRetriever(documents=[doc("Zephyr!")]))
    assert result.rewritten is None and len(llm.prompts) == 1


def test_the_prompt_follows_the_question_language():
    prompt = {"zh": "中文 {context} {question}", "en": "English {context} {question}"}
    chain, llm = make_chain(["台北 [1]", "Taipei [1]"], prompt=prompt)
    retriever = ListRetriever(documents=[doc("台灣的首都是台北。Taipei.")])
    chain.answer("台灣的首都是哪裡？", retriever)
    chain.answer("What is the capital of Taiwan?", retriever)
    assert llm.prompts[0].startswith("中文 [1]") and llm.prompts[1].startswith("English [1]")


def test_the_system_message_follows_the_question_language():
    llm = FakeLLM(model="fake", pieces=["台北 [1]"], system_prompt="instance")
    systems = {"zh": "plain", "en": "concise"}
    chain = QAChain(llm, "{context} {question}", 2000, 3, system_prompts=systems)
    retriever = ListRetriever(documents=[doc("台灣的首都是台北。Taipei.")])
    chain.answer("台灣的首都是哪裡？", retriever)
    chain.answer("What is the capital of Taiwan?", retriever)
    chain.answer("What is the capital of Taiwan?", None)  # plain chat too
    sent = [messages[0]["content"] for messages, _ in llm._calls]
    assert sent == ["plain", "concise", "concise"]


def test_a_chinese_script_may_have_its_own_system_message():
    llm = FakeLLM(model="fake", pieces=["台北 [1]"], system_prompt="instance")
    systems = {"zh": "plain", "zh-Hant": "traditional", "en": "concise"}
    chain = QAChain(
        llm, "{context} {question}", 2000, 3, converter=CONVERTER, system_prompts=systems
    )
    retriever = ListRetriever(documents=[doc("台灣的首都是台北。")])
    chain.answer("台灣的首都是哪裡？", retriever)
    chain.answer("台湾的首都是哪里？", retriever)
    sent = [messages[0]["content"] for messages, _ in llm._calls]
    assert sent == ["traditional", "plain"]


def test_the_factory_gives_the_chain_the_configured_system_messages():
    settings = load_settings(env={})  # the 1.5B: its own message per language
    chain = build_qa_chain(settings, FakeLLM(model="fake"))
    assert chain.system_prompts == settings.system_prompts
    assert chain.system_prompts["zh"] != chain.system_prompts["en"]
    assert build_qa_chain(settings, RecordingLLM(responses=["x"])).system_prompts is None


REFUSAL = "资料中没有找到答案 (I could not find the answer in the documents)."
SHIPPED = ("source_numbers", "simplified_reading", "question_script", "valid_citations")
SHIPPED += ("one_reply", "not_found_reply", "cite_sources")
RETRIES = ("refusal_retry", "echo_retry")


def test_refusal_with_a_relevant_source_is_asked_again():
    chain, llm = make_chain([REFUSAL, "台北 [1]"], policies=RETRIES)
    retriever = ListRetriever(documents=[doc("台灣的首都是台北。", score=0.8)])
    events = list(chain.stream("台灣的首都是哪裡？", retriever))
    tokens = [e.text for e in events if e.kind == "token"]
    assert "".join(tokens) == "台北 [1]"  # the refusal is never shown
    assert "replace" not in [e.kind for e in events]
    assert len(llm.prompts) == 2
    assert llm.prompts[1].startswith("RETRY ") and "台灣的首都是台北。" in llm.prompts[1]


def test_refusal_in_traditional_script_is_asked_again_too():
    chain, llm = make_chain(["資料中沒有找到答案。", "台北 [1]"], policies=RETRIES)
    result = chain.answer("台灣的首都是哪裡？", ListRetriever(documents=[doc("首都是台北。")]))
    assert result.text == "台北 [1]" and len(llm.prompts) == 2


@pytest.mark.parametrize(
    ("question", "language"),
    [("法國的首都？", "zh-Hant"), ("法国的首都？", "zh-Hans"), ("Capital of France?", "en")],
)
def test_refusal_with_weak_sources_is_shown_in_the_question_language(question, language):
    chain, llm = make_chain([REFUSAL, "should not be used"], SHIPPED, RETRIES)
    result = chain.answer(question, ListRetriever(documents=[doc("郵票 stamps", score=0.5)]))
    assert result.text == NOT_FOUND_REPLIES[language]
    assert len(llm.prompts) == 1


def test_a_second_refusal_is_shown_in_the_question_language():
    chain, llm = make_chain([REFUSAL, REFUSAL], SHIPPED, RETRIES)
    result = chain.answer("Who founded it?", ListRetriever(documents=[doc("Founded in 1962.")]))
    assert result.text == NOT_FOUND_REPLIES["en"] and len(llm.prompts) == 2


def test_an_answer_is_streamed_as_it_comes_and_asked_once():
    chain, llm = make_chain(["I think it is Taipei [1]", "should not be used"], SHIPPED, RETRIES)
    events = list(chain.stream("capital?", ListRetriever(documents=[doc("Taipei.")])))
    tokens = [e.text for e in events if e.kind == "token"]
    assert "".join(tokens) == "I think it is Taipei [1]"
    assert len(tokens) > 10  # not held back until the end
    assert len(llm.prompts) == 1


def test_an_answer_with_the_refusal_appended_is_the_answer_alone():
    answer = "It was founded in 1962 [1] (I could not find the answer in the documents)"
    chain, llm = make_chain([answer], SHIPPED, RETRIES)
    result = chain.answer("When was it founded?", ListRetriever(documents=[doc("In 1962.")]))
    assert result.text == "It was founded in 1962 [1]" and len(llm.prompts) == 1


def test_citations_of_sources_not_shown_are_removed():
    chain, _ = make_chain(["台北 [3]，高雄 [1, 4]。"], SHIPPED)
    result = chain.answer("台灣的城市？", ListRetriever(documents=[doc("台北與高雄。")]))
    assert result.text == "台北，高雄 [1]。"


def test_traditional_sources_are_read_in_simplified_and_answered_as_written():
    # the model copies 范汝为 from what it read; OpenCC alone would write 範汝為
    chain, llm = make_chain(["起兵的是范汝为 [1]"], SHIPPED, RETRIES, min_score=0.5)
    retriever = ListRetriever(documents=[doc("建炎四年，范汝為於建州起兵。", score=0.9)])
    result = chain.answer("誰在建州起兵？", retriever)
    assert "范汝为于建州起兵" in llm.prompts[0] and "谁在建州起兵" in llm.prompts[0]
    assert result.text == "起兵的是范汝為 [1]"
    assert result.sources[0].text == "建炎四年，范汝為於建州起兵。"  # shown as written


def test_second_try_after_a_refusal_reads_the_sources_as_written():
    chain, llm = make_chain([REFUSAL, "范汝為 [1]"], SHIPPED, RETRIES, min_score=0.5)
    retriever = ListRetriever(documents=[doc("建炎四年，范汝為於建州起兵。", score=0.9)])
    assert chain.answer("誰在建州起兵？", retriever).text == "范汝為 [1]"
    assert llm.prompts[1].startswith("RETRY ") and "范汝為於建州起兵" in llm.prompts[1]


def test_simplified_question_gets_a_simplified_answer():
    chain, llm = make_chain(["范汝为 [1]"], SHIPPED)
    retriever = ListRetriever(documents=[doc("建炎四年，范汝為於建州起兵。", score=0.9)])
    assert chain.answer("谁在建州起兵？", retriever).text == "范汝为 [1]"
    assert "范汝为于建州起兵" in llm.prompts[0]


def test_numbers_the_answer_rewrites_are_written_as_the_sources_write_them():
    source = doc("岳飛派二千人駐守吉州，其後又派兵收復常州。", score=0.9)
    question, retriever = "岳飛派多少人駐守吉州？", ListRetriever(documents=[source])
    chain, _ = make_chain(["岳飞派2000人驻守吉州。[1]"], SHIPPED)  # read in Simplified
    assert chain.answer(question, retriever).text == "岳飛派二千人駐守吉州。[1]"
    chain, _ = make_chain(["岳飛派2000人駐守吉州。[1]"], ("source_numbers",))  # as written
    assert chain.answer(question, retriever).text == "岳飛派二千人駐守吉州。[1]"
    chain, _ = make_chain([REFUSAL, "2000人 [1]"], SHIPPED, RETRIES, min_score=0.5)
    assert chain.answer(question, retriever).text == "二千人 [1]"  # the second try
    chain, _ = make_chain(["岳飛派2000人駐守吉州。[1]"])  # no processors
    assert chain.answer(question, retriever).text == "岳飛派2000人駐守吉州。[1]"


def test_a_repeated_question_is_replaced_and_asked_again():
    chain, llm = make_chain(["史特拉斯堡港是第幾大港口？[1]", "第二大 [1]"], SHIPPED, RETRIES)
    retriever = ListRetriever(documents=[doc("史特拉斯堡港是萊茵河沿線的第二大港口。")])
    events = list(chain.stream("史特拉斯堡港是第幾大港口？", retriever))
    kinds = [e.kind for e in events]
    replace = kinds.index("replace")
    assert events[replace].text == ""
    first = "".join(e.text for e in events[:replace] if e.kind == "token")
    assert first == "史特拉斯堡港是第幾大港口？[1]"  # streamed as it came, then replaced
    assert "".join(e.text for e in events[replace:] if e.kind == "token") == "第二大 [1]"
    assert collect_answer(events).text == "第二大 [1]"
    assert len(llm.prompts) == 2 and llm.prompts[1].startswith("RETRY ")


def test_a_repeated_question_is_kept_with_weak_sources_or_without_echo_retry():
    chain, llm = make_chain(["第幾大港口？[1]", "unused"], policies=RETRIES, min_score=0.9)
    retriever = ListRetriever(documents=[doc("史特拉斯堡港是第二大港口。", score=0.5)])
    assert chain.answer("第幾大港口？", retriever).text == "第幾大港口？[1]"
    assert len(llm.prompts) == 1
    chain, llm = make_chain(["第幾大港口？[1]", "unused"], policies=("refusal_retry",))
    assert chain.answer("第幾大港口？", retriever).text == "第幾大港口？[1]"
    assert len(llm.prompts) == 1


def test_an_answer_naming_what_no_source_holds_is_replaced_by_the_not_found_reply():
    policies = (*RETRIES, "unsupported_answer")
    hallucinated = "The first president of Tanzania was Julius Nyerere [1]."
    chain, llm = make_chain([hallucinated, "unused"], SHIPPED, policies, min_score=0.0)
    retriever = ListRetriever(documents=[doc("Kenya's first president was Jomo Kenyatta.")])
    events = list(chain.stream("Who was the first president of Tanzania?", retriever))
    kinds = [e.kind for e in events]
    replace = kinds.index("replace")
    assert events[replace].text == NOT_FOUND_REPLIES["en"] and replace == len(events) - 1
    assert collect_answer(events).text == NOT_FOUND_REPLIES["en"]  # no quote, no second try
    assert len(llm.prompts) == 1
    kept = "Jomo Kenyatta [1]"
    chain, _ = make_chain([kept], SHIPPED, policies, min_score=0.0)
    assert chain.answer("Who was Kenya's first president?", retriever).text == kept
    assert chain.may_withdraw("Jomo", "q") and not chain.may_withdraw("Jomo Kenyatta. He", "q")


def test_replace_events_collect_to_their_text():
    from rag.chains import ChatEvent

    events = [
        ChatEvent("token", text="a"),
        ChatEvent("replace", text="b"),
        ChatEvent("token", text="c"),
    ]
    assert collect_answer(events).text == "bc"


def test_the_factory_builds_the_configured_stages():
    settings = load_settings(env={})
    chain = build_qa_chain(settings, RecordingLLM(responses=["x"]))
    assert [p.name for p in chain.processors] == list(settings.answer_processors)
    assert [p.name for p in chain.retry_policies] == list(settings.retry_policies)
    assert "unsupported_answer" in settings.retry_policies  # the shipped 1.5B's entry
    plain = build_qa_chain(load_settings(env={}, retry_prompt_template=None), chain.llm)
    assert plain.retry_policies == ()


class ClosingLLM(LLM):
    """Streams its answer a character at a time and records when the stream is closed."""

    answer: str
    closed: list[bool] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "closing"

    def _call(self, prompt, stop=None, run_manager=None, **kwargs):
        return self.answer

    def _stream(self, prompt, stop=None, run_manager=None, **kwargs):
        try:
            for char in self.answer:
                yield GenerationChunk(text=char)
        finally:
            self.closed.append(True)


def test_a_consumer_that_stops_early_ends_the_model_stream():
    llm = ClosingLLM(answer="台北是台灣的首都 [1]")
    processors = build_processors(SHIPPED, ProcessorTools(CONVERTER, Refusals()))
    chain = QAChain(llm, "{context} {question}", 2000, 3, processors=processors)
    events = chain.stream("台灣的首都是哪裡？", ListRetriever(documents=[doc("台北。")]))
    assert next(events).kind == "sources" and next(events).kind == "token"
    assert llm.closed == []
    events.close()
    assert llm.closed == [True]
