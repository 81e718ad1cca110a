"""The QA chain's logic with fake models: budget, numbering, nothing-found, history."""

import pytest
from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeStreamingListLLM
from langchain_core.retrievers import BaseRetriever
from pydantic import Field

from rag.chains import QAChain, build_context, collect_answer
from rag.chains.qa import NOTHING_FOUND, format_history
from rag.chains.retry import RefusalRetry, RefusalWatch, refusal_fold, repeats_question
from rag.chains.script import ScriptConverter
from rag.settings import load_settings


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


class RecordingLLM(FakeStreamingListLLM):
    """Answers from `responses` and records every prompt it is given."""

    prompts: list[str] = Field(default_factory=list)

    def _call(self, prompt, stop=None, run_manager=None, **kwargs):
        self.prompts.append(prompt)
        return super()._call(prompt, stop, run_manager, **kwargs)


def make_chain(responses: list[str]) -> tuple[QAChain, RecordingLLM]:
    llm = RecordingLLM(responses=responses)
    settings = load_settings(env={})
    return QAChain(llm, settings.prompt_template, 2000, 3), llm


def test_answer_with_sources_streams_tokens():
    chain, _ = make_chain(["台北 [1]"])
    retriever = ListRetriever(documents=[doc("台灣的首都是台北。", "geo.md")])
    events = list(chain.stream("台灣的首都是哪裡？", retriever))
    assert events[0].kind == "sources"
    assert events[0].sources[0].source == "geo.md"
    tokens = [e.text for e in events[1:]]
    assert len(tokens) > 1 and "".join(tokens) == "台北 [1]"


def test_nothing_retrieved_says_so_without_calling_the_llm():
    chain, llm = make_chain(["should not be used"])
    result = chain.answer("anything?", ListRetriever(documents=[]))
    assert result.text == NOTHING_FOUND
    assert result.sources == []
    assert llm.prompts == []


def test_plain_chat_has_no_sources():
    chain, _ = make_chain(["hello"])
    result = chain.answer("hi", None, [("q", "a")])
    assert result.text == "hello" and result.sources == [] and result.rewritten is None


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


REFUSAL = "资料中没有找到答案 (I could not find the answer in the documents)."
PREFIXES = ("资料中没有找到答案", "資料中沒有找到答案", "I could not find the answer")


def retrying_chain(responses: list[str], min_score: float = 0.65) -> tuple[QAChain, RecordingLLM]:
    llm = RecordingLLM(responses=responses)
    settings = load_settings(env={})
    retry = RefusalRetry("RETRY {context} / {question}", min_score, PREFIXES)
    return QAChain(llm, settings.prompt_template, 2000, 3, refusal_retry=retry), llm


def test_refusal_with_a_relevant_source_is_asked_again():
    chain, llm = retrying_chain([REFUSAL, "台北 [1]"])
    retriever = ListRetriever(documents=[doc("台灣的首都是台北。", score=0.8)])
    events = list(chain.stream("台灣的首都是哪裡？", retriever))
    tokens = [e.text for e in events if e.kind == "token"]
    assert "".join(tokens) == "台北 [1]"  # the refusal is never shown
    assert len(llm.prompts) == 2
    assert llm.prompts[1].startswith("RETRY ") and "台灣的首都是台北。" in llm.prompts[1]


def test_refusal_in_traditional_script_is_asked_again_too():
    chain, llm = retrying_chain(["資料中沒有找到答案。", "台北 [1]"])
    result = chain.answer("台灣的首都是哪裡？", ListRetriever(documents=[doc("首都是台北。")]))
    assert result.text == "台北 [1]" and len(llm.prompts) == 2


def test_refusal_in_mixed_scripts_is_recognised():
    # the 1.5B wrote Traditional 資料 with Simplified 没有 in one reply
    fold = refusal_fold(ScriptConverter())
    watch = RefusalWatch(PREFIXES, fold)
    for piece in ["資料", "中", "没有", "找到", "答案"]:
        assert watch.feed(piece) == ""
    assert watch.refused
    exact = RefusalWatch(("资料中没有找到答案", "資料中沒有找到答案"), str)
    assert exact.feed("資料中没有找到答案") and not exact.refused  # what the fold fixes
    english = RefusalWatch(PREFIXES, fold)
    assert english.feed("i could not find the answer.") == "" and english.refused


def test_refusal_with_weak_sources_is_kept():
    chain, llm = retrying_chain([REFUSAL, "should not be used"])
    result = chain.answer("法國的首都？", ListRetriever(documents=[doc("郵票", score=0.5)]))
    assert result.text == REFUSAL
    assert len(llm.prompts) == 1


def test_an_answer_is_streamed_as_it_comes_and_asked_once():
    chain, llm = retrying_chain(["I think it is Taipei [1]", "should not be used"])
    events = list(chain.stream("capital?", ListRetriever(documents=[doc("Taipei.")])))
    tokens = [e.text for e in events if e.kind == "token"]
    assert "".join(tokens) == "I think it is Taipei [1]"
    assert len(tokens) > 10  # not held back until the end
    assert len(llm.prompts) == 1


def test_refusal_watch_holds_only_what_may_become_a_refusal():
    watch = RefusalWatch(PREFIXES)
    assert watch.feed("资料") == ""  # the beginning of the refusal
    assert watch.feed("显示") == "资料显示"  # no longer can be one
    assert watch.feed("台北") == "台北" and not watch.refused

    watch = RefusalWatch(PREFIXES)
    assert watch.feed(" I could") == "" and watch.feed(" not find the answer") == ""
    assert watch.refused

    watch = RefusalWatch(PREFIXES)
    assert watch.feed("I") == ""  # a one-letter answer is held until the end...
    assert watch.flush() == "I" and not watch.refused  # ...and then given back


def reading_chain(responses: list[str]) -> tuple[QAChain, RecordingLLM]:
    llm = RecordingLLM(responses=responses)
    settings = load_settings(env={})
    retry = RefusalRetry("RETRY {context} / {question}", 0.5, PREFIXES, refusal_fold(None))
    chain = QAChain(
        llm,
        settings.prompt_template,
        2000,
        3,
        script_converter=ScriptConverter(),
        refusal_retry=retry,
        read_simplified=True,
    )
    return chain, llm


def test_traditional_sources_are_read_in_simplified_and_answered_as_written():
    # the model copies 范汝为 from what it read; OpenCC alone would write 範汝為
    chain, llm = reading_chain(["起兵的是范汝为 [1]"])
    retriever = ListRetriever(documents=[doc("建炎四年，范汝為於建州起兵。", score=0.9)])
    result = chain.answer("誰在建州起兵？", retriever)
    assert "范汝为于建州起兵" in llm.prompts[0] and "谁在建州起兵" in llm.prompts[0]
    assert result.text == "起兵的是范汝為 [1]"
    assert result.sources[0].text == "建炎四年，范汝為於建州起兵。"  # shown as written


def test_second_try_after_a_refusal_reads_the_sources_as_written():
    chain, llm = reading_chain([REFUSAL, "范汝為 [1]"])
    retriever = ListRetriever(documents=[doc("建炎四年，范汝為於建州起兵。", score=0.9)])
    assert chain.answer("誰在建州起兵？", retriever).text == "范汝為 [1]"
    assert llm.prompts[1].startswith("RETRY ") and "范汝為於建州起兵" in llm.prompts[1]


def test_simplified_question_gets_a_simplified_answer():
    chain, llm = reading_chain(["范汝为 [1]"])
    retriever = ListRetriever(documents=[doc("建炎四年，范汝為於建州起兵。", score=0.9)])
    assert chain.answer("谁在建州起兵？", retriever).text == "范汝为 [1]"
    assert "范汝为于建州起兵" in llm.prompts[0]


def test_reading_in_simplified_needs_a_converter():
    with pytest.raises(ValueError, match="script_converter"):
        QAChain(
            RecordingLLM(responses=["x"]), "{context} {question}", 2000, 3, read_simplified=True
        )


def test_numbers_the_answer_rewrites_are_written_as_the_sources_write_them():
    source = doc("岳飛派二千人駐守吉州，其後又派兵收復常州。", score=0.9)
    chain, _ = reading_chain(["岳飞派2000人驻守吉州。[1]"])  # read in Simplified
    assert chain.answer("岳飛派多少人駐守吉州？", ListRetriever(documents=[source])).text == (
        "岳飛派二千人駐守吉州。[1]"
    )
    chain, _ = make_chain(["岳飛派2000人駐守吉州。[1]"])  # read as written
    assert chain.answer("岳飛派多少人駐守吉州？", ListRetriever(documents=[source])).text == (
        "岳飛派二千人駐守吉州。[1]"
    )
    chain, _ = reading_chain([REFUSAL, "2000人 [1]"])  # the second try
    assert chain.answer("岳飛派多少人駐守吉州？", ListRetriever(documents=[source])).text == (
        "二千人 [1]"
    )
    llm = RecordingLLM(responses=["岳飛派2000人駐守吉州。[1]"])
    settings = load_settings(env={})
    kept = QAChain(llm, settings.prompt_template, 2000, 3, keep_source_numbers=False)
    assert kept.answer("岳飛派多少人駐守吉州？", ListRetriever(documents=[source])).text == (
        "岳飛派2000人駐守吉州。[1]"
    )


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
    assert repeats_question(answer, question, refusal_fold(ScriptConverter()))


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
    assert not repeats_question(answer, question, refusal_fold(ScriptConverter()))


def test_a_repeated_question_is_withdrawn_and_asked_again():
    chain, llm = retrying_chain(["史特拉斯堡港是第幾大港口？[1]", "第二大 [1]"])
    retriever = ListRetriever(documents=[doc("史特拉斯堡港是萊茵河沿線的第二大港口。")])
    events = list(chain.stream("史特拉斯堡港是第幾大港口？", retriever))
    kinds = [e.kind for e in events]
    restart = kinds.index("restart")
    first = "".join(e.text for e in events[:restart] if e.kind == "token")
    assert first == "史特拉斯堡港是第幾大港口？[1]"  # streamed as it came, then withdrawn
    assert "".join(e.text for e in events[restart:] if e.kind == "token") == "第二大 [1]"
    assert collect_answer(events).text == "第二大 [1]"
    assert len(llm.prompts) == 2 and llm.prompts[1].startswith("RETRY ")


def test_a_repeated_question_is_kept_with_weak_sources_or_the_option_off():
    chain, llm = retrying_chain(["第幾大港口？[1]", "should not be used"], min_score=0.9)
    retriever = ListRetriever(documents=[doc("史特拉斯堡港是第二大港口。", score=0.5)])
    assert chain.answer("第幾大港口？", retriever).text == "第幾大港口？[1]"
    assert len(llm.prompts) == 1
    llm = RecordingLLM(responses=["第幾大港口？[1]", "should not be used"])
    retry = RefusalRetry("RETRY {context} / {question}", 0.5, PREFIXES, on_echo=False)
    chain = QAChain(llm, load_settings(env={}).prompt_template, 2000, 3, refusal_retry=retry)
    assert chain.answer("第幾大港口？", retriever).text == "第幾大港口？[1]"
    assert len(llm.prompts) == 1
