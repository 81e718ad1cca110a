"""What the knowledge-base tab shows, rendered in the page's language: the dashboard (with
its chart of chunks per file type), the tables, a document's chunks and an upload's or a
rebuild's progress.

Every name and text from a document is HTML-escaped; table cells are plain text.
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from rag.ingestion import FileResult
from rag.kb.registry import KnowledgeBaseSummary
from rag.kb.store import ChunkRecord
from rag.services.dashboard import NO_EXTENSION, KbStats
from rag.services.jobs import FileProgress, JobState
from rag.ui.localize import error_line
from rag.ui.messages import Lang, text

PREVIEW_CHUNKS = 50
"""Chunks shown in a document's preview at most (the count says how many more)."""

DASHBOARD_CSS = """
.zk-cards { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 12px; }
.zk-card { flex: 1 1 130px; padding: 10px 14px; border-radius: 8px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary); }
.zk-card .zk-k { font-size: 0.85em; color: var(--body-text-color-subdued); }
.zk-card .zk-v { font-size: 1.35em; font-weight: 600; overflow-wrap: anywhere; }
.zk-card .zk-v.zk-small { font-size: 1em; }
.zk-chart h4 { margin: 4px 0 8px; font-size: 0.95em; }
.zk-row { display: flex; align-items: center; gap: 8px; margin: 3px 0; }
.zk-row .zk-name { width: 70px; text-align: right; font-family: monospace; }
.zk-row .zk-track { flex: 1; background: var(--background-fill-secondary); border-radius: 4px; }
.zk-row .zk-bar { height: 16px; border-radius: 4px; background: var(--color-accent);
  min-width: 2px; }
.zk-row .zk-n { width: 60px; font-variant-numeric: tabular-nums; }
.zk-empty { color: var(--body-text-color-subdued); }
"""

PROGRESS_CSS = """
.zk-job { padding: 10px 14px; border-radius: 8px; border: 1px solid var(--border-color-primary); }
.zk-job .zk-head { display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: baseline; }
.zk-job .zk-title { font-weight: 600; }
.zk-job .zk-state-failed { color: var(--color-red-500, #dc2626); }
.zk-job .zk-total { height: 10px; margin: 8px 0; border-radius: 5px;
  background: var(--background-fill-secondary); }
.zk-job .zk-total div { height: 10px; border-radius: 5px; background: var(--color-accent); }
.zk-job table { width: 100%; border-collapse: collapse; font-size: 0.92em; border: none; }
.zk-job tr, .zk-job td { border-left: 0 !important; border-right: 0 !important; }
.zk-job td { padding: 3px 6px; border-top: 1px solid var(--border-color-primary); }
.zk-job td.zk-file { width: 45%; overflow-wrap: anywhere; }
.zk-job td.zk-stage { width: 35%; }
.zk-job .zk-mini { width: 100%; max-width: 200px; height: 6px; border-radius: 3px;
  background: var(--background-fill-secondary); }
.zk-job .zk-mini div { height: 6px; border-radius: 3px; background: var(--color-accent); }
.zk-job .zk-err { color: var(--color-red-500, #dc2626); }
.zk-job .zk-note { margin-top: 6px; font-size: 0.85em; color: var(--body-text-color-subdued); }
"""

PREVIEW_CSS = """
.zk-preview h4 { margin: 4px 0 8px; }
.zk-chunk { margin: 6px 0; padding: 8px 10px; border-radius: 6px;
  border: 1px solid var(--border-color-primary); white-space: pre-wrap; }
.zk-chunk .zk-meta { font-size: 0.82em; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.zk-empty { color: var(--body-text-color-subdued); }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


# ---- the dashboard ----------------------------------------------------------------------


def dashboard_html(stats: KbStats | None, lang: Lang) -> str:
    if stats is None:
        return f'<p class="zk-empty">{_e(text("dash.none", lang))}</p>'
    updated = local_time(stats.last_update) if stats.last_update else text("dash.never", lang)
    cards = [
        ("dash.docs", f"{stats.docs:,}", ""),
        ("dash.chunks", f"{stats.chunks:,}", ""),
        ("dash.size", human_size(stats.bytes_on_disk), ""),
        ("dash.model", stats.embedding_model or "—", " zk-small"),
        ("dash.updated", updated, " zk-small"),
    ]
    parts = ['<div class="zk-cards">']
    for key, value, extra in cards:
        parts.append(
            f'<div class="zk-card" data-stat="{key}"><div class="zk-k">{_e(text(key, lang))}'
            f'</div><div class="zk-v{extra}">{_e(value)}</div></div>'
        )
    parts.append("</div>")
    parts.append(type_chart(stats.chunks_by_type, lang))
    return "".join(parts)


def type_chart(by_type: Sequence[tuple[str, int]], lang: Lang) -> str:
    """Chunks per file type as horizontal bars (plain HTML: no plotting in the browser)."""
    title = f"<h4>{_e(text('dash.by_type', lang))}</h4>"
    if not by_type:
        empty = _e(text("dash.never", lang))
        return f'<div class="zk-chart">{title}<p class="zk-empty">{empty}</p></div>'
    largest = max(count for _, count in by_type) or 1
    rows = [
        f'<div class="zk-row"><span class="zk-name">{_e(kind if kind != NO_EXTENSION else "—")}'
        f'</span><span class="zk-track"><div class="zk-bar" style="width:'
        f'{100 * count / largest:.1f}%"></div></span><span class="zk-n">{count:,}</span></div>'
        for kind, count in by_type
    ]
    return f'<div class="zk-chart">{title}{"".join(rows)}</div>'


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def local_time(seconds: float, with_seconds: bool = False) -> str:
    shape = "%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M"
    return time.strftime(shape, time.localtime(seconds))


def duration(seconds: float, lang: Lang) -> str:
    whole = max(0, round(seconds))
    if whole < 60:
        return text("time.s", lang, n=whole)
    return text("time.min", lang, m=whole // 60, s=whole % 60)


# ---- tables -----------------------------------------------------------------------------


def table(rows: list[list[Any]], keys: Sequence[str], lang: Lang) -> pd.DataFrame:
    """Rows under headers named in `lang` (a Dataframe's value: the headers change with it)."""
    return pd.DataFrame(rows, columns=[text(key, lang) for key in keys])


KB_COLUMNS = ("kb.col.name", "kb.col.docs", "kb.col.chunks", "kb.col.description")
DOC_COLUMNS = (
    "docs.col.file",
    "docs.col.type",
    "docs.col.chunks",
    "docs.col.size",
    "docs.col.updated",
)
RESULT_COLUMNS = ("upload.col.file", "upload.col.status", "upload.col.chunks", "upload.col.error")


def kb_table(summaries: Sequence[KnowledgeBaseSummary], lang: Lang) -> pd.DataFrame:
    rows = [[s.name, s.docs, s.chunks, s.description] for s in summaries]
    return table(rows, KB_COLUMNS, lang)


def docs_table(docs: Sequence[dict[str, Any]], lang: Lang) -> pd.DataFrame:
    """One row per document: name, type, chunks, size in KB (a number, so that it sorts),
    last update."""
    rows = [
        [
            str(d["name"]),
            Path(str(d["name"])).suffix.lower().lstrip(".") or "—",
            d["chunks"],
            round(int(d["bytes"]) / 1024, 1),
            local_time(float(d["updated_at"])),
        ]
        for d in docs
    ]
    return table(rows, DOC_COLUMNS, lang)


def results_table(results: Sequence[FileResult], lang: Lang) -> pd.DataFrame:
    rows = [
        [
            r.name,
            text(f"status.{r.status}", lang),
            r.chunks,
            error_line(r.error_type, r.error, lang) if r.error else "",
        ]
        for r in results
    ]
    return table(rows, RESULT_COLUMNS, lang)


# ---- a document's chunks ----------------------------------------------------------------


def preview_html(name: str | None, chunks: Sequence[ChunkRecord], lang: Lang) -> str:
    if not name:
        return f'<p class="zk-empty">{_e(text("preview.empty", lang))}</p>'
    title = text("preview.title", lang, name=name, count=len(chunks))
    parts = [f'<div class="zk-preview"><h4>{_e(title)}</h4>']
    for chunk in chunks[:PREVIEW_CHUNKS]:
        meta = [text("preview.chunk", lang, n=chunk.seq + 1)]
        if chunk.page:
            meta.append(text("sources.page", lang, page=chunk.page))
        if chunk.title_path:
            meta.append(chunk.title_path)
        parts.append(
            f'<div class="zk-chunk"><div class="zk-meta">{_e(" · ".join(meta))}</div>'
            f"{_e(chunk.text)}</div>"
        )
    if len(chunks) > PREVIEW_CHUNKS:
        more = text("preview.more", lang, count=len(chunks) - PREVIEW_CHUNKS)
        parts.append(f'<p class="zk-empty">{_e(more)}</p>')
    parts.append("</div>")
    return "".join(parts)


# ---- progress ---------------------------------------------------------------------------


def _reading(file: FileProgress, lang: Lang) -> str:
    """How far a file being read is: its OCR pages, or its loader's line as written."""
    if file.pages:
        return text("stage.ocr", lang, done=file.pages_read, total=file.pages)
    return file.note


def progress_html(job: JobState | None, lang: Lang) -> str:
    """An upload's or a rebuild's progress: the whole (files, chunks, time, ETA) and each
    file's stage; "" when there was none."""
    if job is None:
        return ""
    what = text(f"job.{job.kind}", lang, kb=job.kb)
    if job.running:
        state, css = text("job.running", lang), ""
    elif job.error:
        state, css = text("job.failed", lang), " zk-state-failed"
    else:
        state, css = text("job.finished", lang, elapsed=duration(job.elapsed, lang)), ""
    summary = text(
        "job.summary",
        lang,
        done=job.count("done", "unchanged", "error"),
        total=len(job.files),
        embedded=sum(f.embedded for f in job.files),
        chunks=sum(f.chunks for f in job.files),
        elapsed=duration(job.elapsed, lang),
    )
    head = [
        f'<span class="zk-title">{_e(what)}</span>',
        f'<span class="zk-state{css}">{_e(state)}</span>',
    ]
    head.append(f"<span>{_e(summary)}</span>")
    if job.running:
        eta = job.eta
        left = (
            text("job.eta", lang, eta=duration(eta, lang))
            if eta is not None
            else text("job.eta_unknown", lang)
        )
        head.append(f'<span class="zk-eta">{_e(left)}</span>')
    parts = [
        f'<div class="zk-job" data-running="{str(job.running).lower()}">',
        f'<div class="zk-head">{"".join(head)}</div>',
        f'<div class="zk-total"><div style="width:{100 * job.fraction:.1f}%"></div></div>',
    ]
    if job.error:
        parts.append(f'<p class="zk-err">{_e(error_line(job.error_type, job.error, lang))}</p>')
    parts.append("<table>" + "".join(_file_row(f, lang) for f in job.files) + "</table>")
    if job.running:
        parts.append(f'<p class="zk-note">{_e(text("job.background", lang))}</p>')
    parts.append("</div>")
    return "".join(parts)


def _file_row(file: FileProgress, lang: Lang) -> str:
    stage = text(
        f"stage.{file.stage}", lang, done=file.embedded, total=file.chunks, chunks=file.chunks
    )
    if file.stage == "parsing" and file.note:
        stage += " · " + _reading(file, lang)
    error = (
        f'<div class="zk-err">{_e(error_line(file.error_type, file.error, lang))}</div>'
        if file.error
        else ""
    )
    return (
        f'<tr data-stage="{file.stage}"><td class="zk-file">{_e(file.name)}</td>'
        f'<td class="zk-stage">{_e(stage)}{error}</td>'
        f'<td><div class="zk-mini"><div style="width:{100 * file.fraction:.0f}%"></div></div>'
        "</td></tr>"
    )


__all__ = [
    "DASHBOARD_CSS",
    "DOC_COLUMNS",
    "KB_COLUMNS",
    "PREVIEW_CSS",
    "PROGRESS_CSS",
    "RESULT_COLUMNS",
    "dashboard_html",
    "docs_table",
    "duration",
    "human_size",
    "kb_table",
    "preview_html",
    "progress_html",
    "results_table",
]
