"""`POST /api/kbs/{name}/urls` with fake models, against a web server on 127.0.0.1: refused
while ALLOW_PRIVATE_URLS is off (the server never asked), added with it on; per-URL results
and statuses as for uploads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import fixtures_web as fw
from tests.unit.test_api import make_client


@pytest.fixture
def site() -> Iterator[fw.Site]:
    served = fw.site()
    yield served
    served.stop()


def test_loopback_is_refused_with_private_urls_off(tmp_path, site):
    client = make_client(tmp_path)
    assert client.post("/api/kbs", json={"name": "库"}).status_code == 201
    reply = client.post("/api/kbs/库/urls", json={"urls": [site.url("/article.html")]})
    assert reply.status_code == 403, reply.text
    body = reply.json()
    assert body["urls"][0]["status"] == "error" and body["urls"][0]["name"] == ""
    assert "loopback" in body["error"] and "ALLOW_PRIVATE_URLS" in body["error"]
    assert site.requests == []
    assert client.get("/api/kbs/库/docs").json()["docs"] == []
    # the request's own checks
    assert (
        client.post("/api/kbs/没有/urls", json={"urls": ["https://a.example/"]}).status_code == 404
    )
    too_many = {"urls": [f"https://a.example/{i}" for i in range(21)]}
    assert client.post("/api/kbs/库/urls", json=too_many).status_code == 422
    assert client.post("/api/kbs/库/urls", json={"urls": []}).status_code == 422


def test_pages_are_added_and_sources_carry_their_url_with_private_urls_on(tmp_path, site):
    client = make_client(tmp_path, allow_private_urls=True)
    assert client.post("/api/kbs", json={"name": "库"}).status_code == 201
    page = site.url("/article.html")
    urls = [page, site.url("/image.png"), "file:///etc/passwd"]
    reply = client.post("/api/kbs/库/urls", json={"urls": urls})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert [u["status"] for u in body["urls"]] == ["ok", "error", "error"]
    assert body["urls"][0]["name"] == f"127.0.0.1_{site.port}_article.html"
    assert body["chunks"] == body["urls"][0]["chunks"] > 0 and "error" not in body
    assert "image/png" in body["urls"][1]["error"] and "file://" in body["urls"][2]["error"]
    every_one_bad = {"urls": ["ftp://a.example/x", "gopher://a.example/"]}
    reply = client.post("/api/kbs/库/urls", json=every_one_bad)
    assert reply.status_code == 403 and "ftp://" in reply.json()["error"]
    hit = client.post("/api/kbs/库/search", json={"query": "灯塔 1883"}).json()["results"][0]
    assert hit["url"] == page and "1883" in hit["text"]
    reply = client.post("/api/chat", json={"kb": "库", "query": "灯塔是哪一年建的？"}).json()
    assert reply["sources"][0]["url"] == page
    again = client.post("/api/kbs/库/urls", json={"urls": [page]}).json()
    assert again["urls"][0]["status"] == "unchanged"
