"""What the tabs share: the plain-chat choice, how a failure is shown, the KB pickers."""

from __future__ import annotations

from typing import Any

import gradio as gr

from rag.errors import ZhikuError
from rag.services import Services
from rag.ui.localize import error_text
from rag.ui.messages import DEFAULT_LANG, Lang, text
from rag.ui.render import markdown_text

PLAIN_CHAT = "（不使用知识库 / plain chat）"
"""The chat picker's value for plain chat (shown as the `chat.plain` message); "/" cannot
be in a knowledge base's name, so no knowledge base can be taken for it."""
WARNING_MARK = "⚠️"
"""Begins what the UI shows instead of an answer or a result when something went wrong."""


def warning(exc: ZhikuError, lang: Lang) -> str:
    return f"{WARNING_MARK} {markdown_text(error_text(exc, lang))}"


def kb_dropdowns(
    services: Services,
    select: str | None = None,
    lang: Lang = DEFAULT_LANG,
    keep: str | None = None,
) -> tuple[Any, Any]:
    """New choices for the chat tab's KB picker and the knowledge-base tab's, `select`
    chosen in both when given (plain chat named in `lang`). The chat keeps `keep` (the
    choice it had, or the one the browser remembers) when it is still there; else a
    knowledge base: plain chat is only ever chosen on purpose, or when there is no
    knowledge base."""
    names = [s.name for s in services.kb.list_kbs()]
    chosen = select if select in names else (names[0] if names else None)
    chat = gr.update(choices=chat_choices(names, lang), value=chat_choice(names, select or keep))
    manage = gr.update(choices=names, value=chosen)
    return chat, manage


def chat_choices(names: list[str], lang: Lang = DEFAULT_LANG) -> list[tuple[str, str]]:
    """The knowledge bases, then plain chat, named for what it is in `lang`."""
    return [(name, name) for name in names] + [(text("chat.plain", lang), PLAIN_CHAT)]


def chat_choice(names: list[str], wanted: str | None) -> str:
    if wanted == PLAIN_CHAT or wanted in names:
        return str(wanted)
    return names[0] if names else PLAIN_CHAT
