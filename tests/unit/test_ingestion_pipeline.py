"""The ingestion pipeline on its own (no knowledge base), and its timing record."""

from __future__ import annotations

from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import Field

from rag.factory import build_chunker, build_kb_service
from rag.ingestion import IngestionPipeline, IngestOptions, IngestTimings
from rag.settings import load_settings


class CountingEmbeddings(DeterministicFakeEmbedding):
    calls: list[int] = Field(default_factory=list)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return super().embed_documents(texts)


def write_folder(tmp: Path, count: int) -> list[Path]:
    folder = tmp / "docs"
    folder.mkdir()
    for i in range(count):
        (folder / f"d{i}.md").write_text(f"# 第{i}章\n\n第{i}章讲的是编号{i}的内容。\n", "utf-8")
    return sorted(folder.iterdir())


def test_a_folder_is_chunked_and_embedded_in_batches_without_a_knowledge_base(tmp_path: Path):
    embeddings = CountingEmbeddings(size=8)
    timings = IngestTimings()
    pipeline = IngestionPipeline(build_chunker(load_settings(env={})), embeddings, 8, timings)
    files = list(pipeline.run(write_folder(tmp_path, 5), IngestOptions(batch_files=2)))
    assert [f.path.name for f in files] == [f"d{i}.md" for i in range(5)]
    assert embeddings.calls == [2, 2, 1]  # one call per batch of two files
    for i, file in enumerate(files):
        assert [c.title_path for c in file.chunks] == [f"第{i}章"]
        assert file.vectors.shape == (len(file.chunks), 8)
    assert set(timings.seconds) == {"load", "split", "embed"}
    assert pipeline.embed([]).shape == (0, 8)


def test_adding_files_to_a_knowledge_base_adds_up_its_stages(tmp_path: Path):
    timings = IngestTimings()
    service = build_kb_service(
        load_settings(env={}), tmp_path / "kbs", DeterministicFakeEmbedding(size=8), timings=timings
    )
    service.create_kb("kb")
    paths = write_folder(tmp_path, 3)
    assert {r.status for r in service.add_files("kb", [(p.name, p) for p in paths])} == {"ok"}
    stages = {"hash", "load", "split", "embed", "store", "index_save"}
    assert set(timings.seconds) == stages
    assert all(seconds >= 0 for seconds in timings.seconds.values())
    timings.clear()
    again = service.add_files("kb", [(p.name, p) for p in paths])
    assert {r.status for r in again} == {"unchanged"} and set(timings.seconds) == {"hash"}
