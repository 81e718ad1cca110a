"""The knowledge-base tab: create, upload to, inspect, rebuild and delete knowledge bases.

Each handler is built by a function of its own and keeps its name (on_create, on_upload…):
Gradio names the UI's endpoints after them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import ZhikuError
from rag.services import FileResult, Services
from rag.ui.common import kb_dropdowns, warning
from rag.ui.render import markdown_text
from rag.ui.uploads import discard_uploads, uploaded_paths
from rag.ui.url_box import UrlBox, url_box, wire_url_box


@dataclass(frozen=True)
class _Widgets:
    kb: gr.Dropdown
    new_name: gr.Textbox
    description: gr.Textbox
    create: gr.Button
    status: gr.Markdown
    kb_table: gr.Dataframe
    files: gr.File
    upload: gr.Button
    results: gr.Dataframe
    url_box: UrlBox
    docs: gr.Dataframe
    doc_to_delete: gr.Dropdown
    delete_doc: gr.Button
    rebuild: gr.Button
    confirm: gr.Checkbox
    delete_kb: gr.Button


def kb_tab(services: Services, chat_kb: gr.Dropdown, upload_dir: Path) -> gr.Dropdown:
    """The tab's KB picker; `chat_kb`, the chat tab's, follows what is created and deleted."""
    w = _layout()
    show_docs = _show_docs(services)
    views = [w.docs, w.doc_to_delete, w.kb_table]
    w.create.click(_on_create(services), [w.new_name, w.description], [chat_kb, w.kb, w.status])
    w.upload.click(
        _on_upload(services, upload_dir), [w.kb, w.files], [w.results, w.status, w.files]
    ).then(show_docs, w.kb, views)
    wire_url_box(services, w.url_box, w.kb, w.results, w.status).then(show_docs, w.kb, views)
    w.kb.change(show_docs, w.kb, views)
    w.delete_doc.click(_on_delete_doc(services), [w.kb, w.doc_to_delete], w.status).then(
        show_docs, w.kb, views
    )
    w.rebuild.click(_on_rebuild(services), w.kb, [w.results, w.status]).then(show_docs, w.kb, views)
    w.delete_kb.click(
        _on_delete_kb(services), [w.kb, w.confirm], [chat_kb, w.kb, w.status, w.confirm]
    ).then(show_docs, w.kb, views)
    return w.kb


# ---- layout (the browser tests find the widgets by their elem_id) ------------------------


def _layout() -> _Widgets:
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
    files, upload, results = _upload_area()
    urls = url_box()
    docs, doc_to_delete, delete_doc = _documents_area()
    with gr.Row():
        rebuild = gr.Button("重建索引 Rebuild (re-embed all originals)")
        confirm = gr.Checkbox(label="确认删除整个知识库 I really want to delete this KB")
        delete_kb = gr.Button("删除知识库 Delete KB", variant="stop")
    return _Widgets(
        kb=kb,
        new_name=new_name,
        description=description,
        create=create,
        status=status,
        kb_table=kb_table,
        files=files,
        upload=upload,
        results=results,
        url_box=urls,
        docs=docs,
        doc_to_delete=doc_to_delete,
        delete_doc=delete_doc,
        rebuild=rebuild,
        confirm=confirm,
        delete_kb=delete_kb,
    )


def _upload_area() -> tuple[gr.File, gr.Button, gr.Dataframe]:
    files = gr.File(
        label="上传文件 Upload files (txt, md, pdf, docx, png, jpg …)",
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
    return files, upload, results


def _documents_area() -> tuple[gr.Dataframe, gr.Dropdown, gr.Button]:
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
    return docs, doc_to_delete, delete_doc


# ---- handlers ---------------------------------------------------------------------------


def _on_create(services: Services) -> Callable[[str, str], tuple[Any, Any, str]]:
    def on_create(name: str, text: str) -> tuple[Any, Any, str]:
        try:
            summary = services.kb.create_kb(name, text or "")
        except ZhikuError as exc:
            return gr.update(), gr.update(), warning(exc)
        chat, manage = kb_dropdowns(services, select=summary.name)
        return chat, manage, f"✅ 已创建 created: **{markdown_text(summary.name)}**"

    return on_create


def _on_upload(services: Services, upload_dir: Path) -> Callable[..., Any]:
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

        def loading(file: str, line: str) -> None:  # a scan's pages: "OCR page 3/10"
            progress(len(done) / len(paths), desc=f"{file}: {line}")

        try:
            files = uploaded_paths(paths, upload_dir)
            outcome = services.kb.add_files(
                name, [(p.name, p) for p in files], on_progress=step, on_status=loading
            )
        except ZhikuError as exc:
            return [], warning(exc), gr.update()
        discard_uploads(files, upload_dir)  # the KB keeps its own copy of each original
        ok = sum(r.status == "ok" for r in outcome)
        status = f"{ok}/{len(outcome)} 个文件已索引 files indexed"
        return [_result_row(r) for r in outcome], status, None

    return on_upload


def _on_delete_doc(services: Services) -> Callable[[str, str], str]:
    def on_delete_doc(name: str, doc: str) -> str:
        if not (name and doc):
            return "⚠️ 请选择文档 choose a document"
        try:
            services.kb.delete_doc(name, doc)
        except ZhikuError as exc:
            return warning(exc)
        return f"🗑️ 已删除 removed: {markdown_text(doc)}"

    return on_delete_doc


def _on_delete_kb(services: Services) -> Callable[[str, bool], tuple[Any, Any, str, bool]]:
    def on_delete_kb(name: str, sure: bool) -> tuple[Any, Any, str, bool]:
        if not name:
            return gr.update(), gr.update(), "⚠️ 请选择知识库 choose a knowledge base", False
        if not sure:
            return gr.update(), gr.update(), "⚠️ 请先勾选确认 tick the confirmation first", False
        try:
            services.kb.delete_kb(name)
        except ZhikuError as exc:
            return gr.update(), gr.update(), warning(exc), False
        chat, manage = kb_dropdowns(services)
        return chat, manage, f"🗑️ 已删除知识库 deleted: {markdown_text(name)}", False

    return on_delete_kb


def _on_rebuild(services: Services) -> Callable[[str], tuple[Any, str]]:
    def on_rebuild(name: str) -> tuple[Any, str]:
        if not name:
            return [], "⚠️ 请选择知识库 choose a knowledge base"
        try:
            outcome = services.kb.rebuild_kb(name)
        except ZhikuError as exc:
            return [], warning(exc)
        ok = sum(r.status == "ok" for r in outcome)
        return [_result_row(r) for r in outcome], f"🔁 重建完成 rebuilt: {ok}/{len(outcome)}"

    return on_rebuild


def _show_docs(services: Services) -> Callable[[str | None], tuple[Any, Any, Any]]:
    """The selected KB's documents (table and removal choices) and the table of all KBs."""

    def show_docs(name: str | None) -> tuple[Any, Any, Any]:
        return (*_docs_table(services, name), _kb_rows(services))

    return show_docs


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
