"""The conversations panel's handlers over a real store and a scripted chat: a page gets a
session, its answers are kept and shown again with their sources, a login owns its own."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from rag.chains import ChatEvent, Source
from rag.conversations import ConversationStore
from rag.services import ConversationService, session_owner
from rag.ui.chat_tab import stream_reply
from rag.ui.conversations_panel import ConversationsPanel, ui_owner
from rag.ui.localize import Localizer
from rag.ui.render import SOURCES_MARK

SOURCE = Source(1, "安装手册.pdf", 2, "安装之前请确认已经安装了Python解释器。", 0.91)
ANSWER = [ChatEvent("sources", sources=[SOURCE]), ChatEvent("token", text="Python 解释器 [1]")]


def scripted_chat(question, kb, history):
    yield from ANSWER


@pytest.fixture
def panel(tmp_path):
    store = ConversationStore(tmp_path / "kbs")
    services = SimpleNamespace(
        conversations=ConversationService(store, scripted_chat),
        kb=SimpleNamespace(list_kbs=lambda: [SimpleNamespace(name="手册")]),
    )
    with gr.Blocks():
        panel = ConversationsPanel(services, tmp_path / "uploads", Localizer("zh"))  # type: ignore[arg-type]
    yield panel
    store.close()


def ask(panel, session, current, question="要先安装什么？", request=None):
    asker = panel.asker(session, current, request)
    shown = list(stream_reply(asker, question, [], "手册"))
    return asker.conversation_id(), shown[-1][0]


def test_a_page_gets_a_session_and_its_answer_is_shown_again_after_a_reload(panel):
    session, current, listed, title, export, chatbot = panel.on_load(None, None, None)
    session_owner(session)  # a valid random id
    assert current is None and chatbot == [] and listed["choices"] == []
    conversation_id, shown = ask(panel, session, None)
    assert conversation_id is not None and "安装手册.pdf" in shown[-1]["content"]
    current, listed, title, export = panel.on_answered(session, conversation_id, None)
    assert listed["choices"] == [("要先安装什么？", conversation_id)] and title == "要先安装什么？"
    assert export["value"].endswith("/要先安装什么.md")

    reloaded = panel.on_load(session, conversation_id, None)
    assert reloaded[0] == session and reloaded[1] == conversation_id
    restored = reloaded[-1]
    assert [m["role"] for m in restored] == ["user", "assistant"]
    assert restored[1]["content"] == shown[-1]["content"]  # the same, sources included


def test_a_follow_up_is_added_to_the_current_conversation(panel):
    session = panel.on_load(None, None, None)[0]
    first, _ = ask(panel, session, None)
    again, _ = ask(panel, session, first, "还要什么？")
    assert again == first
    messages = panel.on_open(session, first, None)[4]
    assert len(messages) == 4 and panel.on_open(session, first, None)[5]["value"] == "手册"


def test_another_browser_and_a_login_see_only_their_own(panel):
    mine = panel.on_load(None, None, None)[0]
    ask(panel, mine, None)
    other = panel.on_load(None, None, None)[0]
    assert other != mine and panel.on_answered(other, None, None)[1]["choices"] == []
    alice = gr.Request(username="alice")
    assert ui_owner(mine, alice) != ui_owner(mine, None)
    ask(panel, mine, None, request=alice)
    assert len(panel.on_answered(other, None, alice)[1]["choices"]) == 1  # alice's, any browser
    assert len(panel.on_answered(mine, None, None)[1]["choices"]) == 1


def test_a_made_up_session_gets_a_warning_not_an_answer(panel):
    _, shown = ask(panel, "short", None)
    assert shown[-1]["content"].startswith("⚠️") and "16 to 128" in shown[-1]["content"]


def test_after_a_failed_first_turn_the_next_question_starts_anew(panel):
    session = panel.on_load(None, None, None)[0]
    asker = panel.asker(session, None, None)
    asker.conversations = ConversationService(panel.conversations.store, failing_chat)
    shown = list(stream_reply(asker, "问题", [], "手册"))
    assert shown[-1][0][-1]["content"].startswith("⚠️")
    unkept = asker.conversation_id()
    assert panel.on_answered(session, unkept, None)[0] is None  # the page forgets it
    conversation_id, _ = ask(panel, session, unkept)  # as if the page still held it
    assert conversation_id != unkept and panel.conversations.exists(
        ui_owner(session, None), conversation_id
    )


def failing_chat(question, kb, history):
    from rag.errors import BusyError

    raise BusyError("busy")
    yield


def test_an_answer_stopped_half_way_is_kept_and_the_next_question_continues_it(panel):
    session = panel.on_load(None, None, None)[0]
    asker = panel.asker(session, None, None)
    replies = stream_reply(asker, "要先安装什么？", [], "手册")
    shown, _ = next(replies)  # the question shown
    while "Python" not in shown[-1]["content"].split(SOURCES_MARK)[0]:  # a piece of answer
        shown, _ = next(replies)
    replies.close()  # Stop: Gradio closes the handler's generator
    stopped = asker.conversation_id()
    owner = ui_owner(session, None)
    assert panel.conversations.get(owner, stopped).history() == [
        ("要先安装什么？", "Python 解释器 [1]")
    ]
    again, _ = ask(panel, session, stopped, "还要什么？")
    assert again == stopped and len(panel.conversations.get(owner, stopped).messages) == 4
