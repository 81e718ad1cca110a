"""PDF tables stay tables: rows with their header, in reading order, cut between rows only.

Real PDFs written by reportlab (tests/fixtures_docs.py), read by the app's loader and chunker.
"""

from __future__ import annotations

from pathlib import Path

import pdfplumber
import pytest
from pypdf import PdfReader

import tests.fixtures_docs as fx
from rag.factory import build_chunker
from rag.ingestion.chunking import table_pieces
from rag.loaders import load_file
from rag.loaders.pdf_tables import find_tables, has_ruling
from rag.splitters import build_splitter

HEADER = fx.TABLE_PDF_ROWS[0]


def row_line(row: list[str]) -> str:
    """A row as the xlsx and docx loaders write it: "Product: Widget; Price: 12; ..."."""
    return "; ".join(f"{name}: {value}" for name, value in zip(HEADER, row, strict=True))


def test_table_rows_come_with_their_header_in_reading_order(tmp_path: Path) -> None:
    path = fx.write_table_pdf(tmp_path)
    documents = load_file(path, path.name)
    texts = [doc.page_content for doc in documents]
    assert texts == [
        fx.TABLE_PDF_INTRO,
        "\n".join(row_line(row) for row in fx.TABLE_PDF_ROWS[1:]),
        fx.TABLE_PDF_AFTER,
    ]
    assert "Price: 7" in texts[1] and "Product: Sprocket; Price: 7;" in texts[1]
    assert [doc.metadata.get("table", False) for doc in documents] == [False, True, False]
    assert all(doc.metadata["page"] == 1 for doc in documents)
    assert {doc.metadata["title_path"] for doc in documents} == {fx.TABLE_PDF_TITLE}


def test_table_words_are_not_repeated_as_loose_text(tmp_path: Path) -> None:
    path = fx.write_table_pdf(tmp_path)
    loose = [doc.page_content for doc in load_file(path, path.name) if "table" not in doc.metadata]
    for row in fx.TABLE_PDF_ROWS:
        for cell in row:
            assert all(cell not in text.split() for text in loose), cell


def test_pdf_tables_off_reads_the_table_as_loose_words(tmp_path: Path) -> None:
    path = fx.write_table_pdf(tmp_path)
    documents = load_file(path, path.name, pdf_tables=False)
    assert len(documents) == 1 and "table" not in documents[0].metadata
    text = documents[0].page_content
    assert "Sprocket" in text and "Initech" in text and "Price: 7" not in text


def test_a_table_continued_on_the_next_page_repeats_its_header(tmp_path: Path) -> None:
    path = fx.write_long_table_pdf(tmp_path)
    documents = load_file(path, path.name)
    rows = {
        line: doc.metadata["page"]
        for doc in documents
        if doc.metadata.get("table")
        for line in doc.page_content.split("\n")
    }
    expected = [f"Part: part {n}; Weight: {n} kg" for n in range(fx.LONG_TABLE_ROWS)]
    assert sorted(rows) == sorted(expected)  # every row once, each with the header
    assert rows[expected[0]] == 1 and rows[expected[-1]] > 1  # page numbers kept
    assert documents[-1].page_content == "End of the parts list."
    assert documents[-1].metadata["page"] == rows[expected[-1]]


def test_chinese_table_cells_wrapped_over_lines_are_joined(tmp_path: Path) -> None:
    path = fx.write_cjk_table_pdf(tmp_path)
    tables = [doc for doc in load_file(path, path.name) if doc.metadata.get("table")]
    header, wrench, screwdriver = fx.CJK_TABLE_ROWS
    assert [doc.page_content for doc in tables] == [
        "; ".join(f"{name}: {value}" for name, value in zip(header, wrench, strict=True))
        + "\n"
        + "; ".join(f"{name}: {value}" for name, value in zip(header, screwdriver, strict=True))
    ]


def test_text_pages_are_not_given_to_pdfplumber(tmp_path: Path) -> None:
    """Pages that draw no lines keep pypdf's text exactly (and cost nothing more)."""
    path = fx.write_english_pdf(tmp_path)
    assert not any(has_ruling(page) for page in PdfReader(path).pages)
    assert load_file(path, path.name) == load_file(path, path.name, pdf_tables=False)


def test_a_framed_note_and_rules_are_not_a_table(tmp_path: Path) -> None:
    path = fx.write_framed_note_pdf(tmp_path)
    assert has_ruling(PdfReader(path).pages[0])  # looked at, then refused
    with pdfplumber.open(path) as pdf:
        assert find_tables(pdf.pages[0]) == []
    [document] = load_file(path, path.name)
    assert fx.EN_PDF_SENTENCE in document.page_content
    assert "table" not in document.metadata


def test_chunks_of_a_pdf_table_hold_whole_rows(tmp_path: Path, settings) -> None:
    """Even with chunks shorter than a row ("Part: part 12; Weight: 12 kg" is 28
    characters), no chunk holds part of a row."""
    path = fx.write_long_table_pdf(tmp_path)
    small = settings.updated(chunk_size=20, overlap_size=5, chunk_narrow_char_weight=1.0)
    chunks = build_chunker(small).split(load_file(path, path.name))
    rows = [
        line
        for chunk in chunks
        if chunk.metadata.get("table")
        for line in chunk.text.split("\n")
        if line != chunk.title_path
    ]
    expected = {f"Part: part {n}; Weight: {n} kg" for n in range(fx.LONG_TABLE_ROWS)}
    assert set(rows) == expected


@pytest.mark.parametrize("splitter", ["chinese_recursive", "recursive"])
def test_a_row_longer_than_a_chunk_is_kept_whole(splitter: str) -> None:
    long_row = "产品: 扳手; " + "说明: " + "适用于各种规格的螺母，手柄采用防滑设计。" * 10
    rows = ["产品: 钳子; 价格: 8元", long_row, "产品: 螺丝刀; 价格: 25元", "产品: 锤子; 价格: 30元"]
    pieces = table_pieces(build_splitter(splitter, 60, 20), "\n".join(rows))
    assert long_row in pieces
    assert {line for piece in pieces for line in piece.split("\n")} == set(rows)


def test_xlsx_and_docx_rows_are_tables_too(tmp_path: Path) -> None:
    """The chunker keeps their rows whole as well: only row groups are marked."""
    sheets = load_file(fx.write_xlsx(tmp_path), "台账.xlsx")
    assert sheets and all(doc.metadata.get("table") is True for doc in sheets)
    word = load_file(fx.write_docx(tmp_path), "用户 手册.docx")
    marked = [doc.page_content for doc in word if doc.metadata.get("table")]
    header = fx.DOCX_TABLE[0]
    assert marked == [
        "\n".join(
            "; ".join(f"{n}: {v}" for n, v in zip(header, row, strict=True) if v)
            for row in fx.DOCX_TABLE[1:]
        )
    ]
