"""The chat tab: pick a knowledge base (or plain chat), ask, read the answer as it streams,
then its sources."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import gradio as gr

from rag.chains import ChatEvent, Source
from rag.errors import ZhikuError
from rag.services import Services
from rag.ui.common import PLAIN_CHAT, WARNING_MARK
from rag.ui.conversations_panel import ConversationsPanel
from rag.ui.render import answer_markdown, plain_answer, sources_html


class Asker(Protocol):
    """Where `stream_reply` gets answers: `Services`, or a stored conversation's turn."""

    def chat(
        self, question: str, kb: str | None, history: Sequence[tuple[str, str]]
    ) -> Iterator[ChatEvent]: ...


def chat_tab(services: Services, ui: gr.Blocks, upload_dir: Path) -> tuple[gr.Dropdown, gr.Button]:
    """The tab's KB picker and its refresh button (the KB tab changes the choices). `ui`:
    the page (the conversation panel reopens a conversation when it loads); `upload_dir`:
    Gradio's upload folder (where exports are offered)."""
    panel = ConversationsPanel(services, upload_dir)
    with gr.Row():
        kb = gr.Dropdown(
            label="知识库 Knowledge base", choices=[PLAIN_CHAT], value=PLAIN_CHAT, scale=4
        )
        refresh = gr.Button("刷新 Refresh", scale=1)
    # no LaTeX: "$5 and $10" in a document is money, not math
    chatbot = gr.Chatbot(label="对话 Chat", height=520, elem_id="chatbot", latex_delimiters=[])
    with gr.Row():
        question = gr.Textbox(
            placeholder="输入问题 Ask a question…", show_label=False, scale=5, elem_id="question"
        )
        send = gr.Button("发送 Send", variant="primary", scale=1, elem_id="send")
    clear = gr.Button("清空 Clear")

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
        for shown, typed in stream_reply(asker, message, messages, kb_name):
            yield shown, typed, asker.conversation_id()

    for trigger in (question.submit, send.click):
        trigger(
            respond,
            [question, chatbot, kb, panel.session, panel.current],
            [chatbot, question, panel.current],
        ).then(panel.on_answered, [panel.session, panel.current], panel.panel_outputs)
    panel.wire(ui, chatbot, kb, clear)
    return kb, refresh


def stream_reply(
    services: Asker, message: str, messages: list[dict[str, Any]], kb_name: str
) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """The chatbot's messages as the answer to `message` streams in, then with its sources."""
    message = (message or "").strip()
    if not message:
        return
    history = history_pairs(messages)
    messages = [*messages, {"role": "user", "content": answer_markdown(message)}]
    messages.append({"role": "assistant", "content": "…"})
    yield messages, ""
    answer = ""
    rewritten = ""
    sources: Sequence[Source] = ()
    try:
        kb = kb_name if kb_name and kb_name != PLAIN_CHAT else None
        for event in services.chat(message, kb, history):
            if event.kind == "sources":
                sources = event.sources
                continue
            if event.kind == "rewritten":
                rewritten = event.text
                continue
            # "replace": the answer so far is withdrawn (a second try follows) for event.text
            answer = event.text if event.kind == "replace" else answer + event.text
            messages[-1] = {"role": "assistant", "content": answer_markdown(answer)}
            yield messages, ""
    except ZhikuError as exc:
        answer = f"{WARNING_MARK} {exc}"
    messages[-1] = {
        "role": "assistant",
        "content": answer_markdown(answer) + sources_html(sources, rewritten),
    }
    yield messages, ""


def history_pairs(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) pairs from the chatbot's messages, without the rendered sources;
    a question that got an error instead of an answer (one too long, say) is left out, so it
    does not make every later question fail too."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for message in messages:
        text = plain_answer(_text_of(message.get("content")))
        if message.get("role") == "user":
            question = text
        elif question is not None:
            if not text.startswith(WARNING_MARK):
                pairs.append((question, text))
            question = None
    return pairs


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text_of(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    return ""
