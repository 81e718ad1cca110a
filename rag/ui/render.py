"""What the chat shows, made safe: nothing a document or the model writes becomes HTML, an
image, or a link the browser would follow or fetch.

The chat renders Markdown. A document holding `![x](http://host/p.png)` would otherwise show
as an image (fetched as soon as it is shown), and a model answer repeating it would send
whatever it put in the URL to that host. So:

* answers keep Markdown's emphasis, lists and quotes (the source's sentence under an
  answer is one), but every character that could open a link or
  an image (`[`, `]`, `!`), an autolink (`:`, `@`, `www.`) or HTML (`<`, `&`) is escaped;
  the one tag written into an answer is this code's own, around a citation's number;
* sources are one raw HTML block whose text is HTML-escaped: Markdown never reads inside it,
  so a snippet or a file name (`_name_.txt`) shows exactly as written;
* status lines escape every Markdown character of the names they show.

One link is made on purpose: a web page added by URL links its source to that address, the
address itself as the link's text (so what is clicked is what is shown), http(s) only, and
opened in a new tab without a referrer. It is never fetched by showing it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from rag.chains import Source
from rag.chains.citations import CITATION
from rag.ui.messages import DEFAULT_LANG, Lang
from rag.ui.source_cards import Footer, footer_html

SOURCES_MARK = "\n\n---\n"

_ANSWER_ESCAPES = re.compile(r"([\\\[\]!:@`])|(?i:\b(www)\.)")
# `<`, `>` and `&` are left to html.escape: a backslash before `&gt;` would show it literally
_MARKDOWN_ESCAPES = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:@])")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
# a citation number the chat made clickable: only this code writes a tag into an answer
# (the model's own `<` is escaped), so a tag of this exact form is one of ours
_CITE_TAG = '<span class="zhiku-cite" role="button" tabindex="0">{n}</span>'
_CITE_TAGS = re.compile(r'<span class="zhiku-cite" role="button" tabindex="0">(\d+)</span>')
_DIGITS = re.compile(r"\d+")
_QUOTE_LINE = re.compile(r"(?m)^&gt; ")  # "> " opening a line: a Markdown quote, no HTML


def answer_markdown(text: str) -> str:
    """The model's answer as Markdown that can hold no link, image or HTML."""
    escaped = _ANSWER_ESCAPES.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\.", text)
    return _QUOTE_LINE.sub("> ", html.escape(escaped, quote=False))


def answer_with_citations(text: str, sources: int) -> str:
    """`answer_markdown(text)`, each citation number that names one of the `sources` shown
    (1 to `sources`) made an element the page's script opens the source for."""
    if sources <= 0:
        return answer_markdown(text)
    parts, last = [], 0
    for match in CITATION.finditer(text):
        parts.append(answer_markdown(text[last : match.start()]))
        parts.append(_DIGITS.sub(lambda m: _cite(m[0], sources), answer_markdown(match[0])))
        last = match.end()
    parts.append(answer_markdown(text[last:]))
    return "".join(parts)


def _cite(number: str, sources: int) -> str:
    return _CITE_TAG.format(n=number) if 1 <= int(number) <= sources else number


def plain_answer(rendered: str) -> str:
    """The answer's text back from `answer_markdown` or `answer_with_citations` (the
    sources below it left out)."""
    answer = _CITE_TAGS.sub(r"\1", rendered.split(SOURCES_MARK, 1)[0])
    return html.unescape(_ESCAPED.sub(r"\1", answer))


def markdown_text(text: str) -> str:
    """`text` shown literally inside Markdown (names in status lines)."""
    return html.escape(_MARKDOWN_ESCAPES.sub(r"\\\1", text), quote=False)


def sources_html(
    sources: Sequence[Source],
    rewritten: str = "",
    kb: str | None = None,
    terms: Sequence[str] = (),
    lang: Lang = DEFAULT_LANG,
) -> str:
    """The sources under an answer (a card each: file, page, relevance, snippet) and the
    standalone question a follow-up was searched as, as one HTML block after
    `SOURCES_MARK`, labelled in `lang`; "" when there is neither (rag/ui/source_cards.py)."""
    block = footer_html(Footer(kb, sources, rewritten, terms, lang=lang))
    return SOURCES_MARK + block if block else ""
