"""Bad input through the API and the CLI: every file gets its own clear status, the process
stays up, nothing is written outside <kb-root>/<kb>/content/, and failed files change nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM

from rag.factory import build_services, create_app
from rag.settings import load_settings
from tests import fixtures_docs as fx

ROOT = Path(__file__).resolve().parents[2]
GBK = "这是一段用GBK编码保存的简体中文文本，没有字节顺序标记。" * 3
BIG5 = "這是一段用Big5編碼保存的繁體中文文字，沒有位元組順序標記。" * 3

# (name as uploaded, expected status, a word the error must contain)
BAD = [
    ("empty.txt", "error", "empty"),
    ("blank.md", "error", "empty"),
    ("truncated.pdf", "error", "pdf"),
    ("encrypted.pdf", "error", "password"),
    ("random.txt", "error", "binary"),
    ("program.txt", "error", "binary"),
    ("picture.pdf", "error", "pdf"),
    ("bomb.docx", "error", "zip"),
    ("fake.docx", "error", "docx"),
    ("notes.xyz", "error", ".pdf"),
]
GOOD = [("简体.txt", GBK), ("繁體.txt", BIG5)]
ODD_NAMES = {
    "../../etc/passwd.txt": "passwd.txt",
    "a/b.md": "b.md",
    "CON.txt": "_CON.txt",
    "报告 2024 😀 final.md": "报告 2024 😀 final.md",
    ("长" * 100) + ".txt": None,  # 300 bytes: shortened, extension kept
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("bad")
    files = {
        "empty.txt": b"",
        "blank.md": b"   \n\t\n  ",
        "notes.xyz": b"unknown type",
        "简体.txt": GBK.encode("gbk"),
        "繁體.txt": BIG5.encode("big5"),
    }
    for writer in (
        fx.write_truncated_pdf,
        fx.write_encrypted_pdf,
        fx.write_random_bytes,
        fx.write_elf_as_txt,
        fx.write_png_named_pdf,
        fx.write_zip_bomb_docx,
        fx.write_not_a_zip_docx,
    ):
        path = writer(folder)
        files[path.name] = path.read_bytes()
    return files


@pytest.fixture
def api(tmp_path):
    services = build_services(
        load_settings(env={}),
        kb_root=tmp_path / "kbs",
        llm=FakeStreamingListLLM(responses=["ok"]),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    client = TestClient(create_app(services), base_url="http://127.0.0.1")
    assert client.post("/api/kbs", json={"name": "kb"}).status_code == 201
    return client, tmp_path / "kbs"


def all_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_bad_files_each_get_a_clear_status(api, corpus):
    client, root = api
    before = all_files(root)
    upload = [("files", (name, corpus[name])) for name, _, _ in BAD]
    upload += [("files", (name, corpus[name])) for name, _ in GOOD]
    reply = client.post("/api/kbs/kb/docs", files=upload)
    assert reply.status_code == 200
    results = reply.json()["files"]
    assert len(results) == len(BAD) + len(GOOD)
    for (name, status, word), result in zip(BAD, results, strict=False):
        assert result["status"] == status, (name, result)
        assert word.lower() in result["error"].lower(), (name, result["error"])
    by_name = {r["name"]: r for r in results}
    for name, text in GOOD:
        assert by_name[name]["status"] == "ok"
        hits = client.post("/api/kbs/kb/search", json={"query": text[:12]}).json()["results"]
        assert any(text[:12] in h["text"] for h in hits)  # decoded right, not mojibake
    docs = {d["name"] for d in client.get("/api/kbs/kb/docs").json()["docs"]}
    assert docs == {name for name, _ in GOOD}
    written = all_files(root) - before
    assert all(p.startswith("kb/") for p in written)
    content = {p for p in written if p.startswith("kb/content/")}
    assert content == {f"kb/content/{name}" for name, _ in GOOD}


def test_odd_names_are_stored_safely(api):
    client, root = api
    upload = [("files", (name, "名字测试的内容。".encode())) for name in ODD_NAMES]
    results = client.post("/api/kbs/kb/docs", files=upload).json()["files"]
    for (given, expected), result in zip(ODD_NAMES.items(), results, strict=True):
        assert result["status"] in {"ok", "unchanged"}, (given, result)
        if expected:
            assert result["name"] == expected
        else:
            assert result["name"].endswith(".txt") and len(result["name"].encode()) <= 200
    assert not (root.parent / "etc").exists()
    stored = [p.name for p in (root / "kb" / "content").iterdir()]
    assert all("/" not in n and n not in {".", ".."} for n in stored)
    dotdot = client.post("/api/kbs/kb/docs", files=[("files", ("..", b"x"))]).json()
    assert dotdot["files"][0]["status"] == "error"


def test_same_file_twice_and_same_name_twice(api):
    client, _ = api
    first = client.post("/api/kbs/kb/docs", files=[("files", ("a.txt", "第一版内容。".encode()))])
    assert first.json()["files"][0]["status"] == "ok"
    again = client.post("/api/kbs/kb/docs", files=[("files", ("a.txt", "第一版内容。".encode()))])
    assert again.json()["files"][0]["status"] == "unchanged"
    both = client.post(
        "/api/kbs/kb/docs",
        files=[
            ("files", ("b.txt", "乙的第一版。".encode())),
            ("files", ("b.txt", "乙的第二版。".encode())),
        ],
    ).json()["files"]
    assert [r["status"] for r in both] == ["ok", "ok"]  # the second replaces the first
    hits = client.post("/api/kbs/kb/search", json={"query": "乙", "top_k": 10}).json()["results"]
    texts = [h["text"] for h in hits if h["source"] == "b.txt"]
    assert texts == ["乙的第二版。"]


def test_failed_update_keeps_the_old_version(api, corpus):
    client, _ = api
    client.post("/api/kbs/kb/docs", files=[("files", ("doc.pdf", fx_pdf_bytes()))])
    old = client.get("/api/kbs/kb/docs").json()["docs"]
    reply = client.post("/api/kbs/kb/docs", files=[("files", ("doc.pdf", corpus["truncated.pdf"]))])
    assert reply.json()["files"][0]["status"] == "error"
    assert client.get("/api/kbs/kb/docs").json()["docs"] == old


def fx_pdf_bytes() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return fx.write_english_pdf(Path(tmp)).read_bytes()


@pytest.mark.slow
def test_cli_adds_a_folder_of_bad_files(corpus, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in corpus.items():
        (folder / name).write_bytes(data)
    env = {**os.environ, "ZHIKU_KB_ROOT_PATH": str(tmp_path / "kbs")}
    run = subprocess.run(
        [sys.executable, "-m", "rag", "kb", "add", "坏文件", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 1, run.stderr  # some files failed: non-zero, with a summary
    assert f"2 added, 0 unchanged, {len(corpus) - 2} failed" in run.stdout
    for name, _, _ in BAD:
        assert f"error     {name}:" in run.stdout
    files = subprocess.run(
        [sys.executable, "-m", "rag", "kb", "files", "坏文件"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sorted(line.split("\t")[0] for line in files.stdout.splitlines()) == [
        "简体.txt",
        "繁體.txt",
    ]


def test_uploads_are_staged_under_the_kb_root_and_left_overs_cleared(tmp_path, corpus):
    root = tmp_path / "kbs"
    left_over = root / ".uploads" / "upload-killed" / "half.txt"  # a kill -9 mid-upload
    left_over.parent.mkdir(parents=True)
    left_over.write_text("partial")
    services = build_services(
        load_settings(env={}),
        kb_root=root,
        llm=FakeStreamingListLLM(responses=["ok"]),
        embeddings=DeterministicFakeEmbedding(size=16),
    )
    client = TestClient(create_app(services), base_url="http://127.0.0.1")
    assert not left_over.exists()
    assert client.post("/api/kbs", json={"name": "kb"}).status_code == 201
    reply = client.post("/api/kbs/kb/docs", files=[("files", ("简体.txt", corpus["简体.txt"]))])
    assert reply.json()["files"][0]["status"] == "ok"
    # the request's folder is gone; what is left is Gradio's (empty) upload folder
    assert list((root / ".uploads").iterdir()) == [root / ".uploads" / "gradio"]
    assert not [p for p in (root / ".uploads" / "gradio").rglob("*") if p.is_file()]
    assert client.get("/api/kbs").json()["kbs"][0]["name"] == "kb"  # not listed as a KB
