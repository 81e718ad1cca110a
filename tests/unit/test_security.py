"""Code-level guarantees: no pickle from disk, no remote code unless configured, no paths in
API errors, and document text rendered as text in the UI."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake import FakeStreamingListLLM

from rag.chains import Source
from rag.factory import build_services, create_app
from rag.settings import load_settings
from rag.ui.render import sources_html

ROOT = Path(__file__).resolve().parents[2]
CODE = [p for d in ("rag", "configs") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]


def test_no_pickle_is_loaded_anywhere():
    pattern = re.compile(r"pickle\.loads?\(|allow_dangerous_deserialization|torch\.load\(")
    offenders = [str(p) for p in CODE if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_trust_remote_code_only_from_the_model_entry():
    for path in CODE:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "trust_remote_code=" in line.replace(" ", ""):
                assert "True" not in line.split("trust_remote_code")[1][:8], (path, line)


def test_api_errors_carry_no_paths_or_tracebacks(tmp_path):
    kb_root = tmp_path / "secret-location"
    services = build_services(
        load_settings(env={}),
        kb_root=kb_root,
        llm=FakeStreamingListLLM(responses=["x"]),
        embeddings=DeterministicFakeEmbedding(size=8),
    )
    client = TestClient(
        create_app(services), base_url="http://127.0.0.1", raise_server_exceptions=False
    )
    client.post("/api/kbs", json={"name": "kb"})
    replies = [
        client.get("/api/kbs/none/docs"),
        client.post("/api/kbs/kb/docs", files=[("files", ("bad.pdf", b"%PDF-1.4 broken"))]),
        client.delete("/api/kbs/kb/docs/none.txt"),
        client.post("/api/kbs", json={"name": "a/b"}),
    ]
    for reply in replies:
        assert reply.status_code >= 400 or reply.json()["files"][0]["status"] == "error"
        assert str(kb_root) not in reply.text and "secret-location" not in reply.text
        assert "Traceback" not in reply.text and "/tmp/" not in reply.text


def test_sources_are_escaped_in_the_ui():
    evil = Source(1, '<img src=x onerror="alert(1)">.md', None, "<script>alert(1)</script>", 0.5)
    rendered = sources_html([evil])
    assert "<script>" not in rendered and "<img" not in rendered
    assert "&lt;script&gt;" in rendered
