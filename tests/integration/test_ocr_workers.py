"""OCR for real: RapidOCR in the pool's worker process reads a PNG and an image-only PDF
written by the test (Chinese and English lines rendered with a CJK font)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.loaders import load_file
from rag.ocr import OcrPool
from rag.ocr.accuracy import char_accuracy
from tests import fixtures_docs as fx

MIN_ACCURACY = 0.98


@pytest.fixture(scope="module")
def pool() -> Iterator[OcrPool]:
    pool = OcrPool()
    yield pool
    pool.close()


def test_a_png_is_read_in_reading_order(pool: OcrPool, tmp_path: Path):
    path = fx.write_scan_png(tmp_path, "停水通知.png")
    lines: list[str] = []
    documents = load_file(path, path.name, ocr=pool, progress=lines.append)
    assert len(documents) == 1 and documents[0].metadata["page"] == 1
    text = documents[0].page_content
    printed = fx.SCAN_NOTICE_ZH + fx.SCAN_NOTICE_EN
    assert char_accuracy(text, printed) >= MIN_ACCURACY, text
    assert text.index("停止供水") < text.index("Water supply")  # top line first
    assert lines == ["OCR page 1/1"]


def test_an_image_only_pdf_keeps_its_page_numbers(pool: OcrPool, tmp_path: Path):
    path = fx.write_scan_pdf(tmp_path)
    lines: list[str] = []
    documents = load_file(path, path.name, ocr=pool, progress=lines.append)
    assert [d.metadata["page"] for d in documents] == [1, 2]
    first, second = documents
    # the first line is a title: it becomes the title path of every page, as for text PDFs
    assert first.metadata["title_path"] == second.metadata["title_path"] != ""
    read = first.metadata["title_path"] + first.page_content
    assert char_accuracy(read, "".join(fx.SCAN_PAGE1)) >= MIN_ACCURACY, read
    assert char_accuracy(second.page_content, "".join(fx.SCAN_PAGE2)) >= MIN_ACCURACY
    assert "Zephyr pump" in second.page_content
    assert lines == ["OCR page 1/2", "OCR page 2/2"]


def test_an_image_upside_down_is_read_the_right_way_up(pool: OcrPool, tmp_path: Path):
    path = tmp_path / "upside-down.png"
    fx.render_lines((fx.SCAN_NOTICE_ZH, fx.SCAN_NOTICE_EN)).rotate(180).save(path)
    text = load_file(path, path.name, ocr=pool)[0].page_content
    assert char_accuracy(text, fx.SCAN_NOTICE_ZH + fx.SCAN_NOTICE_EN) >= MIN_ACCURACY, text
    assert text.index("停止供水") < text.index("Water supply")
