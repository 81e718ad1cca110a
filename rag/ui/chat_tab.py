"""The chat tab: pick a knowledge base (or, deliberately, plain chat), ask, read the answer
as it streams with its sources under it, stop or regenerate it, copy it; the source viewer
beside it opens what an answer cites (rag/ui/source_viewer.py); each question is kept in the
current stored conversation (the side panel: rag/ui/conversations_panel.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from rag.chains import ChatEvent
from rag.errors import ZhikuError
from rag.services import Services
from rag.ui.chat_actions import (
    AnswerClock,
    AnswerView,
    chosen_kb,
    closed_after,
    kb_memory,
    last_question,
    mark_stopped,
    message_text,
    model_line,
    plain_chat_notice,
)
from rag.ui.common import PLAIN_CHAT, WARNING_MARK
from rag.ui.conversations_panel import ConversationsPanel
from rag.ui.render import answer_markdown, plain_answer
from rag.ui.source_cards import question_terms
from rag.ui.source_viewer import source_viewer
from rag.ui.viewer_labels import label


class Asker(Protocol):
    """Where `stream_reply` gets answers: `Services`, or a stored conversation's turn."""

    def chat(
        self, question: str, kb: str | None, history: Sequence[tuple[str, str]]
    ) -> Iterator[ChatEvent]: ...


@dataclass(frozen=True)
class ChatControls:
    """What the rest of the UI wires: the KB picker, its refresh button, and where the
    browser remembers the knowledge base it chose."""

    kb: gr.Dropdown
    refresh: gr.Button
    memory: gr.BrowserState


def chat_tab(services: Services, ui: gr.Blocks, upload_dir: Path) -> ChatControls:
    """`ui`: the page (the conversation panel reopens a conversation when it loads);
    `upload_dir`: Gradio's upload folder (where exports are offered)."""
    panel = ConversationsPanel(services, upload_dir)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=420):
            with gr.Row():
                kb = gr.Dropdown(label="知识库 Knowledge base", choices=[PLAIN_CHAT], scale=4)
                refresh = gr.Button("刷新 Refresh", scale=1)
            notice = gr.Markdown(label("plain_chat_notice"), elem_id="zhiku-plain-notice")
            # no LaTeX: "$5 and $10" in a document is money, not math
            chatbot = gr.Chatbot(
                label="对话 Chat", height=520, elem_id="chatbot", latex_delimiters=[], buttons=[]
            )
            with gr.Row():
                question = gr.Textbox(
                    placeholder="输入问题 Ask a question…", show_label=False, scale=5,
                    elem_id="question",
                )  # fmt: skip
                send = gr.Button("发送 Send", variant="primary", scale=1, elem_id="send")
                stop = gr.Button(label("stop"), variant="stop", scale=1, elem_id="stop")
            clear = gr.Button("清空 Clear")
            models = gr.Markdown(model_line(services.models_in_use()), elem_id="model-line")
        source_viewer(services)
    memory = kb_memory()
    _wire(services, ChatParts(kb, chatbot, question, send, stop, clear, models), panel)
    panel.wire(ui, chatbot, kb, clear)
    kb.change(plain_chat_notice, kb, notice, show_progress="hidden")
    kb.input(lambda value: value, kb, memory, show_progress="hidden")
    return ChatControls(kb, refresh, memory)


@dataclass(frozen=True)
class ChatParts:
    kb: gr.Dropdown
    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    stop: gr.Button
    clear: gr.Button
    models: gr.Markdown


def _wire(services: Services, ui: ChatParts, panel: ConversationsPanel) -> None:
    """Send, regenerate (the chatbot's retry button), stop; the model line and the
    conversation list after each answer."""

    # named `respond`: Gradio names the UI's endpoint after it
    def respond(
        message: str,
        messages: list[dict[str, Any]],
        kb_name: str,
        session: str | None,
        current: str | None,
        request: gr.Request,
    ) -> Iterator[Any]:
        """The answer, kept in the current conversation (a new one when there is none)."""
        asker = panel.asker(session, current, request)
        clock = AnswerClock(services.qa.count_tokens)
        terms = services.kb.query_terms
        for shown, cleared in stream_reply(asker, message, messages, kb_name, clock, terms):
            yield shown, cleared, gr.skip(), asker.conversation_id()
        summary = clock.summary
        yield gr.skip(), gr.skip(), model_line(services.models_in_use(), summary), gr.skip()

    def regenerate(
        messages: list[dict[str, Any]],
        kb_name: str,
        session: str | None,
        current: str | None,
        request: gr.Request,
    ) -> Iterator[Any]:
        asked, before = last_question(messages)
        yield from respond(asked, before, kb_name, session, current, request)

    # no gr.State here: one would keep a heartbeat stream open for the page's whole life
    outputs = [ui.chatbot, ui.question, ui.models, panel.current]
    asked = [ui.question, ui.chatbot, ui.kb, panel.session, panel.current]
    answering: list[Any] = [
        trigger(respond, asked, outputs) for trigger in (ui.question.submit, ui.send.click)
    ]
    answering.append(ui.chatbot.retry(regenerate, asked[1:], outputs))
    # cancelling the event closes the generator, and with it the model's generation; what
    # follows an event runs once it ended, cancelled or not, on the chat as the page shows
    # it (marking the answer stopped from Stop's own handler raced the last streamed update)
    ui.stop.click(None, cancels=answering)
    for event in answering:
        event.then(mark_stopped, ui.chatbot, ui.chatbot, queue=False, show_progress="hidden")
        event.then(panel.on_answered, [panel.session, panel.current], panel.panel_outputs)
    # Clear empties the chat and starts a new conversation: the panel wires it


def stream_reply(
    asker: Asker,
    message: str,
    messages: list[dict[str, Any]],
    kb_name: str,
    clock: AnswerClock | None = None,
    query_terms: Callable[[str], Sequence[str]] | None = None,
) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """The chatbot's messages as the answer to `message` streams in, its sources under it
    from the moment they are found (the question's `query_terms` marked in them). Closing
    this generator (Stop) closes the answer's events, which ends the model's generation and
    frees it."""
    message = (message or "").strip()
    if not message:
        return
    history = history_pairs(messages)
    messages = [*messages, {"role": "user", "content": answer_markdown(message)}]
    kb = chosen_kb(kb_name)
    view = AnswerView(kb, terms=lambda: question_terms(query_terms(message)) if query_terms else ())
    messages.append({"role": "assistant", "content": view.content()})
    yield messages, ""
    try:
        with closed_after(asker.chat(message, kb, history)) as events:
            for event in events:
                view.add(event)
                if clock is not None:
                    clock.saw(event)
                messages[-1] = {"role": "assistant", "content": view.content()}
                yield messages, ""
        if clock is not None:
            clock.finish(view.text)
    except ZhikuError as exc:
        view.text = f"{WARNING_MARK} {exc}"
    messages[-1] = {"role": "assistant", "content": view.content(done=True)}
    yield messages, ""


def history_pairs(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) pairs from the chatbot's messages, without the rendered sources;
    a question that got an error instead of an answer (one too long, say) is left out, so it
    does not make every later question fail too."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for message in messages:
        text = plain_answer(message_text(message.get("content")))
        if message.get("role") == "user":
            question = text
        elif question is not None:
            if not text.startswith(WARNING_MARK):
                pairs.append((question, text))
            question = None
    return pairs
