"""What the chat shows, made safe: nothing a document or the model writes becomes HTML, an
image, or a link the browser would follow or fetch.

The chat renders Markdown. A document holding `![x](http://host/p.png)` would otherwise show
as an image (fetched as soon as it is shown), and a model answer repeating it would send
whatever it put in the URL to that host. So:

* answers keep Markdown's emphasis and lists, but every character that could open a link or
  an image (`[`, `]`, `!`), an autolink (`:`, `@`, `www.`) or HTML (`<`, `&`) is escaped;
* sources are one raw HTML block whose text is HTML-escaped: Markdown never reads inside it,
  so a snippet or a file name (`_name_.txt`) shows exactly as written;
* status lines escape every Markdown character of the names they show.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from rag.chains import Source
from rag.ui.messages import Lang, text

SOURCES_MARK = "\n\n---\n"
SNIPPET_CHARS = 300

_ANSWER_ESCAPES = re.compile(r"([\\\[\]!:@`])|(?i:\b(www)\.)")
# `<`, `>` and `&` are left to html.escape: a backslash before `&gt;` would show it literally
_MARKDOWN_ESCAPES = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:@])")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def answer_markdown(text: str) -> str:
    """The model's answer as Markdown that can hold no link, image or HTML."""
    escaped = _ANSWER_ESCAPES.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\.", text)
    return html.escape(escaped, quote=False)


def plain_answer(rendered: str) -> str:
    """The answer's text back from `answer_markdown` (the sources below it left out)."""
    answer = rendered.split(SOURCES_MARK, 1)[0]
    return html.unescape(_ESCAPED.sub(r"\1", answer))


def markdown_text(text: str) -> str:
    """`text` shown literally inside Markdown (names in status lines)."""
    return html.escape(_MARKDOWN_ESCAPES.sub(r"\\\1", text), quote=False)


def sources_html(sources: Sequence[Source], rewritten: str = "", lang: Lang = "zh") -> str:
    """The sources under an answer (file, page, score, snippet) and the standalone question
    a follow-up was searched as, as one HTML block, labelled in `lang`; "" when there is
    neither."""
    if not sources and not rewritten:
        return ""
    lines = ['<div class="zhiku-sources">']
    if rewritten:
        lines.append(f"<p><i>{text('sources.searched_as', lang)}</i> {_inline(rewritten)}</p>")
    if sources:
        title, note = text("sources.title", lang), text("sources.score_note", lang)
        lines.append(f"<p><b>{title}</b> · {note}</p>")
    for source in sources:
        page = f" · {text('sources.page', lang, page=source.page)}" if source.page else ""
        score = text("sources.score", lang, score=f"{source.score:.2f}")
        lines.append(
            f"<p><b>[{source.index}] {_inline(source.source)}</b>{page} · "
            f"{score}<br>{_inline(source.text[:SNIPPET_CHARS])}</p>"
        )
    lines.append("</div>")
    # a blank line would end the HTML block and hand the rest to Markdown
    return SOURCES_MARK + "\n".join(lines)


def _inline(text: str) -> str:
    return html.escape(" ".join(text.split()))
