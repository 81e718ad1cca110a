"""What the tabs share: the plain-chat choice, how a failure is shown, the KB pickers."""

from __future__ import annotations

from typing import Any

import gradio as gr

from rag.errors import ZhikuError
from rag.services import Services
from rag.ui.localize import error_text
from rag.ui.messages import Lang, text
from rag.ui.render import markdown_text

PLAIN_CHAT = "（不使用知识库 / plain chat）"
"""The chat picker's value for "no knowledge base" (shown as the `chat.plain` message)."""
WARNING_MARK = "⚠️"
"""Begins what the UI shows instead of an answer or a result when something went wrong."""


def warning(exc: ZhikuError, lang: Lang) -> str:
    return f"{WARNING_MARK} {markdown_text(error_text(exc, lang))}"


def chat_choices(names: list[str], lang: Lang) -> list[tuple[str, str]]:
    """The chat picker's choices: plain chat (named in `lang`), then the knowledge bases."""
    return [(text("chat.plain", lang), PLAIN_CHAT), *((name, name) for name in names)]


def kb_dropdowns(
    services: Services, select: str | None = None, lang: Lang = "zh"
) -> tuple[Any, Any]:
    """New choices for the chat tab's KB picker and the knowledge-base tab's, `select`
    chosen in both when given."""
    names = [s.name for s in services.kb.list_kbs()]
    chosen = select if select in names else (names[0] if names else None)
    chat = gr.update(choices=chat_choices(names, lang), value=select or PLAIN_CHAT)
    manage = gr.update(choices=names, value=chosen)
    return chat, manage
