"""A title line followed by one long paragraph, in every format: no chunk holds only the title,
and every chunk carries it (the shape of the CMRC dev set and of many real documents)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rag.factory import build_chunker
from rag.loaders import load_file
from rag.loaders._common import Section
from rag.loaders._title import carry_title, looks_like_title
from rag.settings import load_settings
from tests.fixtures_docs import _build_pdf

TITLE = "猴面包树"
BODY = (
    "猴面包树又名猢狲树、酸瓠树，是一种锦葵科猴面包树属的大型落叶乔木，原产于热带非洲。"
    "它的树干粗壮，能储存大量的水分，在旱季依靠这些水分度过漫长的干旱期。"
    "猴面包树会开出巨大的白花，果实可以食用，当地居民也用它的树皮纤维编织绳索。"
    "在马达加斯加，猴面包树大道是著名的景点，每年吸引许多游客前来观赏日落。"
    "一些猴面包树的树龄超过一千年，是世界上最长寿的树木之一，被当地人视为神圣的象征。"
    "科学家发现，近年来一些古老的猴面包树相继死亡，原因可能与气候变化有关。"
) * 2
EN_TITLE = "Warsaw (part 2 of 5)"
EN_BODY = " ".join(
    [
        "Several commemorative events take place every year in the city.",
        "Gatherings of thousands of people on the banks of the Vistula on Midsummer's Night",
        "for a festival called Wianki have become a tradition and a yearly event.",
        "The festival traces its roots to a peaceful pagan ritual where maidens would float",
        "their wreaths of herbs on the water to predict when they would be married.",
        "By the 19th century this tradition had become a festive event, and it continues",
        "today with concerts and fireworks along the river for the whole night.",
    ]
    * 3
)


def write_txt(folder: Path, title: str, body: str) -> Path:
    path = folder / "doc.txt"
    path.write_text(f"{title}\n\n{body}\n", encoding="utf-8")
    return path


def write_md(folder: Path, title: str, body: str) -> Path:
    path = folder / "doc.md"
    path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    return path


def write_pdf(folder: Path, title: str, body: str) -> Path:
    return _build_pdf(folder / "doc.pdf", [[("h", title), ("p", body)]], cjk=title == TITLE)


def write_docx(folder: Path, title: str, body: str) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph(title)  # a plain paragraph, as many documents have
    document.add_paragraph(body)
    path = folder / "doc.docx"
    document.save(str(path))
    return path


def write_html(folder: Path, title: str, body: str) -> Path:
    path = folder / "doc.html"
    path.write_text(f"<html><body><p>{title}</p><p>{body}</p></body></html>", encoding="utf-8")
    return path


WRITERS: list[Callable[[Path, str, str], Path]] = [
    write_txt,
    write_md,
    write_pdf,
    write_docx,
    write_html,
]


@pytest.fixture(scope="module")
def chunker():
    return build_chunker(load_settings(env={}))


@pytest.mark.parametrize("write", WRITERS, ids=lambda w: w.__name__.removeprefix("write_"))
@pytest.mark.parametrize(("title", "body"), [(TITLE, BODY), (EN_TITLE, EN_BODY)], ids=["zh", "en"])
def test_no_chunk_is_the_title_alone_and_every_chunk_carries_it(
    chunker, tmp_path, write, title, body
):
    path = write(tmp_path, title, body)
    chunks = chunker.split(load_file(path, path.name))
    assert len(chunks) >= 2, "the body should need several chunks"
    for chunk in chunks:
        assert chunk.title_path == title
        first_line, _, rest = chunk.text.partition("\n")
        assert first_line == title
        assert len(rest) > 40, f"a chunk with (almost) nothing but its title: {chunk.text!r}"


def test_a_first_line_that_is_a_sentence_stays_text():
    body = Section("知库是一个本地运行的问答系统。\n它读取用户上传的文档。")
    assert carry_title([body]) == [body]
    english = Section("The festival is held on the banks of the river.\nIt lasts all night.")
    assert carry_title([english]) == [english]


def test_headings_the_format_gives_are_left_alone():
    sections = [
        Section("正文第一段。", title_path="第一章"),
        Section("第二段。", title_path="第二章"),
    ]
    assert carry_title(sections) == sections
    code = Section("import os\nprint(os.name)", verbatim=True)
    assert carry_title([code]) == [code]


def test_the_title_applies_to_every_page_that_has_no_heading_of_its_own():
    pages = [
        Section("年度报告\n第一页的内容。", page=1),
        Section("第二页的内容。", page=2),
        Section("第二章 安装步骤\n安装之前请确认内存。", page=3),
    ]
    assert [(s.title_path, s.text) for s in carry_title(pages)] == [
        ("年度报告", "第一页的内容。"),
        ("年度报告", "第二页的内容。"),
        ("第二章 安装步骤", "安装之前请确认内存。"),
    ]


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("猴面包树", True),
        ("Southern California (part 3 of 4)", True),
        ("Acme Inc.", True),
        ("第一届《绝对SuperStar》，", False),
        ("2013", False),
        ("这是一个非常长的句子，" * 6, False),
    ],
)
def test_what_looks_like_a_title(line, title):
    assert looks_like_title(line) is title
