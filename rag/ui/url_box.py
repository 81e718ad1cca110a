"""The knowledge-base tab's URL box: web pages added by address, one result row per URL in
the tab's results table (as uploaded files get), in the language of the page that asked."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.errors import ZhikuError
from rag.services import Services, UrlResult
from rag.ui.common import warning
from rag.ui.kb_views import RESULT_COLUMNS, table
from rag.ui.localize import Localizer, error_line, request_lang
from rag.ui.messages import Lang, text

_SEPARATORS = re.compile(r"\s+")


@dataclass(frozen=True)
class UrlBox:
    urls: gr.Textbox
    add: gr.Button


def url_box(loc: Localizer) -> UrlBox:
    """The box and its button (the browser tests find them by their elem_id)."""
    with gr.Row():
        urls = loc(
            gr.Textbox(lines=2, scale=5, elem_id="urls"),
            label="url.label",
            placeholder="url.placeholder",
        )
        add = loc(gr.Button(scale=1, elem_id="add-urls"), value="url.button")
    return UrlBox(urls, add)


def wire_url_box(
    services: Services, box: UrlBox, kb: gr.Dropdown, results: gr.Dataframe, status: gr.Markdown
) -> Any:
    """Fetch the box's URLs into the chosen KB on click; the event, to chain a refresh on."""
    return box.add.click(on_add_urls_handler(services), [kb, box.urls], [results, status, box.urls])


def on_add_urls_handler(services: Services) -> Callable[..., Any]:
    def on_add_urls(
        name: str,
        given: str,
        request: gr.Request,
        progress: Any = gr.Progress(),  # noqa: B008 - Gradio injects progress this way
    ) -> Any:
        lang = request_lang(request)
        if not name:
            return gr.update(), text("kb.choose", lang), gr.update()
        urls = [url for url in _SEPARATORS.split(given or "") if url]
        if not urls:
            return gr.update(), text("url.enter", lang), gr.update()
        done: list[UrlResult] = []

        def step(result: UrlResult) -> None:
            done.append(result)
            shown = text(f"status.{result.status}", lang)
            progress(len(done) / len(urls), desc=f"{result.url}: {shown}")

        try:
            outcome = services.web.add_urls(name, urls, on_progress=step)
        except ZhikuError as exc:
            return gr.update(), warning(exc, lang), gr.update()
        ok = sum(r.status == "ok" for r in outcome)
        failed = [r for r in outcome if r.status == "error"]
        status = text("url.done", lang, ok=ok, total=len(outcome))
        # the URLs that failed stay in the box, to correct and try again
        return url_results_table(outcome, lang), status, "\n".join(r.url for r in failed)

    return on_add_urls


def url_results_table(results: list[UrlResult], lang: Lang) -> Any:
    """A row per URL under the results table's headers: the page's document name (the URL
    when it was not fetched), its status, chunks and error."""
    rows = [
        [
            r.name or r.url,
            text(f"status.{r.status}", lang),
            r.chunks,
            error_line(r.error_type, r.error, lang) if r.error else "",
        ]
        for r in results
    ]
    return table(rows, RESULT_COLUMNS, lang)
