"""kill -9 the app at random moments during a large ingest, KILLS times, restarting each time.

After every restart the metadata, the originals and the dense index agree (the app checks and
repairs at start-up; this test verifies independently from the files on disk), no file is
half-indexed, and re-adding everything completes the knowledge base with each file once.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import faiss
import httpx
import pytest

from tests.e2e.conftest import start_app

pytestmark = pytest.mark.slow

# each round starts the app (~10 s with the models): 5 random kill points keep the suite
# under 15 minutes; the rebuild test below kills at two more chosen ones
KILLS = 5
FILES = 40
KB = "crash"


def make_corpus(folder: Path) -> dict[str, bytes]:
    rng = random.Random(7)
    words = [
        "知识",
        "文档",
        "检索",
        "向量",
        "索引",
        "模型",
        "回答",
        "问题",
        "数据",
        "本地",
        "系统",
        "用户",
        "文件",
        "段落",
        "句子",
    ]
    corpus = {}
    for i in range(FILES):
        body = "".join(
            f"第{i}号文档的第{j}句话讲的是{rng.choice(words)}和{rng.choice(words)}。"
            for j in range(60)
        )
        corpus[f"doc_{i:02d}.txt"] = body.encode()
    return corpus


def upload_all(base_url: str, corpus: dict[str, bytes]) -> None:
    """Upload in small batches until killed (errors after the kill are expected)."""
    names = list(corpus)
    try:
        for start in range(0, len(names), 4):
            batch = [("files", (n, corpus[n])) for n in names[start : start + 4]]
            httpx.post(f"{base_url}/api/kbs/{KB}/docs", files=batch, timeout=300)
    except httpx.HTTPError:
        pass


def on_disk_state(kb_dir: Path) -> tuple[set[str], set[int], set[int], dict[str, int]]:
    db = sqlite3.connect(f"file:{kb_dir / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        files = {name for (name,) in db.execute("SELECT name FROM files")}
        chunk_ids = {i for (i,) in db.execute("SELECT id FROM chunks")}
        declared = dict(db.execute("SELECT name, chunks FROM files"))
        actual = dict(db.execute("SELECT file_name, COUNT(*) FROM chunks GROUP BY file_name"))
    finally:
        db.close()
    index = faiss.read_index(str(kb_dir / "vector_store" / "index.faiss"))
    index_ids = set(faiss.vector_to_array(index.id_map).tolist())
    half_indexed = {n: actual.get(n, 0) for n in files if actual.get(n, 0) != declared[n]}
    return files, chunk_ids, index_ids, half_indexed


def test_kill_minus_nine_during_ingest(tmp_path):
    corpus = make_corpus(tmp_path)
    kb_root = tmp_path / "kbs"
    rng = random.Random(2026)
    for round_no in range(KILLS):
        app = start_app(kb_root, tmp_path / "app.log")
        kb_dir = kb_root / KB
        if round_no == 0:
            httpx.post(f"{app.base_url}/api/kbs", json={"name": KB}, timeout=30)
        files, chunk_ids, index_ids, half = on_disk_state(kb_dir)
        assert chunk_ids == index_ids, f"round {round_no}: index and metadata disagree"
        assert not half, f"round {round_no}: half-indexed files {half}"
        assert {p.name for p in (kb_dir / "content").iterdir()} == files
        listed = {d["name"] for d in httpx.get(f"{app.base_url}/api/kbs/{KB}/docs").json()["docs"]}
        assert listed == files
        uploader = threading.Thread(target=upload_all, args=(app.base_url, corpus))
        uploader.start()
        time.sleep(rng.uniform(0.5, 4.0))
        os.kill(app.process.pid, signal.SIGKILL)
        app.process.wait()
        uploader.join(timeout=60)

    app = start_app(kb_root, tmp_path / "app.log")
    try:
        upload_all(app.base_url, corpus)
        docs = httpx.get(f"{app.base_url}/api/kbs/{KB}/docs").json()["docs"]
        assert sorted(d["name"] for d in docs) == sorted(corpus)
        files, chunk_ids, index_ids, half = on_disk_state(kb_root / KB)
        assert files == set(corpus) and chunk_ids == index_ids and not half
        hit = httpx.post(
            f"{app.base_url}/api/kbs/{KB}/search", json={"query": "第17号文档", "top_k": 3}
        ).json()["results"][0]
        assert hit["source"] == "doc_17.txt"
    finally:
        app.stop()


REBUILD_KB = "rebuilt"
REBUILD_FILES = 120


def staging_files(kb_root: Path) -> int:
    """Originals already in the rebuild's new copy (-1 before its folder exists)."""
    folders = [p for p in kb_root.iterdir() if p.name.startswith(".rebuild")]
    if not folders:
        return -1
    content = folders[0] / "new" / "content"
    return len(list(content.iterdir())) if content.is_dir() else 0


def kill_during_rebuild(app, kb_root: Path, min_files: int) -> None:
    """Start a rebuild over REST, wait until its new copy holds `min_files` originals, kill -9."""

    def request_rebuild() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the kill cuts it off
            httpx.post(f"{app.base_url}/api/kbs/{REBUILD_KB}/rebuild", timeout=600)

    rebuild = threading.Thread(target=request_rebuild, daemon=True)
    rebuild.start()
    deadline = time.monotonic() + 300
    while staging_files(kb_root) < min_files:
        assert rebuild.is_alive(), "the rebuild ended before the kill"
        assert time.monotonic() < deadline, "the rebuild never started"
        time.sleep(0.01)
    os.kill(app.process.pid, signal.SIGKILL)
    app.process.wait()
    rebuild.join(timeout=60)


def test_kill_minus_nine_during_rebuild(tmp_path):
    """kill -9 as the rebuild starts and halfway through: after each restart the knowledge
    base has every original and answers, and nothing of the rebuild is left."""
    corpus = {
        f"r_{i:03d}.txt": f"第{i}号重建文件写的是编号{i}的内容。".encode()
        for i in range(REBUILD_FILES)
    }
    kb_root = tmp_path / "kbs"
    app = start_app(kb_root, tmp_path / "app.log")
    httpx.post(f"{app.base_url}/api/kbs", json={"name": REBUILD_KB}, timeout=30)
    names = sorted(corpus)
    for start in range(0, len(names), 40):
        batch = [("files", (n, corpus[n])) for n in names[start : start + 40]]
        assert (
            httpx.post(
                f"{app.base_url}/api/kbs/{REBUILD_KB}/docs", files=batch, timeout=300
            ).status_code
            == 200
        )
    try:
        for min_files in (0, REBUILD_FILES // 2):
            kill_during_rebuild(app, kb_root, min_files)
            app = start_app(kb_root, tmp_path / "app.log")
            assert sorted(p.name for p in kb_root.iterdir() if p.name.startswith(".rebuild")) == []
            files, chunk_ids, index_ids, half = on_disk_state(kb_root / REBUILD_KB)
            assert files == set(corpus) and chunk_ids == index_ids and not half
            assert {p.name for p in (kb_root / REBUILD_KB / "content").iterdir()} == files
            listed = httpx.get(f"{app.base_url}/api/kbs/{REBUILD_KB}/docs").json()["docs"]
            assert sorted(d["name"] for d in listed) == names
            hit = httpx.post(
                f"{app.base_url}/api/kbs/{REBUILD_KB}/search",
                json={"query": "第77号重建文件", "top_k": 1},
            ).json()["results"][0]
            assert hit["source"] == "r_077.txt"
        reply = httpx.post(f"{app.base_url}/api/kbs/{REBUILD_KB}/rebuild", timeout=600)
        assert reply.status_code == 200 and len(reply.json()["files"]) == REBUILD_FILES
        assert staging_files(kb_root) == -1
    finally:
        app.stop()
