"""Old Office (.doc .xls .ppt), RTF, OpenDocument and e-mail (.eml .msg) loaders.

Real files: written by the tests (tests/fixtures_office.py) except the committed .doc
sample; antiword and catppt are the Debian tools `make` installs (`make office-deps`): they
are not skipped when missing, the tests fail saying which package to install.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from langchain_core.documents import Document

from rag.errors import DocumentLoadError
from rag.loaders import load_file
from rag.loaders._parts import MAX_ATTACHMENT_DEPTH, Attachment, part_names
from tests import fixtures_docs as fx
from tests import fixtures_office as fo


def load(path: Path, name: str | None = None, **kwargs: int) -> list[Document]:
    return load_file(path, name or path.name, **kwargs)


def text_of(documents: list[Document]) -> str:
    return "\n\n".join(doc.page_content for doc in documents)


def by_source(documents: list[Document]) -> dict[str, list[Document]]:
    grouped: dict[str, list[Document]] = {}
    for doc in documents:
        grouped.setdefault(str(doc.metadata["source"]), []).append(doc)
    return grouped


# ---- .doc ----------------------------------------------------------------------------------


def test_doc_headings_become_the_title_path_and_tables_rows(tmp_path: Path) -> None:
    documents = load(fo.copy_doc(tmp_path, "采购 规定.doc"))
    assert {d.metadata["source"] for d in documents} == {"采购 规定.doc"}
    paths = [d.metadata["title_path"] for d in documents]
    assert paths[0] == fo.DOC_TITLE
    sentence = next(d for d in documents if "财务总监" in d.page_content)
    assert sentence.metadata["title_path"] == f"{fo.DOC_TITLE} > {fo.DOC_SECTION}"
    assert fo.DOC_SENTENCE in sentence.page_content
    assert fo.DOC_INTRO in text_of(documents)
    assert "物品 Item: 订书机 Stapler; 单价 Price: 35" in text_of(documents)


def test_doc_that_is_not_a_word_file_gets_antiwords_reason(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "-notes.doc", "plain text, renamed", "utf-8")
    with pytest.raises(DocumentLoadError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith("-notes.doc: antiword could not read it")
    assert "not a Word Document" in message and ".docx" in message
    assert str(tmp_path) not in message  # no server path in the message


def test_doc_that_is_rtf_html_or_docx_is_read_as_what_it_is(tmp_path: Path) -> None:
    rtf = fo.write_rtf(tmp_path)
    assert fo.RTF_SENTENCE in text_of(load(rtf, "旧.doc"))
    html = fx.write_html(tmp_path)
    assert load(html, "网页.doc")[0].page_content == load(html)[0].page_content
    with pytest.raises(DocumentLoadError) as info:
        load(fx.write_docx(tmp_path), "新.doc")
    assert "rename it to .docx" in str(info.value)


def test_missing_antiword_and_catppt_are_named_with_their_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    doc = fo.copy_doc(tmp_path)
    with pytest.raises(DocumentLoadError) as info:
        load(doc)
    assert str(info.value) == (
        "purchasing.doc: antiword is not installed: apt-get install antiword (make does this)"
    )
    with pytest.raises(DocumentLoadError) as info:
        load(fo.write_ppt(tmp_path))
    assert "catppt is not installed: apt-get install catdoc" in str(info.value)


def test_a_tool_that_hangs_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rag.loaders._tools import ANTIWORD, run_tool

    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "antiword").write_text("#!/bin/sh\nexec /bin/sleep 30\n", encoding="ascii")
    (tools / "antiword").chmod(0o755)
    monkeypatch.setenv("PATH", str(tools))
    with pytest.raises(DocumentLoadError) as info:
        run_tool(ANTIWORD, ["-x", "db"], fo.copy_doc(tmp_path), timeout=0.5)
    assert "did not finish within" in str(info.value)


# ---- .ppt ----------------------------------------------------------------------------------


def test_ppt_slides_become_pages_with_their_titles(tmp_path: Path) -> None:
    documents = load(fo.write_ppt(tmp_path))
    assert [d.metadata["page"] for d in documents] == [1, 2]
    assert [d.metadata["title_path"] for d in documents] == [t for t, _ in fo.PPT_SLIDES]
    assert "第一季度完成新仓库的选址。\nChoose the site" in documents[0].page_content
    assert "全年预算为一百二十万元" in documents[1].page_content


def test_ppt_that_is_not_a_presentation_is_refused(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "slides.ppt", "not a presentation", "utf-8")
    with pytest.raises(DocumentLoadError) as info:
        load(path)
    assert "catppt could not read it" in str(info.value)
    assert ".pptx" in str(info.value)


# ---- .xls, .rtf ----------------------------------------------------------------------------


def test_xls_rows_carry_their_header_per_sheet(tmp_path: Path) -> None:
    documents = load(fo.write_xls(tmp_path))
    sheets = {d.metadata["sheet"]: d for d in documents}
    assert set(sheets) == {"价目表", "Suppliers"}
    prices = sheets["价目表"]
    assert prices.metadata["title_path"] == "价目表"
    assert "品名: 碳素笔; 单价: 2.5; 上架日期: 2024-03-01" in prices.page_content
    assert "品名: 档案盒; 单价: 12; 上架日期: 2024-05-20" in prices.page_content
    assert "Name: Acme Paper; City: Ningbo" in sheets["Suppliers"].page_content


def test_html_table_named_xls_is_read_as_html(tmp_path: Path) -> None:
    html = fx.write_html(tmp_path)
    assert text_of(load(html, "导出.xls")) == text_of(load(html))


def test_xlsx_renamed_to_xls_says_so(tmp_path: Path) -> None:
    xlsx = fx.write_xlsx(tmp_path)
    with pytest.raises(DocumentLoadError) as info:
        load(xlsx, "台账.xls")
    assert "rename it to .xlsx" in str(info.value)


def test_rtf_unicode_and_codepage_text_with_title_line(tmp_path: Path) -> None:
    documents = load(fo.write_rtf(tmp_path))
    assert documents[0].metadata["title_path"] == fo.RTF_TITLE
    text = text_of(documents)
    assert fo.RTF_SENTENCE in text  # \uN escapes and GBK \'xx bytes both decoded
    assert fo.RTF_ENGLISH in text


def test_non_rtf_named_rtf_is_refused(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "memo.rtf", "just text", "utf-8")
    with pytest.raises(DocumentLoadError) as info:
        load(path)
    assert "not an RTF file" in str(info.value)


# ---- OpenDocument --------------------------------------------------------------------------


def test_odt_headings_paragraphs_and_table(tmp_path: Path) -> None:
    documents = load(fo.write_odt(tmp_path))
    assert documents[0].metadata["title_path"] == fo.DOC_TITLE
    assert fo.DOC_INTRO in documents[0].page_content
    table = next(d for d in documents if "订书机" in d.page_content)
    assert table.metadata["title_path"] == f"{fo.DOC_TITLE} > {fo.DOC_SECTION}"
    assert "物品 Item: 打印纸 Paper; 单价 Price: 28" in table.page_content


def test_ods_sheets_as_rows_and_huge_repeats_capped(tmp_path: Path) -> None:
    from odf.opendocument import load as load_odf
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    path = fo.write_ods(tmp_path)
    [stock] = load(path)
    assert stock.metadata["sheet"] == "库存" and stock.metadata["title_path"] == "库存"
    assert "物品: 回形针; 数量: 1200" in stock.page_content
    # a few bytes asking for a billion copies of a cell and of a row
    document = load_odf(str(path))
    row = TableRow(numberrowsrepeated=10**9)
    cell = TableCell(numbercolumnsrepeated=10**9)
    cell.addElement(P(text="x"))
    row.addElement(cell)
    table = Table(name="炸弹")
    table.addElement(row)
    document.spreadsheet.addElement(table)
    document.save(str(tmp_path / "bomb.ods"))
    sheets = by_source(load(tmp_path / "bomb.ods"))["bomb.ods"]
    bomb = "\n".join(d.page_content for d in sheets if d.metadata["sheet"] == "炸弹")
    assert 0 < len(bomb) < 10**6


def test_odp_slides_are_pages_with_titles_and_notes(tmp_path: Path) -> None:
    documents = load(fo.write_odp(tmp_path))
    assert [d.metadata["page"] for d in documents] == [1, 2]
    assert [d.metadata["title_path"] for d in documents] == [t for t, _ in fo.PPT_SLIDES]
    assert f"备注: {fo.ODP_NOTES}" in documents[0].page_content
    assert fo.ODP_NOTES not in documents[1].page_content


# ---- e-mail --------------------------------------------------------------------------------


def test_eml_headers_body_and_attachments_as_their_own_sources(tmp_path: Path) -> None:
    documents = load(fo.write_eml_with_pdf(tmp_path))
    sources = by_source(documents)
    assert set(sources) == {"mail.eml", "mail.eml/attachment.pdf", "mail.eml/说明.txt"}
    [body] = sources["mail.eml"]
    assert body.metadata["title_path"] == fo.MAIL_SUBJECT
    for line in (
        f"主题: {fo.MAIL_SUBJECT}",
        f"发件人: {fo.MAIL_FROM}",
        f"收件人: {fo.MAIL_TO}",
        "日期: 2024-03-15 10:30:00+08:00",
        "附件: attachment.pdf; 说明.txt",
    ):
        assert line in body.page_content
    assert fo.MAIL_BODY in body.page_content
    pdf = sources["mail.eml/attachment.pdf"]
    assert {d.metadata["part"] for d in pdf} == {"attachment.pdf"}
    page2 = next(d for d in pdf if "Python解释器" in d.page_content)
    assert page2.metadata["page"] == 2
    assert sources["mail.eml/说明.txt"][0].page_content == fo.ATTACHMENT_TEXT


def test_eml_html_body_is_read_like_an_html_file(tmp_path: Path) -> None:
    path = tmp_path / "通知.eml"
    path.write_bytes(fo.mail_message(html=True).as_bytes())
    documents = load(path)
    assert documents[0].page_content.startswith(f"主题: {fo.MAIL_SUBJECT}")
    assert all(d.metadata["title_path"].startswith(fo.MAIL_SUBJECT) for d in documents)
    assert any(d.metadata["title_path"] == f"{fo.MAIL_SUBJECT} > 搬迁安排" for d in documents)
    assert "部门: 财务部; 日期: 6月10日" in text_of(documents)
    assert "<p>" not in text_of(documents)


def test_unreadable_attachments_are_noted_not_fatal(tmp_path: Path) -> None:
    message = fo.mail_message(
        {
            "archive.zip": b"PK\x03\x04 not really",
            "broken.pdf": b"%PDF-1.4 truncated",
            "../../etc/报告.txt": "安全的名字".encode(),
            "empty.txt": b"",
        }
    )
    path = tmp_path / "mail.eml"
    path.write_bytes(message.as_bytes())
    documents = load(path)
    body = documents[0].page_content
    assert "archive.zip (not indexed: file type .zip is not supported)" in body
    assert "broken.pdf (not indexed:" in body
    assert "empty.txt (not indexed: empty file)" in body
    assert set(by_source(documents)) == {"mail.eml", "mail.eml/报告.txt"}


def _nested(depth: int) -> EmailMessage:
    """A mail holding a mail holding ... `depth` levels, each with a text attachment."""
    message = fo.mail_message({f"level{depth}.txt": f"第{depth}层的附件。".encode()})
    if depth > 1:
        message.add_attachment(_nested(depth - 1))
    return message


def test_attachments_are_read_three_levels_deep_at_most(tmp_path: Path) -> None:
    path = tmp_path / "mail.eml"
    path.write_bytes(_nested(MAX_ATTACHMENT_DEPTH + 1).as_bytes())
    sources = set(by_source(load(path)))
    inner = f"{fo.MAIL_SUBJECT}.eml"
    assert "mail.eml/level4.txt" in sources
    assert f"mail.eml/{inner}/{inner}/level2.txt" in sources
    assert f"mail.eml/{inner}/{inner}/{inner}" in sources  # its own text is read
    assert not any(source.endswith("level1.txt") for source in sources)
    assert "3 levels deep at most" in text_of(load(path))


def test_attachments_past_the_size_limit_are_skipped(tmp_path: Path) -> None:
    message = fo.mail_message({"a.txt": ("甲" * 300).encode(), "b.txt": ("乙" * 300).encode()})
    path = tmp_path / "mail.eml"
    path.write_bytes(message.as_bytes())
    documents = load(path, max_unzipped_bytes=1000)
    assert set(by_source(documents)) == {"mail.eml", "mail.eml/a.txt"}
    assert "b.txt (not indexed: the attachments together exceed" in documents[0].page_content


def test_attachment_names_are_safe_and_distinct() -> None:
    names = part_names(
        [
            Attachment("a.txt", b""),
            Attachment("A.txt", b""),
            Attachment("C:\\Users\\x\\a.txt", b""),
            Attachment("\x00../", b""),
            Attachment("x" * 300 + ".pdf", b""),
        ]
    )
    assert names[:4] == ["a.txt", "A (2).txt", "a (3).txt", "attachment-4"]
    assert names[4].endswith(".pdf") and len(names[4]) == 120


def test_msg_headers_body_and_attachment(tmp_path: Path) -> None:
    documents = load(fo.write_msg(tmp_path))
    sources = by_source(documents)
    assert set(sources) == {"通知.msg", "通知.msg/说明.txt"}
    [body] = sources["通知.msg"]
    assert body.metadata["title_path"] == fo.MAIL_SUBJECT
    assert f"主题: {fo.MAIL_SUBJECT}" in body.page_content
    assert "发件人: 王芳" in body.page_content and "李雷" in body.page_content
    assert "日期: 2024-03-15 02:30:00+00:00" in body.page_content
    assert fo.MAIL_BODY in body.page_content
    assert sources["通知.msg/说明.txt"][0].page_content == fo.ATTACHMENT_TEXT


def test_msg_with_an_attached_message_reads_it_and_its_attachment(tmp_path: Path) -> None:
    sources = by_source(load(fo.write_msg(tmp_path, embed=True)))
    assert set(sources) == {
        "通知.msg",
        "通知.msg/说明.txt",
        "通知.msg/会议变更.msg",
        "通知.msg/会议变更.msg/议程.txt",
    }
    assert "例会改到周五下午三点" in sources["通知.msg/会议变更.msg"][0].page_content
    assert "附件: 说明.txt; 会议变更.msg" in sources["通知.msg"][0].page_content


def test_msg_that_is_not_a_message_is_refused(tmp_path: Path) -> None:
    path = fx.write_text(tmp_path, "mail.msg", "not an outlook file", "utf-8")
    with pytest.raises(DocumentLoadError) as info:
        load(path)
    assert "not a valid Outlook .msg" in str(info.value)


# ---- attachments in a knowledge base -------------------------------------------------------


def test_attachments_are_cited_widened_alone_and_deleted_with_their_mail(tmp_path: Path) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from rag.factory import build_kb_service
    from rag.settings import load_settings

    settings = load_settings(env={}, search_mode="lexical")  # fake vectors: BM25 decides
    service = build_kb_service(settings, tmp_path / "kbs", DeterministicFakeEmbedding(size=16))
    mail = fo.write_eml_with_pdf(tmp_path)
    service.create_kb("kb")
    [result] = service.add_files("kb", [("mail.eml", mail)])
    assert result.status == "ok" and result.chunks >= 4
    assert [d["name"] for d in service.list_docs("kb")] == ["mail.eml"]

    [hit] = service.search("kb", "城东物流园的租金是多少", top_k=1)
    assert hit.source == "mail.eml/说明.txt"
    pdf_hit = service.search("kb", "安装之前内存 Python解释器", top_k=1)[0]
    assert (pdf_hit.source, pdf_hit.page) == ("mail.eml/attachment.pdf", 2)
    # a neighbour from the mail's body or another attachment never widens an attachment's hit
    around = service.neighbours("kb", pdf_hit.chunk_id, radius=5)
    assert {c.source for c in around} == {"mail.eml/attachment.pdf"}

    service.delete_doc("kb", "mail.eml")
    assert service.list_docs("kb") == []
    assert service.store("kb").chunk_count() == 0
    assert service.search("kb", "城东物流园的租金是多少", top_k=3) == []
    service.close()
