"""A question the knowledge base holds only in the other language is translated and searched
again (rag.chains.translate, QAChain.search)."""

from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from rag.chains.not_found import NOT_FOUND_REPLIES
from rag.chains.translate import PassageSearch, QuestionTranslator, documents_language
from tests.unit.test_chain import RecordingLLM, doc, make_chain

MANUAL = "保修\n电池的保修期为一年。人为损坏不在保修范围内。"


@dataclass
class Passage:
    text: str


class ManualRetriever(BaseRetriever):
    """A knowledge base holding `texts`: the answerability check passes only for questions
    sharing a character with them; `search` returns them whatever the question."""

    texts: list[str]

    def _get_relevant_documents(self, query, *, run_manager):
        pairs = {query[i : i + 2] for i in range(len(query) - 1) if not query[i : i + 2].isascii()}
        words = {word for word in query.split() if len(word) > 3}
        if any(part in text for text in self.texts for part in pairs | words):
            return [doc(text, "manual.txt") for text in self.texts]
        return []

    def search(self, query, top_k, score_threshold=0.0):
        return [Passage(text) for text in self.texts][:top_k]


def translating_chain(responses: list[str]):
    chain, llm = make_chain(responses)
    chain.translator = QuestionTranslator(llm)
    return chain, llm


def test_an_english_question_about_chinese_documents_is_searched_in_chinese():
    chain, llm = translating_chain(["电池的保修期是多久？", "The warranty is one year [1]."])
    events = list(
        chain.stream("How long is the battery warranty?", ManualRetriever(texts=[MANUAL]))
    )
    rewritten = [e.text for e in events if e.kind == "rewritten"]
    assert rewritten == ["电池的保修期是多久？"]  # shown as "Searched as: ..."
    sources = next(e.sources for e in events if e.kind == "sources")
    assert [s.source for s in sources] == ["manual.txt"]
    assert "into Simplified Chinese" in llm.prompts[0]
    assert "How long is the battery warranty?" in llm.prompts[1]  # answered as asked
    assert "电池的保修期为一年" in llm.prompts[1]
    answer = "".join(e.text for e in events if e.kind == "token")
    assert answer == "The warranty is one year [1]."


def test_a_chinese_question_about_english_documents_is_searched_in_english():
    texts = ["Warranty\nThe battery warranty lasts one year."]
    chain, llm = translating_chain(["How long is the battery warranty?", "一年 [1]"])
    result = chain.answer("电池保修多久？", ManualRetriever(texts=texts))
    assert result.rewritten == "How long is the battery warranty?"
    assert "into English" in llm.prompts[0] and result.text == "一年 [1]"


def test_no_translation_when_the_nearest_passages_are_in_the_question_language():
    texts = ["Kenya\nNairobi is the capital of Kenya."]
    chain, llm = translating_chain(["unused"])
    result = chain.answer("Who won the 1975 Cricket World Cup?", ManualRetriever(texts=texts))
    assert result.text == NOT_FOUND_REPLIES["en"] and result.rewritten is None
    assert llm.prompts == []  # neither translated nor answered


def test_a_translation_that_finds_nothing_still_gets_the_not_found_reply():
    for reply in (
        "Who won the 1975 Cricket World Cup?",
        "西印度群岛",
        "1975年。",
    ):  # no new question
        chain, llm = translating_chain([reply])
        result = chain.answer(
            "Who won the 1975 Cricket World Cup?", ManualRetriever(texts=[MANUAL])
        )
        assert result.text == NOT_FOUND_REPLIES["en"] and result.rewritten is None
    chain, llm = translating_chain(["Who won the 1975 Cricket World Cup?"])
    result = chain.answer("Who won the 1975 Cricket World Cup?", ManualRetriever(texts=[MANUAL]))
    assert result.text == NOT_FOUND_REPLIES["en"] and len(llm.prompts) == 1
    chain, llm = translating_chain(["谁赢得了1975年板球世界杯？"])
    result = chain.answer("Who won the 1975 Cricket World Cup?", ManualRetriever(texts=[MANUAL]))
    assert result.rewritten == "谁赢得了1975年板球世界杯？"
    assert result.text == NOT_FOUND_REPLIES["en"]  # the translation was refused too


def test_without_a_translator_or_a_searchable_retriever_questions_are_searched_as_asked():
    chain, llm = make_chain(["unused"])
    result = chain.answer("How long is the battery warranty?", ManualRetriever(texts=[MANUAL]))
    assert result.text == NOT_FOUND_REPLIES["en"] and llm.prompts == []

    class Plain(BaseRetriever):
        def _get_relevant_documents(self, query, *, run_manager):
            return []

    translator = QuestionTranslator(RecordingLLM(responses=["x"]))
    assert translator.translated("How long?", Plain()) is None
    assert translator.translated("x" * 501, ManualRetriever(texts=[MANUAL])) is None
    # a blank question has no language: the dev set's one empty question found this
    assert translator.translated("  ", ManualRetriever(texts=[MANUAL])) is None


def test_the_knowledge_base_retriever_can_be_searched_for_its_nearest_passages():
    from rag.retrieval.hybrid import HybridRetriever

    assert issubclass(HybridRetriever, BaseRetriever)
    assert callable(getattr(HybridRetriever, "search", None))
    assert isinstance(ManualRetriever(texts=[]), PassageSearch)
    assert documents_language("电池？") == "en" and documents_language("Battery?") == "zh"


def test_the_switch_turns_translation_off():
    from rag.factory import build_qa_chain
    from rag.settings import load_settings

    on = build_qa_chain(load_settings(env={}), RecordingLLM(responses=["x"]))
    off_settings = load_settings(env={"ZHIKU_TRANSLATE_QUESTIONS": "false"})
    off = build_qa_chain(off_settings, RecordingLLM(responses=["x"]))
    assert isinstance(on.translator, QuestionTranslator) and off.translator is None


def test_translation_prompts_name_the_target_language():
    from rag.chains.translate import TRANSLATE_TEMPLATES

    assert "Chinese" in TRANSLATE_TEMPLATES["zh"] and "English" in TRANSLATE_TEMPLATES["en"]
    assert all("{question}" in template for template in TRANSLATE_TEMPLATES.values())
    assert isinstance(Document(page_content="x"), Document)
