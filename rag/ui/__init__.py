"""The Gradio UI: a chat tab (with the conversations side panel and the source viewer beside
it), a knowledge-base tab and a quality tab (one module each), over the same services as the
API. The page's own style and script (`UI_CSS`, `UI_JS`: rag/ui/assets.py) are given to
Gradio where the app is mounted.

Every label comes from the message table (`rag/ui/messages.py`) in the page's language: the
browser's (Accept-Language) until the user picks one with the switch at the top, which a
cookie then remembers (`rag/ui/localize.py`). Switching relabels every component in place,
and shows again in the new language what the server wrote (the KB tab's views, the model
line, the source viewer, the conversations panel).

Nothing a document or the model writes is rendered as HTML, an image or a link
(`rag/ui/render.py`), and file inputs accept only what the browser uploaded
(`rag/ui/uploads.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.services import Services
from rag.ui.assets import UI_CSS, UI_JS
from rag.ui.chat_tab import ChatControls, chat_tab, history_pairs
from rag.ui.common import PLAIN_CHAT, chat_choice, chat_choices, kb_dropdowns
from rag.ui.kb_tab import KbTab, kb_tab
from rag.ui.localize import GRADIO_LOCALE_JS, SET_LANG_JS, Localizer, request_lang
from rag.ui.messages import DEFAULT_LANG, LANGS, Lang, as_lang
from rag.ui.quality_tab import QualityTab, quality_tab
from rag.ui.render import SOURCES_MARK

LANGUAGE_CHOICES = [("中文", "zh"), ("English", "en")]
"""Each language named in itself, as language switches do."""


def build_ui(services: Services, upload_dir: Path, lang: Lang = DEFAULT_LANG) -> gr.Blocks:
    """`upload_dir`: Gradio's upload folder, the only place file inputs may name. `lang`:
    the language the page is built in, before it switches to the browser's."""
    loc = Localizer(lang)
    with gr.Blocks(title="zhiku") as ui:
        with gr.Row(equal_height=True):
            loc(gr.Markdown(), value="app.header")
            switch = loc(
                gr.Radio(LANGUAGE_CHOICES, value=lang, scale=0, min_width=220, elem_id="lang"),
                label="app.language",
            )
        with loc(gr.Tab(id="chat", elem_id="tab-chat"), label="tab.chat"):
            chat = chat_tab(services, ui, upload_dir, loc)
        with loc(gr.Tab(id="kb", elem_id="tab-kb"), label="tab.kb"):
            kb = kb_tab(services, chat.kb, upload_dir, loc)
        with loc(gr.Tab(id="quality", elem_id="tab-quality"), label="tab.quality"):
            quality = quality_tab(services, kb.kb, upload_dir, loc)
        _wire_page(services, ui, _Page(loc, switch, chat, kb, quality))
    return ui


@dataclass(frozen=True)
class _Page:
    loc: Localizer
    switch: gr.Radio
    chat: ChatControls
    kb: KbTab
    quality: QualityTab


def _wire_page(services: Services, ui: gr.Blocks, page: _Page) -> None:
    """The page's load and the language switch: every label in the page's language, the
    KB pickers filled (the chat's on the knowledge base this browser chose last; Refresh
    keeps the choice), and what the server wrote shown again in that language."""
    loc, chat, kb, quality = page.loc, page.chat, page.kb, page.quality
    outputs = loc.components
    # Gradio writes a file input's "Drop File Here" once, when it is shown: hidden and
    # shown again, it is written in the locale the switch gave Gradio
    remount = [c for c in outputs if isinstance(c, gr.File)]

    def show_again() -> list[Any]:
        return [gr.update(visible=True) for _ in remount]

    def relabel(chosen: str, current_kb: str | None) -> list[Any]:
        """Every label in `chosen`; the switch showing it, and the chat picker keeping its
        choice, its plain-chat choice named in it."""
        new = as_lang(chosen)
        updates = loc.updates(new)
        updates[page.switch]["value"] = new
        names = [s.name for s in services.kb.list_kbs()]
        updates[chat.kb].update(
            choices=chat_choices(names, new), value=chat_choice(names, current_kb)
        )
        for component in remount:
            updates[component]["visible"] = False
        return [updates[component] for component in outputs]

    def on_load(kept: str | None, request: gr.Request) -> list[Any]:
        """The page in its language, the knowledge-base pickers filled."""
        lang = request_lang(request)
        updates = relabel(lang, kept)
        position = outputs.index(kb.kb)
        updates[position] = {**updates[position], **kb_dropdowns(services, None, lang)[1]}
        return updates

    def refresh(kept: str | None, request: gr.Request) -> tuple[Any, Any]:
        return kb_dropdowns(services, None, request_lang(request), keep=kept)

    loaded = ui.load(on_load, chat.memory, outputs)
    loaded.then(None, page.switch, None, js=GRADIO_LOCALE_JS).then(show_again, None, remount)
    switched = page.switch.input(relabel, [page.switch, chat.kb], outputs, js=SET_LANG_JS)
    switched.then(show_again, None, remount)
    panel = chat.panel
    switched.then(panel.on_answered, [panel.session, panel.current], panel.panel_outputs)
    viewer = chat.viewer
    for event in (loaded, switched):
        event.then(kb.show, kb.kb, kb.views).then(quality.show, kb.kb, quality.views)
        event.then(chat.show_models(services), None, chat.models)
        event.then(viewer.show, viewer.request, [viewer.viewer, viewer.request])
    chat.refresh.click(refresh, chat.kb, [chat.kb, kb.kb])


__all__ = ["LANGS", "PLAIN_CHAT", "SOURCES_MARK", "UI_CSS", "UI_JS", "build_ui", "history_pairs"]
