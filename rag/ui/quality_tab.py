"""The quality tab: measure a knowledge base with the user's own questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import ZhikuError
from rag.evaluation import load_questions
from rag.services import Services
from rag.ui.common import warning
from rag.ui.render import markdown_text
from rag.ui.uploads import uploaded_paths


def quality_tab(services: Services, kb: gr.Dropdown, upload_dir: Path) -> None:
    """`kb`: the knowledge-base tab's picker, the KB measured."""
    gr.Markdown(
        "用自己的问题衡量知识库 · Measure a knowledge base with your own questions: a `.jsonl` "
        'file, one `{"question": …, "answers": [...], "doc_file": …}` per line. Uses the KB '
        "chosen in the Knowledge base tab."
    )
    questions = gr.File(label="问题文件 Questions (.jsonl)", file_types=[".jsonl"])
    answers = gr.Slider(0, 100, value=0, step=1, label="同时回答前 N 题 Also answer the first N")
    run = gr.Button("评测 Evaluate", variant="primary")
    report = gr.Markdown(elem_id="quality-report")

    def on_run(name: str, path: str | None, n: float, progress: Any = gr.Progress()) -> str:  # noqa: B008
        if not name or not path:
            return "⚠️ 请选择知识库和问题文件 choose a knowledge base and a questions file"
        try:
            [questions_file] = uploaded_paths([path], upload_dir)
            result = services.evaluate(
                name,
                load_questions(questions_file),
                int(n),
                on_progress=lambda done, total: progress(done / total, desc="searching"),
            )
        except ZhikuError as exc:
            return warning(exc)
        return f"**{markdown_text(name)}**\n\n{result.markdown()}"

    run.click(on_run, [kb, questions, answers], report)
