"""Which URLs may be fetched (SSRF), and how a fetched page is named and stored (no network:
every refusal here happens before a connection is made)."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from rag.errors import UrlRefusedError
from rag.loaders import load_file
from rag.loaders.webpage import page_original, saved_page
from rag.webfetch import (
    FetchOptions,
    PageFetcher,
    literal_address,
    non_public_kind,
    page_file_name,
    parse_url,
)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("169.254.169.254", "link-local"),  # cloud metadata services
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),  # reserved 240/4: Python counts it private too
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ],
)
def test_non_public_addresses_are_named(address, kind):
    assert non_public_kind(ip_address(address)) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert non_public_kind(ip_address(address)) is None


@pytest.mark.parametrize(
    "host", ["2130706433", "0x7f000001", "017700000001", "0x7f.1", "127.1", "0177.0.0.1"]
)
def test_every_literal_form_of_an_address_is_read_as_a_resolver_reads_it(host):
    assert literal_address(host) == ip_address("127.0.0.1")


def test_names_are_not_literals_and_broken_literals_are_refused():
    assert literal_address("example.com") is None
    assert literal_address("1e100.net") is None
    assert literal_address("::1") == ip_address("::1")
    for broken in ("1.2.3.4.5", "999.1.1.1"):
        with pytest.raises(UrlRefusedError, match="not a valid one"):
            literal_address(broken)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.5/admin",
        "http://127.0.0.1:7860/api/kbs",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:7860/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://localhost/",  # a name: resolved (from /etc/hosts), then refused
    ],
)
def test_private_and_loopback_urls_are_refused_before_any_connection(url):
    with pytest.raises(UrlRefusedError, match="ALLOW_PRIVATE_URLS"):
        PageFetcher(FetchOptions()).fetch(url)


def test_a_name_with_one_private_address_among_public_ones_is_refused():
    def resolver(host: str, port: int):
        return [ip_address("93.184.216.34"), ip_address("10.0.0.7")]

    with pytest.raises(UrlRefusedError, match=r"10\.0\.0\.7 is a private address.*intranet"):
        PageFetcher(resolver=resolver).fetch("https://mixed.example/")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("file:///etc/passwd", "not file://"),
        ("ftp://example.com/a.html", "not ftp://"),
        ("gopher://example.com:70/", "not gopher://"),
        ("javascript:alert(1)", "not javascript://"),
        ("example.com/page", "no scheme"),
        ("http:///nohost", "no host"),
    ],
)
def test_only_http_and_https_are_fetched(url, said):
    with pytest.raises(UrlRefusedError, match=said):
        parse_url(url)


def test_credentials_in_a_url_are_refused_and_not_repeated():
    with pytest.raises(UrlRefusedError, match="password") as refused:
        parse_url("https://alice:s3cret@example.com/wiki")
    assert "s3cret" not in str(refused.value)


def test_a_fragment_is_dropped():
    assert str(parse_url(" https://example.com/a#part ")) == "https://example.com/a"


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://example.com/", "example.com.html"),
        ("https://example.com/docs/intro.html?lang=zh", "example.com_docs_intro_lang=zh.html"),
        ("http://127.0.0.1:8765/a/b/", "127.0.0.1_8765_a_b.html"),
        ("https://例子.测试/文档/%E6%89%8B%E5%86%8C", "例子.测试_文档_手册.html"),
        ("https://example.com/a:b*c?d|e", "example.com_a_b_c_d_e.html"),
    ],
)
def test_pages_are_named_after_host_and_path(url, name):
    assert page_file_name(url) == name


def test_long_or_clashing_names_end_with_a_hash_of_the_url():
    long_a = page_file_name("https://example.com/" + "页" * 200 + "a")
    long_b = page_file_name("https://example.com/" + "页" * 200 + "b")
    assert long_a != long_b and len(long_a.encode()) <= 160
    assert long_a.startswith("example.com_页") and long_a.endswith(".html")
    distinct = page_file_name("https://example.com/a_b", distinct=True)
    assert distinct.startswith("example.com_a_b_") and distinct != "example.com_a_b.html"


def test_the_stored_original_names_its_url_and_nothing_in_a_url_closes_the_comment():
    url = 'https://example.com/x?q=--><script>"'
    stored = page_original(url, "text/html", "<p>正文</p>")
    first_line = stored.split(b"\n", 1)[0].decode()
    assert first_line.count("-->") == 1 and "<script>" not in first_line
    found = saved_page(stored)
    assert found is not None and found[1] == "text/html"
    assert found[0] == "https://example.com/x?q=--%3E%3Cscript%3E%22"
    assert saved_page(b"<html><body>an upload</body></html>") is None


def test_a_stored_page_loads_its_main_text_under_its_title_with_its_url(tmp_path):
    markup = (
        "<html><head><title>港口 | 某网站</title></head><body>"
        "<nav>导航菜单首页</nav><article><h1>港口</h1>"
        "<p>高雄港位于台湾南部，是台湾最大的国际港口，每年有数万艘船舶进出港区。</p>"
        "<h2>灯塔</h2><p>灯塔建于1883年，塔高十五米，至今仍然在为船舶指引方向。</p>"
        "</article><footer>版权所有页脚</footer></body></html>"
    )
    page = tmp_path / "example.com_port.html"
    page.write_bytes(page_original("https://example.com/port", "text/html", markup))
    documents = load_file(page, page.name)
    text = "\n".join(d.page_content for d in documents)
    assert "1883" in text and "导航菜单" not in text and "版权所有" not in text
    assert {d.metadata["url"] for d in documents} == {"https://example.com/port"}
    assert [d.metadata["title_path"] for d in documents] == ["港口", "港口 > 灯塔"]
    upload = tmp_path / "upload.html"
    upload.write_text(markup, encoding="utf-8")
    uploaded = load_file(upload, upload.name)
    assert "url" not in uploaded[0].metadata  # an uploaded HTML file has no address
    assert "版权所有" in "\n".join(d.page_content for d in uploaded)  # and is read whole
