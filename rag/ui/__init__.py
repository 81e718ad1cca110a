"""The Gradio UI: a chat tab (with the conversations side panel), a knowledge-base tab and a
quality tab (one module each), over the same services as the API.

Nothing a document or the model writes is rendered as HTML, an image or a link
(`rag/ui/render.py`), and file inputs accept only what the browser uploaded
(`rag/ui/uploads.py`).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from rag.services import Services
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
            chat_kb, refresh_chat_kb = chat_tab(services, ui, upload_dir)
        with gr.Tab("知识库 Knowledge base", id="kb"):
            kb_select = kb_tab(services, chat_kb, upload_dir)
        with gr.Tab("质量 Quality", id="quality"):
            quality_tab(services, kb_select, upload_dir)
        ui.load(lambda: kb_dropdowns(services), outputs=[chat_kb, kb_select])
        refresh_chat_kb.click(lambda: kb_dropdowns(services), outputs=[chat_kb, kb_select])
    return ui


__all__ = ["PLAIN_CHAT", "SOURCES_MARK", "build_ui", "history_pairs"]
