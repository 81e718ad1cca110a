"""Issue 23, part 3, over HTTP against the real app: a delete during a rebuild, then a rebuild
again (the new file stays, the deleted ones do not come back); two rebuilds at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningApp, start_app

pytestmark = pytest.mark.slow

DOCS = 200
"""Enough that a rebuild runs for seconds, so a request sent when it starts lands inside it."""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApp, Path]]:
    kb_root = tmp_path_factory.mktemp("kb-root")
    running = start_app(kb_root, tmp_path_factory.mktemp("logs") / "app.log")
    yield running, kb_root
    running.stop()


def corpus(prefix: str) -> dict[str, bytes]:
    return {
        f"{prefix}_{i:03d}.txt": f"第{i}号{prefix}文件讲的是编号{i}的内容和第{i}个例子。".encode()
        for i in range(DOCS)
    }


def upload(base_url: str, kb: str, files: dict[str, bytes]) -> None:
    names = list(files)
    for start in range(0, len(names), 50):
        batch = [("files", (n, files[n])) for n in names[start : start + 50]]
        reply = httpx.post(f"{base_url}/api/kbs/{kb}/docs", files=batch, timeout=600)
        assert reply.status_code == 200, reply.text


class Request(threading.Thread):
    """An HTTP request sent from another thread."""

    def __init__(self, method: str, url: str) -> None:
        super().__init__(daemon=True)
        self.method, self.url = method, url
        self.reply: httpx.Response | None = None
        self.start()

    def run(self) -> None:
        self.reply = httpx.request(self.method, self.url, timeout=600)

    def outcome(self) -> httpx.Response:
        self.join(600)
        assert self.reply is not None, "no reply"
        return self.reply


def rebuild_folders(kb_root: Path) -> list[str]:
    return sorted(p.name for p in kb_root.iterdir() if p.name.startswith(".rebuild"))


def wait_until_rebuilding(kb_root: Path, request: Request) -> None:
    deadline = time.monotonic() + 300
    while not rebuild_folders(kb_root):
        assert request.is_alive(), f"the rebuild ended first: {request.reply}"
        assert time.monotonic() < deadline, "the rebuild never started"
        time.sleep(0.02)


def doc_names(base_url: str, kb: str) -> list[str]:
    return [d["name"] for d in httpx.get(f"{base_url}/api/kbs/{kb}/docs").json()["docs"]]


def test_delete_during_rebuild_then_rebuild_again(app: tuple[RunningApp, Path]):
    running, kb_root = app
    base = running.base_url
    assert httpx.post(f"{base}/api/kbs", json={"name": "t1"}).status_code == 201
    upload(base, "t1", corpus("old"))
    rebuild = Request("POST", f"{base}/api/kbs/t1/rebuild")
    wait_until_rebuilding(kb_root, rebuild)
    deleted = httpx.delete(f"{base}/api/kbs/t1", timeout=600)
    assert deleted.status_code == 200, deleted.text
    reply = rebuild.outcome()
    assert reply.status_code in (404, 409), reply.text  # cancelled, not a 500
    assert "deleted" in reply.json()["error"]
    assert rebuild_folders(kb_root) == []
    assert not (kb_root / "t1").exists()

    assert httpx.post(f"{base}/api/kbs", json={"name": "t1"}).status_code == 201
    upload(base, "t1", {"new.txt": "新的文件只有这一份。".encode()})
    again = httpx.post(f"{base}/api/kbs/t1/rebuild", timeout=600)
    assert again.status_code == 200, again.text
    assert doc_names(base, "t1") == ["new.txt"]
    assert sorted(p.name for p in (kb_root / "t1" / "content").iterdir()) == ["new.txt"]
    assert rebuild_folders(kb_root) == []


def test_two_rebuilds_at_once_one_gets_409(app: tuple[RunningApp, Path]):
    running, kb_root = app
    base = running.base_url
    files = corpus("two")
    assert httpx.post(f"{base}/api/kbs", json={"name": "t2"}).status_code == 201
    upload(base, "t2", files)
    first = Request("POST", f"{base}/api/kbs/t2/rebuild")
    wait_until_rebuilding(kb_root, first)
    second = httpx.post(f"{base}/api/kbs/t2/rebuild", timeout=600)
    assert second.status_code == 409, second.text
    assert "already being rebuilt" in second.json()["error"]
    late = httpx.post(
        f"{base}/api/kbs/t2/docs", files=[("files", ("late.txt", "晚到的文件。".encode()))]
    )
    assert late.status_code == 409 and "try again" in late.json()["error"]
    found = httpx.post(f"{base}/api/kbs/t2/search", json={"query": "第17号two文件", "top_k": 1})
    assert found.json()["results"][0]["source"] == "two_017.txt"  # still answering meanwhile

    reply = first.outcome()
    assert reply.status_code == 200, reply.text
    assert {f["status"] for f in reply.json()["files"]} == {"ok"}
    assert doc_names(base, "t2") == sorted(files)
    assert rebuild_folders(kb_root) == []
