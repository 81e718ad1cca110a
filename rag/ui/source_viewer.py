"""The source viewer beside the chat: the cited document, the passage marked in it.

A PDF source shows its page as an image with the passage's area highlighted (the API's page
route, through a signed link); any other document shows its text as loaded, scrolled to the
passage, which is in a `<mark>`. Both have a link that downloads the original.

The page's script (rag/ui/assets.py) puts the clicked card's data (knowledge base, file,
page, number, passage) as JSON in a hidden box and clicks a hidden button; `open_source`
answers with the viewer's HTML. Every text in it is HTML-escaped.
"""

from __future__ import annotations

import html
import itertools
import json

import gradio as gr
from pydantic import BaseModel, Field, ValidationError

from rag.documents import DocumentText
from rag.errors import ZhikuError
from rag.services import Services
from rag.services.links import MAX_HIGHLIGHT_CHARS
from rag.ui.source_cards import data_html
from rag.ui.viewer_labels import label

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


class SourceRequest(BaseModel):
    """What the page sends when a source is clicked."""

    kb: str = Field(min_length=1, max_length=200)
    file: str = Field(min_length=1, max_length=400)
    page: int | None = Field(default=None, ge=1, le=100_000)
    index: int = Field(default=0, ge=0, le=1000)
    passage: str = Field(default="", max_length=20_000)


def source_viewer(services: Services) -> gr.HTML:
    """The viewer's panel (call inside the chat tab's row); its hidden request box and
    button are wired to `open_source`."""
    with gr.Column(scale=4, min_width=360, elem_id="zhiku-viewer-column"):
        viewer = gr.HTML(_message(label("viewer_empty")), elem_id="zhiku-viewer")
        request = gr.Textbox(visible="hidden", elem_id="zhiku-open-request")
        opener = gr.Button(visible="hidden", elem_id="zhiku-open-button")
    opener.click(
        lambda payload: open_source(services, payload),
        inputs=[request],
        outputs=[viewer],
        js=_REQUEST_JS,
        show_progress="hidden",
    ).then(None, js=_SCROLL_TO_PASSAGE)
    return viewer


def open_source(services: Services, payload: str) -> str:
    """The viewer's HTML for the source `payload` names (a `SourceRequest` as JSON)."""
    try:
        request = SourceRequest.model_validate(json.loads(payload or "{}"))
    except (ValueError, ValidationError):
        return _message(label("document_gone"), warning=True)
    try:
        if request.file.lower().endswith(".pdf") and request.page:
            return pdf_view(services, request)
        return text_view(services, request)
    except ZhikuError as exc:
        return _message(f"{label('document_gone')}: {exc}", warning=True)


def pdf_view(services: Services, request: SourceRequest) -> str:
    """The PDF page of the source as an image, the passage highlighted on it."""
    with services.kb.original(request.kb, request.file) as (record, path):
        pages = services.pages.page_count(path)
    page = min(request.page or 1, pages)
    links = services.links
    image = links.page(request.kb, record.name, page, request.passage[:MAX_HIGHLIGHT_CHARS])
    alt = f"{record.name} · {label('page', n=page)}"
    return (
        '<div class="zhiku-viewer-doc" data-kind="pdf">'
        + _head(services, request, record.name, label("page_of", n=page, total=pages))
        + _page_nav(request, page, pages)
        + f'<a href="{_attr(image)}" target="_blank" rel="noopener" title="{_attr(alt)}">'
        + f'<img class="zhiku-page-image" src="{_attr(image)}" alt="{_attr(alt)}"></a>'
        + _passage(request)
        + "</div>"
    )


def text_view(services: Services, request: SourceRequest) -> str:
    """The document's text as loaded, the passage marked (and scrolled to)."""
    document = services.kb.document_text(request.kb, request.file)
    span = document.locate(request.passage, request.page) if request.passage else None
    where = label("page", n=request.page) if request.page else ""
    body = _marked_text(document, span)
    note = "" if span or not request.passage else _notice(request)
    return (
        '<div class="zhiku-viewer-doc" data-kind="text">'
        + _head(services, request, request.file, where)
        + note
        + f'<div class="zhiku-doc-text">{body}</div>'
        + "</div>"
    )


def _marked_text(document: DocumentText, span: tuple[int, int] | None) -> str:
    """The text around `span` (all of it when short), escaped, the span in a `<mark>` and
    each page or slide headed by its number."""
    text = document.text
    start, end = span or (0, 0)
    first = max(0, start - TEXT_WINDOW)
    last = min(len(text), (end or start) + TEXT_WINDOW)
    cuts = {first, last, *(o for o, _ in document.pages if first <= o < last)}
    if span:
        cuts |= {start, end}
    pages = dict(document.pages)
    out = ["…" if first else ""]
    ordered = sorted(cuts)
    for left, right in itertools.pairwise(ordered):
        if left in pages:
            out.append(
                f'<div class="zhiku-page-mark">{html.escape(label("page", n=pages[left]))}</div>'
            )
        piece = html.escape(text[left:right])
        out.append(f'<mark class="zhiku-hit">{piece}</mark>' if start <= left < end else piece)
    out.append("…" if last < len(text) else "")
    return "".join(out)


def _head(services: Services, request: SourceRequest, name: str, where: str) -> str:
    download = services.links.original(request.kb, name)
    number = f"[{request.index}] " if request.index else ""
    place = f' <span class="zhiku-viewer-where">· {html.escape(where)}</span>' if where else ""
    return (
        f'<div class="zhiku-viewer-head"><b>{html.escape(number + name)}</b>{place}'
        f'<a class="zhiku-download" href="{_attr(download)}" download="{_attr(name)}">'
        f"⬇ {html.escape(label('download'))}</a></div>"
    )


def _page_nav(request: SourceRequest, page: int, pages: int) -> str:
    """Buttons to the page before and after (the script opens them like a source)."""
    buttons = []
    for target, text in ((page - 1, "‹"), (page + 1, "›")):
        if 1 <= target <= pages:
            data = {"kb": request.kb, "file": request.file, "page": target}
            data |= {"index": request.index, "passage": request.passage}
            buttons.append(
                f'<span class="zhiku-page-nav" role="button" tabindex="0">{data_html(data)}'
                f"{text} {html.escape(label('page', n=target))}</span>"
            )
    return f'<div class="zhiku-page-nav-row">{"".join(buttons)}</div>' if buttons else ""


def _passage(request: SourceRequest) -> str:
    if not request.passage:
        return ""
    number = f" [{request.index}]" if request.index else ""
    return (
        f'<div class="zhiku-passage"><b>{html.escape(label("passage") + number)}</b>'
        f'<mark class="zhiku-passage-text">{html.escape(request.passage)}</mark></div>'
    )


def _notice(request: SourceRequest) -> str:
    return (
        f'<p class="zhiku-viewer-note">{html.escape(label("passage_not_found"))}</p>'
        f'<blockquote class="zhiku-passage">{html.escape(request.passage)}</blockquote>'
    )


def _message(text: str, warning: bool = False) -> str:
    kind = "zhiku-viewer-warning" if warning else "zhiku-viewer-empty"
    return f'<div class="{kind}">{html.escape(text)}</div>'


def _attr(value: str) -> str:
    return html.escape(value, quote=True).replace("\n", "&#10;")
