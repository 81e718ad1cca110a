"""OCR without running OCR: reading order, the accuracy metric, which PDF pages are read,
limits and errors checked before any page is read, settings. (OCR itself: the integration
test tests/integration/test_ocr_workers.py and the app's HTTP test.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import DocumentLoadError
from rag.factory import build_ocr
from rag.loaders import SUPPORTED_EXTENSIONS, load_file
from rag.loaders.pdf_ocr import plan_pages
from rag.ocr import OcrOptions, OcrPool
from rag.ocr.accuracy import char_accuracy, edit_distance
from rag.ocr.layout import TextBox, boxes_from_rapidocr, page_text
from rag.settings import load_settings
from tests import fixtures_docs as fx

# ---- reading order ------------------------------------------------------------------------


def box(left: float, top: float, right: float, bottom: float, text: str) -> TextBox:
    return TextBox(left, top, right, bottom, text)


def test_boxes_are_read_line_by_line_left_to_right():
    boxes = [
        box(400, 102, 700, 130, "付清全部货款。"),  # second half of line 2, a little lower
        box(10, 10, 300, 40, "第三条"),
        box(10, 100, 390, 128, "乙方应在收到货物后"),
        box(320, 12, 900, 41, "付款期限"),
        box(10, 150, 200, 178, "Article 7:"),
        box(210, 151, 800, 179, "the warranty is 36 months."),
    ]
    assert page_text(boxes) == (
        "第三条付款期限\n\n乙方应在收到货物后付清全部货款。\nArticle 7: the warranty is 36 months."
    )


def test_a_skewed_line_stays_one_line_and_a_wide_gap_starts_a_paragraph():
    boxes = [
        box(10, 10, 300, 40, "The first"),
        box(310, 22, 600, 52, "line slopes down"),  # overlaps the first box by 60 %
        box(10, 56, 300, 86, "then the next"),
        box(10, 200, 300, 230, "New paragraph."),
    ]
    assert page_text(boxes) == "The first line slopes down\nthen the next\n\nNew paragraph."


def test_rapidocr_rows_become_boxes_and_empty_text_is_dropped():
    rows = [
        [[[63.0, 65.0], [895.0, 65.0], [895.0, 99.0], [63.0, 98.0]], "合同编号", 0.97],
        [[[1.0, 1.0], [5.0, 1.0], [5.0, 5.0], [1.0, 5.0]], "  ", 0.6],
    ]
    assert boxes_from_rapidocr(rows) == [TextBox(63.0, 65.0, 895.0, 99.0, "合同编号")]
    assert boxes_from_rapidocr(None) == []


def test_character_accuracy():
    assert edit_distance("kitten", "sitting") == 3
    assert char_accuracy("合同编号: 甲方", "合同编号：甲方") == 1.0  # full-width colon, spaces
    assert char_accuracy("合同编呈：甲方", "合同编号：甲方") == pytest.approx(1 - 1 / 7)
    assert char_accuracy("", "") == 1.0 and char_accuracy("x" * 50, "ab") == 0.0


# ---- loading without OCR, and limits met before OCR starts ------------------------------------


def test_images_are_supported_types():
    for extension in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
        assert extension in SUPPORTED_EXTENSIONS


def test_without_ocr_images_and_scans_say_how_to_turn_it_on(tmp_path: Path):
    for path in (fx.write_scan_png(tmp_path), fx.write_scan_pdf(tmp_path)):
        with pytest.raises(DocumentLoadError) as info:
            load_file(path, path.name)
        assert path.name in str(info.value) and "OCR_ENABLED" in str(info.value)


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path: Path):
    from PIL import Image

    path = tmp_path / "poster.png"
    Image.new("L", (1200, 1000), 255).save(path)
    pool = OcrPool(OcrOptions(max_pixels=1_000_000))
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, path.name, ocr=pool)
    assert "1200×1000" in str(info.value) and "OCR_MAX_PIXELS" in str(info.value)
    assert pool._executor is None  # no worker was started


def test_a_tiff_with_too_many_pages_is_refused(tmp_path: Path):
    from PIL import Image

    path = tmp_path / "fax.tiff"
    frames = [Image.new("L", (200, 100), 255) for _ in range(3)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, path.name, ocr=OcrPool(OcrOptions(max_pages=2)))
    assert "3 pages" in str(info.value) and "OCR_MAX_PAGES" in str(info.value)


def test_a_file_that_is_not_an_image_says_so(tmp_path: Path):
    path = fx.write_text(tmp_path, "photo.jpg", "not a picture", "utf-8")
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, path.name, ocr=OcrPool())
    assert "not an image" in str(info.value)


def test_a_missing_rapidocr_is_named_with_its_install_command(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if "rapidocr" in name else real(name)
    )
    path = fx.write_scan_png(tmp_path)
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, path.name, ocr=OcrPool())
    assert "pip install rapidocr-onnxruntime==1.4.4" in str(info.value)


# ---- which PDF pages are read --------------------------------------------------------------

A4_HEIGHT = 841.89


def write_mixed_pdf(folder: Path) -> Path:
    """Four A4 pages: (1) a caption and a large photo without text over it, (2) a scan
    already OCR'd (invisible text over the image), (3) text with a small image, (4) only a
    large image."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    photo = ImageReader(Image.new("RGB", (800, 1000), "white"))
    width, height = A4
    path = folder / "mixed.pdf"
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for page in range(1, 5):
        if page in (1, 2, 4):
            pdf.drawImage(photo, 36, 100, width=width - 72, height=height - 200)
        if page == 3:
            pdf.drawImage(photo, 36, 100, width=100, height=120)
        if page == 2:
            text = pdf.beginText(40, height - 120)
            text.setTextRenderMode(3)  # invisible, as ocrmypdf writes it
            text.setFont("Helvetica", 30)
            for _ in range(25):
                text.textLine("recognised words of the scanned page " * 2)
            pdf.drawText(text)
        if page in (1, 3):
            pdf.drawString(40, 60, f"Caption of page {page}.")
        pdf.showPage()
    pdf.save()
    return path


def test_pages_read_are_scans_and_large_images_the_text_does_not_cover(tmp_path: Path):
    path = write_mixed_pdf(tmp_path)
    pool = OcrPool(OcrOptions(pdf_threshold=(0.6, 0.6), max_side=3000))
    plans = plan_pages(path, {1, 2, 3}, 4, pool)
    assert [(p.page, p.has_text) for p in plans] == [(1, True), (4, False)]
    photo_only, whole = plans[0].job, plans[1].job
    assert photo_only.pdf and photo_only.index == 0
    assert photo_only.crop == pytest.approx((36, 100, 36, 60 + 40), abs=1)  # the caption is cut
    assert whole.crop == (0, 0, 0, 0) and whole.index == 3
    assert whole.scale == pytest.approx(3000 / A4_HEIGHT)  # 300 dpi would be 3508 pixels
    assert photo_only.scale == pytest.approx(300 / 72)  # its image is only 642 points high
    narrow = plan_pages(path, {1, 2, 3}, 4, OcrPool(OcrOptions(pdf_threshold=(0.95, 0.6))))
    assert [p.page for p in narrow] == [4]  # the photo is 92 % of the width: not large enough


# ---- settings ----------------------------------------------------------------------------


def test_ocr_settings_and_their_overrides(tmp_path: Path):
    settings = load_settings(
        env={"ZHIKU_PDF_OCR_THRESHOLD": "[0.5, 0.7]", "ZHIKU_OCR_WORKERS": "2"}
    )
    assert settings.ocr.pdf_threshold == (0.5, 0.7) and settings.ocr.workers == 2
    pool = build_ocr(settings.ocr)
    assert pool is not None and pool.options.pdf_threshold == (0.5, 0.7)
    assert build_ocr(load_settings(ocr_enabled=False).ocr) is None
    with pytest.raises(Exception, match="PDF_OCR_THRESHOLD"):
        load_settings(pdf_ocr_threshold=(0.0, 1.5))


def test_a_traditional_page_read_partly_in_simplified_is_written_back():
    from rag.ocr.script import TraditionalRestorer

    restore = TraditionalRestorer()
    # as read from a dev-set scan: 东 and 随 in a Traditional page
    assert restore("岳飛退屯建康东北的紫金山，隨即随軍北還。") == (
        "岳飛退屯建康東北的紫金山，隨即隨軍北還。"
    )
    simplified = "本小区将于六月十二日停止供水。"
    assert restore(simplified) == simplified
    assert restore("Article 7: 36 months.") == "Article 7: 36 months."


def test_english_read_without_spaces_gets_them_back():
    from rag.ocr.latin import LatinRepair

    repair = LatinRepair()
    # lines as the recogniser returned them from a dev-set scan
    assert repair("southernCaliforniatherearealsotwelvecitieswithmorethan2o0,oo0residents") == (
        "southern California there are also twelve cities with more than200,000residents"
    )
    assert repair("varies from 1 in algae up to 1oo in plants.Thenumberofchloroplasts") == (
        "varies from 1 in algae up to 100 in plants. The number of chloroplasts"
    )
    kept = "卡特雷奇（G.H.Cartledge）提出了离子势的概念，Riverside-San Bernardino, 10o, rhodophyte"
    assert repair(kept) == kept
