"""The knowledge-base tab: a dashboard per knowledge base; create, upload to, inspect,
rebuild and delete knowledge bases.

Uploads and rebuilds run as the service's background jobs (rag/services/jobs.py): the
handler that starts one streams its progress while the page is open; a page that comes
back (or another one) shows the job's state and polls it with a timer until it ends.

Each handler is built by a function of its own and keeps its name (on_create, on_upload…):
Gradio names the UI's endpoints after them. Texts come from the message table, in the
language of the page that asked (`request_lang`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.errors import ZhikuError
from rag.services import Services
from rag.services.jobs import JobState
from rag.ui.common import kb_dropdowns, warning
from rag.ui.kb_views import (
    DASHBOARD_CSS,
    DOC_COLUMNS,
    KB_COLUMNS,
    PREVIEW_CSS,
    PROGRESS_CSS,
    RESULT_COLUMNS,
    dashboard_html,
    docs_table,
    kb_table,
    preview_html,
    progress_html,
    results_table,
    table,
)
from rag.ui.localize import Localizer, error_line, request_lang
from rag.ui.messages import Lang, text
from rag.ui.render import markdown_text
from rag.ui.uploads import discard_uploads, uploaded_paths
from rag.ui.url_box import UrlBox, url_box, wire_url_box

POLL_S = 0.5
"""How often a handler streaming a job's progress looks at it."""
TIMER_S = 1.0
"""How often a page that came back to a running job polls it."""


@dataclass(frozen=True)
class _Widgets:
    kb: gr.Dropdown
    new_name: gr.Textbox
    description: gr.Textbox
    create: gr.Button
    status: gr.Markdown
    dashboard: gr.HTML
    kb_table: gr.Dataframe
    files: gr.File
    upload: gr.Button
    progress: gr.HTML
    results: gr.Dataframe
    url_box: UrlBox
    docs: gr.Dataframe
    preview: gr.HTML
    doc_to_delete: gr.Dropdown
    delete_doc: gr.Button
    rebuild: gr.Button
    rebuild_box: gr.Group
    rebuild_question: gr.Markdown
    rebuild_yes: gr.Button
    rebuild_no: gr.Button
    confirm: gr.Checkbox
    delete_kb: gr.Button
    timer: gr.Timer

    @property
    def views(self) -> list[Any]:
        """What `show_kb` fills: everything that shows the selected knowledge base."""
        return [
            self.dashboard,
            self.docs,
            self.doc_to_delete,
            self.kb_table,
            self.preview,
            self.progress,
            self.results,
            self.timer,
        ]


@dataclass(frozen=True)
class KbTab:
    """The tab's picker, and how to refill its views (after a language switch)."""

    kb: gr.Dropdown
    show: Callable[..., tuple[Any, ...]]
    views: list[Any]


def kb_tab(services: Services, chat_kb: gr.Dropdown, upload_dir: Path, loc: Localizer) -> KbTab:
    """The tab; `chat_kb`, the chat tab's picker, follows what is created and deleted."""
    w = _layout(loc)
    show = _show_kb(services)
    views = w.views
    w.create.click(_on_create(services), [w.new_name, w.description], [chat_kb, w.kb, w.status])
    w.upload.click(
        _on_upload(services, upload_dir),
        [w.kb, w.files],
        [w.results, w.status, w.files, w.progress],
    ).then(show, w.kb, views)
    # the URLs' own results stay in the table (the knowledge base's last job is not shown)
    after_urls = _keeping(show, views.index(w.results))
    wire_url_box(services, w.url_box, w.kb, w.results, w.status).then(after_urls, w.kb, views)
    w.kb.change(show, w.kb, views)
    w.timer.tick(_poll(services, show), w.kb, views)
    w.docs.select(_on_pick_doc(services), w.kb, [w.preview, w.doc_to_delete])
    w.delete_doc.click(_on_delete_doc(services), [w.kb, w.doc_to_delete], w.status).then(
        show, w.kb, views
    )
    w.rebuild.click(_on_ask_rebuild, w.kb, [w.rebuild_box, w.rebuild_question, w.status])
    w.rebuild_no.click(lambda: gr.update(visible=False), None, w.rebuild_box)
    w.rebuild_yes.click(
        _on_rebuild(services), w.kb, [w.rebuild_box, w.results, w.status, w.progress]
    ).then(show, w.kb, views)
    w.delete_kb.click(
        _on_delete_kb(services), [w.kb, w.confirm], [chat_kb, w.kb, w.status, w.confirm]
    ).then(show, w.kb, views)
    return KbTab(w.kb, show, views)


# ---- layout (the browser tests find the widgets by their elem_id) ------------------------


def _layout(loc: Localizer) -> _Widgets:
    with gr.Row():
        kb = loc(gr.Dropdown(choices=[], scale=3, elem_id="kb"), label="kb.select")
        new_name = loc(gr.Textbox(scale=2, elem_id="new-kb"), label="kb.new_name")
        description = loc(gr.Textbox(scale=2), label="kb.description")
        create = loc(gr.Button(scale=1, elem_id="create-kb"), value="kb.create")
    status = gr.Markdown(elem_id="kb-status")
    dashboard = gr.HTML(
        dashboard_html(None, loc.lang), css_template=DASHBOARD_CSS, elem_id="kb-dashboard"
    )
    files, upload, progress, results = _upload_area(loc)
    urls = url_box(loc)
    docs, preview, doc_to_delete, delete_doc = _documents_area(loc)
    rebuild, box, question, yes, no = _rebuild_area(loc)
    with gr.Row():
        confirm = loc(gr.Checkbox(), label="kb.delete_confirm")
        delete_kb = loc(gr.Button(variant="stop"), value="kb.delete")
    kb_table_ = loc(
        gr.Dataframe(value=table([], KB_COLUMNS, loc.lang), interactive=False, elem_id="kb-table"),
        label="kb.all",
    )
    return _Widgets(
        kb=kb,
        new_name=new_name,
        description=description,
        create=create,
        status=status,
        dashboard=dashboard,
        kb_table=kb_table_,
        files=files,
        upload=upload,
        progress=progress,
        results=results,
        url_box=urls,
        docs=docs,
        preview=preview,
        doc_to_delete=doc_to_delete,
        delete_doc=delete_doc,
        rebuild=rebuild,
        rebuild_box=box,
        rebuild_question=question,
        rebuild_yes=yes,
        rebuild_no=no,
        confirm=confirm,
        delete_kb=delete_kb,
        timer=gr.Timer(TIMER_S, active=False),
    )


def _upload_area(loc: Localizer) -> tuple[gr.File, gr.Button, gr.HTML, gr.Dataframe]:
    files = loc(gr.File(file_count="multiple", elem_id="upload"), label="upload.files")
    upload = loc(gr.Button(variant="primary", elem_id="upload-btn"), value="upload.button")
    progress = gr.HTML("", css_template=PROGRESS_CSS, elem_id="ingest-progress")
    results = loc(
        gr.Dataframe(
            value=table([], RESULT_COLUMNS, loc.lang), interactive=False, elem_id="upload-results"
        ),
        label="upload.results",
    )
    loc(gr.Markdown(), value="upload.same_name")
    return files, upload, progress, results


def _documents_area(loc: Localizer) -> tuple[gr.Dataframe, gr.HTML, gr.Dropdown, gr.Button]:
    docs = loc(
        gr.Dataframe(
            value=table([], DOC_COLUMNS, loc.lang),
            datatype=["str", "str", "number", "number", "str"],
            interactive=False,
            show_search="filter",
            max_height=360,
            elem_id="docs-table",
        ),
        label="docs.label",
    )
    preview = gr.HTML(
        preview_html(None, [], loc.lang),
        css_template=PREVIEW_CSS,
        max_height=420,
        elem_id="chunk-preview",
    )
    with gr.Row():
        doc_to_delete = loc(gr.Dropdown(choices=[], scale=3), label="docs.remove_pick")
        delete_doc = loc(gr.Button(variant="stop", scale=1), value="docs.remove")
    return docs, preview, doc_to_delete, delete_doc


def _rebuild_area(
    loc: Localizer,
) -> tuple[gr.Button, gr.Group, gr.Markdown, gr.Button, gr.Button]:
    """The rebuild button, and the question it asks first (hidden until then)."""
    rebuild = loc(gr.Button(elem_id="rebuild-btn"), value="rebuild.button")
    with gr.Group(visible=False, elem_id="rebuild-confirm") as box:
        question = gr.Markdown(elem_id="rebuild-question")
        with gr.Row():
            yes = loc(gr.Button(variant="primary", elem_id="rebuild-yes"), value="rebuild.confirm")
            no = loc(gr.Button(elem_id="rebuild-no"), value="rebuild.cancel")
    return rebuild, box, question, yes, no


# ---- showing a knowledge base -----------------------------------------------------------


def _show_kb(services: Services) -> Callable[..., tuple[Any, ...]]:
    """Everything about the selected knowledge base (`_Widgets.views`), and the table of
    all of them; the timer runs while it has a job running."""

    def show_kb(name: str | None, request: gr.Request) -> tuple[Any, ...]:
        lang = request_lang(request)
        stats = docs = job = None
        if name:
            try:
                stats, docs = services.kb.stats(name), services.kb.list_docs(name)
                job = services.kb.job(name)
            except ZhikuError:
                stats = docs = None  # deleted meanwhile: shown as no selection
        choices = [str(d["name"]) for d in docs or []]
        return (
            dashboard_html(stats, lang),
            docs_table(docs or [], lang),
            gr.update(choices=choices, value=None),
            kb_table(services.kb.list_kbs(), lang),
            preview_html(None, [], lang),
            progress_html(job, lang),
            results_table(job.results if job else (), lang),
            gr.Timer(active=bool(job and job.running)),
        )

    return show_kb


def _keeping(show: Callable[..., tuple[Any, ...]], position: int) -> Callable[..., Any]:
    """`show`, the view at `position` left as it is."""

    def show_kb_keeping(name: str | None, request: gr.Request) -> tuple[Any, ...]:
        shown = list(show(name, request))
        shown[position] = gr.update()
        return tuple(shown)

    return show_kb_keeping


def _poll(services: Services, show: Callable[..., tuple[Any, ...]]) -> Callable[..., Any]:
    """The timer's tick: the running job's progress; everything once it has ended."""

    def poll_job(name: str | None, request: gr.Request) -> tuple[Any, ...]:
        job = services.kb.job(name) if name else None
        if job is None or not job.running:
            return show(name, request)
        keep = gr.update()
        progress = progress_html(job, request_lang(request))
        return (keep, keep, keep, keep, keep, progress, keep, gr.Timer(active=True))

    return poll_job


def _on_pick_doc(services: Services) -> Callable[..., tuple[str, Any]]:
    def on_pick_doc(name: str | None, event: gr.SelectData, request: gr.Request) -> tuple[str, Any]:
        lang = request_lang(request)
        row = event.row_value or []
        doc = str(row[0]) if row else ""
        if not (name and doc):
            return preview_html(None, [], lang), gr.update()
        try:
            chunks = services.kb.doc_chunks(name, doc)
        except ZhikuError as exc:
            return warning(exc, lang), gr.update()
        return preview_html(doc, chunks, lang), gr.update(value=doc)

    return on_pick_doc


# ---- uploads and rebuilds: background jobs ----------------------------------------------


def _follow(services: Services, job: JobState, lang: Lang) -> Iterator[JobState]:
    """`job`'s state every POLL_S until it ends, the final state last."""
    state: JobState | None = job
    while state is not None and state.running:
        yield state
        state = services.kb.jobs.wait(job.kb, POLL_S)
    if state is not None:
        yield state


def _outcome(job: JobState, done_key: str, lang: Lang) -> str:
    """The status line of an ended job."""
    if job.error:
        return f"⚠️ {markdown_text(error_line(job.error_type, job.error, lang))}"
    ok = sum(r.status == "ok" for r in job.results)
    return text(done_key, lang, ok=ok, total=len(job.results))


def _on_upload(services: Services, upload_dir: Path) -> Callable[..., Iterator[Any]]:
    def on_upload(name: str, paths: list[str] | None, request: gr.Request) -> Iterator[Any]:
        lang = request_lang(request)
        keep = gr.update()
        if not name:
            yield keep, text("kb.choose", lang), keep, keep
            return
        if not paths:
            yield keep, text("upload.choose_files", lang), keep, keep
            return
        try:
            files = uploaded_paths(paths, upload_dir)
            job = services.kb.start_add(
                name, [(p.name, p) for p in files], lambda: discard_uploads(files, upload_dir)
            )
        except ZhikuError as exc:
            yield keep, warning(exc, lang), keep, keep
            return
        what = text("job.upload", lang, kb=name)
        status = text("job.started", lang, what=markdown_text(what))
        for state in _follow(services, job, lang):
            if state.running:
                yield keep, status, keep, progress_html(state, lang)
        final = _outcome(state, "upload.done", lang)
        yield results_table(state.results, lang), final, None, progress_html(state, lang)

    return on_upload


def _on_ask_rebuild(name: str | None, request: gr.Request) -> tuple[Any, Any, Any]:
    lang = request_lang(request)
    if not name:
        return gr.update(visible=False), gr.update(), text("kb.choose", lang)
    question = text("rebuild.question", lang, kb=markdown_text(name))
    return gr.update(visible=True), question, ""


def _on_rebuild(services: Services) -> Callable[..., Iterator[Any]]:
    def on_rebuild(name: str, request: gr.Request) -> Iterator[Any]:
        lang = request_lang(request)
        hide, keep = gr.update(visible=False), gr.update()
        if not name:
            yield hide, keep, text("kb.choose", lang), keep
            return
        try:
            job = services.kb.start_rebuild(name)
        except ZhikuError as exc:
            yield hide, keep, warning(exc, lang), keep
            return
        status = text("job.started", lang, what=markdown_text(text("job.rebuild", lang, kb=name)))
        for state in _follow(services, job, lang):
            if state.running:
                yield hide, keep, status, progress_html(state, lang)
        final = _outcome(state, "rebuild.done", lang)
        yield hide, results_table(state.results, lang), final, progress_html(state, lang)

    return on_rebuild


# ---- create and delete ------------------------------------------------------------------


def _on_create(services: Services) -> Callable[..., tuple[Any, Any, str]]:
    def on_create(name: str, description: str, request: gr.Request) -> tuple[Any, Any, str]:
        lang = request_lang(request)
        try:
            summary = services.kb.create_kb(name, description or "")
        except ZhikuError as exc:
            return gr.update(), gr.update(), warning(exc, lang)
        chat, manage = kb_dropdowns(services, summary.name, lang)
        return chat, manage, text("kb.created", lang, name=markdown_text(summary.name))

    return on_create


def _on_delete_doc(services: Services) -> Callable[..., str]:
    def on_delete_doc(name: str, doc: str, request: gr.Request) -> str:
        lang = request_lang(request)
        if not (name and doc):
            return text("docs.choose", lang)
        try:
            services.kb.delete_doc(name, doc)
        except ZhikuError as exc:
            return warning(exc, lang)
        return text("docs.removed", lang, name=markdown_text(doc))

    return on_delete_doc


def _on_delete_kb(services: Services) -> Callable[..., tuple[Any, Any, str, bool]]:
    def on_delete_kb(name: str, sure: bool, request: gr.Request) -> tuple[Any, Any, str, bool]:
        lang = request_lang(request)
        if not name:
            return gr.update(), gr.update(), text("kb.choose", lang), False
        if not sure:
            return gr.update(), gr.update(), text("kb.delete_tick", lang), False
        try:
            services.kb.delete_kb(name)
        except ZhikuError as exc:
            return gr.update(), gr.update(), warning(exc, lang), False
        chat, manage = kb_dropdowns(services, None, lang)
        return chat, manage, text("kb.deleted", lang, name=markdown_text(name)), False

    return on_delete_kb
