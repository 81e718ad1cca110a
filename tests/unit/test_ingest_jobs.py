"""Uploads and rebuilds as background jobs of the service: each file's stages and counts as
they happen, a state any page can read, a rebuild searchable on its old index until the
swap; and what the dashboard and the quality history read. Real stores and FAISS, fake
(gated) embeddings: events, not sleeps."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

import rag.kb.locks as locks
from rag.errors import KnowledgeBaseBusyError, KnowledgeBaseNotFoundError, RebuildFailedError
from rag.factory import build_chunker
from rag.ingestion import IngestionPipeline
from rag.ingestion.pipeline import PROGRESS_SLICE
from rag.ingestion.progress import IngestEvent
from rag.kb.quality_runs import QualityRuns
from rag.services import KnowledgeBaseService
from rag.services.jobs import FileProgress
from rag.settings import load_settings
from tests.unit.test_kb_races import (
    Background,
    GatedEmbeddings,
    make_service,
    observe,
    write_docs,
)

WAIT_S = 60


@pytest.fixture(scope="module")
def gated(tmp_path_factory) -> tuple[KnowledgeBaseService, GatedEmbeddings]:
    """One service for the module (its tokenizer loads jieba once); a KB per test."""
    return make_service(tmp_path_factory.mktemp("jobs"))


def fill(service: KnowledgeBaseService, tmp: Path, kb: str, count: int) -> list[str]:
    service.create_kb(kb)
    files = write_docs(tmp, count)
    assert {r.status for r in service.add_files(kb, files)} == {"ok"}
    return [name for name, _ in files]


def long_doc(folder: Path, name: str, paragraphs: int) -> Path:
    """A Markdown file of many chunks (one section per paragraph)."""
    folder.mkdir(exist_ok=True)
    path = folder / name
    sections = [
        f"## 第{i}节\n\n" + f"第{i}节讲的是知库如何切分、向量化与检索。" * 12
        for i in range(paragraphs)
    ]
    path.write_text("\n\n".join(sections), encoding="utf-8")
    return path


def test_embedding_with_progress_reports_counts_and_gives_the_same_vectors():
    embeddings = DeterministicFakeEmbedding(size=8)
    pipeline = IngestionPipeline(build_chunker(load_settings(env={})), embeddings, 8)
    texts = [f"text {i}" for i in range(PROGRESS_SLICE * 2 + 5)]
    counts: list[int] = []
    sliced = pipeline.embed(texts, counts.append)
    assert counts == [PROGRESS_SLICE, PROGRESS_SLICE * 2, PROGRESS_SLICE * 2 + 5]
    assert np.array_equal(sliced, pipeline.embed(texts))


def test_an_upload_job_reports_each_file_stage_by_stage(gated, tmp_path: Path):
    service, _ = gated
    service.create_kb("stages")
    big = long_doc(tmp_path / "in", "big.md", PROGRESS_SLICE + 10)
    files = [*write_docs(tmp_path, 2), ("big.md", big), ("bad.xyz", big)]
    events: list[IngestEvent] = []
    results = service.add_files("stages", files, on_event=events.append)
    assert [e.stage for e in events[:4]] == ["queued"] * 4  # the whole of the work, first
    assert events[2].bytes == big.stat().st_size
    stages = [e.stage for e in events if e.position == 2]
    assert stages[:3] == ["queued", "parsing", "embedding"]
    assert stages[-2:] == ["indexing", "done"]
    counts = [e.done for e in events if e.position == 2 and e.stage == "embedding"]
    chunks = results[2].chunks
    assert chunks > PROGRESS_SLICE  # so that the count moves within the file
    assert counts[0] == 0 and counts[-1] == chunks and counts == sorted(counts)
    assert [e.stage for e in events if e.position == 3] == ["queued", "error"]


def test_a_scans_ocr_pages_are_parsing_events_that_move_its_share_of_the_job(
    gated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The loader's status lines ("OCR page 3/10", rag/ocr) become the file's "parsing"
    events: the pages read and to read, the line as their note (the CLI prints it)."""
    service, _ = gated
    service.create_kb("scans")
    pipeline = service.ingestor.pipeline
    load = pipeline.load

    def reading_pages(path: Path, name: str | None = None, progress=None):
        for page in (1, 2):
            if progress is not None:
                progress(f"OCR page {page}/2")
        return load(path, name)

    monkeypatch.setattr(pipeline, "load", reading_pages)
    events: list[IngestEvent] = []
    [result] = service.add_files("scans", write_docs(tmp_path, 1), on_event=events.append)
    assert result.status == "ok"
    parsing = [(e.done, e.total, e.note) for e in events if e.stage == "parsing"]
    assert parsing == [(0, 0, ""), (1, 2, "OCR page 1/2"), (2, 2, "OCR page 2/2")]

    job = service.start_add("scans", write_docs(tmp_path, 1, prefix="scan"))
    done = service.jobs.wait("scans", WAIT_S)
    assert job.kind == "upload" and done is not None and done.results[0].status == "ok"
    [file] = done.files
    assert (file.pages, file.pages_read, file.note) == (2, 2, "OCR page 2/2")  # kept after


def test_ocr_pages_are_most_of_a_scans_work_and_its_share_only_grows():
    scan = FileProgress("scan.pdf", 1, "parsing", pages=10)
    shares = [
        FileProgress("scan.pdf", 1, "parsing").fraction,  # before the first page is read
        *(replace(scan, pages_read=n).fraction for n in (1, 5, 10)),
        replace(scan, stage="embedding", chunks=20, embedded=0).fraction,
        replace(scan, stage="embedding", chunks=20, embedded=20).fraction,
        replace(scan, stage="indexing").fraction,
    ]
    assert shares == sorted(shares) and len(set(shares)) == len(shares)
    assert shares[3] >= 0.6  # all its pages read: most of the file's work is done
    plain = FileProgress("a.md", 1, "embedding", chunks=20, embedded=10).fraction
    assert 0.1 < plain < 0.9  # a file without OCR: embedding is most of it


def test_a_job_runs_on_its_own_and_any_page_reads_its_state(gated, tmp_path: Path):
    service, embeddings = gated
    service.create_kb("t1")
    cleaned: list[bool] = []
    entered = embeddings.hold()
    started = service.start_add("t1", write_docs(tmp_path, 3), after=lambda: cleaned.append(True))
    assert started.running and started.kind == "upload"
    try:
        assert entered.wait(WAIT_S)
        middle = service.job("t1")
        assert middle is not None and middle.running
        assert [f.stage for f in middle.files][:1] == ["embedding"]
        assert 0 < middle.fraction < 1
        with pytest.raises(KnowledgeBaseBusyError, match="already running"):
            service.start_add("t1", write_docs(tmp_path, 1, prefix="more"))
    finally:
        embeddings.release()
    done = service.jobs.wait("t1", WAIT_S)
    assert done is not None and not done.running and done.error == ""
    assert [r.status for r in done.results] == ["ok"] * 3
    assert {f.stage for f in done.files} == {"done"} and done.fraction == 1.0
    assert cleaned == [True]  # the caller's clean-up ran once, after the job
    assert len(service.list_docs("t1")) == 3


def test_a_job_cancelled_by_a_delete_still_cleans_up(
    gated, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    service, embeddings = gated
    cancelled = observe(monkeypatch, locks.Operation, "cancel")
    with pytest.raises(KnowledgeBaseNotFoundError):
        service.start_add("nope", write_docs(tmp_path, 1))
    fill(service, tmp_path, "doomed", 1)
    cleaned: list[bool] = []
    entered = embeddings.hold()
    files = write_docs(tmp_path, 1, prefix="x")
    service.start_add("doomed", files, after=lambda: cleaned.append(True))
    assert entered.wait(WAIT_S)
    deleting = Background(service.delete_kb, "doomed")  # cancels the job at its next batch
    assert cancelled.wait(WAIT_S)
    embeddings.release()
    deleting.outcome()
    state = service.jobs.wait("doomed", WAIT_S)
    # the delete forgets the job once it has ended (the knowledge base is gone)
    assert state is None or "deleted" in state.error
    assert cleaned == [True]
    assert not service.exists("doomed")


def test_a_rebuild_job_that_fails_says_why_and_leaves_the_kb_as_it_was(gated, tmp_path: Path):
    service, embeddings = gated
    names = fill(service, tmp_path, "poisoned", 2)
    service.add_files("poisoned", [("p.txt", write_text(tmp_path / "p.txt", "POISON 文件"))])
    embeddings.poisoned = True
    try:
        service.start_rebuild("poisoned")
        state = service.jobs.wait("poisoned", WAIT_S)
    finally:
        embeddings.poisoned = False
    assert state is not None and not state.running
    assert state.error_type is RebuildFailedError and "p.txt" in state.error
    assert [d["name"] for d in service.list_docs("poisoned")] == sorted([*names, "p.txt"])
    assert service.search("poisoned", "第1号文件", 1, 0.0)[0].source == names[1]


def write_text(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def test_the_eta_comes_from_the_pace_so_far():
    from rag.services.jobs import FileProgress, JobState

    now = time.time()
    files = (
        FileProgress("a", 100, "done", 10, 10),
        FileProgress("b", 100, "embedding", 10, 5),
    )
    state = JobState("t1", "upload", started=now - 30, files=files, now=now)
    assert state.fraction == pytest.approx((1 + 0.5) / 2)
    assert state.eta == pytest.approx(30 * 0.25 / 0.75)
    assert JobState("t1", "upload", started=now, now=now).eta is None


def test_a_rebuild_job_keeps_the_old_index_searchable_until_the_new_one_is_ready(
    gated, tmp_path: Path
):
    service, embeddings = gated
    names = fill(service, tmp_path, "rb", 4)
    live = service.store("rb")
    entered = embeddings.hold()
    service.start_rebuild("rb")
    try:
        assert entered.wait(WAIT_S)  # the new index is being embedded, aside
        state = service.job("rb")
        assert state is not None and state.running and state.kind == "rebuild"
        assert {f.name for f in state.files} == set(names)
        assert service.store("rb") is live  # the live store is the one searched
        assert service.search("rb", "第2号文件", 1, 0.0)[0].source == names[2]
        assert service.stats("rb").chunks == 4
    finally:
        embeddings.release()
    done = service.jobs.wait("rb", WAIT_S)
    assert done is not None and done.error == "" and len(done.results) == 4
    assert service.store("rb") is not live  # swapped in
    assert service.search("rb", "第2号文件", 1, 0.0)[0].source == names[2]


def test_the_dashboard_counts_documents_chunks_types_and_bytes(gated, tmp_path: Path):
    service, _ = gated
    fill(service, tmp_path, "dash", 2)
    service.add_files("dash", [("big.md", long_doc(tmp_path / "in", "big.md", 5))])
    stats = service.stats("dash")
    md_chunks = service.doc("dash", "big.md").chunks  # type: ignore[union-attr]
    assert (stats.docs, stats.chunks) == (3, md_chunks + 2)
    assert stats.chunks_by_type == ((".md", md_chunks), (".txt", 2))
    assert stats.bytes_on_disk > sum(p.stat().st_size for p in (tmp_path / "in").iterdir())
    assert stats.last_update is not None and abs(stats.last_update - time.time()) < 600
    assert [c.seq for c in service.doc_chunks("dash", "big.md")] == list(range(md_chunks))


def test_quality_runs_are_kept_in_order_and_go_with_their_knowledge_base(gated, tmp_path: Path):
    service, _ = gated
    fill(service, tmp_path, "q", 1)
    runs = service.quality_runs
    assert isinstance(runs, QualityRuns) and runs.runs("q") == []
    runs.record("q", "q.jsonl", {"hit@1": 0.5})
    runs.record("q", "q.jsonl", {"hit@1": 0.75})
    with open(runs.folder / "q.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"at": 1, "questions_fi')  # a line a crash cut short
    assert [r["hit@1"] for r in runs.runs("q")] == [0.5, 0.75]
    service.delete_kb("q")
    service.create_kb("q")
    assert runs.runs("q") == []
