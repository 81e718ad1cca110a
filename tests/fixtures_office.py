"""Old Office, OpenDocument, RTF and e-mail test files, each with known sentences.

Written by the tests: .xls (xlwt), .rtf (by hand: RTF is text), .odt/.ods/.odp (odfpy),
.eml (stdlib email), .msg (aspose-email-foss, a pure-Python MSG writer; extract-msg reads
only) and .ppt (`write_ppt`: the records of the PowerPoint binary format [MS-PPT] that hold
slide text, in an OLE compound file written by aspose-email-foss's CFB writer).

Committed: `tests/data/office/purchasing.doc`. Nothing here writes Word 97 binaries; it was
made once by `tests/data/office/build_doc.py` (LibreOffice converting the .odt that
`write_odt` writes) and is this project's own text, public domain (see the README there).
"""

from __future__ import annotations

import datetime
import struct
from email.message import EmailMessage
from pathlib import Path

from tests import fixtures_docs as fx

OFFICE_DATA = Path(__file__).parent / "data" / "office"
DOC_SAMPLE = OFFICE_DATA / "purchasing.doc"

# ---- Known content -------------------------------------------------------------------------

DOC_TITLE = "办公用品采购规定 Office supply rules"
DOC_INTRO = "办公用品每季度采购一次，由行政部统一办理。Office supplies are bought once a quarter."
DOC_SECTION = "审批 Approval"
DOC_SENTENCE = (
    "超过五千元的采购须经财务总监批准。"
    "Purchases over 5000 yuan need the finance director's approval."
)
DOC_TABLE = (("物品 Item", "单价 Price"), ("订书机 Stapler", "35"), ("打印纸 Paper", "28"))

PPT_SLIDES = (
    (
        "季度计划 Quarterly plan",
        "第一季度完成新仓库的选址。\rChoose the site of the new warehouse.",
    ),
    ("预算 Budget", "全年预算为一百二十万元。The annual budget is 1.2 million yuan."),
)

XLS_SHEETS: dict[str, tuple[tuple[object, ...], ...]] = {
    "价目表": (
        ("品名", "单价", "上架日期"),
        ("碳素笔", 2.5, datetime.date(2024, 3, 1)),
        ("档案盒", 12, datetime.date(2024, 5, 20)),
    ),
    "Suppliers": (("Name", "City"), ("Acme Paper", "Ningbo")),
}

RTF_TITLE = "仓库管理办法"
RTF_SENTENCE = "仓库钥匙由值班保安保管，借用需登记。"
RTF_ENGLISH = "Keys are signed out at the front desk."

ODS_SHEETS = {"库存": (("物品", "数量"), ("订书机", "40"), ("回形针", "1200"))}
ODP_NOTES = "讲解时强调选址的交通条件。"

MAIL_SUBJECT = "关于新仓库选址的通知"
MAIL_FROM = "王芳 <wang.fang@example.com>"
MAIL_TO = "李雷 <li.lei@example.com>"
MAIL_BODY = "各位同事：新仓库将设在城东物流园，请各部门在月底前提交搬迁清单。"
MAIL_HTML = (
    "<html><body><h1>搬迁安排</h1><p>搬迁定于六月第二周进行，周末不加班。</p>"
    "<table><tr><th>部门</th><th>日期</th></tr><tr><td>财务部</td><td>6月10日</td></tr>"
    "</table></body></html>"
)
ATTACHMENT_TEXT = "附件说明：城东物流园的租金为每平方米每月三十五元。"


# ---- .doc and .ppt ---------------------------------------------------------------------------


def copy_doc(folder: Path, name: str = "purchasing.doc") -> Path:
    """The committed Word 97 sample, copied under `name`."""
    path = folder / name
    path.write_bytes(DOC_SAMPLE.read_bytes())
    return path


def _record(kind: int, body: bytes, version_instance: int = 0) -> bytes:
    return struct.pack("<HHI", version_instance, kind, len(body)) + body


def ppt_bytes(slides: tuple[tuple[str, str], ...] = PPT_SLIDES) -> bytes:
    """A .ppt as PowerPoint 97-2003 stores slide text: a DocumentContainer whose
    SlideListWithText holds, per slide, a SlidePersistAtom then a TextHeaderAtom and a
    TextCharsAtom (UTF-16) for the title and for the body ([MS-PPT] 2.4.1, 2.4.14)."""
    from aspose.email_foss.cfb.writer import CFBDocument, CFBStorage, CFBStream, CFBWriter

    atoms = []
    for number, (title, body) in enumerate(slides, start=1):
        atoms.append(
            _record(0x03F3, struct.pack("<IIiII", number, 0, len(slides), 255 + number, 0))
        )
        for kind, text in ((0, title), (1, body)):  # TextHeaderAtom: 0 title, 1 body
            atoms.append(_record(0x0F9F, struct.pack("<I", kind)))
            atoms.append(_record(0x0FA0, text.encode("utf-16-le")))
    document_atom = _record(0x03E9, bytes(40), version_instance=1)
    slide_list = _record(0x0FF0, b"".join(atoms), version_instance=0x000F)
    stream = _record(0x03E8, document_atom + slide_list, version_instance=0x000F)
    stream += _record(0x03EA, b"")  # EndDocumentAtom
    root = CFBStorage("Root Entry")
    root.add_stream(CFBStream("PowerPoint Document", stream))
    root.add_stream(CFBStream("Current User", bytes(20)))
    return CFBWriter.to_bytes(CFBDocument(root))


def write_ppt(folder: Path, name: str = "计划.ppt") -> Path:
    path = folder / name
    path.write_bytes(ppt_bytes())
    return path


# ---- .xls and .rtf ---------------------------------------------------------------------------


def write_xls(folder: Path, name: str = "价目表.xls") -> Path:
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for title, rows in XLS_SHEETS.items():
        sheet = workbook.add_sheet(title)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, datetime.date):
                    sheet.write(r, c, value, date_style)
                else:
                    sheet.write(r, c, value)
    path = folder / name
    workbook.save(str(path))
    return path


def _rtf_escape(text: str) -> str:
    """Non-ASCII characters as RTF unicode escapes (\\uN?), as Word writes them."""
    out = []
    for char in text:
        code = ord(char)
        out.append(char if code < 128 else f"\\u{code if code < 32768 else code - 65536}?")
    return "".join(out)


def write_rtf(folder: Path, name: str = "仓库管理办法.rtf") -> Path:
    """A title line and two paragraphs: Chinese as \\uN escapes, and one GBK-encoded
    \\'xx run under \\ansicpg936 (how older Chinese Word versions write it)."""
    gbk = "".join(f"\\'{byte:02x}" for byte in "登记".encode("gbk"))
    body = (
        "{\\rtf1\\ansi\\ansicpg936\\deff0{\\fonttbl{\\f0\\fnil\\fcharset134 SimSun;}}\n"
        f"\\f0 {_rtf_escape(RTF_TITLE)}\\par\n"
        f"{_rtf_escape(RTF_SENTENCE[:-3])}{gbk}{_rtf_escape(RTF_SENTENCE[-1])}\\par\n"
        f"{RTF_ENGLISH}\\par\n}}"
    )
    path = folder / name
    path.write_text(body, encoding="ascii")
    return path


# ---- OpenDocument ----------------------------------------------------------------------------


def _odf_table(name: str, rows: tuple[tuple[str, ...], ...]) -> object:
    from odf.table import Table, TableCell, TableColumn, TableRow
    from odf.text import P

    table = Table(name=name)
    table.addElement(TableColumn(numbercolumnsrepeated=len(rows[0])))
    for values in rows:
        row = TableRow()
        for value in values:
            cell = TableCell()
            cell.addElement(P(text=value))
            row.addElement(cell)
        table.addElement(row)
    return table


def write_odt(folder: Path, name: str = "采购规定.odt") -> Path:
    """Title heading, intro, a level-2 heading with a sentence and a table (the same text
    as the committed .doc, which was converted from it)."""
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text=DOC_TITLE))
    document.text.addElement(P(text=DOC_INTRO))
    document.text.addElement(H(outlinelevel=2, text=DOC_SECTION))
    document.text.addElement(P(text=DOC_SENTENCE))
    document.text.addElement(_odf_table("价格", DOC_TABLE))
    path = folder / name
    document.save(str(path))
    return path


def write_ods(folder: Path, name: str = "库存.ods") -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet

    document = OpenDocumentSpreadsheet()
    for title, rows in ODS_SHEETS.items():
        document.spreadsheet.addElement(_odf_table(title, rows))
    path = folder / name
    document.save(str(path))
    return path


def write_odp(folder: Path, name: str = "计划.odp") -> Path:
    """Two slides, each a title frame and a body frame; the first has speaker notes."""
    from odf.draw import Frame, Page, TextBox
    from odf.namespaces import PRESENTATIONNS
    from odf.opendocument import OpenDocumentPresentation
    from odf.presentation import Notes
    from odf.style import MasterPage, PageLayout, PageLayoutProperties
    from odf.text import P

    document = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    layout.addElement(PageLayoutProperties(pagewidth="28cm", pageheight="21cm"))
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for number, (title, body) in enumerate(PPT_SLIDES, start=1):
        page = Page(name=f"slide{number}", masterpagename=master)
        for kind, text, top in (("title", title, "1cm"), ("outline", body, "5cm")):
            frame = Frame(width="24cm", height="3cm", x="2cm", y=top)
            frame.setAttrNS(PRESENTATIONNS, "class", kind)
            box = TextBox()
            for line in text.split("\r"):
                box.addElement(P(text=line))
            frame.addElement(box)
            page.addElement(frame)
        if number == 1:
            notes = Notes()
            frame = Frame(width="20cm", height="5cm", x="2cm", y="15cm")
            box = TextBox()
            box.addElement(P(text=ODP_NOTES))
            frame.addElement(box)
            notes.addElement(frame)
            page.addElement(notes)
        document.presentation.addElement(page)
    path = folder / name
    document.save(str(path))
    return path


# ---- e-mail ----------------------------------------------------------------------------------


def mail_message(attachments: dict[str, bytes] | None = None, html: bool = False) -> EmailMessage:
    """A mail with the known headers, a plain (or only an HTML) body and `attachments`
    (name → bytes; the MIME type is guessed from the name)."""
    import mimetypes

    message = EmailMessage()
    message["Subject"] = MAIL_SUBJECT
    message["From"] = MAIL_FROM
    message["To"] = MAIL_TO
    message["Date"] = "Fri, 15 Mar 2024 10:30:00 +0800"
    if html:
        message.set_content(MAIL_HTML, subtype="html")
    else:
        message.set_content(MAIL_BODY)
    for name, data in (attachments or {}).items():
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


def write_eml_with_pdf(folder: Path, name: str = "mail.eml") -> Path:
    """The known mail with the Chinese two-page PDF of fixtures_docs attached as
    attachment.pdf and a text file as 说明.txt."""
    pdf = fx.write_cjk_pdf(folder, "attached.pdf")
    message = mail_message(
        {"attachment.pdf": pdf.read_bytes(), "说明.txt": ATTACHMENT_TEXT.encode("utf-8")}
    )
    path = folder / name
    path.write_bytes(message.as_bytes())
    return path


def write_msg(folder: Path, name: str = "通知.msg", embed: bool = False) -> Path:
    """The known mail as an Outlook .msg with a text attachment; with `embed`, also an
    attached Outlook message ("会议变更") that has an attachment of its own."""
    from aspose.email_foss import msg

    message = msg.MapiMessage.create(MAIL_SUBJECT, MAIL_BODY)
    message.set_property(msg.PropertyId.SENDER_NAME, "王芳")
    message.set_property(msg.PropertyId.SENDER_EMAIL_ADDRESS, "wang.fang@example.com")
    message.set_property(
        msg.PropertyId.MESSAGE_DELIVERY_TIME,
        datetime.datetime(2024, 3, 15, 2, 30, tzinfo=datetime.UTC),
    )
    message.add_recipient("li.lei@example.com", display_name="李雷")
    message.add_attachment("说明.txt", ATTACHMENT_TEXT.encode("utf-8"), mime_type="text/plain")
    if embed:
        inner = msg.MapiMessage.create("会议变更", "例会改到周五下午三点。")
        inner.add_attachment(
            "议程.txt", "议程：审查第二季度预算。".encode(), mime_type="text/plain"
        )
        message.add_embedded_message_attachment(inner)
    path = folder / name
    message.save(str(path))
    return path
