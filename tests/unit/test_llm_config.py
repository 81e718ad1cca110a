"""Bad LLM configuration: one clear line naming the key and what to do (no model loads).

Also: every LLM entry shipped in configs/ validates and builds (servers are not contacted).
"""

from __future__ import annotations

from typing import Any

import pytest

from rag.errors import ConfigError, ModelUnavailableError
from rag.factory import llm_setup
from rag.llms import BACKENDS, ZhikuLLM, build_llm
from rag.settings import Settings, load_settings

torch = pytest.importorskip("torch")
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def settings_for(entry: dict[str, Any], **overrides: Any) -> Settings:
    return load_settings(env={}, llm_model_dict={"mine": entry}, llm_model="mine", **overrides)


def one_line(exc: BaseException, *parts: str) -> str:
    message = str(exc)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, (part, message)
    return message


def test_unknown_backend_names_the_key_and_the_choices() -> None:
    with pytest.raises(ConfigError) as info:
        settings_for({"backend": "vllm", "pretrained_model_name": "m"})
    message = one_line(info.value, "llm_model_dict.mine.backend", "'vllm'")
    for backend in BACKENDS:
        assert repr(backend) in message


def test_unknown_llm_model_lists_the_entries() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env={}, llm_model="nope")
    one_line(info.value, "LLM_MODEL='nope'", "fast")


def test_missing_gguf_file_names_the_key() -> None:
    llm = build_llm(
        llm_setup(
            settings_for(
                {"backend": "gguf", "local_model_path": "/nonexistent/model.gguf"}, llm_device="cpu"
            )
        )
    )
    with pytest.raises(ModelUnavailableError) as info:
        llm.invoke("hi")
    one_line(info.value, "LLM_MODEL_DICT['mine'].local_model_path", "/nonexistent/model.gguf")


@pytest.mark.parametrize("backend", ["transformers", "hf_pipeline"])
def test_missing_model_folder_names_the_key(backend: str) -> None:
    settings = settings_for(
        {"backend": backend, "local_model_path": "/nonexistent/folder"}, llm_device="cpu"
    )
    with pytest.raises(ModelUnavailableError) as info:
        build_llm(llm_setup(settings)).load()
    one_line(info.value, "LLM_MODEL_DICT['mine'].local_model_path", "/nonexistent/folder")


@no_cuda
@pytest.mark.parametrize(
    "entry",
    [
        {"backend": "gguf", "local_model_path": "/models/x.gguf"},
        {"backend": "transformers", "local_model_path": "/models/x"},
        {"backend": "hf_pipeline", "local_model_path": "/models/x"},
    ],
    ids=["gguf", "transformers", "hf_pipeline"],
)
def test_cuda_requested_without_cuda_is_an_error(entry: dict[str, Any]) -> None:
    settings = settings_for(entry, llm_device="cuda")
    with pytest.raises(ModelUnavailableError) as info:
        build_llm(llm_setup(settings)).load()
    one_line(info.value, 'LLM_DEVICE="cuda"', "no CUDA GPU", '"auto"')


@no_cuda
def test_auto_falls_back_to_the_cpu() -> None:
    gguf = build_llm(
        llm_setup(
            settings_for({"backend": "gguf", "local_model_path": "/m.gguf"}, llm_device="auto")
        )
    )
    assert gguf._identifying_params["n_gpu_layers"] == 0
    hf = build_llm(
        llm_setup(
            settings_for({"backend": "transformers", "local_model_path": "/m"}, llm_device="auto")
        )
    )
    assert hf._identifying_params["device"] == "cpu"


def test_a_server_entry_ignores_the_local_device() -> None:
    # the GPU is the server's business: LLM_DEVICE="cuda" must not stop a client here
    settings = settings_for(
        {"backend": "openai", "api_base_url": "http://127.0.0.1:8000/v1"}, llm_device="cuda"
    )
    assert build_llm(llm_setup(settings))._llm_type == "zhiku-openai"


def test_every_shipped_entry_validates_and_builds() -> None:
    settings = load_settings(env={}, llm_device="cpu")
    for name, entry in settings.models.llm_model_dict.items():
        if entry.backend == "hf_pipeline":
            continue  # building loads the model (tested in the integration tests)
        one = settings.updated(llm_model=name)
        llm = build_llm(llm_setup(one))
        assert isinstance(llm, ZhikuLLM)
        assert llm.model == name
        assert llm._identifying_params["backend"] == entry.backend
