"""The adversarial probe's attacks, replayed against the real app served on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.e2e import gradio_api
from tests.e2e.conftest import ROOT, start_app

pytestmark = pytest.mark.slow

SECRET = "ZHIKU_PROBE_SECRET_7f3a 服务器上的私密文件"
PAGE = "probe-page-session"
"""One browser page: the KB dropdown accepts the KB created in it."""


@pytest.fixture(scope="module")
def app(app_factory):
    return app_factory()


@pytest.fixture(scope="module")
def kb(app) -> str:
    reply = gradio_api.call(app.base_url, "/on_create", ["probe", ""], session=PAGE)
    assert reply.status == 200 and "probe" in str(reply.body)
    return "probe"


class Recorder(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        body = b"fetched from the network"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def listener_server() -> ThreadingHTTPServer:
    """A local web server, serving, that records every request it gets in `.paths`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    server.paths = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def listener() -> Iterator[ThreadingHTTPServer]:
    server = listener_server()
    yield server
    server.shutdown()
    server.server_close()


def documents(app, kb: str) -> list[str]:
    return [d["name"] for d in httpx.get(f"{app.base_url}/api/kbs/{kb}/docs").json()["docs"]]


def cached_files(app) -> list[Path]:
    return [p for p in (app.kb_root / ".uploads" / "gradio").rglob("*") if p.is_file()]


@pytest.mark.parametrize("target", ["secret", "config"])
def test_a_server_path_is_not_accepted_as_an_upload(app, kb, tmp_path, target):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    path = str(secret) if target == "secret" else str(ROOT / "configs" / "server_config.py")
    value = gradio_api.file_value(path, Path(path).name)
    reply = gradio_api.call(app.base_url, "/on_upload", [kb, [value]], session=PAGE)
    assert reply.status == 400
    assert "file picker" in reply.body["error"]
    assert documents(app, kb) == []
    search = httpx.post(f"{app.base_url}/api/kbs/{kb}/search", json={"query": SECRET})
    assert search.json()["results"] == []
    assert not any(SECRET in p.read_text(errors="ignore") for p in cached_files(app))


def test_a_url_is_not_fetched_as_an_upload(app, kb, listener):
    url = f"http://127.0.0.1:{listener.server_address[1]}/notes.txt"
    value = gradio_api.file_value(url, "n.txt")
    reply = gradio_api.call(app.base_url, "/on_upload", [kb, [value]], session=PAGE)
    assert reply.status == 400
    assert listener.paths == []  # type: ignore[attr-defined]
    assert documents(app, kb) == []


def test_a_symlink_in_the_upload_folder_is_refused(app, kb, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    link = app.kb_root / ".uploads" / "gradio" / "planted" / "notes.txt"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    value = gradio_api.file_value(str(link), "notes.txt")
    reply = gradio_api.call(app.base_url, "/on_upload", [kb, [value]], session=PAGE)
    link.unlink()
    assert reply.status == 400
    assert documents(app, kb) == []


def test_a_browser_upload_is_indexed_then_removed_from_the_cache(app, kb, tmp_path):
    doc = tmp_path / "会议纪要.txt"
    doc.write_text("会议决定：知库的发布日期定在十二月十日。", encoding="utf-8")
    value = gradio_api.upload(app.base_url, doc)
    assert Path(value["path"]).is_relative_to(app.kb_root / ".uploads" / "gradio")
    reply = gradio_api.call(app.base_url, "/on_upload", [kb, [value]], session=PAGE)
    assert reply.status == 200
    assert "1/1" in str(reply.body)
    assert documents(app, kb) == ["会议纪要.txt"]
    assert not Path(value["path"]).exists()
    assert not Path(value["path"]).parent.exists()  # Gradio's folder for this upload
    assert not any("十二月十日" in p.read_text(errors="ignore") for p in cached_files(app))


@pytest.mark.parametrize("path", ["/api/kbs", "/", "/config"])
def test_a_rebinding_host_name_is_refused(app, path):
    port = app.base_url.rsplit(":", 1)[1]
    refused = httpx.get(app.base_url + path, headers={"Host": f"attacker.example:{port}"})
    assert refused.status_code == 403
    assert "ALLOWED_HOSTS" in refused.json()["error"]
    assert httpx.get(app.base_url + path, headers={"Host": f"localhost:{port}"}).status_code == 200


def test_changes_from_another_site_are_refused(app, kb):
    evil = {"Origin": "http://attacker.example"}
    form = httpx.post(
        app.base_url + "/api/kbs", data={"name": "from-a-form"}, headers=evil, timeout=30
    )
    assert form.status_code == 403
    created = httpx.post(app.base_url + "/api/kbs", json={"name": "cross"}, headers=evil)
    assert created.status_code == 403
    other_port = {"Origin": "http://127.0.0.1:1"}
    assert httpx.delete(f"{app.base_url}/api/kbs/{kb}", headers=other_port).status_code == 403
    fetch = {"Sec-Fetch-Site": "cross-site"}
    assert httpx.delete(f"{app.base_url}/api/kbs/{kb}", headers=fetch).status_code == 403
    assert gradio_api.call(app.base_url, "/on_create", ["via-ui", ""], evil).status == 403
    names = [k["name"] for k in httpx.get(app.base_url + "/api/kbs").json()["kbs"]]
    assert kb in names and not {"cross", "via-ui", "from-a-form"} & set(names)
    own = {"Origin": app.base_url}
    assert (
        httpx.post(app.base_url + "/api/kbs", json={"name": "own"}, headers=own).status_code == 201
    )
    assert httpx.delete(app.base_url + "/api/kbs/own", headers=own).status_code == 200


def test_the_docs_need_the_token_when_one_is_set(tmp_path):
    app = start_app(tmp_path / "kb", tmp_path / "app.log", env={"ZHIKU_API_TOKEN": "probe-token"})
    try:
        token = {"Authorization": "Bearer probe-token"}
        for path in ("/docs", "/redoc", "/openapi.json", "/api/kbs"):
            refused = httpx.get(app.base_url + path)
            assert refused.status_code == 401, path
            assert "error" in refused.json()
            assert httpx.get(app.base_url + path, headers=token).status_code == 200, path
        schema = httpx.get(app.base_url + "/openapi.json", headers=token).json()
        assert "/api/chat" in schema["paths"]
    finally:
        app.stop()
