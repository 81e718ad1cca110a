"""`rag kb …` as a user runs it: real process, real models, Chinese names, interrupted ingest."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures_docs import write_scan_png

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def rag(kb_root: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag", "--kb-root", str(kb_root), "kb", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stored_files(kb_dir: Path) -> list[str]:
    db = sqlite3.connect(f"file:{kb_dir / 'kb.sqlite'}?mode=ro", uri=True)
    try:
        return sorted(name for (name,) in db.execute("SELECT name FROM files"))
    finally:
        db.close()


def test_commands_round_trip_with_chinese_names(tmp_path):
    kb_root = tmp_path / "kbs"
    docs = tmp_path / "文档"
    (docs / "子目录").mkdir(parents=True)
    (docs / "公司 简介.md").write_text("# 公司\n\n星河科技成立于1987年。\n", encoding="utf-8")
    (docs / "子目录" / "产品.txt").write_text("主要产品是机器人控制器。\n", encoding="utf-8")
    write_scan_png(docs, "停水通知.png")  # read by OCR, a progress line per page
    assert rag(kb_root, "create", "知识库一", "--description", "测试").returncode == 0
    added = rag(kb_root, "add", "知识库一", str(docs))
    assert added.returncode == 0, added.stderr
    assert "3 added, 0 unchanged, 0 failed" in added.stdout
    assert "停水通知.png: OCR page 1/1" in added.stdout
    listing = rag(kb_root, "list").stdout
    assert "知识库一\t3 docs" in listing
    after = subprocess.run(  # --kb-root after the subcommand, through python -m rag.cli
        [sys.executable, "-m", "rag.cli", "kb", "list", "--kb-root", str(kb_root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert after.returncode == 0, after.stderr
    assert after.stdout == listing
    assert "公司 简介.md" in rag(kb_root, "files", "知识库一").stdout
    found = json.loads(rag(kb_root, "search", "知识库一", "星河科技哪年成立", "--json").stdout)
    assert found[0]["source"] == "公司 简介.md" and 0 <= found[0]["score"] <= 1
    again = rag(kb_root, "add", "知识库一", str(docs))
    assert "0 added, 3 unchanged, 0 failed" in again.stdout
    assert rag(kb_root, "remove", "知识库一", "公司 简介.md").returncode == 0
    gone = json.loads(rag(kb_root, "search", "知识库一", "星河科技哪年成立", "--json").stdout)
    assert all(hit["source"] != "公司 简介.md" for hit in gone)
    assert rag(kb_root, "check", "知识库一").returncode == 0
    missing = rag(kb_root, "files", "没有这个库")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no knowledge base '没有这个库'")
    assert len(missing.stderr.strip().splitlines()) == 1
    assert rag(kb_root, "delete", "知识库一").returncode == 0
    assert "知识库一" not in rag(kb_root, "list").stdout


def test_interrupted_folder_ingest_resumes(tmp_path):
    kb_root = tmp_path / "kbs"
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        text = "".join(f"第{i}份文件的第{j}段内容，用来测试中断后继续导入。" for j in range(6))
        (docs / f"file_{i:02d}.txt").write_text(text, encoding="utf-8")
    assert rag(kb_root, "create", "中断").returncode == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "rag", "--kb-root", str(kb_root), "kb", "add", "中断", str(docs)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(stored_files(kb_root / "中断")) < 3:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = stored_files(kb_root / "中断")
    assert 3 <= len(partial) < 30
    check = rag(kb_root, "check", "中断")
    assert check.returncode == 0, check.stdout
    resumed = rag(kb_root, "add", "中断", str(docs), timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{30 - len(partial)} added, {len(partial)} unchanged, 0 failed" in resumed.stdout
    assert stored_files(kb_root / "中断") == sorted(p.name for p in docs.iterdir())
    assert "consistent" in rag(kb_root, "check", "中断", "--no-repair").stdout


def test_add_url_adds_a_page_and_reports_each_url(tmp_path, monkeypatch):
    from tests import fixtures_web as fw

    site = fw.site()
    monkeypatch.setenv("ZHIKU_ALLOW_PRIVATE_URLS", "true")  # the page is served on 127.0.0.1
    page = site.url("/article.html")
    try:
        added = rag(tmp_path / "kbs", "add-url", "网页", page, "ftp://example.com/a.html")
    finally:
        site.stop()
    name = f"127.0.0.1_{site.port}_article.html"
    assert added.returncode == 1, added.stderr  # one URL failed
    lines = added.stdout.splitlines()
    assert f"ok        {page} -> {name}: 3 chunks" in lines, added.stdout
    assert any(
        line.startswith("error     ftp://example.com/a.html: ") and "only http://" in line
        for line in lines
    ), added.stdout
    assert lines[-1] == "1 added, 0 unchanged, 1 failed"
    stored = (tmp_path / "kbs" / "网页" / "content" / name).read_text(encoding="utf-8")
    assert stored.startswith(f"<!-- zhiku web page: url={page} type=text/html -->")
