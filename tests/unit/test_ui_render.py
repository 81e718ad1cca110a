"""What the chat renders can hold no image, link or HTML from a document or the model; and
file inputs take only browser uploads."""

from __future__ import annotations

import os
import re

import pytest

from rag.api.origin import allowed_host_names, host_name
from rag.chains import Source
from rag.errors import BadRequestError
from rag.ui.render import answer_markdown, markdown_text, plain_answer, sources_html
from rag.ui.uploads import file_values, is_inside, uploaded_paths

HOSTILE = [
    "![x](http://127.0.0.1:9/p.png)",
    "![x][1]\n\n[1]: http://127.0.0.1:9/p.png",
    "[click](javascript:alert(1))",
    "<img src=http://127.0.0.1:9/q.png>",
    "<https://evil.example/a>",
    "see https://evil.example/a or www.evil.example or mail me@evil.example",
    "`![x](http://127.0.0.1:9/p.png)`",
    "答案 [1]\n\n> <img src=http://127.0.0.1:9/q.png> ![x](http://127.0.0.1:9/p.png) [1]",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_an_answer_can_open_no_link_image_or_tag(text):
    rendered = answer_markdown(text)
    assert "<" not in rendered.replace("&lt;", "")
    # every bracket, bang, backtick and @ escaped; no autolink left whole
    assert not re.search(r"(?<!\\)[\[\]!`@]", rendered)
    for autolink in ("http://", "https://", "www."):
        assert autolink not in rendered
    assert plain_answer(rendered) == text


def test_answers_keep_emphasis_lists_and_citations_readable():
    text = "**1868年** 开始: 见下\n- 第一 [1]\n- 第二 [2]"
    rendered = answer_markdown(text)
    assert rendered.startswith("**1868年** 开始\\: 见下")
    assert "- 第一 \\[1\\]" in rendered
    assert plain_answer(rendered) == text


def test_the_quote_under_an_answer_stays_a_markdown_quote():
    text = "当工人 [1]\n\n> 马飚中学毕业后，在柳州钢铁厂当工人。 [1]"
    rendered = answer_markdown(text)
    assert "\n\n> 马飚中学毕业后" in rendered and "&gt;" not in rendered
    assert answer_markdown("a > b") == "a &gt; b"  # not at a line's start: literal
    assert plain_answer(rendered) == text


def test_sources_are_one_html_block_with_every_text_escaped():
    evil = Source(1, "_name_ <b>.md", 2, "![x](http://h/p.png)\n\n<script>alert(1)</script>", 0.5)
    rendered = sources_html([evil], rewritten="它 *是* 谁")
    block = rendered.split("---\n", 1)[1]
    assert block.startswith('<div class="zhiku-sources"') and block.endswith("</div>")
    assert "\n\n" not in block  # a blank line would hand the rest back to Markdown
    assert "<script>" not in block and "&lt;script&gt;" in block
    assert "_name_ &lt;b&gt;.md" in block  # underscores kept: Markdown never reads it
    assert "![x](http://h/p.png)" in block  # shown as text inside raw HTML
    assert "第 2 页" in block and "相关度 0.50" in block and "来源" in block
    assert plain_answer("答案" + rendered) == "答案"
    english = sources_html([evil], rewritten="它 *是* 谁", lang="en")
    assert "page 2" in english and "score 0.50" in english and "Sources" in english
    assert "来源" not in english and "第 2 页" not in english


def test_a_web_page_source_links_its_own_address_and_nothing_else():
    url = "https://example.com/a?q=1&b=%3C2%3E"
    page = Source(1, "example.com_a.html", None, "正文 [x](http://h/) <b>", 0.9, url=url)
    block = sources_html([page])
    href = "https://example.com/a?q=1&amp;b=%3C2%3E"
    link = f'<a href="{href}" target="_blank" rel="noopener noreferrer nofollow">{href}</a>'
    assert block.count("<a ") == 1 and link in block
    odd_urls = ("javascript:alert(1)", 'https://x.example/" onclick="alert(1)', "ftp://x/", "")
    for odd in odd_urls:
        assert "<a " not in sources_html([Source(1, "a.html", None, "t", 0.5, url=odd)])


def test_status_names_show_literally():
    assert markdown_text("_a_*b*[c](d)<e>") == "\\_a\\_\\*b\\*\\[c\\]\\(d\\)&lt;e&gt;"


def test_only_regular_files_inside_the_upload_folder_are_uploads(tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "abc").mkdir(parents=True)
    good = uploads / "abc" / "a.txt"
    good.write_text("x")
    outside = tmp_path / "secret.txt"
    outside.write_text("s")
    link = uploads / "abc" / "link.txt"
    link.symlink_to(outside)
    assert is_inside(good, uploads)
    assert not is_inside(outside, uploads)
    assert not is_inside(link, uploads)
    assert not is_inside(uploads / "abc" / ".." / ".." / "secret.txt", uploads)
    assert not is_inside(uploads / "abc", uploads)  # a folder
    assert uploaded_paths([str(good)], uploads) == [good]
    with pytest.raises(BadRequestError, match="file picker"):
        uploaded_paths([str(good), str(outside)], uploads)


def test_the_upload_folder_itself_may_be_reached_through_a_symlink(tmp_path):
    real = tmp_path / "real"
    (real / "abc").mkdir(parents=True)
    (real / "abc" / "a.txt").write_text("x")
    alias = tmp_path / "alias"
    os.symlink(real, alias)
    assert is_inside(real / "abc" / "a.txt", alias)


def test_file_values_are_found_anywhere_in_a_request():
    body = {"data": ["kb", [{"path": "/a", "meta": {}}], {"x": {"path": "/b"}}], "fn_index": 4}
    assert [v["path"] for v in file_values(body)] == ["/a", "/b"]
    assert list(file_values({"data": ["/etc/passwd", 3]})) == []


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:7860", "127.0.0.1"), ("[::1]:7860", "::1"), ("Evil.Example", "evil.example")],
)
def test_host_names_are_read_without_the_port(header, name):
    assert host_name(header) == name


def test_which_host_names_are_served():
    loopback = allowed_host_names("127.0.0.1", [])
    assert loopback is not None and "localhost" in loopback and "evil.example" not in loopback
    assert allowed_host_names("0.0.0.0", []) is None  # a LAN bind, with a login: any name
    named = allowed_host_names("0.0.0.0", ["zhiku.example.org"])
    assert named is not None and "zhiku.example.org" in named
    assert allowed_host_names("127.0.0.1", ["*"]) is None
