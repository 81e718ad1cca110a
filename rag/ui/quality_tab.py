"""The quality tab: measure a knowledge base with the user's own questions, and see each
run's hit rates over time (the service keeps every run: rag/kb/quality_runs.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from rag.errors import ZhikuError
from rag.evaluation import KS, load_questions
from rag.services import Services
from rag.ui.common import warning
from rag.ui.kb_views import local_time
from rag.ui.localize import Localizer, request_lang
from rag.ui.messages import MESSAGES, Lang, text
from rag.ui.render import markdown_text
from rag.ui.uploads import uploaded_paths

PLOT_COLUMNS = ("at", "hit", "series")


@dataclass(frozen=True)
class QualityTab:
    """How to refill the tab's views for a knowledge base (its change, a language switch)."""

    show: Callable[..., tuple[Any, ...]]
    views: list[Any]


def quality_tab(
    services: Services, kb: gr.Dropdown, upload_dir: Path, loc: Localizer
) -> QualityTab:
    """`kb`: the knowledge-base tab's picker, the KB measured."""
    loc(gr.Markdown(), value="quality.intro")
    questions = loc(gr.File(file_types=[".jsonl"]), label="quality.questions")
    answers = loc(gr.Slider(0, 100, value=0, step=1), label="quality.answers")
    run = loc(gr.Button(variant="primary", elem_id="quality-run"), value="quality.run")
    report = gr.Markdown(elem_id="quality-report")
    runs = gr.Markdown(elem_id="quality-runs")
    plot = loc(
        gr.LinePlot(
            value=pd.DataFrame(columns=list(PLOT_COLUMNS)),
            x="at",
            y="hit",
            color="series",
            y_lim=[0, 1],
            x_label_angle=-20,
            show_label=True,
            elem_id="quality-plot",
        ),
        label="quality.plot",
        x_title="quality.x",
        y_title="quality.y",
        color_title="quality.series",
    )
    show = _show_runs(services)
    run.click(_on_run(services, upload_dir), [kb, questions, answers], report).then(
        show, kb, [runs, plot]
    )
    kb.change(show, kb, [runs, plot])
    return QualityTab(show, [runs, plot])


def _on_run(services: Services, upload_dir: Path) -> Callable[..., str]:
    def on_run(
        name: str,
        path: str | None,
        n: float,
        request: gr.Request,
        progress: Any = gr.Progress(),  # noqa: B008 - Gradio injects progress this way
    ) -> str:
        lang = request_lang(request)
        if not name or not path:
            return text("quality.choose", lang)
        searching = text("quality.searching", lang)
        try:
            [questions_file] = uploaded_paths([path], upload_dir)
            result = services.evaluate(
                name,
                load_questions(questions_file),
                int(n),
                on_progress=lambda done, total: progress(done / total, desc=searching),
                questions_file=questions_file.name,
            )
        except ZhikuError as exc:
            return warning(exc, lang)
        return f"**{markdown_text(name)}**\n\n{report_table(result.as_dict(), lang)}"

    return on_run


def report_table(metrics: dict[str, Any], lang: Lang) -> str:
    """A run's metrics as a Markdown table, named in `lang` (hit@k, MRR and doc-hit@k keep
    their usual names)."""
    shown = {k: v for k, v in metrics.items() if k != "kb" and v is not None}
    names = [_metric_name(key, lang) for key in shown]
    head = "| " + " | ".join(names) + " |"
    values = "| " + " | ".join(_metric_value(v) for v in shown.values()) + " |"
    return "\n".join([head, "|" + "---|" * len(shown), values])


def _metric_name(key: str, lang: Lang) -> str:
    message = f"metric.{key}"
    return text(message, lang) if message in MESSAGES else key


def _metric_value(value: object) -> str:
    if isinstance(value, float) and value <= 1.0:
        return f"{value * 100:.1f}%"
    return str(value)


def _show_runs(services: Services) -> Callable[..., tuple[Any, ...]]:
    def show_runs(name: str | None, request: gr.Request) -> tuple[Any, ...]:
        lang = request_lang(request)
        runs = services.kb.quality_runs.runs(name) if name else []
        return runs_line(runs, lang), plot_frame(runs)

    return show_runs


def runs_line(runs: list[dict[str, Any]], lang: Lang) -> str:
    if not runs:
        return text("quality.no_runs", lang)
    return text("quality.runs", lang, count=len(runs), when=local_time(float(runs[-1]["at"])))


def plot_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """One point per run and k: hit@k (0..1) at the run's time (a label, so that runs minutes
    or months apart are as far apart), a line per k and questions file."""
    rows = [
        (
            local_time(float(run["at"]), with_seconds=True),
            float(run[f"hit@{k}"]),
            f"hit@{k} · {run['questions_file']}",
        )
        for run in runs
        for k in KS
        if f"hit@{k}" in run
    ]
    return pd.DataFrame(rows, columns=list(PLOT_COLUMNS))
