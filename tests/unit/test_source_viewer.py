"""The source viewer's parts without a server: finding a passage, the page renderer, what the
chat writes under an answer (escaped, with the data to open each source), citations made
clickable, Stop, regenerate and the knowledge-base choice."""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest
from langchain_core.documents import Document

from rag.chains import ChatEvent, Source
from rag.documents import PdfPageRenderer, document_text, locate
from rag.errors import DocumentLoadError, DocumentNotFoundError
from rag.services.models_info import device_of, llm_device
from rag.ui.chat_actions import AnswerView, last_question, stopped
from rag.ui.chat_tab import stream_reply
from rag.ui.common import PLAIN_CHAT, chat_choice, chat_choices
from rag.ui.render import SOURCES_MARK, answer_with_citations, plain_answer
from rag.ui.source_cards import emphasised, question_terms, source_card
from tests.fixtures_docs import CJK_PDF_SENTENCE, CJK_PDF_SENTENCE_2, CJK_PDF_TITLE, write_cjk_pdf

# ---- finding a passage ------------------------------------------------------------------


def test_a_passage_is_found_across_line_breaks_width_and_case():
    page = (
        "第一章 系统简介\r\n知库是一个在本地运行的知识\r\n库问答系统。Ｚｈｉｋｕ runs\r\nOFFLINE."
    )
    start, end = locate("知库是一个在本地运行的知识库问答系统。", page) or (0, 0)
    assert page[start:end] == "知库是一个在本地运行的知识\r\n库问答系统。"
    start, end = locate("zhiku runs offline", page) or (0, 0)
    assert page[start:end] == "Ｚｈｉｋｕ runs\r\nOFFLINE"


def test_a_chunk_with_its_heading_path_in_front_is_found_by_its_text():
    page = f"{CJK_PDF_TITLE}\n{CJK_PDF_SENTENCE}{CJK_PDF_SENTENCE_2}"
    chunk = f"手册 > {CJK_PDF_TITLE}\n{CJK_PDF_SENTENCE_2}"  # the prefix is not on the page
    start, end = locate(chunk, page) or (0, 0)
    assert page[start:end].endswith(CJK_PDF_SENTENCE_2)
    assert CJK_PDF_SENTENCE[:20] not in page[start:end]


def test_a_passage_that_is_not_there_is_not_found():
    assert locate("这段话在别处。完全不同的内容，没有一个字相同的句子", CJK_PDF_SENTENCE) is None
    assert locate("", CJK_PDF_SENTENCE) is None
    assert locate("知库", "") is None


def test_a_slide_passage_is_found_on_its_own_slide_first():
    loaded = document_text(
        [
            Document("重复的标题：试点。", metadata={"page": 1}),
            Document("重复的标题：试点。", metadata={"page": 2}),
        ]
    )
    assert [page for _, page in loaded.pages] == [1, 2]
    start, _ = loaded.locate("重复的标题：试点。", page=2) or (0, 0)
    assert start == loaded.page_range(2)[0]  # type: ignore[index]
    assert loaded.locate("重复的标题：试点。") == (0, len("重复的标题：试点。"))


# ---- the page renderer ------------------------------------------------------------------


def test_the_renderer_marks_lines_of_the_passage_and_only_them(tmp_path):
    pdf = write_cjk_pdf(tmp_path)
    renderer = PdfPageRenderer()
    image = renderer.render(pdf, 1, CJK_PDF_SENTENCE_2, scale=1.0)
    assert image.pages == 2 and len(image.boxes) >= 2
    tops = sorted(box[1] for box in image.boxes)
    assert all(top > 100 for top in tops)  # below the title
    plain = renderer.render(pdf, 1, "这句话不在这一页上，也不在文档的任何地方出现过", scale=1.0)
    assert plain.boxes == ()
    assert renderer.page_count(pdf) == 2


def test_the_renderer_refuses_a_missing_page_and_a_broken_file(tmp_path):
    pdf = write_cjk_pdf(tmp_path)
    with pytest.raises(DocumentNotFoundError, match="2 page"):
        PdfPageRenderer().render(pdf, 3)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 broken")
    with pytest.raises(DocumentLoadError, match="download the original"):
        PdfPageRenderer().render(broken, 1)


def test_a_huge_scale_is_capped(tmp_path):
    image = PdfPageRenderer(max_side_px=500).render(write_cjk_pdf(tmp_path), 1, scale=3.0)
    assert max(image.width, image.height) <= 500


# ---- what the chat writes under an answer ----------------------------------------------

HOSTILE = Source(
    2,
    '<img src=x onerror="alert(1)">_a_.pdf',
    3,
    '段一\n\n"引号" </span><script>alert(1)</script> 知库 ZHIKU',
    0.734,
)


def data_of(block: str) -> list[dict[str, object]]:
    """The JSON the page's script reads from the hidden `.zhiku-data` elements."""
    found = re.findall(r'<span class="zhiku-data" hidden>(.*?)</span>', block)
    return [json.loads(html.unescape(text)) for text in found]


def test_a_source_card_is_escaped_and_carries_what_opens_it():
    card = source_card(HOSTILE, terms=["知库", "zhiku"])
    assert "<script>" not in card and "<img" not in card
    assert "\n\n" not in card  # a blank line would hand the rest to Markdown
    [data] = data_of(card)
    assert data == {"index": 2, "file": HOSTILE.source, "page": 3, "passage": HOSTILE.text}
    assert 'value="0.73"' in card and "相关度 0.73" in card  # the relevance bar
    assert "第 3 页" in card and "page 3" not in card  # in the page's language only
    english = source_card(HOSTILE, lang="en")
    assert "score 0.73" in english and "page 3" in english and "第 3 页" not in english
    assert '<mark class="zhiku-term">知库</mark>' in card
    assert '<mark class="zhiku-term">ZHIKU</mark>' in card  # case-insensitive


def test_emphasis_escapes_first_so_a_term_cannot_open_a_tag():
    assert emphasised("a <b> c", ["<b>"]) == 'a <mark class="zhiku-term">&lt;b&gt;</mark> c'
    assert emphasised("系统不需要联网", ["系统", "联网"]) == (
        '<mark class="zhiku-term">系统</mark>不需要<mark class="zhiku-term">联网</mark>'
    )


def test_a_term_marks_its_accented_form_as_search_matched_it():
    assert emphasised("Börte had sons", ["borte"]) == (
        '<mark class="zhiku-term">Börte</mark> had sons'
    )


def test_question_words_are_not_marked():
    terms = question_terms(["启动", "服务", "哪种", "解释器", "之前", "什么", "x"])
    assert terms[0] == "解释器" and "哪种" not in terms and "什么" not in terms and "x" not in terms


def test_citations_of_shown_sources_are_clickable_and_read_back_as_written():
    text = "见 [1]、[2, 3] 和 【4】；[9] 不是来源。"
    rendered = answer_with_citations(text, sources=3)
    assert rendered.count('class="zhiku-cite"') == 3  # 1, 2, 3; not 4 or 9
    assert plain_answer(rendered) == text
    # a model that writes the tag itself gets it escaped, shown as text
    forged = '<span class="zhiku-cite" role="button" tabindex="0">1</span>'
    assert "<span" not in answer_with_citations(forged, sources=1)
    assert plain_answer(answer_with_citations(forged, sources=1)) == forged


def test_an_answer_shows_its_sources_while_it_streams_and_its_tools_when_done():
    view = AnswerView("库", terms=lambda: ["知库"])
    view.add(ChatEvent("sources", sources=[HOSTILE]))
    view.add(ChatEvent("token", text="答案 [2]"))
    streaming = view.content()
    assert SOURCES_MARK in streaming and "zhiku-copy" not in streaming
    assert data_of(streaming)[0] == {"kb": "库"}
    done = view.content(done=True)
    assert data_of(done)[-1]["copy"] == "答案 [2]"
    assert plain_answer(done) == "答案 [2]"


def test_plain_chat_answers_say_so():
    view = AnswerView(None)
    view.add(ChatEvent("sources"))
    view.add(ChatEvent("token", text="模型的回答"))
    assert "未使用知识库" in view.content(done=True)
    assert SOURCES_MARK not in view.content()


# ---- stop and regenerate ----------------------------------------------------------------


class ClosingServices:
    """A chat whose answer never ends unless it is closed; it records that it was."""

    def __init__(self) -> None:
        self.closed = False
        self.kb = SimpleNamespace(query_terms=lambda text: [])

    def chat(self, question, kb, history):
        try:
            yield ChatEvent("sources")
            while True:
                yield ChatEvent("token", text="字")
        finally:
            self.closed = True


def test_closing_the_reply_closes_the_answer_and_so_the_model():
    """What Stop does: Gradio closes the handler's generator; the chain's must close too
    (it closes the LLM's stream, which ends generation), at once, not when collected."""
    services = ClosingServices()
    reply = stream_reply(services, "问题", [], PLAIN_CHAT)  # type: ignore[arg-type]
    for _ in range(5):
        next(reply)
    assert not services.closed
    reply.close()
    assert services.closed


def test_a_stopped_answer_is_marked_and_keeps_its_sources():
    view = AnswerView("库")
    view.add(ChatEvent("sources", sources=[HOSTILE]))
    view.add(ChatEvent("token", text="答到一半"))
    messages = [{"role": "user", "content": "问"}, {"role": "assistant", "content": view.content()}]
    after = stopped(messages)[-1]["content"]
    assert "已停止" in after and "zhiku-copy" in after and "zhiku-source" in after
    assert data_of(after)[-1]["copy"] == "答到一半"
    assert (
        stopped([*messages[:-1], {"role": "assistant", "content": after}])[-1]["content"] == after
    )  # once
    pending = stopped([{"role": "assistant", "content": "…"}])[-1]["content"]
    assert "已停止" in pending and plain_answer(pending) == "…"
    english = stopped(messages, "en")[-1]["content"]
    assert "stopped" in english and "已停止" not in english and "Copy" in english


def test_regenerate_asks_the_last_question_again_without_its_answer():
    messages = [
        {"role": "user", "content": "第一问"},
        {"role": "assistant", "content": "答一"},
        {"role": "user", "content": [{"type": "text", "text": "第二问 \\[1\\]"}]},
        {"role": "assistant", "content": "答二"},
    ]
    assert last_question(messages) == ("第二问 [1]", messages[:2])
    assert last_question([]) == ("", [])


# ---- the knowledge-base choice ------------------------------------------------------------


def test_plain_chat_is_chosen_only_on_purpose_or_when_there_is_no_kb():
    assert chat_choice(["手册"], None) == "手册"  # a new user with one KB
    assert chat_choice(["a", "b"], "b") == "b"  # remembered / kept on Refresh
    assert chat_choice(["a", "b"], "deleted") == "a"
    assert chat_choice(["a"], PLAIN_CHAT) == PLAIN_CHAT  # chosen on purpose
    assert chat_choice([], None) == PLAIN_CHAT
    labels = [shown for shown, _ in chat_choices(["a"])]
    assert labels[-1].startswith("不用知识库") and PLAIN_CHAT not in labels
    assert chat_choices(["a"], "en")[-1] == ("No knowledge base (model only)", PLAIN_CHAT)


# ---- the model line -----------------------------------------------------------------------


def test_devices_are_read_from_what_the_models_record():
    assert llm_device(SimpleNamespace(n_gpu_layers=0)) == "cpu"
    assert llm_device(SimpleNamespace(n_gpu_layers=-1)) == "gpu"
    assert device_of(SimpleNamespace(api_base_url="http://10.0.0.2:8000/v1")) == (
        "server 10.0.0.2:8000"
    )
    assert device_of(SimpleNamespace(device="cuda")) == "cuda"
    assert device_of(SimpleNamespace(model_kwargs={"device": "mps"})) == "mps"
    assert device_of(object()) == "cpu"
