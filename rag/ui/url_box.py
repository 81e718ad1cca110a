"""The knowledge-base tab's URL box: web pages added by address, one result row per URL in
the tab's results table (as uploaded files get)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from rag.errors import ZhikuError
from rag.services import Services, UrlResult
from rag.ui.common import warning

_SEPARATORS = re.compile(r"\s+")


@dataclass(frozen=True)
class UrlBox:
    urls: gr.Textbox
    add: gr.Button


def url_box() -> UrlBox:
    """The box and its button (the browser tests find them by their elem_id)."""
    with gr.Row():
        urls = gr.Textbox(
            label="添加网页 Add web pages (URL)",
            placeholder="https://… 每行一个 one per line",
            lines=2,
            scale=5,
            elem_id="urls",
        )
        add = gr.Button("抓取并建立索引 Fetch & index", scale=1, elem_id="add-urls")
    return UrlBox(urls, add)


def wire_url_box(
    services: Services, box: UrlBox, kb: gr.Dropdown, results: gr.Dataframe, status: gr.Markdown
) -> Any:
    """Fetch the box's URLs into the chosen KB on click; the event, to chain a refresh on."""
    return box.add.click(on_add_urls_handler(services), [kb, box.urls], [results, status, box.urls])


def on_add_urls_handler(services: Services) -> Callable[..., Any]:
    def on_add_urls(
        name: str,
        text: str,
        progress: Any = gr.Progress(),  # noqa: B008 - Gradio injects progress this way
    ) -> Any:
        if not name:
            return [], "⚠️ 请先选择或新建知识库 choose or create a knowledge base first", gr.update()
        urls = [url for url in _SEPARATORS.split(text or "") if url]
        if not urls:
            return [], "⚠️ 请输入网址 enter the address of a web page", gr.update()
        done: list[UrlResult] = []

        def step(result: UrlResult) -> None:
            done.append(result)
            progress(len(done) / len(urls), desc=f"{result.url}: {result.status}")

        try:
            outcome = services.web.add_urls(name, urls, on_progress=step)
        except ZhikuError as exc:
            return [], warning(exc), gr.update()
        ok = sum(r.status == "ok" for r in outcome)
        failed = [r for r in outcome if r.status == "error"]
        status = f"{ok}/{len(outcome)} 个网页已索引 pages indexed"
        # the URLs that failed stay in the box, to correct and try again
        return [_row(r) for r in outcome], status, "\n".join(r.url for r in failed)

    return on_add_urls


def _row(result: UrlResult) -> list[Any]:
    return [result.name or result.url, result.status, result.chunks, result.error or ""]
