"""What the chat does around an answer: how it is shown while it streams (citations
clickable, its sources under it), stop, regenerate, copy, the knowledge base the browser
chose last, and the model line (which models run where, how fast the last answer came)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from rag.chains import ChatEvent, Source
from rag.services import ModelsInUse
from rag.ui.common import PLAIN_CHAT
from rag.ui.localize import request_lang
from rag.ui.messages import DEFAULT_LANG, Lang, text
from rag.ui.render import SOURCES_MARK, answer_with_citations, markdown_text, plain_answer
from rag.ui.source_cards import Footer, footer_html, tools_html

KB_STORAGE_KEY = "zhiku-chat-kb"
# BrowserState encrypts with this key in the browser, and Gradio sends it there in the page's
# config: it hides nothing. It only has to stay the same across restarts, so that the
# choice outlives them (a random key per start would forget it).
KB_STORAGE_SECRET = "zhiku-chat-kb-v1"
PENDING = "…"


@dataclass
class AnswerView:
    """One answer as the chat shows it, updated event by event."""

    kb: str | None
    terms: Callable[[], Sequence[str]] = tuple
    """The question's words, marked in the snippets (asked once sources arrive)."""
    text: str = ""
    sources: Sequence[Source] = ()
    rewritten: str = ""
    lang: Lang = DEFAULT_LANG
    """The page's language: the labels under the answer."""
    _terms: Sequence[str] = field(default=(), repr=False)

    def add(self, event: ChatEvent) -> None:
        if event.kind == "sources":
            self.sources = event.sources
            self._terms = self.terms() if self.sources else ()
        elif event.kind == "rewritten":
            self.rewritten = event.text
        else:
            # "replace": the answer so far is withdrawn (a second try follows) for event.text
            self.text = event.text if event.kind == "replace" else self.text + event.text

    def content(self, done: bool = False) -> str:
        """The message: the answer (citations clickable) and, under it, the block of its
        sources; with `done`, the copy tool too."""
        answer = answer_with_citations(self.text, len(self.sources)) if self.text else PENDING
        footer = Footer(
            self.kb,
            self.sources,
            self.rewritten,
            self._terms,
            done=done,
            copy_text=self.text,
            lang=self.lang,
        )
        block = footer_html(footer)
        return answer + (SOURCES_MARK + block if block else "")


class AnswerClock:
    """Times one answer: seconds to its first token, and tokens per second after it."""

    def __init__(self, count_tokens: Callable[[str], int]) -> None:
        self._count_tokens = count_tokens
        self._start = time.perf_counter()
        self._first: float | None = None
        self.summary: dict[str, float] | None = None
        """`{"first_token_s", "tokens_per_s"}` once the answer is finished."""

    def saw(self, event: ChatEvent) -> None:
        if self._first is None and event.kind == "token" and event.text:
            self._first = time.perf_counter()

    def finish(self, text: str) -> None:
        if self._first is None or not text:
            return
        generating = time.perf_counter() - self._first
        tokens = self._count_tokens(text)
        self.summary = {
            "first_token_s": round(self._first - self._start, 2),
            "tokens_per_s": round(tokens / generating, 1) if generating > 0 else 0.0,
        }


def model_line(
    models: ModelsInUse, timing: dict[str, float] | None = None, lang: Lang = DEFAULT_LANG
) -> str:
    """One line: the LLM and embedding model and their devices, and the last answer's
    first-token time and speed (Markdown, labelled in `lang`)."""

    def label(key: str) -> str:
        return text(f"model.{key}", lang)

    line = (
        f"**{label('line')}** · {label('llm')}: {markdown_text(models.llm)} "
        f"({markdown_text(models.llm_device)}) · {label('embedding')}: "
        f"{markdown_text(models.embedding)} ({markdown_text(models.embedding_device)})"
    )
    if timing:
        line += (
            f" · {label('last_answer')}: {label('first_token')} {timing['first_token_s']:.1f} s,"
            f" {label('speed')} {timing['tokens_per_s']:.1f} tokens/s"
        )
    return line


def stopped(messages: list[dict[str, Any]], lang: Lang = DEFAULT_LANG) -> list[dict[str, Any]]:
    """The chat after Stop: the last answer marked stopped, with its copy tool (the sources
    already shown under it stay), labelled in `lang`."""
    if not messages or messages[-1].get("role") != "assistant":
        return messages
    content = message_text(messages[-1].get("content"))
    if 'class="zhiku-tools"' in content:  # it had finished
        return messages
    tools = tools_html(plain_answer(content).removesuffix(PENDING), stopped=True, lang=lang)
    if SOURCES_MARK in content and content.endswith("</div>"):
        content = content.removesuffix("</div>") + "\n" + tools + "</div>"
    else:
        content += f'{SOURCES_MARK}<div class="zhiku-sources">{tools}</div>'
    return [*messages[:-1], {"role": "assistant", "content": content}]


def mark_stopped(messages: list[dict[str, Any]], request: gr.Request) -> Any:
    """After an answer's event ended: the chat with the answer marked stopped when it did
    not finish (Stop), else no change."""
    marked = stopped(messages, request_lang(request))
    return gr.skip() if marked is messages else marked


def last_question(messages: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The last question asked and the chat before it (to ask it again); ("", messages)
    when there is none."""
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].get("role") == "user":
            question = plain_answer(message_text(messages[position].get("content")))
            return question, messages[:position]
    return "", messages


@contextmanager
def closed_after(events: Iterator[ChatEvent]) -> Iterator[Iterator[ChatEvent]]:
    """`events`, closed when the block ends however it ends: a reply stopped in the middle
    closes the chain's generator now (not whenever it is collected), which closes the
    model's stream and frees the model for the next question."""
    try:
        yield events
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()


def chosen_kb(value: str | None) -> str | None:
    """The dropdown's value as a knowledge base; None: plain chat."""
    return value if value and value != PLAIN_CHAT else None


def kb_memory() -> gr.BrowserState:
    """Where the browser keeps the knowledge base it chose last (its localStorage)."""
    return gr.BrowserState(None, storage_key=KB_STORAGE_KEY, secret=KB_STORAGE_SECRET)


def plain_chat_notice(value: str | None) -> Any:
    """The warning shown while plain chat is chosen."""
    return gr.update(visible=chosen_kb(value) is None)


def message_text(content: Any) -> str:
    """A chat message's text, whether Gradio gives it as a string or as parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(message_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    return ""
