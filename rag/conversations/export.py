"""A conversation as a Markdown document: each question, its answer, the standalone question
a follow-up was searched as, and the sources with file, page, relevance and passage.

The headings are in the conversation's language (its first question's), not in both."""

from __future__ import annotations

import time
from typing import Any

from rag.chains.language import prompt_language, question_language
from rag.conversations.store import Conversation, StoredMessage

SNIPPET_CHARS = 500
MAX_FILE_STEM = 80

_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "kb": "知识库",
        "plain": "不使用知识库",
        "created": "创建",
        "updated": "更新",
        "question": "问题",
        "answer": "回答",
        "searched": "检索问题",
        "sources": "来源",
        "page": "第 {page} 页",
        "score": "相关度 {score:.2f}",
        "sep": "，",
    },
    "en": {
        "kb": "Knowledge base",
        "plain": "plain chat",
        "created": "Created",
        "updated": "updated",
        "question": "Question",
        "answer": "Answer",
        "searched": "Searched as",
        "sources": "Sources",
        "page": "page {page}",
        "score": "relevance {score:.2f}",
        "sep": ", ",
    },
}


def conversation_markdown(conversation: Conversation) -> str:
    """The whole conversation, sources included, as Markdown."""
    info = conversation.info
    first = next((m.text for m in conversation.messages if m.role == "user"), info.title)
    labels = _LABELS[prompt_language(question_language(first))]
    lines = [
        f"# {_one_line(info.title)}",
        "",
        f"- {labels['kb']}: {info.kb or labels['plain']}",
        f"- {labels['created']}: {_when(info.created_at)} · "
        f"{labels['updated']}: {_when(info.updated_at)}",
    ]
    number = 0
    for message in conversation.messages:
        if message.role == "user":
            number += 1
            lines += ["", f"## {labels['question']} {number}", "", message.text.strip()]
        else:
            lines += ["", f"### {labels['answer']}", "", message.text.strip()]
            lines += _answer_notes(message, labels)
    return "\n".join(lines) + "\n"


def _answer_notes(message: StoredMessage, labels: dict[str, str]) -> list[str]:
    lines: list[str] = []
    if message.rewritten:
        lines += ["", f"*{labels['searched']}: {_one_line(message.rewritten)}*"]
    if message.sources:
        lines += ["", f"**{labels['sources']}**", ""]
        lines += [_source_line(source, labels) for source in message.sources]
    return lines


def _source_line(source: dict[str, Any], labels: dict[str, str]) -> str:
    parts = [f"**{_one_line(str(source.get('source', '')))}**"]
    if source.get("page"):
        parts.append(labels["page"].format(page=source["page"]))
    if isinstance(source.get("score"), int | float):
        parts.append(labels["score"].format(score=source["score"]))
    snippet = _one_line(str(source.get("text", "")))
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1] + "…"
    head = f"- [{source.get('index', '-')}] {labels['sep'].join(parts)}"
    return f"{head}\n  > {snippet}" if snippet else head


def export_file_name(title: str) -> str:
    """A file name for the export: the title's letters, digits (any script), spaces and
    `-_.`, the rest as `_`; "conversation.md" when nothing is left."""
    cleaned = "".join(c if c.isalnum() or c in " -_." else "_" for c in title).strip(" ._")
    return f"{cleaned[:MAX_FILE_STEM] or 'conversation'}.md"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
