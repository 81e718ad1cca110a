"""BM25_K1 reaches the BM25 index of every knowledge base, created or reopened."""

from __future__ import annotations

from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding

from rag.factory import build_kb_service
from rag.ingestion import IngestOptions
from rag.services import KnowledgeBaseService
from rag.settings import load_settings

# Two chunks of the same length: one names the subject four times, the other once, beside
# the detail asked for.
SUBJECT_REPEATED = "Marrowby mill. Marrowby bridge. Marrowby market. Marrowby church tower."
DETAIL = "Marrowby founded a brewery in 1842, beside its river and old stone quay."


def service_with(tmp: Path, k1: str) -> KnowledgeBaseService:
    settings = load_settings(env={"ZHIKU_BM25_K1": k1})
    embeddings = DeterministicFakeEmbedding(size=16)
    return build_kb_service(settings, tmp / "kbs", embeddings, ingest=IngestOptions())


def scores(service: KnowledgeBaseService) -> list[float]:
    hits = service.store("kb").lexical_search("Marrowby", 10).hits
    return sorted(score for _, score in hits)


def test_k1_decides_how_much_a_repeated_word_counts(tmp_path: Path) -> None:
    files = []
    for name, text in [("a.txt", SUBJECT_REPEATED), ("b.txt", DETAIL)]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        files.append((name, path))
    service = service_with(tmp_path, "0")
    service.create_kb("kb")
    assert [r.chunks for r in service.add_files("kb", files)] == [1, 1]
    once, repeated = scores(service)
    assert repeated == once  # k1 = 0: a word counts once, however often it is written
    service.close()
    reopened = service_with(tmp_path, "1.2")
    once, repeated = scores(reopened)
    # read at search time: the reopened KB counts the repeats (at the default, 0.5: 1.33x)
    assert repeated > 1.5 * once
    reopened.close()
