"""rag.loaders: text, metadata and errors for every supported file type."""

from __future__ import annotations

import csv
import json
import re
import zipfile
from pathlib import Path

import pytest
from langchain_core.documents import Document

from rag.errors import DocumentLoadError, UnsupportedFileTypeError
from rag.loaders import LOADERS, SUPPORTED_EXTENSIONS, load_file
from rag.loaders._encoding import decode_text
from rag.loaders.pdf import join_pdf_lines
from tests import fixtures_docs as fx

CJK_RUN_WITH_SPACE = re.compile(r"[\u4e00-\u9fff，。] +[\u4e00-\u9fff，。]")


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return fx.write_all(tmp_path_factory.mktemp("docs"))


def load(path: Path) -> list[Document]:
    return load_file(path, path.name)


def text_of(documents: list[Document]) -> str:
    return "\n\n".join(doc.page_content for doc in documents)


def assert_load_error(path: Path, *fragments: str, name: str | None = None) -> str:
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, name or path.name)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message
    return message


# ---- registry and common metadata ---------------------------------------------------------


def test_supported_extensions_are_sorted_and_cover_the_registry() -> None:
    assert list(SUPPORTED_EXTENSIONS) == sorted(LOADERS)
    for extension in (".pdf", ".docx", ".md", ".txt", ".csv", ".xlsx", ".pptx", ".epub"):
        assert extension in SUPPORTED_EXTENSIONS
    for extension in (".html", ".htm", ".json", ".jsonl", ".py", ".go", ".yaml", ".tex"):
        assert extension in SUPPORTED_EXTENSIONS


def test_every_document_has_uniform_metadata(docs: dict[str, Path]) -> None:
    for path in docs.values():
        if path.suffix == ".pdf" and "scanned" in path.name:
            continue
        for doc in load(path):
            assert doc.metadata["source"] == path.name
            assert doc.metadata["page"] is None or isinstance(doc.metadata["page"], int)
            assert isinstance(doc.metadata["title_path"], str)
            assert doc.page_content.strip() == doc.page_content
            assert "\x00" not in doc.page_content


def test_unknown_extension_lists_allowed_types(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "drawing.dwg", "whatever", "utf-8")
    with pytest.raises(UnsupportedFileTypeError) as info:
        load(path)
    message = str(info.value)
    assert ".dwg" in message
    for allowed in ("pdf", "docx", "md", "txt", "xlsx"):
        assert allowed in message


def test_extension_is_taken_from_the_user_facing_name(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "upload-1234.tmp", "# 标题\n\n正文内容。", "utf-8")
    documents = load_file(path, "我的 笔记.MD")
    assert documents[0].metadata["title_path"] == "标题"
    assert documents[0].metadata["source"] == "我的 笔记.MD"


def test_missing_file(tmp_path: Path) -> None:
    assert_load_error(tmp_path / "gone.pdf", "cannot read the file")


def test_library_error_becomes_a_load_error(tmp_path: Path, docs: dict[str, Path]) -> None:
    with zipfile.ZipFile(docs["docx"]) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["word/document.xml"] = b"<w:document broken"
    path = tmp_path / "broken.docx"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert_load_error(path, "broken.docx: ", "not a valid .docx")


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx", "empty.md"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    assert_load_error(path, "empty file", name)


@pytest.mark.parametrize("name", ["blank.txt", "blank.md", "blank.csv", "blank.py"])
def test_whitespace_only_file(tmp_path: Path, name: str) -> None:
    path = fx.write_text(tmp_path, name, "  \n\t\n\u3000 \r\n\n", "utf-8")
    assert_load_error(path, "no text found")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_nul_bytes_and_whitespace_runs_are_normalised(tmp_path: Path, encoding: str) -> None:
    text = "第一段 \x00  有  多个\t\t空格。\n\n\n\n\n第二段\u3000\u3000开头。\r\n行尾\x00空格   \n"
    path = fx.write_text(tmp_path, "spaces.txt", text, encoding)
    assert load(path)[0].page_content == "第一段 有 多个 空格。\n\n第二段 开头。\n行尾空格"


# ---- PDF ----------------------------------------------------------------------------------


def test_cjk_pdf_has_page_numbers_and_whole_sentences(docs: dict[str, Path]) -> None:
    documents = load(docs["cjk_pdf"])
    assert [doc.metadata["page"] for doc in documents] == [1, 2]
    page1, page2 = (doc.page_content for doc in documents)
    # The sentences wrapped over several printed lines; they come back whole.
    assert fx.CJK_PDF_SENTENCE in page1
    assert fx.CJK_PDF_SENTENCE_2 in page1
    assert fx.CJK_PDF_PAGE2_SENTENCE in page2
    assert not any(CJK_RUN_WITH_SPACE.search(body) for body in (page1, page2))
    # Each page's heading line becomes its title path (put in front of each chunk) instead
    # of text that would make a chunk of its own, and is not glued to the paragraph.
    assert [doc.metadata["title_path"] for doc in documents] == [
        fx.CJK_PDF_TITLE,
        fx.CJK_PDF_PAGE2_TITLE,
    ]
    assert page1.startswith(fx.CJK_PDF_SENTENCE)
    assert page2.startswith(fx.CJK_PDF_PAGE2_SENTENCE)


def test_english_pdf_joins_lines_with_spaces(docs: dict[str, Path]) -> None:
    documents = load(docs["english_pdf"])
    assert [doc.metadata["page"] for doc in documents] == [1, 2]
    assert fx.EN_PDF_SENTENCE in documents[0].page_content
    assert documents[0].metadata["title_path"] == fx.EN_PDF_TITLE
    assert documents[0].page_content.startswith(fx.EN_PDF_SENTENCE)
    assert fx.EN_PDF_PAGE2_SENTENCE in documents[1].page_content


def test_join_pdf_lines_cjk_without_spaces() -> None:
    raw = "知库是一个在本地运行的知识库问答系统，它可以读\n取用户上传的各种文档并回答问题。"
    assert join_pdf_lines(raw) == (
        "知库是一个在本地运行的知识库问答系统，它可以读取用户上传的各种文档并回答问题。"
    )


def test_join_pdf_lines_english_hyphen_and_paragraphs() -> None:
    raw = (
        "The loader joins lines that a PDF printer broke in the middle of a\n"
        "sentence, and it also re-joins words that were hyphen-\n"
        "ated at the end of a line.\n"
        "\n"
        "A blank line still separates two paragraphs of the page."
    )
    assert join_pdf_lines(raw) == (
        "The loader joins lines that a PDF printer broke in the middle of a sentence, and it "
        "also re-joins words that were hyphenated at the end of a line.\n\n"
        "A blank line still separates two paragraphs of the page."
    )


def test_join_pdf_lines_keeps_short_lines_and_list_items() -> None:
    raw = (
        "第三章 配置\n"
        "配置文件使用YAML格式，修改之后需要重新启动服务才能生效，请在维护窗口内操作。\n"
        "常用的配置项包括模型路径、向量库位置、分块大小以及检索返回的数量等等内容。\n"
        "1. 模型路径\n"
        "2. 向量库位置\n"
        "• mixed English 和中文 line"
    )
    lines = join_pdf_lines(raw).split("\n")
    assert lines[0] == "第三章 配置"
    assert lines[1].startswith("配置文件使用YAML格式") and lines[1].endswith("数量等等内容。")
    assert lines[2:] == ["1. 模型路径", "2. 向量库位置", "• mixed English 和中文 line"]


def test_scanned_pdf_has_no_text_layer(docs: dict[str, Path]) -> None:
    assert_load_error(docs["scanned_pdf"], "no text layer (scanned PDF?)", "OCR")


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = fx.write_encrypted_pdf(tmp_path)
    assert_load_error(path, "encrypted PDF", "remove the password")


def test_pdf_with_owner_password_only_is_read(tmp_path: Path) -> None:
    path = fx.write_encrypted_pdf(tmp_path, "owner-only.pdf", user_password="")
    assert fx.EN_PDF_SENTENCE in text_of(load(path))


def test_aes_pdf_with_owner_password_only_is_read(tmp_path: Path) -> None:
    pytest.importorskip("cryptography", reason="pypdf needs cryptography for AES")
    path = fx.write_encrypted_pdf(tmp_path, "aes.pdf", user_password="", algorithm="AES-256")
    assert fx.EN_PDF_SENTENCE in text_of(load(path))
    locked = fx.write_encrypted_pdf(tmp_path, "aes-locked.pdf", algorithm="AES-256")
    assert_load_error(locked, "encrypted PDF")


def test_truncated_pdf(tmp_path: Path) -> None:
    assert_load_error(fx.write_truncated_pdf(tmp_path), "corrupt or truncated PDF")


def test_garbage_after_pdf_header(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    assert_load_error(path, "corrupt or truncated PDF")


def test_png_named_pdf(tmp_path: Path) -> None:
    assert_load_error(fx.write_png_named_pdf(tmp_path), "not a PDF")


# ---- DOCX ---------------------------------------------------------------------------------


def test_docx_sections_carry_their_heading_path(docs: dict[str, Path]) -> None:
    documents = load(docs["docx"])
    by_path: dict[str, list[str]] = {}
    for doc in documents:
        by_path.setdefault(doc.metadata["title_path"], []).append(doc.page_content)
        assert doc.metadata["page"] is None
    chapter1 = f"{fx.DOCX_TITLE} > {fx.DOCX_CHAPTER1}"
    section21 = f"{fx.DOCX_TITLE} > {fx.DOCX_CHAPTER2} > {fx.DOCX_SECTION21}"
    section22 = f"{fx.DOCX_TITLE} > {fx.DOCX_CHAPTER2} > {fx.DOCX_SECTION22}"
    assert set(by_path) == {chapter1, section21, section22}
    assert fx.DOCX_CHAPTER1_TEXT in by_path[chapter1][0]
    assert by_path[section21][0] == f"{fx.DOCX_SECTION21}\n\n{fx.DOCX_SECTION21_TEXT}"
    assert fx.DOCX_SECTION22_TEXT in by_path[section22][0]


def test_docx_emits_no_bare_heading(docs: dict[str, Path]) -> None:
    headings = {fx.DOCX_TITLE, fx.DOCX_CHAPTER1, fx.DOCX_CHAPTER2, fx.DOCX_SECTION21}
    for doc in load(docs["docx"]):
        assert doc.page_content not in headings


def test_docx_table_rows_keep_the_header(docs: dict[str, Path]) -> None:
    tables = [doc for doc in load(docs["docx"]) if "chunk_size" in doc.page_content]
    assert len(tables) == 1
    assert tables[0].metadata["title_path"].endswith(fx.DOCX_SECTION21)
    assert tables[0].page_content.split("\n") == [
        "参数: chunk_size; 默认值: 500; 说明: 每个文本块的最大字符数",
        "参数: top_k; 默认值: 4; 说明: 每次检索返回的文本块数量",
    ]


def test_docx_localised_heading_style_and_outline_level(tmp_path: Path) -> None:
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    document.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)
    document.add_paragraph("总则", style="标题 1")
    outlined = document.add_paragraph("适用范围")
    outlined._p.get_or_add_pPr().append(_outline_level_element(1))
    document.add_paragraph("本办法适用于公司全体员工。")
    path = tmp_path / "办法.docx"
    document.save(str(path))
    documents = load(path)
    assert [doc.metadata["title_path"] for doc in documents] == ["总则 > 适用范围"]
    assert documents[0].page_content == "适用范围\n\n本办法适用于公司全体员工。"


def _outline_level_element(level: int) -> object:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    element = OxmlElement("w:outlineLvl")
    element.set(qn("w:val"), str(level))
    return element


def test_docx_not_a_zip(tmp_path: Path) -> None:
    assert_load_error(fx.write_not_a_zip_docx(tmp_path), "not a valid .docx", "not a zip")


def test_docx_zip_without_word_parts(tmp_path: Path) -> None:
    path = tmp_path / "other.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a word document")
    assert_load_error(path, "not a valid .docx")


def test_zip_bomb_docx_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = fx.write_zip_bomb_docx(tmp_path)
    assert path.stat().st_size < 5 * 1024 * 1024
    assert_load_error(path, "zip bomb?", "200 MB")


@pytest.mark.parametrize("suffix", [".docx", ".xlsx", ".pptx", ".epub"])
def test_zip_size_limit_is_a_parameter(tmp_path: Path, suffix: str) -> None:
    path = fx.write_zip_bomb_docx(tmp_path, f"small-bomb{suffix}", size=3 * 1024 * 1024)
    with pytest.raises(DocumentLoadError, match="zip bomb"):
        load_file(path, path.name, max_unzipped_bytes=1024 * 1024)


@pytest.mark.parametrize("suffix", [".xlsx", ".pptx", ".epub"])
def test_other_zip_formats_not_a_zip(tmp_path: Path, suffix: str) -> None:
    path = fx.write_text(tmp_path, f"fake{suffix}", "plain text, not a zip", "utf-8")
    assert_load_error(path, f"not a valid {suffix}")


# ---- Markdown -----------------------------------------------------------------------------


def test_markdown_sections_and_title_paths(docs: dict[str, Path]) -> None:
    documents = load(docs["markdown"])
    paths = [doc.metadata["title_path"] for doc in documents]
    chapter = f"{fx.MD_TITLE} > {fx.MD_CHAPTER}"
    assert paths == [fx.MD_TITLE, f"{chapter} > {fx.MD_SECTION}", f"{chapter} > {fx.MD_SECTION2}"]
    intro, setup, ports = (doc.page_content for doc in documents)
    assert intro == f"{fx.MD_TITLE}\n\n{fx.MD_INTRO}"
    assert setup.startswith(f"{fx.MD_SECTION}\n\n{fx.MD_SECTION_TEXT}")
    # A "#" line inside a fenced code block is code, not a heading.
    assert fx.MD_CODE_LINE in setup
    assert ports.split("\n") == [
        "Service: web; Port: 7860; Protocol: http",
        "Service: api; Port: 8000; Protocol: http",
    ]


def test_markdown_headings_only_are_kept_as_text(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "outline.md", "# 总则\n\n## 附则\n", "utf-8")
    assert load(path)[0].page_content == "总则\n附则"


def test_markdown_keeps_code_indentation(tmp_path: Path) -> None:
    text = "# Code\n\n```python\ndef main():\n    return 1\n```\n"
    path = fx.write_text(tmp_path, "code.md", text, "utf-8")
    assert "def main():\n    return 1" in load(path)[0].page_content


# ---- Plain text and encodings -------------------------------------------------------------


def test_gbk_text_is_decoded(docs: dict[str, Path]) -> None:
    assert load(docs["gbk_txt"])[0].page_content == fx.GBK_TEXT


def test_big5_text_is_decoded(docs: dict[str, Path]) -> None:
    assert load(docs["big5_txt"])[0].page_content == fx.BIG5_TEXT


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "gb18030"])
def test_text_encodings(tmp_path: Path, encoding: str) -> None:
    path = fx.write_text(tmp_path, f"{encoding}.txt", fx.TEXT_UTF8, encoding)
    assert load(path)[0].page_content == fx.TEXT_UTF8


def test_short_gbk_and_big5_are_not_confused() -> None:
    assert decode_text("数据保存在本地。".encode("gbk")) == "数据保存在本地。"
    assert decode_text("資料儲存在本地。".encode("big5")) == "資料儲存在本地。"


def test_random_bytes_as_txt_is_binary(tmp_path: Path) -> None:
    assert_load_error(fx.write_random_bytes(tmp_path), "binary content")


def test_random_bytes_without_nul_is_binary(tmp_path: Path) -> None:
    path = tmp_path / "noise.log"
    data = bytes(b for b in fx.write_random_bytes(tmp_path).read_bytes() if b)
    path.write_bytes(data)
    assert_load_error(path, "binary content")


def test_elf_renamed_txt_is_binary(tmp_path: Path) -> None:
    assert_load_error(fx.write_elf_as_txt(tmp_path), "binary content")


def test_png_renamed_txt_is_binary(tmp_path: Path) -> None:
    data = fx.write_png_named_pdf(tmp_path).read_bytes()
    path = tmp_path / "picture.txt"
    path.write_bytes(data)
    assert_load_error(path, "binary content")


def test_source_code_keeps_indentation(tmp_path: Path) -> None:
    code = 'def greet(name):\n    if name:\n        return f"你好 {name}"\n    return None\n'
    path = fx.write_text(tmp_path, "greet.py", code, "utf-8")
    documents = load(path)
    assert documents[0].page_content == code.strip()
    assert documents[0].metadata == {"source": "greet.py", "page": None, "title_path": ""}


# ---- Tables -------------------------------------------------------------------------------


def test_csv_rows_keep_the_header(docs: dict[str, Path]) -> None:
    documents = load(docs["csv"])
    assert text_of(documents).split("\n") == [
        "姓名: 张三; 部门: 研发部; 电话: 010-12345678",
        "姓名: 李四; 部门: 市场部; 电话: 021-87654321",
        "姓名: 王五; 部门: 财务部; 电话: 0755-11112222",
    ]


def test_gbk_csv(tmp_path: Path) -> None:
    documents = load(fx.write_csv(tmp_path, "gbk.csv", encoding="gbk"))
    assert "姓名: 李四; 部门: 市场部" in text_of(documents)


def test_large_csv_groups_stay_small_and_named(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["编号", "产品名称", "库存"])
        writer.writerows([i, f"产品{i}号", i * 7] for i in range(300))
    documents = load(path)
    assert len(documents) > 5
    for doc in documents:
        assert len(doc.page_content) <= 500
        for line in doc.page_content.split("\n"):
            assert line.startswith("编号: ") and "; 产品名称: " in line
    assert "编号: 299; 产品名称: 产品299号; 库存: 2093" in text_of(documents)


def test_xlsx_each_sheet_with_header(docs: dict[str, Path]) -> None:
    documents = load(docs["xlsx"])
    assert [doc.metadata["sheet"] for doc in documents] == ["员工", "设备"]
    assert [doc.metadata["title_path"] for doc in documents] == ["员工", "设备"]
    assert documents[0].page_content.split("\n") == [
        "工号: 1001; 姓名: 赵六; 入职年份: 2019",
        "工号: 1002; 姓名: 孙七; 入职年份: 2021",
    ]
    assert "设备: 服务器; 数量: 3; 位置: 三楼机房" in documents[1].page_content


# ---- PPTX, EPUB, HTML ---------------------------------------------------------------------


def test_pptx_one_document_per_slide(docs: dict[str, Path]) -> None:
    documents = load(docs["pptx"])
    assert [doc.metadata["page"] for doc in documents] == [1, 2]
    assert [doc.metadata["title_path"] for doc in documents] == [t for t, _ in fx.PPTX_SLIDES]
    for doc, (_, body) in zip(documents, fx.PPTX_SLIDES, strict=True):
        assert body in doc.page_content
    slide2 = documents[1].page_content
    assert "阶段: 试点; 时间: 三月" in slide2
    assert fx.PPTX_NOTES in slide2


def test_epub_chapters_have_their_title(docs: dict[str, Path]) -> None:
    documents = load(docs["epub"])
    (title1, text1), (title2, text2) = fx.EPUB_CHAPTERS
    paths = [doc.metadata["title_path"] for doc in documents]
    assert paths == [title1, title2, f"{title2} > {fx.EPUB_SUBHEADING}"]
    assert text1 in documents[0].page_content
    assert text2 in documents[1].page_content
    assert fx.EPUB_SUBHEADING_TEXT in documents[2].page_content


def test_epub_not_an_epub_package(tmp_path: Path) -> None:
    path = tmp_path / "empty.epub"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
    assert_load_error(path, "not a valid .epub")


def test_html_drops_script_style_nav_and_keeps_structure(docs: dict[str, Path]) -> None:
    documents = load(docs["html"])
    text = text_of(documents)
    for hidden in (fx.HTML_SCRIPT_TEXT, fx.HTML_STYLE_TEXT, fx.HTML_NAV_TEXT):
        assert hidden not in text
    assert {doc.metadata["title_path"] for doc in documents} == {
        f"{fx.HTML_TITLE} > {fx.HTML_SECTION}"
    }
    assert fx.HTML_PARAGRAPH in documents[0].page_content
    assert "套餐: 基础版; 价格: 999元; 用户数: 10" in text
    assert "套餐: 企业版; 价格: 9999元; 用户数: 500" in text


def test_html_declared_gbk_charset(tmp_path: Path) -> None:
    markup = '<html><head><meta charset="gbk"></head><body><h1>通知</h1><p>明天放假。</p></body>'
    path = fx.write_text(tmp_path, "notice.htm", markup, "gbk")
    documents = load(path)
    assert documents[0].metadata["title_path"] == "通知"
    assert documents[0].page_content == "通知\n\n明天放假。"


# ---- JSON ---------------------------------------------------------------------------------


def test_json_as_key_value_lines(docs: dict[str, Path]) -> None:
    lines = text_of(load(docs["json"])).split("\n")
    assert lines == [
        "name: 知库",
        "version: 1.0",
        "server.host: 127.0.0.1",
        "server.port: 7860",
        "features: 问答, 检索",
    ]


def test_json_list_of_records(tmp_path: Path) -> None:
    records = [{"城市": "北京", "人口": 2189, "首都": True}, {"城市": "上海", "人口": 2487}]
    path = fx.write_text(tmp_path, "cities.json", json.dumps(records, ensure_ascii=False), "utf-8")
    assert text_of(load(path)).split("\n") == [
        "城市: 北京; 人口: 2189; 首都: true",
        "城市: 上海; 人口: 2487",
    ]


def test_jsonl_one_record_per_line(docs: dict[str, Path]) -> None:
    lines = text_of(load(docs["jsonl"])).split("\n")
    assert lines == [
        "问题: 知库支持哪些文件？; 答案: 支持PDF、Word、Excel等常见格式。",
        "问题: 数据保存在哪里？; 答案: 所有数据都保存在本地电脑上。",
    ]


def test_invalid_json(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "broken.json", '{"a": 1,\n "b": }', "utf-8")
    assert_load_error(path, "not valid JSON", "line 2")


def test_invalid_jsonl_line(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "broken.jsonl", '{"a": 1}\n{"a": \n', "utf-8")
    assert_load_error(path, "line 2 is not valid JSON")
