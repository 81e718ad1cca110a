"""Which models answer, and on which device: what the chat's model line shows."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from rag.settings import Settings


@dataclass(frozen=True)
class ModelsInUse:
    llm: str
    """LLM_MODEL, and the model it names (its hub name or served name) when there is one."""
    llm_device: str
    embedding: str
    embedding_device: str


def models_in_use(settings: Settings, llm: object, embeddings: object) -> ModelsInUse:
    """The running LLM and embedding model as a person would name them."""
    models = settings.models
    return ModelsInUse(
        llm=_named(models.llm_model, getattr(models.llm, "model", None), models.llm),
        llm_device=llm_device(llm),
        embedding=models.embedding_model,
        embedding_device=device_of(embeddings),
    )


def _named(name: str, served: object, entry: object) -> str:
    model = served or getattr(entry, "pretrained_model_name", None)
    return f"{name} ({model})" if isinstance(model, str) and model and model != name else name


def llm_device(llm: object) -> str:
    """ "cpu", "gpu" (llama.cpp with offloaded layers), a torch device, or the server."""
    layers = getattr(llm, "n_gpu_layers", None)
    if isinstance(layers, int) and not isinstance(layers, bool):
        return "cpu" if layers == 0 else "gpu"
    return device_of(llm)


def device_of(model: object) -> str:
    """Where a model runs, from what its class records: a server's address, a torch
    device (its own, or in `model_kwargs` for sentence-transformers), else the CPU (the
    ONNX and numpy embeddings run there)."""
    url = getattr(model, "api_base_url", None)
    if isinstance(url, str) and url:
        return f"server {urlsplit(url).netloc or url}"
    device = getattr(model, "device", None)
    if isinstance(device, str) and device:
        return device
    kwargs = getattr(model, "model_kwargs", None)
    if isinstance(kwargs, dict) and isinstance(kwargs.get("device"), str):
        return str(kwargs["device"])
    return "cpu"
