"""A piece that is only its section's heading never becomes a chunk of its own."""

from __future__ import annotations

from rag.ingestion import fold_heading_pieces


def test_bare_heading_dropped_when_the_title_prefix_carries_it():
    pieces = ["Ingredients", "- 200 g pearl barley\n- 500 g mushrooms", "- 2 bay leaves"]
    assert fold_heading_pieces(pieces, "Ingredients", title_prefix=True) == pieces[1:]


def test_bare_heading_joined_to_the_next_piece_without_the_prefix():
    pieces = ["Ingredients", "- 200 g pearl barley", "- 2 bay leaves"]
    assert fold_heading_pieces(pieces, "Ingredients", title_prefix=False) == [
        "Ingredients\n- 200 g pearl barley",
        "- 2 bay leaves",
    ]


def test_other_pieces_and_a_lone_heading_are_kept():
    assert fold_heading_pieces(["Storage\nKeeps four days."], "Storage", True) == [
        "Storage\nKeeps four days."
    ]
    assert fold_heading_pieces(["Storage"], "Storage", True) == ["Storage"]
    assert fold_heading_pieces(["text"], "", True) == ["text"]


def test_real_splitter_output_has_no_bare_heading_chunk(tmp_path):
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from langchain_core.language_models.fake import FakeListLLM

    from rag.factory import build_services
    from rag.settings import load_settings

    services = build_services(
        load_settings(env={}),
        kb_root=tmp_path / "kbs",
        llm=FakeListLLM(responses=["x"]),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    services.kb.create_kb("kb")
    path = tmp_path / "stew.md"
    body = " ".join(["The barley makes it filling and the mushrooms give it depth."] * 5)
    path.write_text(f"# Stew\n\n## Storage\n\n{body}\n", encoding="utf-8")
    [result] = services.kb.add_files("kb", [("stew.md", path)])
    assert result.status == "ok"
    texts = [hit.text for hit in services.kb.search("kb", "Storage", 20)]
    assert texts and all(t.strip() not in {"Stew", "Storage"} for t in texts)
    assert any(t.startswith("Stew > Storage\n") for t in texts)
