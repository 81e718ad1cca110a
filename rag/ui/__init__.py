"""The Gradio UI: a chat tab (with the conversations side panel and the source viewer beside
it), a knowledge-base tab and a quality tab (one module each), over the same services as the
API. The page's own style and script (`UI_CSS`, `UI_JS`: rag/ui/assets.py) are given to
Gradio where the app is mounted.

Nothing a document or the model writes is rendered as HTML, an image or a link
(`rag/ui/render.py`), and file inputs accept only what the browser uploaded
(`rag/ui/uploads.py`).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from rag.services import Services
from rag.ui.assets import UI_CSS, UI_JS
from rag.ui.chat_tab import chat_tab, history_pairs
from rag.ui.common import PLAIN_CHAT, kb_dropdowns
from rag.ui.kb_tab import kb_tab
from rag.ui.quality_tab import quality_tab
from rag.ui.render import SOURCES_MARK


def build_ui(services: Services, upload_dir: Path) -> gr.Blocks:
    """`upload_dir`: Gradio's upload folder, the only place file inputs may name."""
    with gr.Blocks(title="zhiku 知库") as ui:
        gr.Markdown("# 知库 zhiku\n本地知识库问答 · local knowledge-base Q&A, fully offline")
        with gr.Tab("对话 Chat", id="chat"):
            chat = chat_tab(services, ui, upload_dir)
        with gr.Tab("知识库 Knowledge base", id="kb"):
            kb_select = kb_tab(services, chat.kb, upload_dir)
        with gr.Tab("质量 Quality", id="quality"):
            quality_tab(services, kb_select, upload_dir)
        # the chat picks the knowledge base this browser chose last; Refresh keeps the choice
        pickers = [chat.kb, kb_select]
        ui.load(lambda kept: kb_dropdowns(services, keep=kept), chat.memory, pickers)
        chat.refresh.click(lambda kept: kb_dropdowns(services, keep=kept), chat.kb, pickers)
    return ui


__all__ = ["PLAIN_CHAT", "SOURCES_MARK", "UI_CSS", "UI_JS", "build_ui", "history_pairs"]
