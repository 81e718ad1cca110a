"""Test documents written on demand into a folder, each with known sentences to assert on.

Every `write_*` function takes a folder, writes one file and returns its path; `write_all`
writes the whole set. PDFs are made with reportlab (a dev dependency); Chinese PDF text uses
reportlab's built-in Adobe CID font "STSong-Light", which needs no font file on the machine
and gives text that pypdf extracts as real Chinese characters.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

# ---- Known content -------------------------------------------------------------------------

CJK_PDF_TITLE = "第一章 系统简介"
CJK_PDF_SENTENCE = (
    "知库是一个在本地运行的知识库问答系统，它可以读取用户上传的各种文档，"
    "并根据文档内容回答问题，所有数据都保存在用户自己的电脑上。"
)
CJK_PDF_SENTENCE_2 = (
    "系统不需要连接互联网，因此特别适合处理保密资料和内部文件，"
    "管理员可以为每个部门建立独立的知识库并分别设置访问权限。"
)
CJK_PDF_PAGE2_TITLE = "第二章 安装步骤"
CJK_PDF_PAGE2_SENTENCE = (
    "安装之前请确认电脑至少有八个千兆字节的内存，并且已经安装了Python解释器，"
    "然后在命令行中运行安装脚本，等待依赖包全部下载完成后再启动服务。"
)

EN_PDF_TITLE = "Chapter 1 Overview"
EN_PDF_SENTENCE = (
    "The retrieval pipeline splits every document into overlapping chunks, embeds each "
    "chunk with a small multilingual model, and stores the vectors in a local index that "
    "never leaves the machine."
)
EN_PDF_PAGE2_SENTENCE = (
    "Every answer cites the page number of the source document so that a careful reader "
    "can open the original file and check the quoted passage without any guesswork."
)

DOCX_TITLE = "知库用户手册"
DOCX_CHAPTER1 = "第一章 简介"
DOCX_CHAPTER1_TEXT = "知库帮助团队把分散的文档整理成可以提问的知识库。"
DOCX_CHAPTER2 = "第二章 安装"
DOCX_SECTION21 = "2.1 环境准备"
DOCX_SECTION21_TEXT = "安装前需要准备一台至少有八核处理器和三十二千兆字节内存的电脑。"
DOCX_SECTION22 = "2.2 启动服务"
DOCX_SECTION22_TEXT = "运行启动命令后，在浏览器中打开本地地址即可使用问答界面。"
DOCX_TABLE = (
    ("参数", "默认值", "说明"),
    ("chunk_size", "500", "每个文本块的最大字符数"),
    ("top_k", "4", "每次检索返回的文本块数量"),
)

MD_TITLE = "Deployment Guide"
MD_INTRO = "This guide explains how to deploy zhiku on a single offline server."
MD_CHAPTER = "Chapter 2"
MD_SECTION = "2.1 Setup"
MD_SECTION_TEXT = "Copy the wheel files to the server and install them with pip in a venv."
MD_CODE_LINE = "# this is a comment inside a code block, not a heading"
MD_SECTION2 = "2.2 Ports"
MD_TABLE = (("Service", "Port", "Protocol"), ("web", "7860", "http"), ("api", "8000", "http"))

GBK_TEXT = (
    "知库是一个在本地运行的知识库问答系统。它可以读取用户上传的各种文档，"
    "并根据文档内容回答问题。系统的所有数据都保存在用户自己的电脑上，不需要连接互联网，"
    "因此特别适合处理保密资料和内部文件。管理员可以为每个部门建立独立的知识库。"
)
BIG5_TEXT = (
    "知庫是一個在本地執行的知識庫問答系統。它可以讀取使用者上傳的各種文件，"
    "並根據文件內容回答問題。系統的所有資料都儲存在使用者自己的電腦上，不需要連接網際網路，"
    "因此特別適合處理機密資料和內部檔案。管理員可以為每個部門建立獨立的知識庫。"
)

CSV_ROWS = (
    ("姓名", "部门", "电话"),
    ("张三", "研发部", "010-12345678"),
    ("李四", "市场部", "021-87654321"),
    ("王五", "财务部", "0755-11112222"),
)
XLSX_SHEETS: dict[str, tuple[tuple[object, ...], ...]] = {
    "员工": (("工号", "姓名", "入职年份"), (1001, "赵六", 2019), (1002, "孙七", 2021)),
    "设备": (("设备", "数量", "位置"), ("服务器", 3, "三楼机房"), ("打印机", 5, "二楼走廊")),
}

PPTX_SLIDES = (
    ("项目背景", "公司内部文档分散在多个系统中，员工很难快速找到需要的信息。"),
    ("解决方案", "知库把所有文档集中索引，员工用自然语言提问即可得到带出处的回答。"),
)
PPTX_TABLE = (("阶段", "时间"), ("试点", "三月"), ("推广", "六月"))
PPTX_NOTES = "演讲者备注：这里强调数据不出本地。"

EPUB_CHAPTERS = (
    ("第一章 起源", "很久以前，山脚下住着一位喜欢读书的老人，他收藏了上千本古籍。"),
    ("第二章 远行", "老人决定带着最珍贵的三本书去京城，把它们交给国家图书馆保存。"),
)
EPUB_SUBHEADING = "路上的见闻"
EPUB_SUBHEADING_TEXT = "一路上他遇到了许多热心的人，大家都愿意帮助这位老人。"

HTML_TITLE = "产品说明"
HTML_SECTION = "价格表"
HTML_PARAGRAPH = "以下价格自今年一月一日起生效，所有价格均含税。"
HTML_TABLE = (("套餐", "价格", "用户数"), ("基础版", "999元", "10"), ("企业版", "9999元", "500"))
HTML_SCRIPT_TEXT = "SHOULD_NOT_APPEAR_SCRIPT"
HTML_STYLE_TEXT = "SHOULD_NOT_APPEAR_STYLE"
HTML_NAV_TEXT = "SHOULD_NOT_APPEAR_NAV"

JSON_DOC = {
    "name": "知库",
    "version": "1.0",
    "server": {"host": "127.0.0.1", "port": 7860},
    "features": ["问答", "检索"],
}
JSONL_RECORDS = (
    {"问题": "知库支持哪些文件？", "答案": "支持PDF、Word、Excel等常见格式。"},
    {"问题": "数据保存在哪里？", "答案": "所有数据都保存在本地电脑上。"},
)

TEXT_UTF8 = "这是一个普通的UTF-8文本文件。\n\n第二段落写着：知识就是力量。"

# ---- PDF helpers ---------------------------------------------------------------------------

_CJK_FONT = "STSong-Light"


def _register_cjk_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if _CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(_CJK_FONT))


def _build_pdf(path: Path, pages: list[list[tuple[str, str]]], cjk: bool) -> Path:
    """Pages of (style, text) paragraphs; style is "h" (heading) or "p"; lines wrap."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    if cjk:
        _register_cjk_font()
    font = _CJK_FONT if cjk else "Helvetica"
    body = ParagraphStyle(
        "body", fontName=font, fontSize=12, leading=18, wordWrap="CJK" if cjk else None
    )
    heading = ParagraphStyle("heading", parent=body, fontSize=18, leading=26, spaceAfter=8)
    story: list[object] = []
    for number, page in enumerate(pages):
        if number:
            story.append(PageBreak())
        for style, text in page:
            story.append(Paragraph(text, heading if style == "h" else body))
            story.append(Spacer(1, 6))
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def write_cjk_pdf(folder: Path, name: str = "中文 文档.pdf") -> Path:
    """Two pages of Chinese paragraphs long enough to wrap over several lines."""
    return _build_pdf(
        folder / name,
        [
            [("h", CJK_PDF_TITLE), ("p", CJK_PDF_SENTENCE + CJK_PDF_SENTENCE_2)],
            [("h", CJK_PDF_PAGE2_TITLE), ("p", CJK_PDF_PAGE2_SENTENCE)],
        ],
        cjk=True,
    )


def write_english_pdf(folder: Path, name: str = "english.pdf") -> Path:
    return _build_pdf(
        folder / name,
        [[("h", EN_PDF_TITLE), ("p", EN_PDF_SENTENCE)], [("p", EN_PDF_PAGE2_SENTENCE)]],
        cjk=False,
    )


def write_scanned_pdf(folder: Path, name: str = "scanned.pdf") -> Path:
    """One page holding only an image (as a scanner makes): no text layer."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (400, 200), "white")
    draw = ImageDraw.Draw(image)
    for y in range(20, 180, 20):
        draw.line((20, y, 380, y), fill="black", width=3)
    path = folder / name
    pdf = canvas.Canvas(str(path))
    pdf.drawImage(ImageReader(image), 72, 500, width=400, height=200)
    pdf.showPage()
    pdf.save()
    return path


# ---- Scans: text rendered to images with a CJK font, for OCR --------------------------------

SCAN_NOTICE_ZH = "本小区将于六月十二日上午九点至下午五点停止供水。"
SCAN_NOTICE_EN = "Water supply stops on June 12 from 9 am to 5 pm."
SCAN_PAGE1 = ("第一章 总则", "本合同由甲方与乙方在平等自愿的基础上签订。")
SCAN_PAGE2 = (
    "第三条 乙方应在收到货物后十五日内付清全部货款。",
    "Article 7: The warranty covers the Zephyr pump for thirty-six months.",
)
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


def cjk_font_path() -> str:
    """A font with Chinese glyphs (fonts-wqy-microhei, installed by `make browser-deps`)."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return path
    raise FileNotFoundError(
        f"no CJK font among {CJK_FONTS}: run `make browser-deps` (apt fonts-wqy-microhei)"
    )


def render_lines(lines: tuple[str, ...], size: int = 32, width: int = 1200):
    """A white image with `lines` printed in black, one a row, as a scanner would see them."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(cjk_font_path(), size)
    line_height = int(size * 1.8)
    image = Image.new("RGB", (width, line_height * len(lines) + 2 * size), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((size, size + row * line_height), line, font=font, fill="black")
    return image


def write_scan_png(folder: Path, name: str = "notice.png") -> Path:
    """A photo-like PNG of a notice: one Chinese line, one English line."""
    path = folder / name
    render_lines((SCAN_NOTICE_ZH, SCAN_NOTICE_EN)).save(path)
    return path


def write_scan_pdf(folder: Path, name: str = "contract-scan.pdf", repeats: int = 0) -> Path:
    """An image-only PDF of two pages (SCAN_PAGE1, SCAN_PAGE2) at 300 dpi: no text layer;
    `repeats` more copies of the first page after them (a longer scan)."""
    path = folder / name
    first, second = render_lines(SCAN_PAGE1), render_lines(SCAN_PAGE2)
    more = [second, *[first] * repeats]
    first.save(path, "PDF", resolution=300, save_all=True, append_images=more)
    return path


def write_encrypted_pdf(
    folder: Path,
    name: str = "encrypted.pdf",
    user_password: str = "secret",
    algorithm: str = "RC4-128",
) -> Path:
    """The English PDF encrypted; "" = owner password only. AES needs `cryptography`."""
    from pypdf import PdfWriter

    source = write_english_pdf(folder, "plain-for-encryption.pdf")
    writer = PdfWriter(clone_from=source)
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    path = folder / name
    with path.open("wb") as handle:
        writer.write(handle)
    source.unlink()
    return path


def write_truncated_pdf(folder: Path, name: str = "truncated.pdf") -> Path:
    data = write_english_pdf(folder, name).read_bytes()
    path = folder / name
    path.write_bytes(data[: len(data) // 2])
    return path


def write_png_named_pdf(folder: Path, name: str = "picture.pdf") -> Path:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "red").save(buffer, format="PNG")
    path = folder / name
    path.write_bytes(buffer.getvalue())
    return path


# ---- PDF tables ----------------------------------------------------------------------------

TABLE_PDF_TITLE = "Spring price list"
TABLE_PDF_INTRO = "The table below lists the products of the spring season with their prices."
TABLE_PDF_AFTER = "Prices exclude tax; contact the sales office for volume discounts."
TABLE_PDF_ROWS = [
    ["Product", "Price", "Stock", "Supplier"],
    ["Widget", "12", "340", "Acme"],
    ["Gadget", "25", "120", "Globex"],
    ["Sprocket", "7", "900", "Initech"],
    ["Flange", "19", "45", "Umbrella"],
]
"""5 rows x 4 columns, the first the header."""
CJK_TABLE_ROWS = [
    ["产品", "价格", "说明"],
    ["扳手", "12元", "适用于各种规格的螺母，手柄采用防滑设计，经久耐用"],
    ["螺丝刀", "25元", "十字"],
]
LONG_TABLE_HEADER = ["Part", "Weight"]
LONG_TABLE_ROWS = 70
"""Rows of the table that runs over pages: "part N" weighs "N kg"."""


def _ruled_table(rows: list[list[object]], widths: list[float] | None = None) -> object:
    """A reportlab table with every cell border drawn (the header is not repeated)."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    return table


def _build_story(path: Path, story: list[object], cjk: bool = False) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    if cjk:
        _register_cjk_font()
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    return path


def _paragraph_style(cjk: bool = False, size: int = 12) -> object:
    from reportlab.lib.styles import ParagraphStyle

    font = _CJK_FONT if cjk else "Helvetica"
    return ParagraphStyle(
        f"p{size}{cjk}", fontName=font, fontSize=size, leading=size * 1.4, wordWrap="CJK"
    )


def write_table_pdf(folder: Path, name: str = "price list.pdf") -> Path:
    """A title, a sentence, the ruled 5x4 `TABLE_PDF_ROWS` table, a sentence: one page."""
    from reportlab.platypus import Paragraph, Spacer

    style = _paragraph_style()
    story = [
        Paragraph(TABLE_PDF_TITLE, style),
        Paragraph(TABLE_PDF_INTRO, style),
        Spacer(1, 8),
        _ruled_table([list(row) for row in TABLE_PDF_ROWS]),
        Spacer(1, 8),
        Paragraph(TABLE_PDF_AFTER, style),
    ]
    return _build_story(folder / name, story)


def write_long_table_pdf(folder: Path, name: str = "parts.pdf") -> Path:
    """A sentence and a ruled table of `LONG_TABLE_ROWS` rows that runs over the next pages
    without its header repeated, then a closing sentence."""
    from reportlab.platypus import Paragraph

    style = _paragraph_style()
    rows = [LONG_TABLE_HEADER, *([f"part {n}", f"{n} kg"] for n in range(LONG_TABLE_ROWS))]
    story = [
        Paragraph("Parts and their weights.", style),
        _ruled_table([list(row) for row in rows]),
        Paragraph("End of the parts list.", style),
    ]
    return _build_story(folder / name, story)


def write_cjk_table_pdf(folder: Path, name: str = "价格表.pdf") -> Path:
    """A Chinese ruled table whose last column wraps over two lines in a cell."""
    from reportlab.platypus import Paragraph

    style, cell = _paragraph_style(cjk=True), _paragraph_style(cjk=True, size=10)
    _register_cjk_font()
    rows: list[list[object]] = [list(row) for row in CJK_TABLE_ROWS]
    rows[1][2] = Paragraph(CJK_TABLE_ROWS[1][2], cell)
    table = _ruled_table(rows, widths=[60, 60, 150])
    table.setStyle([("FONTNAME", (0, 0), (-1, -1), _CJK_FONT)])  # type: ignore[attr-defined]
    story = [Paragraph("价格表", style), Paragraph("下表列出了本季度的产品价格。", style), table]
    return _build_story(folder / name, story, cjk=True)


def write_framed_note_pdf(folder: Path, name: str = "note.pdf") -> Path:
    """A sentence in a ruled box of one cell (a framed note, not a table) and two rules."""
    from reportlab.platypus import HRFlowable, Paragraph

    style = _paragraph_style()
    story = [
        HRFlowable(width="100%"),
        _ruled_table([[Paragraph(EN_PDF_SENTENCE, style)]], widths=[400]),
        HRFlowable(width="100%"),
        Paragraph(EN_PDF_PAGE2_SENTENCE, style),
    ]
    return _build_story(folder / name, story)


# ---- Office and e-book formats ------------------------------------------------------------


def write_docx(folder: Path, name: str = "用户 手册.docx") -> Path:
    """Title, two chapters, two sections under chapter 2 and a table in section 2.1."""
    import docx

    document = docx.Document()
    document.add_heading(DOCX_TITLE, level=0)
    document.add_heading(DOCX_CHAPTER1, level=1)
    document.add_paragraph(DOCX_CHAPTER1_TEXT)
    document.add_heading(DOCX_CHAPTER2, level=1)
    document.add_heading(DOCX_SECTION21, level=2)
    document.add_paragraph(DOCX_SECTION21_TEXT)
    table = document.add_table(rows=len(DOCX_TABLE), cols=len(DOCX_TABLE[0]))
    for row, values in zip(table.rows, DOCX_TABLE, strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading(DOCX_SECTION22, level=2)
    document.add_paragraph(DOCX_SECTION22_TEXT)
    path = folder / name
    document.save(str(path))
    return path


def write_xlsx(folder: Path, name: str = "台账.xlsx") -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in XLSX_SHEETS.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(list(row))
    path = folder / name
    workbook.save(path)
    return path


def write_pptx(folder: Path, name: str = "汇报.pptx") -> Path:
    """Two title-and-content slides; the second has a table and speaker notes."""
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    layout = presentation.slide_layouts[1]
    for index, (title, body) in enumerate(PPTX_SLIDES):
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if index == 1:
            rows, cols = len(PPTX_TABLE), len(PPTX_TABLE[0])
            shape = slide.shapes.add_table(rows, cols, Inches(1), Inches(4), Inches(6), Inches(1))
            for r, values in enumerate(PPTX_TABLE):
                for c, value in enumerate(values):
                    shape.table.cell(r, c).text = value
            slide.notes_slide.notes_text_frame.text = PPTX_NOTES
    path = folder / name
    presentation.save(str(path))
    return path


def write_epub(folder: Path, name: str = "故事.epub") -> Path:
    """Two chapters in the spine and table of contents; chapter 2 has a subheading."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("zhiku-test-book")
    book.set_title("测试故事集")
    book.set_language("zh")
    chapters = []
    for number, (title, text) in enumerate(EPUB_CHAPTERS, start=1):
        chapter = epub.EpubHtml(title=title, file_name=f"chap_{number}.xhtml", lang="zh")
        extra = f"<h2>{EPUB_SUBHEADING}</h2><p>{EPUB_SUBHEADING_TEXT}</p>" if number == 2 else ""
        chapter.content = f"<html><body><h1>{title}</h1><p>{text}</p>{extra}</body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    path = folder / name
    epub.write_epub(str(path), book)
    return path


# ---- Text formats --------------------------------------------------------------------------


def write_markdown(folder: Path, name: str = "deploy guide.md") -> Path:
    header, *rows = MD_TABLE
    table = "\n".join(
        [f"| {' | '.join(header)} |", "|---|---:|:---:|"]
        + [f"| {' | '.join(row)} |" for row in rows]
    )
    text = (
        f"# {MD_TITLE}\n\n{MD_INTRO}\n\n{MD_CHAPTER}\n---------\n\n### {MD_SECTION}\n\n"
        f"{MD_SECTION_TEXT}\n\n```bash\n{MD_CODE_LINE}\npip install *.whl\n```\n\n"
        f"### {MD_SECTION2}\n\n{table}\n"
    )
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def write_text(folder: Path, name: str, text: str, encoding: str) -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def write_gbk_txt(folder: Path, name: str = "简体.txt") -> Path:
    return write_text(folder, name, GBK_TEXT, "gbk")


def write_big5_txt(folder: Path, name: str = "繁體.txt") -> Path:
    return write_text(folder, name, BIG5_TEXT, "big5")


def write_csv(folder: Path, name: str = "通讯录.csv", encoding: str = "utf-8") -> Path:
    text = "\r\n".join(",".join(row) for row in CSV_ROWS) + "\r\n"
    return write_text(folder, name, text, encoding)


def write_html(folder: Path, name: str = "产品 说明.html") -> Path:
    header, *rows = HTML_TABLE
    table = "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>".format(
        "".join(f"<th>{cell}</th>" for cell in header),
        "".join("<tr>{}</tr>".format("".join(f"<td>{c}</td>" for c in row)) for row in rows),
    )
    markup = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>页面标题</title>'
        f"<style>body {{ color: red; }} /* {HTML_STYLE_TEXT} */</style>"
        f"<script>console.log('{HTML_SCRIPT_TEXT}');</script></head><body>"
        f"<nav><a href='/'>{HTML_NAV_TEXT}</a></nav>"
        f"<h1>{HTML_TITLE}</h1><h2>{HTML_SECTION}</h2><p>{HTML_PARAGRAPH}</p>{table}"
        "</body></html>"
    )
    return write_text(folder, name, markup, "utf-8")


def write_json(folder: Path, name: str = "config.json") -> Path:
    return write_text(folder, name, json.dumps(JSON_DOC, ensure_ascii=False, indent=2), "utf-8")


def write_jsonl(folder: Path, name: str = "faq.jsonl") -> Path:
    lines = [json.dumps(record, ensure_ascii=False) for record in JSONL_RECORDS]
    return write_text(folder, name, "\n".join(lines) + "\n", "utf-8")


# ---- Broken files --------------------------------------------------------------------------


def write_random_bytes(folder: Path, name: str = "random.txt", size: int = 4096) -> Path:
    path = folder / name
    path.write_bytes(random.Random(1234).randbytes(size))
    return path


def write_elf_as_txt(folder: Path, name: str = "program.txt") -> Path:
    """An ELF header followed by typical binary padding."""
    path = folder / name
    path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + bytes(range(256)) * 8)
    return path


def write_zip_bomb_docx(folder: Path, name: str = "bomb.docx", size: int = 201 * 1024**2) -> Path:
    """A zip whose one member inflates to `size` bytes of zeros (a few hundred KB on disk)."""
    path = folder / name
    chunk = b"\x00" * (1024 * 1024)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        remaining = size
        while remaining > 0:
            member.write(chunk[: min(len(chunk), remaining)])
            remaining -= len(chunk)
    return path


def write_not_a_zip_docx(folder: Path, name: str = "fake.docx") -> Path:
    return write_text(folder, name, "这不是一个 Word 文档，只是改了扩展名的文本。", "utf-8")


# ---- Everything ----------------------------------------------------------------------------

WRITERS: dict[str, Callable[[Path], Path]] = {
    "cjk_pdf": write_cjk_pdf,
    "english_pdf": write_english_pdf,
    "scanned_pdf": write_scanned_pdf,
    "docx": write_docx,
    "xlsx": write_xlsx,
    "pptx": write_pptx,
    "epub": write_epub,
    "markdown": write_markdown,
    "gbk_txt": write_gbk_txt,
    "big5_txt": write_big5_txt,
    "csv": write_csv,
    "html": write_html,
    "json": write_json,
    "jsonl": write_jsonl,
}


def write_all(folder: Path) -> dict[str, Path]:
    """Write every well-formed test document into `folder`; key → path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {key: writer(folder) for key, writer in WRITERS.items()}
