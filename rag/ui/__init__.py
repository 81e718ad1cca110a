"""The Gradio UI: a chat tab and a knowledge-base tab, both over the same services as the API.

Nothing a document or the model writes is rendered as HTML, an image or a link
(`rag/ui/render.py`), and file inputs accept only what the browser uploaded
(`rag/ui/uploads.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from rag.chains import Source
from rag.errors import ZhikuError
from rag.evaluation import load_questions
from rag.services import FileResult, Services
from rag.ui.render import (
    SOURCES_MARK,
    answer_markdown,
    markdown_text,
    plain_answer,
    sources_html,
)
from rag.ui.uploads import discard_uploads, uploaded_paths

PLAIN_CHAT = "（不使用知识库 / plain chat）"
WARNING_MARK = "⚠️"
"""Begins what the UI shows instead of an answer or a result when something went wrong."""


def build_ui(services: Services, upload_dir: Path) -> gr.Blocks:
    """`upload_dir`: Gradio's upload folder, the only place file inputs may name."""
    with gr.Blocks(title="zhiku 知库") as ui:
        gr.Markdown("# 知库 zhiku\n本地知识库问答 · local knowledge-base Q&A, fully offline")
        with gr.Tab("对话 Chat", id="chat"):
            chat_kb, refresh_chat_kb = _chat_tab(services)
        with gr.Tab("知识库 Knowledge base", id="kb"):
            kb_select = _kb_tab(services, chat_kb, upload_dir)
        with gr.Tab("质量 Quality", id="quality"):
            _quality_tab(services, kb_select, upload_dir)
        ui.load(lambda: _kb_dropdowns(services), outputs=[chat_kb, kb_select])
        refresh_chat_kb.click(lambda: _kb_dropdowns(services), outputs=[chat_kb, kb_select])
    return ui


# ---- chat ------------------------------------------------------------------------------


def _chat_tab(services: Services) -> tuple[gr.Dropdown, gr.Button]:
    with gr.Row():
        kb = gr.Dropdown(
            label="知识库 Knowledge base", choices=[PLAIN_CHAT], value=PLAIN_CHAT, scale=4
        )
        refresh = gr.Button("刷新 Refresh", scale=1)
    # no LaTeX: "$5 and $10" in a document is money, not math
    chatbot = gr.Chatbot(label="对话 Chat", height=520, elem_id="chatbot", latex_delimiters=[])
    with gr.Row():
        question = gr.Textbox(
            placeholder="输入问题 Ask a question…", show_label=False, scale=5, elem_id="question"
        )
        send = gr.Button("发送 Send", variant="primary", scale=1, elem_id="send")
    clear = gr.Button("清空 Clear")

    def respond(message: str, messages: list[dict[str, Any]], kb_name: str) -> Iterator[Any]:
        yield from _respond(services, message, messages, kb_name)

    for trigger in (question.submit, send.click):
        trigger(respond, [question, chatbot, kb], [chatbot, question])
    clear.click(lambda: [], outputs=chatbot)
    return kb, refresh


def _respond(
    services: Services, message: str, messages: list[dict[str, Any]], kb_name: str
) -> Iterator[tuple[list[dict[str, Any]], str]]:
    message = (message or "").strip()
    if not message:
        return
    history = history_pairs(messages)
    messages = [*messages, {"role": "user", "content": answer_markdown(message)}]
    messages.append({"role": "assistant", "content": "…"})
    yield messages, ""
    answer = ""
    rewritten = ""
    sources: Sequence[Source] = ()
    try:
        kb = kb_name if kb_name and kb_name != PLAIN_CHAT else None
        for event in services.chat(message, kb, history):
            if event.kind == "sources":
                sources = event.sources
                continue
            if event.kind == "rewritten":
                rewritten = event.text
                continue
            # "replace": the answer so far is withdrawn (a second try follows) for event.text
            answer = event.text if event.kind == "replace" else answer + event.text
            messages[-1] = {"role": "assistant", "content": answer_markdown(answer)}
            yield messages, ""
    except ZhikuError as exc:
        answer = f"{WARNING_MARK} {exc}"
    messages[-1] = {
        "role": "assistant",
        "content": answer_markdown(answer) + sources_html(sources, rewritten),
    }
    yield messages, ""


def history_pairs(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(question, answer) pairs from the chatbot's messages, without the rendered sources;
    a question that got an error instead of an answer (one too long, say) is left out, so it
    does not make every later question fail too."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for message in messages:
        text = plain_answer(_text_of(message.get("content")))
        if message.get("role") == "user":
            question = text
        elif question is not None:
            if not text.startswith(WARNING_MARK):
                pairs.append((question, text))
            question = None
    return pairs


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text_of(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    return ""


# ---- knowledge bases -------------------------------------------------------------------


def _kb_tab(services: Services, chat_kb: gr.Dropdown, upload_dir: Path) -> gr.Dropdown:
    with gr.Row():
        kb = gr.Dropdown(label="选择知识库 Knowledge base", choices=[], scale=3, elem_id="kb")
        new_name = gr.Textbox(label="新知识库名称 New KB name", scale=2, elem_id="new-kb")
        description = gr.Textbox(label="描述 Description", scale=2)
        create = gr.Button("新建 Create", scale=1, elem_id="create-kb")
    status = gr.Markdown(elem_id="kb-status")
    kb_table = gr.Dataframe(
        headers=["知识库 KB", "文档 docs", "分块 chunks", "描述 description"],
        label="所有知识库 All knowledge bases",
        interactive=False,
        elem_id="kb-table",
    )
    files = gr.File(
        label="上传文件 Upload files (txt, md, pdf, docx …)",
        file_count="multiple",
        elem_id="upload",
    )
    upload = gr.Button("上传并建立索引 Upload & index", variant="primary", elem_id="upload-btn")
    results = gr.Dataframe(
        headers=["文件 file", "状态 status", "分块 chunks", "错误 error"],
        label="上传结果 Upload results",
        interactive=False,
        elem_id="upload-results",
    )
    docs = gr.Dataframe(
        headers=["文件 file", "分块 chunks", "字节 bytes"],
        label="文档 Documents",
        interactive=False,
    )
    with gr.Row():
        doc_to_delete = gr.Dropdown(label="删除文档 Remove document", choices=[], scale=3)
        delete_doc = gr.Button("删除文档 Remove", variant="stop", scale=1)
    gr.Markdown(
        "上传同名文件即更新该文档（旧内容会被删除）· "
        "Uploading a file with the same name updates it."
    )
    with gr.Row():
        rebuild = gr.Button("重建索引 Rebuild (re-embed all originals)")
        confirm = gr.Checkbox(label="确认删除整个知识库 I really want to delete this KB")
        delete_kb = gr.Button("删除知识库 Delete KB", variant="stop")

    def on_create(name: str, text: str) -> tuple[Any, Any, str]:
        try:
            summary = services.kb.create_kb(name, text or "")
        except ZhikuError as exc:
            return gr.update(), gr.update(), _warning(exc)
        chat, manage = _kb_dropdowns(services, select=summary.name)
        return chat, manage, f"✅ 已创建 created: **{markdown_text(summary.name)}**"

    def on_upload(
        name: str,
        paths: list[str] | None,
        progress: Any = gr.Progress(),  # noqa: B008 - Gradio injects progress this way
    ) -> Any:
        if not name:
            return [], "⚠️ 请先选择或新建知识库 choose or create a knowledge base first", gr.update()
        if not paths:
            return [], "⚠️ 请选择文件 choose files to upload", gr.update()
        done: list[FileResult] = []

        def step(result: FileResult) -> None:
            done.append(result)
            progress(len(done) / len(paths), desc=f"{result.name}: {result.status}")

        try:
            files = uploaded_paths(paths, upload_dir)
            outcome = services.kb.add_files(name, [(p.name, p) for p in files], on_progress=step)
        except ZhikuError as exc:
            return [], _warning(exc), gr.update()
        discard_uploads(files, upload_dir)  # the KB keeps its own copy of each original
        ok = sum(r.status == "ok" for r in outcome)
        status = f"{ok}/{len(outcome)} 个文件已索引 files indexed"
        return [_result_row(r) for r in outcome], status, None

    def on_delete_doc(name: str, doc: str) -> str:
        if not (name and doc):
            return "⚠️ 请选择文档 choose a document"
        try:
            services.kb.delete_doc(name, doc)
        except ZhikuError as exc:
            return _warning(exc)
        return f"🗑️ 已删除 removed: {markdown_text(doc)}"

    def on_delete_kb(name: str, sure: bool) -> tuple[Any, Any, str, bool]:
        if not name:
            return gr.update(), gr.update(), "⚠️ 请选择知识库 choose a knowledge base", False
        if not sure:
            return gr.update(), gr.update(), "⚠️ 请先勾选确认 tick the confirmation first", False
        try:
            services.kb.delete_kb(name)
        except ZhikuError as exc:
            return gr.update(), gr.update(), _warning(exc), False
        chat, manage = _kb_dropdowns(services)
        return chat, manage, f"🗑️ 已删除知识库 deleted: {markdown_text(name)}", False

    def show_docs(name: str) -> tuple[Any, Any, Any]:
        return (*_docs_table(services, name), _kb_rows(services))

    def on_rebuild(name: str) -> tuple[Any, str]:
        if not name:
            return [], "⚠️ 请选择知识库 choose a knowledge base"
        try:
            outcome = services.kb.rebuild_kb(name)
        except ZhikuError as exc:
            return [], _warning(exc)
        ok = sum(r.status == "ok" for r in outcome)
        return [_result_row(r) for r in outcome], f"🔁 重建完成 rebuilt: {ok}/{len(outcome)}"

    create.click(on_create, [new_name, description], [chat_kb, kb, status])
    doc_views = [docs, doc_to_delete, kb_table]
    upload.click(on_upload, [kb, files], [results, status, files]).then(show_docs, kb, doc_views)
    kb.change(show_docs, kb, doc_views)
    delete_doc.click(on_delete_doc, [kb, doc_to_delete], status).then(show_docs, kb, doc_views)
    rebuild.click(on_rebuild, kb, [results, status]).then(show_docs, kb, doc_views)
    delete_kb.click(on_delete_kb, [kb, confirm], [chat_kb, kb, status, confirm]).then(
        show_docs, kb, doc_views
    )
    return kb


def _quality_tab(services: Services, kb: gr.Dropdown, upload_dir: Path) -> None:
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
            return _warning(exc)
        return f"**{markdown_text(name)}**\n\n{result.markdown()}"

    run.click(on_run, [kb, questions, answers], report)


def _kb_dropdowns(services: Services, select: str | None = None) -> tuple[Any, Any]:
    names = [s.name for s in services.kb.list_kbs()]
    chosen = select if select in names else (names[0] if names else None)
    chat = gr.update(choices=[PLAIN_CHAT, *names], value=select or PLAIN_CHAT)
    manage = gr.update(choices=names, value=chosen)
    return chat, manage


def _docs_table(services: Services, name: str | None) -> tuple[Any, Any]:
    if not name:
        return [], gr.update(choices=[], value=None)
    try:
        docs = services.kb.list_docs(name)
    except ZhikuError:
        return [], gr.update(choices=[], value=None)
    # table cells are plain text: escaping them would show &lt; for <
    rows = [[str(d["name"]), d["chunks"], d["bytes"]] for d in docs]
    return rows, gr.update(choices=[str(d["name"]) for d in docs], value=None)


def _kb_rows(services: Services) -> list[list[Any]]:
    return [[s.name, s.docs, s.chunks, s.description] for s in services.kb.list_kbs()]


def _result_row(result: FileResult) -> list[Any]:
    return [result.name, result.status, result.chunks, result.error or ""]


def _warning(exc: ZhikuError) -> str:
    return f"{WARNING_MARK} {markdown_text(str(exc))}"


__all__ = ["SOURCES_MARK", "build_ui", "history_pairs"]
