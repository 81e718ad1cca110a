"""The chat tab: pick a knowledge base (or plain chat), ask, read the answer as it streams,
then its sources."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import gradio as gr

from rag.chains import Source
from rag.chains.language import question_language
from rag.errors import ZhikuError
from rag.services import Services
from rag.ui.common import PLAIN_CHAT, WARNING_MARK, chat_choices
from rag.ui.localize import Localizer, error_text, request_lang
from rag.ui.messages import DEFAULT_LANG, Lang
from rag.ui.render import answer_markdown, plain_answer, sources_html


def chat_tab(services: Services, loc: Localizer) -> tuple[gr.Dropdown, gr.Button]:
    """The tab's KB picker and its refresh button (the KB tab changes the choices)."""
    with gr.Row():
        kb = loc(
            gr.Dropdown(choices=chat_choices([], loc.lang), value=PLAIN_CHAT, scale=4),
            label="chat.kb",
        )
        refresh = loc(gr.Button(scale=1), value="chat.refresh")
    # no LaTeX: "$5 and $10" in a document is money, not math
    chatbot = loc(
        gr.Chatbot(height=520, elem_id="chatbot", latex_delimiters=[]), label="chat.chatbot"
    )
    with gr.Row():
        question = loc(
            gr.Textbox(show_label=False, scale=5, elem_id="question"),
            placeholder="chat.placeholder",
        )
        send = loc(gr.Button(variant="primary", scale=1, elem_id="send"), value="chat.send")
    clear = loc(gr.Button(), value="chat.clear")

    # named `respond`: Gradio names the UI's endpoint after it
    def respond(
        message: str, messages: list[dict[str, Any]], kb_name: str, request: gr.Request
    ) -> Iterator[Any]:
        yield from stream_reply(services, message, messages, kb_name, request_lang(request))

    for trigger in (question.submit, send.click):
        trigger(respond, [question, chatbot, kb], [chatbot, question])
    clear.click(lambda: [], outputs=chatbot)
    return kb, refresh


def stream_reply(
    services: Services,
    message: str,
    messages: list[dict[str, Any]],
    kb_name: str,
    lang: Lang = DEFAULT_LANG,
) -> Iterator[tuple[list[dict[str, Any]], str]]:
    """The chatbot's messages as the answer to `message` streams in, then with its sources
    (labelled in the page's language `lang`); an error is told in the question's language,
    like the app's other fixed replies."""
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
        asked_in: Lang = "en" if question_language(message) == "en" else "zh"
        answer = f"{WARNING_MARK} {error_text(exc, asked_in)}"
    messages[-1] = {
        "role": "assistant",
        "content": answer_markdown(answer) + sources_html(sources, rewritten, lang),
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
