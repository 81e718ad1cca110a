"""The chat tab: pick a knowledge base (or, deliberately, plain chat), ask, read the answer
as it streams with its sources under it, stop or regenerate it, copy it; the source viewer
beside it opens what an answer cites (rag/ui/source_viewer.py); each question is kept in the
current stored conversation (the side panel: rag/ui/conversations_panel.py). Labels come
from the message table in the page's language; the fixed replies (an error, nothing found)
follow the question's."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from rag.chains import ChatEvent
from rag.chains.language import question_language
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
from rag.ui.common import PLAIN_CHAT, WARNING_MARK, chat_choices
from rag.ui.conversations_panel import ConversationsPanel
from rag.ui.localize import Localizer, error_text, request_lang
from rag.ui.messages import DEFAULT_LANG, Lang
from rag.ui.render import answer_markdown, plain_answer
from rag.ui.source_cards import question_terms
from rag.ui.source_viewer import ViewerParts, source_viewer


class Asker(Protocol):
    """Where `stream_reply` gets answers: `Services`, or a stored conversation's turn."""

    def chat(
        self, question: str, kb: str | None, history: Sequence[tuple[str, str]]
    ) -> Iterator[ChatEvent]: ...


@dataclass(frozen=True)
class ChatControls:
    """What the rest of the UI wires: the KB picker, its refresh button, where the browser
    remembers the knowledge base it chose, and what shows texts made by the server (the
    model line, the source viewer, the conversations panel), to show again in another
    language."""

    kb: gr.Dropdown
    refresh: gr.Button
    memory: gr.BrowserState
    models: gr.Markdown
    viewer: ViewerParts
    panel: ConversationsPanel

    def show_models(self, services: Services) -> Callable[[gr.Request], str]:
        """The handler that fills the model line in the page's language."""

        def show_models(request: gr.Request) -> str:
            return model_line(services.models_in_use(), None, request_lang(request))

        return show_models


def chat_tab(services: Services, ui: gr.Blocks, upload_dir: Path, loc: Localizer) -> ChatControls:
    """`ui`: the page (the conversation panel reopens a conversation when it loads);
    `upload_dir`: Gradio's upload folder (where exports are offered)."""
    panel = ConversationsPanel(services, upload_dir, loc)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=420):
            parts = _chat_column(loc)
        viewer = source_viewer(services, loc.lang)
    memory = kb_memory()
    _wire(services, parts, panel)
    panel.wire(ui, parts.chatbot, parts.kb, parts.clear)
    parts.kb.change(plain_chat_notice, parts.kb, parts.notice, show_progress="hidden")
    parts.kb.input(lambda value: value, parts.kb, memory, show_progress="hidden")
    return ChatControls(parts.kb, parts.refresh, memory, parts.models, viewer, panel)


def _chat_column(loc: Localizer) -> ChatParts:
    """The picker, the chat, the question and its buttons, and the model line (filled when
    the page loads)."""
    with gr.Row():
        kb = loc(
            gr.Dropdown(choices=chat_choices([], loc.lang), value=PLAIN_CHAT, scale=4),
            label="chat.kb",
        )
        refresh = loc(gr.Button(scale=1), value="chat.refresh")
    notice = loc(gr.Markdown(elem_id="zhiku-plain-notice"), value="chat.plain_notice")
    # no LaTeX: "$5 and $10" in a document is money, not math
    chatbot = loc(
        gr.Chatbot(height=520, elem_id="chatbot", latex_delimiters=[], buttons=[]),
        label="chat.chatbot",
    )
    with gr.Row():
        question = loc(
            gr.Textbox(show_label=False, scale=5, elem_id="question"),
            placeholder="chat.placeholder",
        )
        send = loc(gr.Button(variant="primary", scale=1, elem_id="send"), value="chat.send")
        stop = loc(gr.Button(variant="stop", scale=1, elem_id="stop"), value="chat.stop")
    clear = loc(gr.Button(), value="chat.clear")
    models = gr.Markdown(elem_id="model-line")
    return ChatParts(kb, refresh, notice, chatbot, question, send, stop, clear, models)


@dataclass(frozen=True)
class ChatParts:
    kb: gr.Dropdown
    refresh: gr.Button
    notice: gr.Markdown
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
        terms, lang = services.kb.query_terms, request_lang(request)
        replies = stream_reply(asker, message, messages, kb_name, clock, terms, lang)
        for shown, cleared in replies:
            yield shown, cleared, gr.skip(), asker.conversation_id()
        line = model_line(services.models_in_use(), clock.summary, lang)
        yield gr.skip(), gr.skip(), line, gr.skip()

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
    lang: Lang = DEFAULT_LANG,
) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """The chatbot's messages as the answer to `message` streams in, its sources under it
    from the moment they are found (the question's `query_terms` marked in them; labelled
    in the page's language `lang`). An error is told in the question's language, like the
    app's other fixed replies. Closing this generator (Stop) closes the answer's events,
    which ends the model's generation and frees it."""
    message = (message or "").strip()
    if not message:
        return
    history = history_pairs(messages)
    messages = [*messages, {"role": "user", "content": answer_markdown(message)}]
    kb = chosen_kb(kb_name)
    view = AnswerView(
        kb, terms=lambda: question_terms(query_terms(message)) if query_terms else (), lang=lang
    )
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
        asked_in: Lang = "en" if question_language(message) == "en" else "zh"
        view.text = f"{WARNING_MARK} {error_text(exc, asked_in)}"
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
