"""The document routes with fake models: a stored original (never anything else under the KB
root), a PDF page rendered with the passage's area highlighted, and the signed links that
open both when API_TOKEN guards /api."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import re
from pathlib import Path
from urllib.parse import quote, unquote

import pypdfium2 as pdfium
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM
from PIL import Image

from rag.api import api_router, install_error_handlers
from rag.factory import build_services
from rag.services import DocumentLinks, Services
from rag.settings import load_settings
from rag.ui.messages import Lang
from tests.fixtures_docs import CJK_PDF_SENTENCE, CJK_PDF_SENTENCE_2, write_cjk_pdf

HTML = b"<html><body><script>alert(1)</script><p>\xe4\xbb\xb7\xe6\xa0\xbc</p></body></html>"
KB = "资料 库"
PDF_NAME = "文档 #1 (草稿).pdf"
SCALE = 1.5


def client_of(services: Services) -> TestClient:
    """The API alone (no UI: faster)."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(api_router(services))
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Services:
    """Real stores with fake models, a KB holding a Chinese PDF and an HTML page."""
    folder = tmp_path_factory.mktemp("docs")
    services = build_services(
        load_settings(env={}),
        kb_root=folder / "kbs",
        llm=FakeStreamingListLLM(responses=["x"]),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    services.kb.create_kb(KB)
    pdf = write_cjk_pdf(folder, PDF_NAME)
    (folder / "page.html").write_bytes(HTML)
    results = services.kb.add_files(KB, [(PDF_NAME, pdf), ("page.html", folder / "page.html")])
    assert [r.status for r in results] == ["ok", "ok"]
    return services


@pytest.fixture(scope="module")
def stored(services):
    """The API's client, the PDF's bytes and the HTML page's."""
    pdf = services.kb.registry.root / KB / "content" / PDF_NAME
    return client_of(services), pdf, HTML


def doc_url(name: str, kb: str = KB) -> str:
    return f"/api/kbs/{quote(kb, safe='')}/docs/{quote(name, safe='')}"


def test_the_original_comes_back_with_its_name_and_type(stored):
    client, pdf, _ = stored
    reply = client.get(doc_url(PDF_NAME))
    assert reply.status_code == 200
    assert reply.content == pdf.read_bytes()
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.headers["x-content-type-options"] == "nosniff"
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    encoded = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert encoded and unquote(encoded[1]) == PDF_NAME  # RFC 5987, as a browser reads it
    fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback.isascii() and fallback.endswith(".pdf")


def test_an_html_original_is_an_attachment_the_browser_may_not_run(stored):
    client, _, html = stored
    reply = client.get(doc_url("page.html"))
    assert reply.status_code == 200 and reply.content == html
    assert reply.headers["content-disposition"].startswith("attachment;")
    assert reply.headers["content-security-policy"] == "sandbox"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/kbs/{KB}/docs/..%2F..%2F{quote(KB)}%2Fkb.sqlite",
        f"/api/kbs/{KB}/docs/..%2Fkb.sqlite",
        f"/api/kbs/{KB}/docs/%2Fetc%2Fpasswd",
        f"/api/kbs/{KB}/docs/%2E%2E",
        f"/api/kbs/{KB}/docs/kb.sqlite",
        f"/api/kbs/{KB}/docs/content",
        f"/api/kbs/{KB}/docs/%252E%252E%252Fkb.sqlite",
        f"/api/kbs/{KB}/docs/.staged.{quote(PDF_NAME)}",
        f"/api/kbs/..%2F{quote(KB)}/docs/{quote(PDF_NAME)}",
        f"/api/kbs/{KB}/docs/..%5Ckb.sqlite",
        f"/api/kbs/{KB}/docs/{quote(PDF_NAME)}%00.txt",
        f"/api/kbs/{KB}/docs/{quote(PDF_NAME)}/pages/..%2F..%2Fkb.sqlite",
    ],
)
def test_no_path_outside_the_stored_originals_is_served(stored, path):
    client, _, _ = stored
    reply = client.get(path)
    assert reply.status_code in (400, 404, 422), reply.status_code
    assert reply.headers["content-type"].startswith("application/json")
    assert "error" in reply.json()
    assert b"SQLite format" not in reply.content and b"root:" not in reply.content


def test_a_missing_document_or_kb_is_a_clear_404(stored):
    client, _, _ = stored
    reply = client.get(doc_url("none.pdf"))
    assert reply.status_code == 404 and "no document 'none.pdf'" in reply.json()["error"]
    reply = client.get(doc_url(PDF_NAME, kb="不存在"))
    assert reply.status_code == 404 and "no knowledge base" in reply.json()["error"]


def yellowish(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Share of the pixels in `box` the highlight tinted (yellow over white or over text:
    red well above blue; the page itself is black on white)."""
    pixels = list(image.crop(box).convert("RGB").getdata())
    return sum(1 for r, _, b in pixels if r - b > 60) / len(pixels)


def char_box_px(pdf: Path, page: int, text: str) -> tuple[int, int, int, int]:
    """Where `text`'s first character is drawn on the rendered page, found with pdfium's own
    search (not the code under test), in pixels at SCALE."""
    document = pdfium.PdfDocument(str(pdf))
    try:
        pdf_page = document[page - 1]
        textpage = pdf_page.get_textpage()
        index, _ = textpage.search(text).get_next()
        left, bottom, right, top = textpage.get_charbox(index)
        height = pdf_page.get_height()
        return (
            int(left * SCALE),
            int((height - top) * SCALE),
            int(right * SCALE) + 1,
            int((height - bottom) * SCALE) + 1,
        )
    finally:
        document.close()


def test_a_page_image_highlights_the_passage_where_it_is(stored):
    client, pdf, _ = stored
    reply = client.get(doc_url(PDF_NAME) + "/pages/1.png", params={"highlight": CJK_PDF_SENTENCE_2})
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    assert reply.headers["cache-control"].startswith("private, max-age=")
    assert int(reply.headers["x-highlight-boxes"]) >= 2  # the sentence spans lines
    assert reply.headers["x-page-count"] == "2"
    image = Image.open(io.BytesIO(reply.content))
    width, height = image.size
    assert (width, height) == (round(595.28 * SCALE), round(841.89 * SCALE))
    # the passage's first and last characters are under the highlight
    assert yellowish(image, char_box_px(pdf, 1, CJK_PDF_SENTENCE_2[:6])) > 0.5
    assert yellowish(image, char_box_px(pdf, 1, CJK_PDF_SENTENCE_2[-6:])) > 0.5
    # the sentence before it and the title are not, nor the empty rest of the page
    assert yellowish(image, char_box_px(pdf, 1, CJK_PDF_SENTENCE[:6])) == 0
    assert yellowish(image, char_box_px(pdf, 1, "第一章")) == 0
    assert yellowish(image, (0, height // 2, width, height)) == 0


def test_a_page_without_the_passage_is_plain(stored):
    client, _, _ = stored
    reply = client.get(doc_url(PDF_NAME) + "/pages/2.png", params={"highlight": CJK_PDF_SENTENCE_2})
    assert reply.status_code == 200 and reply.headers["x-highlight-boxes"] == "0"
    image = Image.open(io.BytesIO(reply.content))
    assert yellowish(image, (0, 0, *image.size)) == 0


def test_page_images_are_cached_and_bounded(stored):
    client, _, _ = stored
    url = doc_url(PDF_NAME) + "/pages/1.png"
    first = client.get(url, params={"highlight": "知库", "scale": 0.5})
    assert first.status_code == 200
    assert Image.open(io.BytesIO(first.content)).size[0] == round(595.28 * 0.5)
    again = client.get(
        url,
        params={"highlight": "知库", "scale": 0.5},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""
    other = client.get(url, params={"highlight": "系统", "scale": 0.5})
    assert other.headers["etag"] != first.headers["etag"]
    assert client.get(doc_url(PDF_NAME) + "/pages/3.png").status_code == 404
    assert "2 page" in client.get(doc_url(PDF_NAME) + "/pages/3.png").json()["error"]
    assert client.get(doc_url(PDF_NAME) + "/pages/0.png").status_code == 422
    assert client.get(doc_url(PDF_NAME) + "/pages/999999.png").status_code == 422
    assert client.get(url, params={"scale": 9}).status_code == 422
    assert client.get(url, params={"highlight": "字" * 1001}).status_code == 422
    not_pdf = client.get(doc_url("page.html") + "/pages/1.png")
    assert not_pdf.status_code == 400 and "not a PDF" in not_pdf.json()["error"]


@pytest.fixture(scope="module")
def guarded(services):
    """The same knowledge bases behind API_TOKEN "s3cret"."""
    settings = load_settings(env={}, api_token="s3cret")
    links = DocumentLinks.for_token("s3cret")
    guarded = dataclasses.replace(services, settings=settings, links=links)
    return client_of(guarded), guarded, {"Authorization": "Bearer s3cret"}


def test_with_a_token_the_documents_need_it_or_a_signed_link(guarded):
    client, services, bearer = guarded
    assert client.get(doc_url(PDF_NAME)).status_code == 401
    assert client.get(doc_url(PDF_NAME), headers=bearer).status_code == 200
    links: DocumentLinks = services.links
    original = "/" + links.original(KB, PDF_NAME)
    assert client.get(original).status_code == 200
    page = "/" + links.page(KB, PDF_NAME, 1, highlight=CJK_PDF_SENTENCE_2)
    reply = client.get(page)
    assert reply.status_code == 200 and int(reply.headers["x-highlight-boxes"]) >= 2


def test_a_signed_link_opens_its_own_document_only(guarded):
    client, services, _ = guarded
    link = services.links.original(KB, PDF_NAME)
    query = link.split("?", 1)[1]
    assert client.get(doc_url("page.html") + "?" + query).status_code == 401
    assert client.get(f"/api/kbs?{query}").status_code == 401
    assert client.get(f"/api/kbs/{quote(KB)}/docs?{query}").status_code == 401
    tampered = query.replace("sig=", "sig=0")
    assert client.get(doc_url(PDF_NAME) + "?" + tampered).status_code == 401
    # a link of another process with another token, and one that has expired
    foreign = DocumentLinks.for_token("other-token").original(KB, PDF_NAME)
    assert client.get("/" + foreign).status_code == 401
    expired = DocumentLinks.for_token("s3cret", clock=lambda: 0.0).original(KB, PDF_NAME)
    assert client.get("/" + expired).status_code == 401
    same_token = DocumentLinks.for_token("s3cret").original(KB, PDF_NAME)
    assert client.get("/" + same_token).status_code == 200  # another worker, same token


# ---- the UI's viewer over the same store ---------------------------------------------------


def opened(services: Services, lang: Lang = "zh", **request: object) -> str:
    from rag.ui.source_viewer import open_source

    return open_source(services, json.dumps({"kb": KB, "index": 1, **request}), lang)


def test_the_viewer_shows_a_pdf_source_as_its_page_image(services):
    shown = opened(services, file=PDF_NAME, page=1, passage=CJK_PDF_SENTENCE_2)
    image = re.search(r'<img class="zhiku-page-image" src="([^"]+)"', shown)
    assert image
    reply = client_of(services).get("/" + html.unescape(image[1]))
    assert reply.status_code == 200 and int(reply.headers["x-highlight-boxes"]) >= 2
    assert f'<mark class="zhiku-passage-text">{CJK_PDF_SENTENCE_2}</mark>' in shown
    assert "第 1 / 2 页" in shown and "page 1 of 2" not in shown
    english = opened(services, file=PDF_NAME, page=1, passage=CJK_PDF_SENTENCE_2, lang="en")
    assert "page 1 of 2" in english and "Download original" in english
    assert "第 1 / 2 页" not in english and "下载原文" not in english
    download = re.search(r'class="zhiku-download" href="([^"]+)"', shown)
    assert download
    assert client_of(services).get("/" + html.unescape(download[1])).status_code == 200


def test_the_viewer_shows_other_documents_as_text_with_the_passage_marked(services):
    shown = opened(services, file="page.html", passage="价格")
    assert '<mark class="zhiku-hit">价格</mark>' in shown
    assert "<script>" not in shown  # the page's script is not part of the text


def test_the_viewer_says_why_a_source_cannot_be_opened(services):
    assert "no document 'gone.pdf'" in html.unescape(opened(services, file="gone.pdf", page=1))
    assert "zhiku-viewer-warning" in opened(services, file="")
    from rag.ui.source_viewer import open_source

    assert "zhiku-viewer-warning" in open_source(services, "not json")
