"""The source viewer beside the chat: the cited document, the passage marked in it.

A PDF source shows its page as an image with the passage's area highlighted (the API's page
route, through a signed link); any other document shows its text as loaded, scrolled to the
passage, which is in a `<mark>`. Both have a link that downloads the original.

The page's script (rag/ui/assets.py) puts the clicked card's data (knowledge base, file,
page, number, passage) as JSON in a hidden box and clicks a hidden button; `open_source`
answers with the viewer's HTML, labelled in the page's language, and the request is kept in
the box: a language switch shows the same source again in the new language
(`show_source`). Every text in it is HTML-escaped.
"""

from __future__ import annotations

import html
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr
from pydantic import BaseModel, Field, ValidationError

from rag.documents import DocumentText
from rag.errors import ZhikuError
from rag.services import Services
from rag.services.links import MAX_HIGHLIGHT_CHARS
from rag.ui.localize import request_lang
from rag.ui.messages import DEFAULT_LANG, Lang, text
from rag.ui.source_cards import data_html

TEXT_WINDOW = 20_000
"""Characters of a long document shown before and after the passage."""
_SCROLL_TO_PASSAGE = """() => {
  // scroll the document's own box (positioned: the mark's offsetTop is within it), not the
  // page: the chat beside it stays where it is
  const box = document.querySelector('#zhiku-viewer .zhiku-doc-text');
  const hit = box && box.querySelector('.zhiku-hit');
  if (box) box.scrollTop = hit ? hit.offsetTop - box.clientHeight / 3 : 0;
}"""
_REQUEST_JS = "(value) => window.zhikuOpenRequest || value"


@dataclass(frozen=True)
class ViewerParts:
    """The viewer, its request box (the source shown), and the handler that shows it in
    the page's language."""

    viewer: gr.HTML
    request: gr.Textbox
    show: Callable[..., tuple[str, str]]


class SourceRequest(BaseModel):
    """What the page sends when a source is clicked."""

    kb: str = Field(min_length=1, max_length=200)
    file: str = Field(min_length=1, max_length=400)
    page: int | None = Field(default=None, ge=1, le=100_000)
    index: int = Field(default=0, ge=0, le=1000)
    passage: str = Field(default="", max_length=20_000)


def source_viewer(services: Services, lang: Lang = DEFAULT_LANG) -> ViewerParts:
    """The viewer's panel (call inside the chat tab's row; `lang`: the language the page is
    built in); its hidden request box and button are wired to `open_source`."""
    with gr.Column(scale=4, min_width=360, elem_id="zhiku-viewer-column"):
        viewer = gr.HTML(empty_viewer(lang), elem_id="zhiku-viewer")
        request = gr.Textbox(visible="hidden", elem_id="zhiku-open-request")
        # no text of its own: it is never shown
        opener = gr.Button("", visible="hidden", elem_id="zhiku-open-button")

    # named `show_source`: the language switch refills the viewer with it
    def show_source(payload: str | None, request: gr.Request) -> tuple[str, str]:
        """The source `payload` names (nothing yet: the viewer's hint), in the page's
        language; the payload is kept in the request box."""
        lang = request_lang(request)
        shown = open_source(services, payload, lang) if payload else empty_viewer(lang)
        return shown, payload or ""

    opener.click(
        show_source,
        inputs=[request],
        outputs=[viewer, request],
        js=_REQUEST_JS,
        show_progress="hidden",
    ).then(None, js=_SCROLL_TO_PASSAGE)
    return ViewerParts(viewer, request, show_source)


def empty_viewer(lang: Lang) -> str:
    """The viewer before any source is opened: how to open one."""
    return _message(text("viewer.empty", lang))


def open_source(services: Services, payload: str, lang: Lang = DEFAULT_LANG) -> str:
    """The viewer's HTML for the source `payload` names (a `SourceRequest` as JSON),
    labelled in `lang`."""
    try:
        request = SourceRequest.model_validate(json.loads(payload or "{}"))
    except (ValueError, ValidationError):
        return _message(text("viewer.gone", lang), warning=True)
    try:
        if request.file.lower().endswith(".pdf") and request.page:
            return pdf_view(services, request, lang)
        return text_view(services, request, lang)
    except ZhikuError as exc:
        return _message(f"{text('viewer.gone', lang)}: {exc}", warning=True)


def pdf_view(services: Services, request: SourceRequest, lang: Lang = DEFAULT_LANG) -> str:
    """The PDF page of the source as an image, the passage highlighted on it."""
    with services.kb.original(request.kb, request.file) as (record, path):
        pages = services.pages.page_count(path)
    page = min(request.page or 1, pages)
    links = services.links
    image = links.page(request.kb, record.name, page, request.passage[:MAX_HIGHLIGHT_CHARS])
    alt = f"{record.name} · {text('sources.page', lang, page=page)}"
    where = text("viewer.page_of", lang, page=page, total=pages)
    return (
        '<div class="zhiku-viewer-doc" data-kind="pdf">'
        + _head(services, request, record.name, where, lang)
        + _page_nav(request, page, pages, lang)
        + f'<a href="{_attr(image)}" target="_blank" rel="noopener" title="{_attr(alt)}">'
        + f'<img class="zhiku-page-image" src="{_attr(image)}" alt="{_attr(alt)}"></a>'
        + _passage(request, lang)
        + "</div>"
    )


def text_view(services: Services, request: SourceRequest, lang: Lang = DEFAULT_LANG) -> str:
    """The document's text as loaded, the passage marked (and scrolled to)."""
    document = services.kb.document_text(request.kb, request.file)
    span = document.locate(request.passage, request.page) if request.passage else None
    where = text("sources.page", lang, page=request.page) if request.page else ""
    body = _marked_text(document, span, lang)
    note = "" if span or not request.passage else _notice(request, lang)
    return (
        '<div class="zhiku-viewer-doc" data-kind="text">'
        + _head(services, request, request.file, where, lang)
        + note
        + f'<div class="zhiku-doc-text">{body}</div>'
        + "</div>"
    )


def _marked_text(
    document: DocumentText, span: tuple[int, int] | None, lang: Lang = DEFAULT_LANG
) -> str:
    """The text around `span` (all of it when short), escaped, the span in a `<mark>` and
    each page or slide headed by its number."""
    whole = document.text
    start, end = span or (0, 0)
    first = max(0, start - TEXT_WINDOW)
    last = min(len(whole), (end or start) + TEXT_WINDOW)
    cuts = {first, last, *(o for o, _ in document.pages if first <= o < last)}
    if span:
        cuts |= {start, end}
    pages = dict(document.pages)
    out = ["…" if first else ""]
    ordered = sorted(cuts)
    for left, right in itertools.pairwise(ordered):
        if left in pages:
            mark = text("sources.page", lang, page=pages[left])
            out.append(f'<div class="zhiku-page-mark">{html.escape(mark)}</div>')
        piece = html.escape(whole[left:right])
        out.append(f'<mark class="zhiku-hit">{piece}</mark>' if start <= left < end else piece)
    out.append("…" if last < len(whole) else "")
    return "".join(out)


def _head(services: Services, request: SourceRequest, name: str, where: str, lang: Lang) -> str:
    download = services.links.original(request.kb, name)
    number = f"[{request.index}] " if request.index else ""
    place = f' <span class="zhiku-viewer-where">· {html.escape(where)}</span>' if where else ""
    return (
        f'<div class="zhiku-viewer-head"><b>{html.escape(number + name)}</b>{place}'
        f'<a class="zhiku-download" href="{_attr(download)}" download="{_attr(name)}">'
        f"⬇ {html.escape(text('viewer.download', lang))}</a></div>"
    )


def _page_nav(request: SourceRequest, page: int, pages: int, lang: Lang) -> str:
    """Buttons to the page before and after (the script opens them like a source)."""
    buttons = []
    for target, arrow in ((page - 1, "‹"), (page + 1, "›")):
        if 1 <= target <= pages:
            data = {"kb": request.kb, "file": request.file, "page": target}
            data |= {"index": request.index, "passage": request.passage}
            buttons.append(
                f'<span class="zhiku-page-nav" role="button" tabindex="0">{data_html(data)}'
                f"{arrow} {html.escape(text('sources.page', lang, page=target))}</span>"
            )
    return f'<div class="zhiku-page-nav-row">{"".join(buttons)}</div>' if buttons else ""


def _passage(request: SourceRequest, lang: Lang) -> str:
    if not request.passage:
        return ""
    number = f" [{request.index}]" if request.index else ""
    return (
        f'<div class="zhiku-passage"><b>{html.escape(text("viewer.passage", lang) + number)}</b>'
        f'<mark class="zhiku-passage-text">{html.escape(request.passage)}</mark></div>'
    )


def _notice(request: SourceRequest, lang: Lang) -> str:
    return (
        f'<p class="zhiku-viewer-note">{html.escape(text("viewer.passage_not_found", lang))}</p>'
        f'<blockquote class="zhiku-passage">{html.escape(request.passage)}</blockquote>'
    )


def _message(shown: str, warning: bool = False) -> str:
    kind = "zhiku-viewer-warning" if warning else "zhiku-viewer-empty"
    return f'<div class="{kind}">{html.escape(shown)}</div>'


def _attr(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "&#10;")
