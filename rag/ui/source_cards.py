"""What the chat shows under an answer: the question it was searched as, a card per source
(file, page, a relevance bar, the snippet with the question's words marked), and, once the
answer is finished, its tools (copy) or that it was stopped.

One raw HTML block, every text in it HTML-escaped (rag/ui/render.py says why). Each card
carries what the source viewer needs to open it as JSON in a hidden element (`data_html`;
Gradio's sanitizer drops `data-*` attributes, never text): the knowledge base on the block,
the file, page, number and whole passage on the card. The page's script (rag/ui/assets.py)
sends that to the viewer when a card or a citation is clicked.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.chains import Source
from rag.lexical.tokenize import unaccented
from rag.ui.messages import DEFAULT_LANG, Lang, text

SNIPPET_CHARS = 300
MIN_TERM_CHARS = 2
QUESTION_WORDS = frozenset(
    {"什么", "哪些", "哪个", "哪种", "哪里", "哪儿", "怎么", "怎样", "如何", "为什么"}
    | {"多少", "是否", "是不是", "请问", "吗", "呢"}
)
"""Words of a question that say it is one: marking them in a snippet tells nothing."""
_LINKABLE = re.compile(r"https?://[^\s<>\"'`\\]+")


@dataclass(frozen=True)
class Footer:
    """What goes under one answer."""

    kb: str | None
    """The knowledge base it was answered from; None: plain chat."""
    sources: Sequence[Source] = ()
    rewritten: str = ""
    """The standalone question a follow-up was searched as."""
    terms: Sequence[str] = ()
    """The question's words, marked in the snippets."""
    done: bool = False
    """The answer is complete: its tools are shown."""
    stopped: bool = False
    copy_text: str = ""
    """What the copy button copies: the answer as plain text."""
    lang: Lang = DEFAULT_LANG
    """The page's language: the block's labels."""


def footer_html(footer: Footer) -> str:
    """The block under an answer (no blank line in it: that would end the HTML block and
    hand the rest to Markdown); "" when there is nothing to show."""
    lang, lines = footer.lang, []
    if footer.rewritten:
        lines.append(
            f'<p class="zhiku-searched"><i>{_text(text("sources.searched_as", lang))}</i> '
            f"{_text(footer.rewritten)}</p>"
        )
    if footer.sources:
        lines.append(
            f'<p class="zhiku-sources-title"><b>{_text(text("sources.title", lang))}</b> · '
            f"{_text(text('sources.score_note', lang))}</p>"
        )
        lines += [source_card(source, footer.terms, lang) for source in footer.sources]
    if footer.kb is None and footer.done:
        lines.append(f'<p class="zhiku-plain">{_text(text("chat.plain_answer", lang))}</p>')
    if footer.done or footer.stopped:
        lines.append(tools_html(footer.copy_text, footer.stopped, lang))
    if not lines:
        return ""
    kb = data_html({"kb": footer.kb}) if footer.kb else ""
    return '<div class="zhiku-sources">' + kb + "\n".join(lines) + "</div>"


def source_card(source: Source, terms: Sequence[str] = (), lang: Lang = DEFAULT_LANG) -> str:
    """One source: its number, file and page, relevance bar and score, and the snippet
    (labelled in `lang`)."""
    page = f" · {_text(text('sources.page', lang, page=source.page))}" if source.page else ""
    data = {"index": source.index, "file": source.source, "page": source.page}
    score = min(1.0, max(0.0, source.score))
    head = (
        f'<div class="zhiku-source-head"><span class="zhiku-source-n">[{source.index}]</span> '
        f'<b class="zhiku-source-file">{_text(source.source)}</b>{page}{_link(source.url)}</div>'
    )
    bar = (
        f'<div class="zhiku-relevance" title="{_attr(text("sources.relevance", lang))} '
        f'{score:.2f}"><meter min="0" max="1" low="0.35" high="0.65" optimum="1" '
        f'value="{score:.2f}"></meter> '
        f"<span>{_text(text('sources.score', lang, score=f'{source.score:.2f}'))}</span></div>"
    )
    snippet = emphasised(source.text[:SNIPPET_CHARS], terms)
    return (
        '<div class="zhiku-source" role="button" tabindex="0">'
        + data_html({**data, "passage": source.text})
        + f'{head}{bar}<div class="zhiku-snippet">{snippet}</div></div>'
    )


def _link(url: str | None) -> str:
    """A web page's address as a link to it (rag/ui/render.py says why this one link is
    made); "" for a file or an odd URL."""
    if not url or not _LINKABLE.fullmatch(url):
        return ""
    shown = html.escape(url, quote=True)
    return f' · <a href="{shown}" target="_blank" rel="noopener noreferrer nofollow">{shown}</a>'


def emphasised(text: str, terms: Iterable[str]) -> str:
    """`text` (whitespace runs made one space) HTML-escaped, each occurrence of a term in
    `<mark>`: escaped first, piece by piece, so a term can never open a tag."""
    text = " ".join(text.split())
    folded = "".join(_base_letter(char) for char in text.casefold())
    marked = [False] * len(text)
    if len(folded) == len(text):  # a character folding into two would shift every index
        for term in {t.casefold() for t in terms}:
            start = folded.find(term)
            while term and start >= 0:
                marked[start : start + len(term)] = [True] * len(term)
                start = folded.find(term, start + 1)
    pieces, start = [], 0
    for end in range(1, len(text) + 1):
        if end == len(text) or marked[end] != marked[start]:
            piece = html.escape(text[start:end])
            pieces.append(f'<mark class="zhiku-term">{piece}</mark>' if marked[start] else piece)
            start = end
    return "".join(pieces)


def _base_letter(char: str) -> str:
    """A letter without its accent (ö: o), as the search tokens have it; one character."""
    base = unaccented(char)
    return base if len(base) == 1 else char


def question_terms(tokens: Iterable[str]) -> list[str]:
    """The words of a question worth marking: from the search tokenizer's tokens, those of
    two characters or more that do not just make it a question."""
    return sorted(
        {t for t in tokens if len(t) >= MIN_TERM_CHARS and t not in QUESTION_WORDS},
        key=len,
        reverse=True,
    )


def tools_html(copy_text: str, stopped: bool = False, lang: Lang = DEFAULT_LANG) -> str:
    """The row under a finished answer: copy (`copy_text`), and whether it was stopped."""
    mark = (
        f'<span class="zhiku-stopped">{_text(text("chat.stopped", lang))}</span>' if stopped else ""
    )
    data = data_html({"copy": copy_text, "done": text("chat.copied", lang)})
    return (
        '<div class="zhiku-tools"><span class="zhiku-copy" role="button" tabindex="0">'
        f'{data}<span class="zhiku-copy-label">{_text(text("chat.copy", lang))}</span></span>'
        f"{mark}</div>"
    )


def data_html(data: dict[str, object]) -> str:
    """`data` as JSON, HTML-escaped, in a hidden element the page's script reads (JSON
    writes a line break as `\\n`: no blank line can end the HTML block)."""
    text = html.escape(json.dumps(data, ensure_ascii=False))
    return f'<span class="zhiku-data" hidden>{text}</span>'


def _text(text: str) -> str:
    return html.escape(" ".join(text.split()))


def _attr(value: str) -> str:
    """An attribute value: escaped, line breaks as character references (a blank line
    inside the block would end it)."""
    return html.escape(value, quote=True).replace("\r", "&#13;").replace("\n", "&#10;")
