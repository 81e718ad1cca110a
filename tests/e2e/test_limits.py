"""The real app (`python app.py`, fast LLM) against what held a core or a connection before:
a 3 MB query, connections that never finish a request, and SIGTERM with requests in flight."""

from __future__ import annotations

import signal
import socket
import threading
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.slow

CLIENT_TIMEOUT_S = 2
# Generous bounds on behaviour, far above the configured times, far below "never".
CLOSED_WITHIN_S = 30
EXITED_WITHIN_S = 25  # SHUTDOWN_TIMEOUT_S is 5
# Long enough that the fast model writes until max_new_tokens (512), which takes it 10-60 s.
LONG_ANSWER = "Count from 1 to 600, one number per line, nothing else."
DOC = "# 港口\n\n史特拉斯堡港是萊茵河沿線的第二大港口，每年吞吐貨物上千萬噸。\n"


@pytest.fixture(scope="module")
def app(app_factory):
    return app_factory(env={"ZHIKU_CLIENT_TIMEOUT_S": str(CLIENT_TIMEOUT_S)})


def _address(app) -> tuple[str, int]:
    url = urlsplit(app.base_url)
    return url.hostname or "127.0.0.1", url.port or 80


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(CLOSED_WITHIN_S)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_3_mb_query_is_refused_at_once(app):
    with httpx.Client(base_url=app.base_url, timeout=60) as client:
        assert client.post("/api/kbs", json={"name": "long"}).status_code == 201
        query = "\u9fa0" * 3_000_000  # a character jieba does not know: its worst case
        reply = client.post("/api/kbs/long/search", json={"query": query})
        assert reply.status_code == 413 and "MAX_QUERY_CHARS" in reply.json()["error"]
        reply = client.post("/api/chat", json={"kb": None, "query": query})
        assert reply.status_code == 413 and "MAX_QUERY_CHARS" in reply.json()["error"]
        assert client.get("/api/kbs").status_code == 200


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and sends nothing
        b"GET /api/kbs HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # half a request head
        b"POST /api/kbs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",  # a body
    ],
    ids=["nothing", "half-head", "stalled-body"],
)
def test_connections_that_never_finish_a_request_are_closed(app, sent):
    with socket.create_connection(_address(app)) as sock:
        sock.sendall(sent)
        assert _closed_by_server(sock)


def test_a_complete_raw_request_is_still_answered(app):
    with socket.create_connection(_address(app), timeout=30) as sock:
        sock.sendall(b"GET /api/kbs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b'"kbs"' in data


def _stream_chat(base_url: str, first_token: threading.Event) -> None:
    try:
        body = {"kb": None, "query": LONG_ANSWER, "stream": True}
        with httpx.stream("POST", base_url + "/api/chat", json=body, timeout=300) as reply:
            for line in reply.iter_lines():
                if line.startswith("event: token"):
                    first_token.set()
    except httpx.HTTPError:
        pass  # the server went away mid-answer: expected here


def _upload_large(base_url: str) -> None:
    lines = [
        f"第{i}條：港口第{i}號碼頭每年吞吐貨物{i * 7}萬噸，由第{i % 9}區管理。" for i in range(4000)
    ]
    try:
        files = [("files", ("large.md", "\n\n".join(lines).encode()))]
        httpx.post(base_url + "/api/kbs/keep/docs", files=files, timeout=300)
    except httpx.HTTPError:
        pass


def test_sigterm_stops_the_server_with_requests_in_flight(app_factory):
    running = app_factory()
    with httpx.Client(base_url=running.base_url, timeout=120) as client:
        assert client.post("/api/kbs", json={"name": "keep"}).status_code == 201
        files = [("files", ("port.md", DOC.encode()))]
        assert client.post("/api/kbs/keep/docs", files=files).json()["chunks"] > 0
    first_token = threading.Event()
    clients = [
        threading.Thread(target=_stream_chat, args=(running.base_url, first_token), daemon=True)
        for _ in range(3)  # one answering, two waiting for the model
    ]
    clients.append(threading.Thread(target=_upload_large, args=(running.base_url,), daemon=True))
    for thread in clients:
        thread.start()
    assert first_token.wait(120), "no answer started"
    running.process.send_signal(signal.SIGTERM)
    try:
        running.process.wait(timeout=EXITED_WITHIN_S)
    except Exception:
        pytest.fail(f"the app was still running {EXITED_WITHIN_S} s after SIGTERM")
    assert running.process.returncode in (0, -signal.SIGTERM)

    restarted = app_factory()  # the same kb-root: the start-up check repairs a cut upload
    with httpx.Client(base_url=restarted.base_url, timeout=120) as client:
        docs = {d["name"]: d for d in client.get("/api/kbs/keep/docs").json()["docs"]}
        assert "port.md" in docs and all(d["chunks"] > 0 for d in docs.values())
        hits = client.post("/api/kbs/keep/search", json={"query": "史特拉斯堡港"}).json()
        assert hits["results"][0]["source"] == "port.md"
